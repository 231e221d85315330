from __future__ import annotations

from typing import Any

import pytest

from mockforge.core.matching import (
    BodyMatcher,
    MatchSubject,
    PathMatcher,
    RequestPattern,
    compile_value_matcher,
)
from mockforge.core.model import Headers, LogEntry, Request
from mockforge.errors import StubError


def req(
    method: str = "GET",
    path: str = "/pets/7",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> MatchSubject:
    return MatchSubject.from_request(
        Request(
            protocol="http",
            method=method,
            path=path,
            raw_query=query,
            headers=Headers(headers or []),
            body=body,
        )
    )


def entry(body: str = "", truncated: bool = False, **kw: Any) -> LogEntry:
    fields: dict[str, Any] = {
        "id": "1",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "protocol": "http",
        "method": "POST",
        "path": "/orders",
        "route": None,
        "query": {},
        "headers": {},
        "status": 200,
        "status_text": "OK",
        "duration_ms": 1.0,
        "client": "",
        "response_bytes": 0,
        "body_excerpt": body,
        "body_truncated": truncated,
    }
    fields.update(kw)
    return LogEntry(**fields)


# ---- value matchers --------------------------------------------------------------------------


def test_plain_string_means_equals() -> None:
    m = compile_value_matcher("dog", "query.kind")
    assert m.match("dog").matched
    result = m.match("cat")
    assert not result.matched
    assert result.diffs == ['query.kind: expected equals "dog", got "cat"']


def test_numbers_and_booleans_compare_as_text() -> None:
    assert compile_value_matcher(5, "q").match("5").matched
    assert compile_value_matcher(True, "q").match("true").matched


def test_equals_case_insensitive() -> None:
    m = compile_value_matcher({"equals": "Dog", "case_insensitive": True}, "q")
    assert m.match("dOG").matched
    assert m.match("cat").diffs == ['q: expected equals "Dog" (case-insensitive), got "cat"']


def test_contains() -> None:
    m = compile_value_matcher({"contains": "json"}, "headers.accept")
    assert m.match("application/json; q=1").matched
    assert not m.match("text/html").matched
    assert (
        compile_value_matcher({"contains": "JSON", "case_insensitive": True}, "h").match("app/json").matched
    )


def test_matches_is_a_regex_search() -> None:
    m = compile_value_matcher({"matches": "^t-[0-9]+$"}, "headers.x-tenant")
    assert m.match("t-42").matched
    assert m.match("u-42").diffs == ['headers.x-tenant: expected matches "^t-[0-9]+$", got "u-42"']
    assert compile_value_matcher({"matches": "^ABC", "case_insensitive": True}, "q").match("abcd").matched


def test_absent_and_present() -> None:
    absent = compile_value_matcher({"absent": True}, "query.debug")
    assert absent.match(None).matched
    assert absent.match("1").diffs == ['query.debug: expected absent, got "1"']
    present = compile_value_matcher({"absent": False}, "query.debug")
    assert present.match("").matched
    assert present.match(None).diffs == ["query.debug: expected present, got no value"]


def test_missing_value_is_described() -> None:
    assert compile_value_matcher("x", "query.kind").match(None).diffs == [
        'query.kind: expected equals "x", got no value'
    ]


def test_several_operators_are_all_required_and_or_picks_any() -> None:
    both = compile_value_matcher({"contains": "a", "matches": "z$"}, "q")
    assert both.match("a-z").matched
    assert not both.match("a-y").matched
    either = compile_value_matcher({"or": ["x", {"matches": "^y"}]}, "q")
    assert either.match("yes").matched
    assert not either.match("no").matched
    all_of = compile_value_matcher({"and": [{"contains": "a"}, {"contains": "b"}]}, "q")
    assert all_of.match("ab").matched and not all_of.match("a").matched


def test_near_values_are_closer_than_distant_ones() -> None:
    m = compile_value_matcher("doggie", "q")
    assert 0 < m.match("doggy").distance < m.match("zzzzzzzzzz").distance <= 1.0


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"matches": "(unclosed"}, "request.query.kind.matches"),
        ({"equalTo": "x"}, "request.query.kind"),
        ({"case_insensitive": True}, "request.query.kind"),
        ([1, 2], "request.query.kind"),
    ],
)
def test_invalid_matchers_name_where(spec: Any, where: str) -> None:
    with pytest.raises(StubError) as err:
        compile_value_matcher(spec, "request.query.kind")
    assert err.value.where == where


# ---- paths -----------------------------------------------------------------------------------


def test_path_template_matches_one_segment_per_param_and_extracts_it() -> None:
    p = PathMatcher.compile("/pets/{id}/photos/{photo-id}.jpg", "path")
    assert p.match("/pets/7/photos/a1.jpg").matched
    assert p.params("/pets/7/photos/a1.jpg") == {"id": "7", "photo-id": "a1"}
    assert not p.match("/pets/7/8/photos/a1.jpg").matched
    assert p.segments == ["", "pets", None, "photos", None]


def test_exact_glob_and_regex_paths() -> None:
    assert PathMatcher.compile("/pets", "p").match("/pets").matched
    assert not PathMatcher.compile("/pets", "p").match("/pets/").matched
    assert PathMatcher.compile({"glob": "/pets/*"}, "p").match("/pets/7").matched
    assert not PathMatcher.compile({"glob": "/pets/*"}, "p").match("/owners/7").matched
    rx = PathMatcher.compile({"regex": "^/pets/(?P<id>[0-9]+)$"}, "p")
    assert rx.match("/pets/42").matched and not rx.match("/pets/x").matched
    assert rx.params("/pets/42") == {"id": "42"}
    assert rx.segments is None


def test_bad_paths_are_rejected_when_compiled() -> None:
    with pytest.raises(StubError, match="invalid regex") as err:
        PathMatcher.compile({"regex": "[a-"}, "request.path")
    assert err.value.where == "request.path.regex"
    with pytest.raises(StubError, match="must start with '/'"):
        PathMatcher.compile("pets", "request.path")


# ---- bodies ----------------------------------------------------------------------------------


def test_equals_json_exact_and_with_extra_fields() -> None:
    strict = BodyMatcher.compile({"equals_json": {"a": 1, "b": [1, 2]}}, "body")
    assert strict.match(req(body=b'{"b": [1, 2], "a": 1.0}')).matched
    miss = strict.match(req(body=b'{"a": 2, "b": [1, 2], "c": 3}'))
    assert miss.diffs == ["body.a: expected 1, got 2", "body.c: unexpected field"]
    loose = BodyMatcher.compile({"equals_json": {"a": 1}, "ignore_extra_fields": True}, "body")
    assert loose.match(req(body=b'{"a": 1, "c": 3}')).matched


def test_equals_json_array_order() -> None:
    body = b'{"tags": ["b", "a", {"x": 1}]}'
    ordered = BodyMatcher.compile({"equals_json": {"tags": ["a", "b", {"x": 1}]}}, "body")
    assert ordered.match(req(body=body)).diffs == [
        'body.tags[0]: expected "a", got "b"',
        'body.tags[1]: expected "b", got "a"',
    ]
    any_order = BodyMatcher.compile(
        {"equals_json": {"tags": ["a", "b", {"x": 1}]}, "ignore_array_order": True}, "body"
    )
    assert any_order.match(req(body=body)).matched
    assert not any_order.match(req(body=b'{"tags": ["a", "a", {"x": 1}]}')).matched


def test_equals_json_accepts_json_text_and_rejects_non_json_bodies() -> None:
    m = BodyMatcher.compile({"equals_json": '{"a": true}'}, "body")
    assert m.match(req(body=b'{"a": true}')).matched
    assert not m.match(req(body=b'{"a": 1}')).matched  # true is not 1
    assert m.match(req(body=b"not json")).diffs == ['body: expected JSON equal to {"a":true}, got "not json"']


def test_body_text_matchers() -> None:
    assert BodyMatcher.compile({"contains": "hello"}, "body").match(req(body=b"say hello")).matched
    assert BodyMatcher.compile({"matches": "^say"}, "body").match(req(body=b"say hello")).matched
    assert BodyMatcher.compile("exact", "body").match(req(body=b"exact")).matched
    assert BodyMatcher.compile("exact", "body").match(req(body=b"other")).diffs == [
        'body: expected equals "exact", got "other"'
    ]


def test_json_path_matchers() -> None:
    m = BodyMatcher.compile(
        {"json_path": {"$.name": {"equals": "doggie"}, "$.tags[*]": "good", "$.owner": True}}, "body"
    )
    assert m.match(req(body=b'{"name": "doggie", "tags": ["bad", "good"], "owner": {"id": 1}}')).matched
    miss = m.match(req(body=b'{"name": "doggy", "tags": ["bad"]}'))
    assert miss.diffs == [
        'body.name: expected equals "doggie", got "doggy"',
        'body.tags[*]: expected equals "good", got "bad"',
        "body.owner: expected present, got no value",
    ]
    numbers = BodyMatcher.compile({"json_path": {"$.qty": {"matches": "^[1-9][0-9]*$"}}}, "body")
    assert numbers.match(req(body=b'{"qty": 12}')).matched
    filt = BodyMatcher.compile({"json_path": {"$.items[?(@.price > 10)].id": "b"}}, "body")
    assert filt.match(req(body=b'{"items": [{"id": "a", "price": 5}, {"id": "b", "price": 20}]}')).matched


def test_invalid_json_path_is_rejected_when_compiled() -> None:
    with pytest.raises(StubError, match="invalid JSONPath") as err:
        BodyMatcher.compile({"json_path": {"$.[[": "x"}}, "request.body")
    assert err.value.where == 'request.body.json_path["$.[["]'


def test_form_matchers() -> None:
    m = BodyMatcher.compile({"form": {"name": "doggie", "age": {"matches": "^[0-9]+$"}}}, "body")
    assert m.match(req(body=b"name=doggie&age=3")).matched
    assert m.match(req(body=b"name=cat&age=x")).diffs == [
        'form.name: expected equals "doggie", got "cat"',
        'form.age: expected matches "^[0-9]+$", got "x"',
    ]


def test_unknown_body_matcher_is_rejected() -> None:
    with pytest.raises(StubError, match="unknown body matcher key"):
        BodyMatcher.compile({"equalToJson": {}}, "request.body")


# ---- request pattern -------------------------------------------------------------------------

PATTERN = {
    "method": "GET",
    "path": "/pets/{id}",
    "query": {"kind": {"equals": "x"}},
    "headers": {"X-Tenant": {"matches": "^t-"}},
}


def test_pattern_matches_every_part() -> None:
    p = RequestPattern.compile(PATTERN, "request")
    assert p.match(req(query="kind=x", headers=[("x-tenant", "t-1")])).matched
    assert p.matches(req(query="kind=x", headers=[("X-TENANT", "t-1")]))
    assert p.path_params("/pets/7") == {"id": "7"}


def test_pattern_reports_every_failing_part_in_order() -> None:
    p = RequestPattern.compile(PATTERN, "request")
    result = p.match(req("POST", "/owners/7", "kind=y", [("x-tenant", "u")]))
    assert result.diffs == [
        "method: expected GET, got POST",
        'path: expected "/pets/{id}", got "/owners/7"',
        'query.kind: expected equals "x", got "y"',
        'headers.X-Tenant: expected matches "^t-", got "u"',
    ]
    assert not p.matches(req("POST", "/owners/7", "kind=y", [("x-tenant", "u")]))


def test_a_query_mismatch_is_closer_than_a_path_mismatch() -> None:
    p = RequestPattern.compile(PATTERN, "request")
    query_off = p.match(req(query="kind=y", headers=[("x-tenant", "t-1")]))
    path_off = p.match(req(path="/zzzzzzzzz", query="kind=x", headers=[("x-tenant", "t-1")]))
    assert 0 < query_off.distance < path_off.distance < 1


def test_method_any_and_empty_pattern_match_everything() -> None:
    assert RequestPattern.compile({"method": "ANY", "path": "/x"}, "r").matches(req("DELETE", "/x"))
    assert RequestPattern.compile({}, "r").matches(req("PATCH", "/anything"))
    assert RequestPattern.compile({"method": "get"}, "r").matches(req("GET"))


def test_repeated_query_values_match_when_any_does() -> None:
    p = RequestPattern.compile({"query": {"tag": "b"}}, "r")
    assert p.matches(req(query="tag=a&tag=b"))


def test_unknown_pattern_key_is_rejected() -> None:
    with pytest.raises(StubError, match='unknown key "url"') as err:
        RequestPattern.compile({"url": "/x"}, "request")
    assert err.value.where == "request"


# ---- subjects from the log -------------------------------------------------------------------


def test_subject_from_log_entry_matches_on_the_excerpt() -> None:
    p = RequestPattern.compile(
        {"method": "POST", "path": "/orders", "headers": {"x-a": "1"}, "body": {"json_path": {"$.qty": "2"}}},
        "r",
    )
    e = entry(body='{"qty": 2}', headers={"x-a": "1"}, query={"k": ["v"]})
    assert p.matches(MatchSubject.from_entry(e))


def test_truncated_logged_body_never_matches_and_says_why() -> None:
    p = RequestPattern.compile({"body": {"contains": "q"}}, "r")
    result = p.match(MatchSubject.from_entry(entry(body='{"q', truncated=True)))
    assert not result.matched
    assert result.diffs == ["body: not compared, the logged body was truncated (core.max_logged_body_bytes)"]


def test_subject_built_directly_for_other_protocols() -> None:
    subject = MatchSubject("pkg.Pets/Get", "/pkg.Pets/Get", body=b'{"id": 7}', headers={"x-a": "1"})
    p = RequestPattern.compile(
        {"method": "pkg.Pets/Get", "body": {"json_path": {"$.id": "7"}}, "headers": {"X-A": "1"}}, "r"
    )
    assert p.matches(subject)


# ---- the operator table and the yes/no path --------------------------------------------------


def test_operator_table_lists_every_matcher_key_in_check_order() -> None:
    from mockforge.core.matchers import OPERATORS

    assert list(OPERATORS) == ["equals", "contains", "matches", "absent", "and", "or"]
    m = compile_value_matcher({"contains": "o", "equals": "dog", "matches": "^d"}, "q")
    assert m.describe() == 'equals "dog" and contains "o" and matches "^d"'


@pytest.mark.parametrize(
    "body",
    [b'{"tags": ["a", "b"]}', b'{"tags": ["c"]}', b'{"tags": []}', b"not json", b"", b'{"tags": [1, true]}'],
)
def test_json_path_yes_no_agrees_with_the_distance(body: bytes) -> None:
    specs: list[dict[str, Any]] = [{"$.tags[*]": "b"}, {"$.tags[*]": {"absent": True}}, {"$.tags[*]": "1"}]
    for spec in specs:
        matcher = BodyMatcher.compile({"json_path": spec}, "body")
        subject = MatchSubject("POST", "/", body=body)
        assert matcher.ok(subject) == matcher.match(subject).matched, (spec, body)
