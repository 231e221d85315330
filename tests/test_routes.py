from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockforge.core.model import Headers
from mockforge.openapi.loader import load_specs
from mockforge.openapi.model import Operation
from mockforge.openapi.routes import Matched, MethodNotAllowed, NotFound, RouteTable, split_key

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "openapi"
CORPUS_FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml")) if CORPUS.is_dir() else []
)


def table(*routes: str, base_paths: list[str] | None = None) -> RouteTable:
    ops = []
    for route in routes:
        method, path = route.split(" ", 1)
        ops.append(
            Operation(method=method, path=path, operation_id=route, base_paths=list(base_paths or [""]))
        )
    return RouteTable(ops)


def matched(result: object) -> Matched:
    assert isinstance(result, Matched), result
    return result


def test_literal_segment_beats_template() -> None:
    routes = table("GET /pets/{id}", "GET /pets/mine", "GET /pets/{id}/toys")
    assert matched(routes.match("GET", "/pets/mine")).template == "/pets/mine"
    hit = matched(routes.match("GET", "/pets/42"))
    assert (hit.template, hit.params) == ("/pets/{id}", {"id": "42"})
    # the literal branch dead-ends, so the template branch is tried
    hit = matched(routes.match("GET", "/pets/mine/toys"))
    assert (hit.template, hit.params) == ("/pets/{id}/toys", {"id": "mine"})


def test_literal_path_with_wrong_method_falls_back_to_template() -> None:
    routes = table("POST /pets/mine", "GET /pets/{id}")
    assert matched(routes.match("GET", "/pets/mine")).template == "/pets/{id}"


def test_mixed_segments() -> None:
    routes = table(
        "GET /files/{name}.{ext}", "GET /report-{year}", "GET /report-{year}.csv", "GET /files/{id}"
    )
    hit = matched(routes.match("GET", "/files/archive.tar.gz"))
    assert (hit.template, hit.params) == ("/files/{name}.{ext}", {"name": "archive.tar", "ext": "gz"})
    assert matched(routes.match("GET", "/files/plain")).template == "/files/{id}"
    assert matched(routes.match("GET", "/report-2024")).params == {"year": "2024"}
    hit = matched(routes.match("GET", "/report-2024.csv"))
    assert (hit.template, hit.params) == ("/report-{year}.csv", {"year": "2024"})
    assert isinstance(routes.match("GET", "/report-"), NotFound)


def test_same_shape_with_other_names_keeps_each_operations_names() -> None:
    routes = table("GET /pets/{id}", "DELETE /pets/{petId}")
    assert matched(routes.match("GET", "/pets/1")).params == {"id": "1"}
    assert matched(routes.match("DELETE", "/pets/1")).params == {"petId": "1"}


def test_base_path_is_optional() -> None:
    routes = table("GET /pets/{id}", base_paths=["/v1", "/api/v2"])
    for path in ("/v1/pets/7", "/api/v2/pets/7", "/pets/7"):
        hit = matched(routes.match("GET", path))
        assert (hit.template, hit.params) == ("/pets/{id}", {"id": "7"})
    assert isinstance(routes.match("GET", "/v3/pets/7"), NotFound)


def test_trailing_slash_query_and_head() -> None:
    routes = table("GET /pets", "GET /")
    assert matched(routes.match("GET", "/pets/")).template == "/pets"
    assert matched(routes.match("GET", "/pets?limit=3&x=/a")).template == "/pets"
    assert matched(routes.match("HEAD", "/pets")).operation.method == "GET"
    assert matched(routes.match("get", "/")).template == "/"
    assert matched(routes.match("GET", "")).template == "/"


def test_head_prefers_its_own_operation() -> None:
    routes = table("GET /pets", "HEAD /pets")
    assert matched(routes.match("HEAD", "/pets")).operation.method == "HEAD"


def test_path_params_are_percent_decoded() -> None:
    routes = table("GET /users/{name}/files/{path}", "GET /a b/{x}")
    hit = matched(routes.match("GET", "/users/J%C3%BCrgen%20K/files/dir%2Ffile.txt"))
    assert hit.params == {"name": "Jürgen K", "path": "dir/file.txt"}
    assert matched(routes.match("GET", "/a%20b/1")).template == "/a b/{x}"


def test_empty_segment_is_not_a_parameter_value() -> None:
    routes = table("GET /pets/{id}/toys")
    assert isinstance(routes.match("GET", "/pets//toys"), NotFound)


def test_method_not_allowed_lists_the_methods() -> None:
    routes = table("GET /pets", "POST /pets", "DELETE /pets/{id}")
    result = routes.match("PUT", "/pets")
    assert result == MethodNotAllowed(allow=["GET", "HEAD", "POST"], template="/pets")
    assert routes.match("GET", "/pets/3") == MethodNotAllowed(allow=["DELETE"], template="/pets/{id}")


def test_not_found_lists_closest_routes() -> None:
    routes = table(
        "GET /pets",
        "GET /pets/{id}",
        "POST /pets",
        "GET /stores/{id}/orders",
        "GET /users/{id}",
        "GET /health",
    )
    result = routes.match("GET", "/pest")
    assert isinstance(result, NotFound)
    assert result.closest[0] == "GET /pets"
    assert len(result.closest) == 3
    result = routes.match("GET", "/stores/4/order")
    assert isinstance(result, NotFound) and result.closest[0] == "GET /stores/{id}/orders"
    result = routes.match("GET", "/pets/1/toys")
    assert isinstance(result, NotFound) and result.closest[0] == "GET /pets/{id}"
    assert table().match("GET", "/x") == NotFound(closest=[])


def test_closest_routes_understand_base_paths() -> None:
    routes = table("GET /pets/{id}/toys", "GET /stores", base_paths=["/v1"])
    result = routes.match("GET", "/v1/pets/1/toy")
    assert isinstance(result, NotFound) and result.closest[0] == "GET /pets/{id}/toys"


def test_templates_in_spec_order() -> None:
    assert table("GET /b", "POST /a", "GET /a").templates() == ["GET /b", "POST /a", "GET /a"]


def test_first_operation_wins_a_duplicate_route() -> None:
    routes = table("GET /x/{a}", "GET /x/{b}")
    assert matched(routes.match("GET", "/x/1")).params == {"a": "1"}


def test_visits_grow_with_segments_not_routes() -> None:
    def build(n: int) -> RouteTable:
        routes = []
        for i in range(n):
            routes += [
                f"GET /r{i}/items/{{id}}",
                f"GET /r{i}/items/{{id}}/parts/{{part}}",
                f"POST /r{i}/items",
            ]
        return table(*routes, base_paths=["/api"])

    small, large = build(4), build(3_334)  # 12 and 10,002 routes
    for routes in (small, large):
        hit = matched(routes.match("GET", "/api/r3/items/3/parts/9"))
        assert hit.params == {"id": "3", "part": "9"}
        assert routes.last_visits == 7  # root + one node per segment
        assert isinstance(routes.match("GET", "/r3/items/3"), Matched)
        assert routes.last_visits == 4
    assert matched(large.match("GET", "/r3333/items/1")).template == "/r3333/items/{id}"
    assert large.last_visits == 4


def test_backtracking_stays_bounded_by_branching() -> None:
    # every level has a literal and a template branch; the match sits on the template side
    routes = table("GET /a/b/c/d", "GET /{w}/{x}/{y}/{z}/end")
    hit = matched(routes.match("GET", "/a/b/c/d/end"))
    assert hit.params == {"w": "a", "x": "b", "y": "c", "z": "d"}
    assert routes.last_visits <= 2 * 6


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_operation_routes_to_itself(path: Path) -> None:
    model = load_specs([str(path)])
    routes = RouteTable(model.operations)
    assert len(routes.templates()) == len(model.operations)
    for op in model.operations:
        target, headers = _request_for(op.path)
        concrete = re.sub(r"\{[^{}]*\}", "zq9", target)
        for base in op.base_paths:
            hit = routes.match(op.method, base + concrete, headers)
            assert isinstance(hit, Matched), (op.key, base, hit)
            assert hit.operation.method == op.method
            # a literal route may legitimately win over this template (e.g. /pets/zq9 vs /pets/{id});
            # otherwise the operation itself must be found
            if hit.operation is not op:
                assert "{" in op.path and hit.template.count("{") <= op.path.count("{"), (
                    op.key,
                    hit.template,
                )


def _request_for(path_key: str) -> tuple[str, Headers]:
    """What a client sends for a path key: ``#name`` becomes a query key, ``#Name=Value`` a header."""
    path, fixed_query, header, keys = split_key(path_key)
    query = [f"{k}={v}" for k, v in fixed_query] + list(keys)
    return path + ("?" + "&".join(query) if query else ""), Headers(header)


def test_operations_told_apart_by_a_header_in_the_path_key() -> None:
    routes = table(
        "POST /#X-Amz-Target=Svc_20150623.CreateThing",
        "POST /#X-Amz-Target=Svc_20150623.DeleteThing",
        "POST /#X-Amz-Target=Svc_20150623.ListThings",
    )
    for name in ("CreateThing", "DeleteThing", "ListThings"):
        hit = matched(routes.match("POST", "/", Headers([("X-Amz-Target", f"Svc_20150623.{name}")])))
        assert hit.template == f"/#X-Amz-Target=Svc_20150623.{name}"
        assert hit.operation.operation_id == f"POST /#X-Amz-Target=Svc_20150623.{name}"
    # header names are case-insensitive, the value is exact
    hit = matched(routes.match("POST", "/", Headers([("x-amz-target", "Svc_20150623.DeleteThing")])))
    assert hit.template.endswith("DeleteThing")
    # the same target twice: answers depending on a header are not memoised
    hit = matched(routes.match("POST", "/", Headers([("X-Amz-Target", "Svc_20150623.ListThings")])))
    assert hit.template.endswith("ListThings")
    # no or a wrong target: 404 naming the operations at that path, closest value first
    missing = routes.match("POST", "/")
    assert isinstance(missing, NotFound)
    assert missing.closest[0] == "POST /#X-Amz-Target=Svc_20150623.CreateThing"
    near = routes.match("POST", "/", Headers([("X-Amz-Target", "Svc_20150623.DeleteThin")]))
    assert isinstance(near, NotFound) and near.closest[0].endswith("DeleteThing"), near
    # another method on that path is still a 405
    assert isinstance(routes.match("GET", "/"), MethodNotAllowed)


def test_name_value_fragment_also_accepts_the_query_pair() -> None:
    routes = table("GET /#Action=Describe", "GET /#Action=List")
    assert matched(routes.match("GET", "/?Action=List")).template == "/#Action=List"
    assert matched(routes.match("GET", "/", Headers([("Action", "Describe")]))).template == "/#Action=Describe"


def test_fragment_without_value_is_a_required_query_key_with_a_plain_fallback() -> None:
    routes = table("GET /things/{id}#resourceType", "GET /things/{id}#owner", "GET /things/{id}")
    hit = matched(routes.match("GET", "/things/7?resourceType=bucket"))
    assert (hit.template, hit.params) == ("/things/{id}#resourceType", {"id": "7"})
    assert matched(routes.match("GET", "/things/7?owner")).template == "/things/{id}#owner"
    # without the key: the operation without a discriminator answers
    assert matched(routes.match("GET", "/things/7?other=1")).template == "/things/{id}"
    only = table("GET /things/{id}#resourceType")
    miss = only.match("GET", "/things/7")
    assert isinstance(miss, NotFound) and miss.closest == ["GET /things/{id}#resourceType"]


def test_query_in_the_path_key_and_header_fragment_combine() -> None:
    routes = table("POST /?Action=Describe#X-Api=v2", "POST /?Action=Describe")
    v2 = Headers([("X-Api", "v2")])
    assert matched(routes.match("POST", "/?Action=Describe", v2)).template == "/?Action=Describe#X-Api=v2"
    assert matched(routes.match("POST", "/?Action=Describe")).template == "/?Action=Describe"


def test_split_key() -> None:
    assert split_key("/#X-Amz-Target=S.Op") == ("/", (), (("X-Amz-Target", "S.Op"),), ())
    assert split_key("/t/{id}#kind") == ("/t/{id}", (), (), ("kind",))
    assert split_key("/?Action=D&Version=1") == ("/", (("Action", "D"), ("Version", "1")), (), ())
    assert split_key("/plain") == ("/plain", (), (), ())


def test_template_with_a_fixed_query_routes_on_it() -> None:
    routes = table("GET /rest?method=photos.get", "GET /rest?method=photos.search", "GET /rest")
    hit = matched(routes.match("GET", "/rest?format=json&method=photos.search"))
    assert hit.template == "/rest?method=photos.search"
    assert matched(routes.match("GET", "/rest?method=photos.get")).template == "/rest?method=photos.get"
    assert matched(routes.match("GET", "/rest?method=other")).template == "/rest"
    only_fixed = table("GET /rest?method=a")
    result = only_fixed.match("GET", "/rest")
    assert isinstance(result, NotFound) and result.closest == ["GET /rest?method=a"]


def test_hostile_discriminator_headers_stay_bounded() -> None:
    ops = [f"POST /#X-Amz-Target=Svc.Op{i}" for i in range(300)]
    routes = table(*ops)
    huge = Headers([("X-Amz-Target", "Svc.Op" + "9" * 100_000)] * 50)
    miss = routes.match("POST", "/", huge)
    assert isinstance(miss, NotFound) and len(miss.closest) == 3
    assert routes.last_visits == 1  # one node; the ranking compares at most the expected value's length
    # a route with a condition never answers a memoised lookup made without it
    assert matched(routes.match("POST", "/", Headers([("X-Amz-Target", "Svc.Op7")]))).template.endswith("Op7")
    assert isinstance(routes.match("POST", "/"), NotFound)
    assert matched(routes.match("POST", "/", Headers([("X-Amz-Target", "Svc.Op8")]))).template.endswith("Op8")
