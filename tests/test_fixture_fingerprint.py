"""Fingerprints and fixture paths: the canonical form is a file format, so it is pinned here."""

from __future__ import annotations

import hashlib

from mockforge.core.model import Headers, Request
from mockforge.recording.fingerprint import (
    FingerprintRules,
    canonical_query,
    canonical_string,
    fingerprint,
    fixture_relpath,
    path_dir,
)
from mockforge.recording.store import build_fixture, check_fixture, encode_fixture, parse_fixture

RULES = FingerprintRules()


def req(method: str = "GET", path: str = "/pets/7", query: str = "", body: bytes = b"",
        headers: list[tuple[str, str]] | None = None) -> Request:
    return Request(protocol="http", method=method, path=path, raw_query=query, headers=Headers(headers or []),
                   body=body)


def test_canonical_string_is_pinned() -> None:
    text = canonical_string("post", "/pets", "b=2&a=x y&a=1", [("X-Tenant", "acme")], b'{"b":[2,3], "a":1}',
                            FingerprintRules.create(match_headers=["x-tenant"]))
    assert text == (
        "mockforge-fixture-v1\nmethod POST\npath /pets\nquery a=1&a=x%20y&b=2\n"
        'header x-tenant: acme\nbody {"a":1,"b":[2,3]}'
    )
    fp = fingerprint(req("POST", "/pets", "b=2&a=x y&a=1", b'{"b":[2,3], "a":1}', [("X-Tenant", "acme")]),
                     FingerprintRules.create(match_headers=["x-tenant"]))
    assert fp == hashlib.sha256(text.encode()).hexdigest()


def test_get_has_no_body_line_and_no_headers_by_default() -> None:
    text = canonical_string("GET", "/", "", [("user-agent", "curl"), ("x-request-id", "1")], b"ignored", RULES)
    assert text == "mockforge-fixture-v1\nmethod GET\npath /\nquery "


def test_query_order_and_ignored_parameters_do_not_change_the_fingerprint() -> None:
    rules = FingerprintRules.create(ignore_query=["_ts"])
    assert fingerprint(req(query="a=1&b=2&_ts=9"), rules) == fingerprint(req(query="b=2&a=1&_ts=10"), rules)
    assert fingerprint(req(query="a=1"), rules) != fingerprint(req(query="a=2"), rules)
    assert canonical_query("q=&z", frozenset()) == "q=&z="


def test_json_key_order_and_ignored_fields_do_not_change_the_fingerprint() -> None:
    rules = FingerprintRules.create(ignore_body_fields=["request_id", "meta.sent_at"])
    one = req("POST", "/o", body=b'{"a": 1, "b": {"c": 2, "d": 3}, "request_id": "x", "meta": {"sent_at": 1, "k": 2}}')
    two = req("POST", "/o", body=b'{"meta": {"k": 2, "sent_at": 5}, "request_id": "y", "b": {"d": 3, "c": 2}, "a": 1}')
    assert fingerprint(one, rules) == fingerprint(two, rules)
    three = req("POST", "/o", body=b'{"a": 2, "b": {"c": 2, "d": 3}}')
    assert fingerprint(one, rules) != fingerprint(three, rules)


def test_match_headers_take_part_only_when_listed() -> None:
    rules = FingerprintRules.create(match_headers=["X-Tenant"])
    a = req(headers=[("x-tenant", "a"), ("user-agent", "one")])
    b = req(headers=[("x-tenant", "b"), ("user-agent", "two")])
    assert fingerprint(a, rules) != fingerprint(b, rules)
    assert fingerprint(a, RULES) == fingerprint(b, RULES)


def test_path_dir_naming() -> None:
    assert path_dir("/") == "_root"
    assert path_dir("/pets/7") == "pets__7"
    assert path_dir("/pets/") == "pets__"
    assert path_dir("/a b/ü") == "a%20b__%C3%BC"
    assert path_dir("/x/../y") == "x__%2E%2E__y"
    assert path_dir("/..") == "%2E%2E"
    assert path_dir("/a~b:c%2F") == "a%7Eb%3Ac%252F"


def test_long_paths_are_cut_with_a_hash_suffix() -> None:
    path = "/" + "/".join(["segment"] * 40)
    name = path_dir(path)
    assert len(name) == 120 + 1 + 8
    assert name[:120] == ("segment__" * 40)[:120]
    assert name[120] == "~"
    assert name[121:] == hashlib.sha256(path.encode()).hexdigest()[:8]
    assert path_dir(path + "x") != name


def test_fixture_relpath() -> None:
    fp = "a" * 64
    assert fixture_relpath("GET", "/pets/7", fp) == f"http/get/pets__7/{fp}.json"
    assert fixture_relpath("DELETE", "/", fp) == f"http/delete/_root/{fp}.json"


def test_built_fixture_is_redacted_round_trips_and_verifies() -> None:
    rules = FingerprintRules.create(redact=["password", "x-secret"], match_headers=["authorization"])
    fixture = build_fixture(
        method="POST", path="/login", raw_query="a=1&a=2",
        request_headers=[("Authorization", "Bearer t0ken"), ("X-Secret", "s"), ("X-Goog-Api-Key", "k")],
        request_body=b'{"user": "u", "password": "hunter2"}',
        status=200, response_headers=[("Set-Cookie", "sid=1"), ("Content-Type", "application/json")],
        response_body=b'{"ok": true, "password": "hunter2"}', rules=rules,
    )
    data = encode_fixture(fixture)
    for secret in (b"t0ken", b"hunter2", b"sid=1", b'"s"', b'"k"'):
        assert secret not in data
    back = parse_fixture(data, "x.json")
    assert back == fixture
    assert check_fixture(back, back.relpath(), rules) == []
    assert check_fixture(back, back.relpath(), FingerprintRules()) != []
    # the live request with the real secrets finds the same fixture
    live = req("POST", "/login", "a=1&a=2", b'{"password": "other", "user": "u"}',
               [("authorization", "Bearer different")])
    assert fingerprint(live, rules) == fixture.fingerprint
