"""Issue 12, items 4 and 6: deep JSON, YAML alias bombs, non-UTF-8 files and admin writes that
cannot be stored. Each reproduction from the issue failed on the code before the fix (a 500, a
traceback, a stored stub that broke ``GET /__mockforge/stubs``, minutes of CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import yaml

from mockforge.config import CoreConfig, HttpConfig
from mockforge.config_files import read_config_file
from mockforge.core import limits
from mockforge.core.limits import DocumentLimits, LimitError, check_yaml_graph, load_yaml
from mockforge.core.stubs import load_file
from mockforge.errors import ConfigError, SpecError, StubError
from mockforge.openapi.loader import load_specs
from mockforge.openapi.resolver import read_document
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "openapi"

SPEC = """
openapi: 3.0.3
info: {title: deep, version: "1"}
paths:
  /things:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object}
      responses:
        "201":
          description: made
          content:
            application/json:
              example: {made: true}
"""

#: 412 bytes of YAML whose aliases expand to 10^7 leaves (the issue's stub).
LAUGHS_STUB = (
    "request: {method: GET, path: /lol}\n"
    "response:\n"
    "  body:\n"
    "    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    "    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "    g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
)


def deep_json(depth: int, leaf: str = "1") -> bytes:
    return (b'{"a":' * depth) + leaf.encode() + (b"}" * depth)


def deep_value(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    return subprocess.run([sys.executable, "-m", "mockforge", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    folder = tmp_path_factory.mktemp("sec-documents")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC)
    with MockServer(config={"http": {"specs": [str(spec)], "response_template_expand": True}}) as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=30) as c:
        c.post("/__mockforge/reset").raise_for_status()
        c.delete("/__mockforge/faults").raise_for_status()
        yield c


def error_of(resp: httpx.Response) -> dict[str, Any]:
    err: dict[str, Any] = resp.json()["error"]
    return err


# --------------------------------------------------------------------------- request bodies


@pytest.mark.parametrize("depth", [65, 300, 5000])
def test_deep_json_body_to_a_validated_spec_route_is_400_not_500(client: httpx.Client, depth: int) -> None:
    r = client.post("/things", content=deep_json(depth), headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "json_too_deep"
    assert "64" in err["message"] and "http.max_json_depth" in err["message"]
    ok = client.post("/things", content=deep_json(64), headers={"content-type": "application/json"})
    assert ok.status_code == 201 and ok.json() == {"made": True}


def test_deep_json_body_met_by_a_body_matcher_is_400(client: httpx.Client) -> None:
    stub = {"id": "eq", "request": {"method": "POST", "path": "/match", "body": {"equals_json": {"a": 1}}},
            "response": {"body": {"matched": True}}}
    assert client.post("/__mockforge/stubs", json=stub).status_code == 201
    r = client.post("/match", content=deep_json(3000))
    assert r.status_code == 400 and error_of(r)["code"] == "json_too_deep"
    assert client.post("/match", json={"a": 1}).json() == {"matched": True}


def test_deep_json_in_a_template_lookup_is_400(client: httpx.Client) -> None:
    stub = {"id": "tpl", "request": {"method": "POST", "path": "/echo"},
            "response": {"body_text": "{{request.body.a.b}}"}}
    assert client.post("/__mockforge/stubs", json=stub).status_code == 201
    r = client.post("/echo", content=deep_json(2000))
    assert r.status_code == 400 and error_of(r)["code"] == "json_too_deep"
    assert client.post("/echo", json={"a": {"b": "hi"}}).text == "hi"


def test_request_depth_default_matches_the_config() -> None:
    assert HttpConfig().max_json_depth == limits.DEFAULT_REQUEST_JSON_DEPTH
    assert CoreConfig().max_document_depth == limits.DEFAULT_DOCUMENT_DEPTH
    assert CoreConfig().max_yaml_alias_nodes == limits.DEFAULT_YAML_ALIAS_NODES


def test_decode_request_json_counts_only_real_nesting() -> None:
    # brackets inside strings are not nesting; the count shortcut must not reject them either way
    text = b'{"a": "' + b"[" * 500 + b'", "b": [1, [2, [3]]]}'
    assert limits.decode_request_json(text)["b"] == [1, [2, [3]]]
    wide = b"[" + b",".join(b"[1]" for _ in range(1000)) + b"]"
    assert len(limits.decode_request_json(wide)) == 1000
    with pytest.raises(limits.JsonTooDeep):
        limits.decode_request_json(b"[" * 65 + b"]" * 65)


# --------------------------------------------------------------------------- specs, configs, stub files


def test_deep_json_spec_is_one_line_exit_2(tmp_path: Path) -> None:
    doc = b'{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}, "x-deep": '
    (tmp_path / "deep.json").write_bytes(doc + deep_json(5000) + b"}")
    line = one_line_error(cli("serve", "--spec", "deep.json", "--http-port", "0", cwd=tmp_path))
    assert "deep.json" in line and "nested deeper than 128 levels" in line


def test_deep_json_spec_names_the_json_pointer(tmp_path: Path) -> None:
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}, "x-deep": deep_value(200)}
    path = tmp_path / "deep.json"
    path.write_bytes(msgspec.json.encode(doc))
    with pytest.raises(SpecError) as caught:
        load_specs([str(path)])
    assert caught.value.where is not None and caught.value.where.startswith("/x-deep/a/a/")
    assert caught.value.where.count("/") == 128


def test_deep_yaml_spec_names_the_line(tmp_path: Path) -> None:
    lines = ["openapi: 3.0.3", "info: {title: t, version: '1'}", "paths: {}", "x-deep:"]
    lines += ["  " * (i + 1) + "a:" for i in range(150)] + ["  " * 151 + "1"]
    path = tmp_path / "deep.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as caught:
        read_document(str(path))
    assert "nested deeper than 128 levels" in str(caught.value)
    assert caught.value.where is not None and caught.value.where.startswith("line ")


def test_yaml_alias_bomb_spec_is_refused_at_load(tmp_path: Path) -> None:
    bomb = SPEC + "x-bomb:\n" + "\n".join(LAUGHS_STUB.splitlines()[3:]) + "\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    with pytest.raises(SpecError) as caught:
        load_specs([str(path)])
    assert "bomb.yaml" in str(caught.value)
    assert "aliases expand to more than 100000 nodes" in str(caught.value)
    line = one_line_error(cli("serve", "--spec", "bomb.yaml", "--http-port", "0", cwd=tmp_path))
    assert "bomb.yaml" in line and "core.max_yaml_alias_nodes" in line


def test_deep_json_config_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_bytes(b'{"x": ' + deep_json(3000) + b"}")
    line = one_line_error(cli("serve", "--config", "deep.json", cwd=tmp_path))
    assert "deep.json" in line and "nested deeper than 128 levels" in line


def test_non_utf8_config_names_the_byte_offset(tmp_path: Path) -> None:
    data = b"http:\n  port: 0\n# caf\xe9\n"
    (tmp_path / "mockforge.yaml").write_bytes(data)
    line = one_line_error(cli("serve", "--config", "mockforge.yaml", cwd=tmp_path))
    assert "mockforge.yaml" in line and f"not UTF-8 text: byte 0xe9 at byte offset {data.index(0xE9)}" in line


def test_yaml_alias_bomb_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mockforge.yaml"
    path.write_text("x-bomb:\n" + "".join("  " + ln + "\n" for ln in LAUGHS_STUB.splitlines()[3:]))
    with pytest.raises(ConfigError) as caught:
        read_config_file(str(path))
    assert "core.max_yaml_alias_nodes" in str(caught.value) and str(path) in str(caught.value)


def test_non_utf8_spec_and_stub_file_name_the_byte_offset(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    data = b"openapi: 3.0.3\ninfo: {title: \xff}\n"
    spec.write_bytes(data)
    with pytest.raises(SpecError, match=f"not UTF-8 text: byte 0xff at byte offset {data.index(0xFF)}"):
        read_document(str(spec))
    stub = tmp_path / "stub.json"
    data = b'{"request": {"path": "/\xfe"}}'
    stub.write_bytes(data)
    with pytest.raises(StubError, match=f"not UTF-8 text: byte 0xfe at byte offset {data.index(0xFE)}"):
        load_file(stub)


def test_laughs_stub_file_of_412_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lol.yaml"
    path.write_text(LAUGHS_STUB)
    assert len(LAUGHS_STUB.encode()) <= 412
    with pytest.raises(StubError) as caught:
        load_file(path)
    text = str(caught.value)
    assert str(path) in text and "aliases expand to more than 100000 nodes" in text and "line " in text


def test_laughs_stub_through_the_admin_api_is_400_and_nothing_is_stored(client: httpx.Client) -> None:
    r = client.post("/__mockforge/stubs", content=LAUGHS_STUB, headers={"content-type": "application/yaml"})
    assert r.status_code == 400, r.text
    assert "aliases expand to more than 100000 nodes" in error_of(r)["message"]
    assert client.get("/__mockforge/stubs").json()["stubs"] == []


def test_laughs_stub_in_the_stubs_folder_is_a_problem_and_the_server_runs(tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "lol.yaml").write_text(LAUGHS_STUB)
    (stubs / "ok.yaml").write_text("request: {method: GET, path: /ok}\nresponse: {body: {ok: true}}\n")
    with MockServer(config={"http": {"stubs_dir": str(stubs)}}) as server:
        assert httpx.get(server.url + "/ok", timeout=30).json() == {"ok": True}
        listed = httpx.get(server.url + "/__mockforge/stubs", timeout=30).json()["stubs"]
        assert [s["id"] for s in listed] == ["ok"]


def test_alias_budget_counts_expansion_not_the_written_nodes() -> None:
    # the same anchor used many times over a small target stays within a small budget
    doc = "base: &b {k: v}\n" + "".join(f"u{i}: *b\n" for i in range(40))
    node = yaml.compose(doc, Loader=yaml.CSafeLoader)
    check_yaml_graph(node, DocumentLimits(max_alias_nodes=40 * 3))
    with pytest.raises(LimitError):
        check_yaml_graph(node, DocumentLimits(max_alias_nodes=40 * 3 - 1))
    with pytest.raises(LimitError, match="contains it"):
        load_yaml("a: &a [1, *a]\n", yaml.CSafeLoader)


def test_corpus_documents_load_within_the_default_bounds() -> None:
    """Every real document of the shared corpus stays inside the defaults (depth 128, 100,000
    alias nodes), so the bounds refuse only hostile input."""
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if not files:
        pytest.skip("shared corpus not present")
    for path in files:
        read_document(str(path))


# --------------------------------------------------------------------------- admin writes


def stub_with(value: Any, stub_id: str = "bad") -> dict[str, Any]:
    return {"id": stub_id, "request": {"method": "GET", "path": "/x"}, "response": {"body": value}}


def test_stub_nested_deeper_than_254_is_refused_and_listing_still_works(client: httpx.Client) -> None:
    assert client.post("/__mockforge/stubs", json=stub_with({"fine": 1}, "good")).status_code == 201
    r = client.post("/__mockforge/stubs", json=stub_with(deep_value(300)))
    assert r.status_code == 400, r.text
    assert "nested deeper than 128 levels" in error_of(r)["message"]
    listed = client.get("/__mockforge/stubs")
    assert listed.status_code == 200 and [s["id"] for s in listed.json()["stubs"]] == ["good"]


def test_stub_holding_10_to_the_30_is_refused_and_listing_still_works(client: httpx.Client) -> None:
    head = b'{"id": "huge", "request": {"method": "GET", "path": "/x"}, "response": {"body": {"n": 1'
    body = head + b"0" * 30 + b"}}}"
    r = client.post("/__mockforge/stubs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "invalid_stub" and "64-bit" in err["message"] and "response" in err["message"]
    listed = client.get("/__mockforge/stubs")
    assert listed.status_code == 200 and listed.json()["stubs"] == []
    assert client.get("/__mockforge/stubs/huge").status_code == 404


def test_a_list_with_one_unstorable_stub_stores_none(client: httpx.Client) -> None:
    body = (b'[{"id": "one", "request": {"path": "/one"}}, {"id": "two", "request": {"path": "/two"},'
            b' "metadata": {"n": -1' + b"0" * 30 + b"}}]")
    r = client.post("/__mockforge/stubs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "[1].metadata" in error_of(r)["message"]
    assert client.get("/__mockforge/stubs").json()["stubs"] == []


def test_replacing_a_stub_with_an_unstorable_one_keeps_the_old(client: httpx.Client) -> None:
    assert client.post("/__mockforge/stubs", json=stub_with({"v": 1}, "keep")).status_code == 201
    bad = b'{"request": {"method": "GET", "path": "/x"}, "response": {"body": ' + b"9" * 31 + b"}}"
    r = client.put("/__mockforge/stubs/keep", content=bad, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert client.get("/__mockforge/stubs/keep").json()["response"]["body"] == {"v": 1}
    assert client.get("/x").json() == {"v": 1}


def test_deep_or_huge_global_fault_body_is_refused_and_requests_still_answer(client: httpx.Client) -> None:
    deep = {"rate": 1.0, "status": 503, "body": deep_value(300)}
    r = client.put("/__mockforge/faults", json=deep)
    assert r.status_code == 400
    huge = b'{"rate": 1.0, "status": 503, "body": {"n": ' + b"1" * 31 + b"}}"
    r = client.put("/__mockforge/faults", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "fault.body" in error_of(r)["message"]
    assert client.get("/__mockforge/faults").json() == {"fault": None}
    made = client.post("/things", json={"k": 1})
    assert made.status_code == 201 and made.json() == {"made": True}


def test_stub_fault_body_that_cannot_be_sent_is_refused(client: httpx.Client) -> None:
    body = (b'{"id": "f", "request": {"path": "/f"}, "response": {"fault": {"status": 500, "body": '
            + b"7" * 31 + b"}}}")
    r = client.post("/__mockforge/stubs", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "response.fault.body" in error_of(r)["message"]
    assert client.get("/__mockforge/stubs").json()["stubs"] == []


def test_deep_json_stub_file_names_the_pointer(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(msgspec.json.encode(stub_with(deep_value(300))))
    with pytest.raises(StubError) as caught:
        load_file(path)
    assert caught.value.file == str(path)
    assert caught.value.where is not None and caught.value.where.startswith("/response/body/a/a")


def test_grpc_stub_files_are_bounded_too(tmp_path: Path) -> None:
    from mockforge.grpc.service import load_stub_files

    (tmp_path / "lol.yaml").write_text(LAUGHS_STUB)
    with pytest.raises(StubError) as caught:
        load_stub_files(str(tmp_path))
    assert "lol.yaml" in str(caught.value) and "core.max_yaml_alias_nodes" in str(caught.value)


def test_fixture_fingerprint_of_a_deep_body_is_bytes_not_an_error() -> None:
    from mockforge.recording.fingerprint import decode_json

    assert decode_json(deep_json(5000)) == (False, None)
    assert decode_json(b'{"a": [1]}') == (True, {"a": [1]})
