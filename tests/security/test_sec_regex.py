"""Security: user regexes cannot stall the server, and near-miss scoring is bounded (issue 12,
item 3 and the near-miss / body ``equals`` part of item 4).

Each catastrophic pattern below takes hours on a backtracking engine against its input (about 2^40
steps) and held the event loop and the GIL, so SIGTERM was ignored too. The ReDoS tests run the
server as a subprocess (a hung server cannot take pytest with it; it is killed at the end) and
check that the hostile request itself is answered, with content, within a generous liveness
deadline. The near-miss tests run the server in-process and use counters and an event, never an
upper wall-clock bound.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from mockforge.config import build_config
from mockforge.core import distance
from mockforge.errors import ConfigError, StubError
from mockforge.testing.server import MockServer

#: Long enough for a healthy server on a busy 2-core CI box; an old-engine hang never ends.
LIVENESS_S = 30.0

#: (pattern, adversarial text, a text it matches, usable as a path)
CORPUS: list[tuple[str, str, str, bool]] = [
    (r"(a+)+$", "/" + "a" * 40 + "!", "/aaa", True),
    (r"(a|aa)+$", "/" + "a" * 64 + "!", "/aa", True),
    (r"^(\w+\s?)*$", "a" * 40 + "!", "ab cd", False),
    (r"(.*a){20}", "/" + "a" * 19 + "x" * 40, "/" + "a" * 20, True),
    (r"^/api/(\w+/?)+$", "/api/" + "a" * 40 + "!", "/api/a/b", True),
    (r"(x+x+)+y", "/" + "x" * 40, "/xxy", True),
    (r"^(a|a?)+$", "a" * 40 + "!", "aaa", False),
    (r"(\d+)*[a-z]$", "/" + "1" * 40 + "!", "/12z", True),
]
PATH_CORPUS = [pytest.param(p, bad, ok, id=p) for p, bad, ok, as_path in CORPUS if as_path]
TEXT_Q = {"body_text": "q"}
ALL_CORPUS = [pytest.param(p, bad, ok, id=p) for p, bad, ok, _ in CORPUS]


# --------------------------------------------------------------------------- a subprocess server

_PORT_LINE = re.compile(r"\s+(HTTP|WebSocket)\s+(?:\w+://)?[\d.]+:(\d+)")


class Served:
    def __init__(self, proc: subprocess.Popen[str], ports: dict[str, int]) -> None:
        self.proc = proc
        self.http = f"http://127.0.0.1:{ports['HTTP']}"
        self.ws = f"ws://127.0.0.1:{ports['WebSocket']}"


#: A spec path with four parameters in one segment: on ``re``, a segment of 4,000 dots takes hours.
MIXED_SEGMENT_SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "mixed", "version": "1"},
    "paths": {
        "/files/{a}.{b}.{c}.{d}-v": {
            "get": {
                "parameters": [
                    {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in "abcd"
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"example": {"ok": 1}}}}},
            }
        }
    },
}


def _ws_routes() -> list[dict[str, Any]]:
    return [
        {
            "path": f"/ws{i}",
            "mode": "rules",
            "rules": [
                {"match": {"regex": pattern}, "reply": ["hit"]},
                {"match": {"regex": "^~$"}, "reply": ["pong"]},
            ],
        }
        for i, (pattern, *_) in enumerate(CORPUS)
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("sec-regex")
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(MIXED_SEGMENT_SPEC))
    config = folder / "mockforge.yaml"
    config.write_text(
        yaml.safe_dump({"http": {"specs": [str(spec)]}, "websocket": {"enabled": True, "routes": _ws_routes()}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    cmd = [sys.executable, "-m", "mockforge", "serve", "--config", str(config), "--http-port", "0", "--ws-port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder, env=env)
    ports: dict[str, int] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + LIVENESS_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        m = _PORT_LINE.match(line)
        if m:
            ports[m.group(1)] = int(m.group(2))
        elif " ready " in line:
            break
    try:
        yield Served(proc, ports)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # the old engine: a stuck regex ignores SIGTERM
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):  # no ResourceWarning for the pipes
            if pipe is not None:
                pipe.close()


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.http, timeout=LIVENESS_S) as c:
        c.post("/__mockforge/reset").raise_for_status()
        yield c


def add(client: httpx.Client, stub: dict[str, Any]) -> None:
    r = client.post("/__mockforge/stubs", json=stub)
    assert r.status_code == 201, r.text


def assert_live(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


# --------------------------------------------------------------------------- every entry point


@pytest.mark.parametrize(("pattern", "bad", "ok"), PATH_CORPUS)
def test_stub_path_regex_answers_a_hostile_path_and_the_server_stays_live(
    client: httpx.Client, pattern: str, bad: str, ok: str
) -> None:
    add(client, {"id": "rx", "request": {"path": {"regex": pattern}}, "response": {"body_text": "hit"}})
    miss = client.get(bad)
    assert miss.status_code == 404
    assert miss.json()["error"]["details"][0]["location"] == "stub:rx"
    assert client.get(ok).text == "hit"
    assert_live(client)


@pytest.mark.parametrize(("pattern", "bad", "ok"), ALL_CORPUS)
def test_query_and_body_matches_answer_hostile_values(client: httpx.Client, pattern: str, bad: str, ok: str) -> None:
    add(client, {"id": "q", "request": {"path": "/q", "query": {"v": {"matches": pattern}}}, "response": TEXT_Q})
    add(client, {"id": "b", "request": {"path": "/b", "body": {"matches": pattern}}, "response": {"body_text": "b"}})
    assert client.get("/q", params={"v": bad}).status_code == 404
    assert client.post("/b", content=bad.encode()).status_code == 404
    assert client.get("/q", params={"v": ok}).text == "q"
    assert client.post("/b", content=ok.encode()).text == "b"
    assert_live(client)


def test_log_path_regex_on_a_40_character_path_answers(client: httpx.Client) -> None:
    """The issue's reproduction: one logged 40-character path, then ``path_regex=(a+)+$``."""
    hostile = "/" + "a" * 39 + "!"
    assert client.get(hostile).status_code == 404
    assert client.get("/aaaa").status_code == 404
    r = client.get("/__mockforge/logs?path_regex=(a%2B)%2B%24")
    assert r.status_code == 200
    assert [e["path"] for e in r.json()["entries"]] == ["/aaaa"]
    assert_live(client)


@pytest.mark.parametrize(("pattern", "bad", "ok"), PATH_CORPUS)
def test_log_path_regex_corpus(client: httpx.Client, pattern: str, bad: str, ok: str) -> None:
    client.get(bad)
    client.get(ok)
    r = client.get("/__mockforge/logs", params={"path_regex": pattern})
    assert r.status_code == 200
    assert [e["path"] for e in r.json()["entries"]] == [ok]


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[c[0] for c in CORPUS])
def test_websocket_rule_regex_skips_a_hostile_message_and_keeps_answering(served: Served, index: int) -> None:
    _, bad, ok, _ = CORPUS[index]
    with connect(f"{served.ws}/ws{index}", open_timeout=LIVENESS_S) as ws:
        ws.send(bad)
        ws.send("~")
        assert ws.recv(timeout=LIVENESS_S) == "pong"  # the hostile message matched nothing
        ws.send(ok)
        assert ws.recv(timeout=LIVENESS_S) == "hit"


def test_spec_path_with_several_parameters_in_a_segment_answers_a_hostile_segment(client: httpx.Client) -> None:
    miss = client.get("/files/" + "." * 4000)
    assert miss.status_code == 404
    assert miss.json()["error"]["code"] == "not_found"
    assert client.get("/files/x.y.z.w-v").json() == {"ok": 1}
    assert_live(client)


# --------------------------------------------------------------------------- refused patterns


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(?<=a)b", "lookahead and lookbehind"),
        (r"^(?!/admin)", "lookahead and lookbehind"),
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "backreferences"),
        (r"a++", "possessive quantifiers"),
        (r"(?>a+)b", "atomic groups"),
    ],
)
def test_unsupported_stub_regex_is_a_400_naming_the_field_and_the_reason(
    client: httpx.Client, pattern: str, why: str
) -> None:
    before = client.get("/__mockforge/stubs").json()["stubs"]
    for request, field in (
        ({"path": {"regex": pattern}}, "request.path.regex"),
        ({"path": "/x", "headers": {"x-a": {"matches": pattern}}}, "request.headers.x-a.matches"),
    ):
        r = client.post("/__mockforge/stubs", json={"request": request, "response": {"body_text": "x"}})
        assert r.status_code == 400
        detail = r.json()["error"]["details"][0]
        assert detail["location"] == field
        assert why in detail["reason"] and "RE2" in detail["reason"] and repr(pattern) in detail["reason"]
    assert client.get("/__mockforge/stubs").json()["stubs"] == before


def test_unsupported_log_path_regex_is_a_400(client: httpx.Client) -> None:
    r = client.get("/__mockforge/logs", params={"path_regex": r"(a)\1"})
    assert r.status_code == 400
    detail = r.json()["error"]["details"][0]
    assert detail["location"] == "query.path_regex" and "backreferences" in detail["reason"]


def test_compile_user_regex_names_the_place_and_keeps_python_syntax() -> None:
    from mockforge.core.regex import RegexError, compile_user_regex

    with pytest.raises(RegexError, match=r"^stubs\.yaml#pets: regex '\(\?=x\)' is not supported: lookahead"):
        compile_user_regex("(?=x)", where="stubs.yaml#pets")
    with pytest.raises(RegexError, match="invalid regex"):
        compile_user_regex("[a-", where="x")
    named = compile_user_regex(r"^/pets/(?P<id>\d+)\Z", where="x")
    assert named.search("/pets/42").groupdict() == {"id": "42"}
    assert not named.test("/pets/42/photos")
    assert compile_user_regex("PETS", where="x", ignore_case=True).test("/pets")


def test_unsupported_regex_in_config_and_websocket_rules_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"core\.proxy\.rules\.0\.regex: regex .*backreferences"):
        build_config({"core": {"proxy": {"rules": [{"regex": r"(a)\1", "upstream": "http://x"}]}}}, env={})
    from mockforge.ws.rules import compile_rule

    with pytest.raises(ValueError, match="lookahead and lookbehind"):
        compile_rule({"match": {"regex": "(?=a)"}, "reply": ["x"]})


def test_stub_file_with_an_unsupported_regex_names_file_and_key(tmp_path: Path) -> None:
    from mockforge.core.stubs import load_file

    f = tmp_path / "s.yaml"
    f.write_text("id: s\nrequest: {path: {regex: '(?<!x)y'}}\nresponse: {body: x}\n")
    with pytest.raises(StubError) as err:
        load_file(f)
    assert str(err.value).startswith(f"{f} at request.path.regex: regex '(?<!x)y' is not supported")


def test_spec_pattern_the_linear_engine_cannot_run_is_left_out_with_a_note() -> None:
    from mockforge.openapi.normalize import regex_ok

    assert regex_ok(r"^[a-z]+\d$")
    assert not regex_ok(r"^(?=a)(a+)+$")


def test_spec_pattern_validation_of_a_hostile_body_answers(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1"},
                "paths": {
                    "/n": {
                        "post": {
                            "requestBody": {
                                "required": True,
                                "content": {
                                    "application/json": {
                                        "schema": {
                                            "type": "object",
                                            "properties": {"n": {"type": "string", "pattern": "^(a+)+$"}},
                                        }
                                    }
                                },
                            },
                            "responses": {"200": {"description": "ok"}},
                        }
                    }
                },
            }
        )
    )
    config = {"http": {"specs": [str(spec)], "validation": {"mode": "enforce"}}}
    with MockServer(config=config) as server, httpx.Client(base_url=server.url, timeout=LIVENESS_S) as c:
        r = c.post("/n", json={"n": "a" * 5000 + "!"})
        assert r.status_code == 400
        assert "n" in r.text
        assert c.post("/n", json={"n": "aaa"}).status_code == 200


# --------------------------------------------------------------------------- near misses


@pytest.fixture
def many_stubs() -> Iterator[MockServer]:
    config = {
        # a long request line must reach the stubs (its own bound is another test's business)
        "http": {"max_request_line_bytes": 256 * 1024},
        "core": {"max_near_miss_stubs": 200, "max_near_miss_input_bytes": 4096},
    }
    with MockServer(config=config) as server:
        with httpx.Client(base_url=server.url, timeout=LIVENESS_S) as c:
            stubs = [
                {
                    "id": f"s{i}",
                    "request": {"method": "GET", "path": f"/api/items{i}/{{id}}"},
                    "response": {"status": 200},
                }
                for i in range(250)
            ]
            assert c.post("/__mockforge/stubs", json=stubs).status_code == 201
        yield server


def test_a_64kb_path_against_250_stubs_is_scored_off_the_loop_and_bounded(many_stubs: MockServer) -> None:
    """The issue's reproduction: a 64 KB path with 200 stubs blocked every client for 11 s.
    Scoring is held on an event until another client's /health has answered: on the loop, that
    could never happen."""
    store = many_stubs.server.services.stubs.store
    scoring = threading.Event()
    release = threading.Event()
    original = store.report_miss

    def held(request: Any, limit: int = 3) -> Any:
        scoring.set()
        release.wait(LIVENESS_S * 2)
        return original(request, limit)

    store.report_miss = held
    path = "/api/" + "a" * 60_000  # the URL parser's own limit is just under 64 KB
    answer: list[bytes] = []

    def hostile() -> None:  # raw socket: httpx refuses URLs over 64 KB
        with socket.create_connection(("127.0.0.1", many_stubs.ports["http"]), timeout=LIVENESS_S * 3) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            answer.append(b"".join(chunks))

    worker = threading.Thread(target=hostile)
    worker.start()
    try:
        assert scoring.wait(LIVENESS_S)
        with httpx.Client(base_url=many_stubs.url, timeout=LIVENESS_S) as c:
            assert c.get("/health").json()["status"] == "ok"
    finally:
        release.set()
        worker.join(LIVENESS_S * 3)
    assert store.near_misses_off_loop == 1
    assert store.near_misses_capped == 1
    (raw,) = answer
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404")
    details = json.loads(body)["error"]["details"]
    assert len(details) == 3 and all(d["location"].startswith("stub:s") for d in details)
    assert f"(first 4096 of {len(path)} characters)" in details[0]["reason"]
    assert len(body) < 5 * 4096  # excerpts, not four copies of the path


class _CountingMatcher(difflib.SequenceMatcher):  # type: ignore[type-arg]
    calls = 0
    largest = 0

    def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "", autojunk: bool = True) -> None:
        _CountingMatcher.calls += 1
        _CountingMatcher.largest = max(_CountingMatcher.largest, len(a) * len(b))
        if len(a) * len(b) > 1_000_000:
            raise AssertionError(f"difflib on {len(a)} x {len(b)} characters")
        super().__init__(isjunk, a, b, autojunk)


@pytest.fixture
def counting_difflib(monkeypatch: pytest.MonkeyPatch) -> type[_CountingMatcher]:
    _CountingMatcher.calls = 0
    _CountingMatcher.largest = 0
    monkeypatch.setattr(distance.difflib, "SequenceMatcher", _CountingMatcher)
    return _CountingMatcher


def test_body_equals_on_60kb_never_scores_on_the_match_path(counting_difflib: type[_CountingMatcher]) -> None:
    """A 60 KB body ``equals`` took 2.6 s: every mismatch ran difflib over both bodies, even when
    another stub answered. The yes/no match compares exactly; the 404 report scores excerpts."""
    expected = "".join(f"line {i} of the expected document\n" for i in range(2000))[: 60 * 1024]
    other = expected[:-10] + "0123456789"
    with MockServer() as server, httpx.Client(base_url=server.url, timeout=LIVENESS_S) as c:
        stubs = [
            {
                "id": "exact",
                "priority": 1,
                "request": {"method": "POST", "path": "/doc", "body": expected},
                "response": {"body_text": "exact"},
            },
            {"id": "any", "request": {"method": "POST", "path": "/doc"}, "response": {"body_text": "any"}},
            {
                "id": "only",
                "request": {"method": "POST", "path": "/only", "body": expected},
                "response": {"body_text": "only"},
            },
        ]
        assert c.post("/__mockforge/stubs", json=stubs).status_code == 201
        assert c.post("/doc", content=other.encode()).text == "any"
        assert c.post("/doc", content=expected.encode()).text == "exact"
        assert counting_difflib.calls == 0
        miss = c.post("/only", content=other.encode())
        assert miss.status_code == 404
        reasons = [d["reason"] for d in miss.json()["error"]["details"] if d["location"] == "stub:only"]
        assert reasons[0].startswith('body: expected equals "line 0 of the expected document')
        assert f"(first 4096 of {len(other)} characters)" in reasons[0]
    assert counting_difflib.largest <= distance._DIFFLIB_CELLS


def test_similarity_distance_is_bounded_and_small_inputs_keep_difflib() -> None:
    assert distance.similarity_distance("/pets/7", "/pets/7") == 0.0
    small = distance.similarity_distance("/pets/{id}", "/pet/7")
    assert small == pytest.approx(1.0 - difflib.SequenceMatcher(None, "/pets/{id}", "/pet/7", autojunk=False).ratio())
    big_a = "x" * 5_000_000
    big_b = "x" * 4_999_999 + "y"
    assert 0.0 < distance.similarity_distance(big_a, big_b) < 0.01
    assert distance.similarity_distance("a" * 10_000, "b" * 10_000) == 1.0


def test_near_miss_pool_scores_the_requests_method_first_up_to_the_cap() -> None:
    from mockforge.core.model import Request
    from mockforge.core.stubs import InMemoryStubStore, parse_stub

    store = InMemoryStubStore(max_near_miss_stubs=3)
    for i, method in enumerate(["POST", "GET", "POST", "GET", "GET", "DELETE"]):
        spec = {"id": f"{method.lower()}{i}", "request": {"method": method, "path": f"/p{i}"}}
        store.add(parse_stub({**spec, "response": {"status": 200}}, "", "api"))
    misses = store.near_misses(Request(protocol="http", method="GET", path="/nowhere"), limit=10)
    assert sorted(m.stub.id for m in misses) == ["get1", "get3", "get4"]
    assert store.near_misses_capped == 1
