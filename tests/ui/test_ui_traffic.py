"""The Traffic page in a real browser with real traffic from httpx: entries listed with their
detail (headers with redacted values, pretty JSON, hex for binary, what answered, validation
problems), filters, the live feed (a request made after the page loaded appears within 2 s), the
1,000-row bound, and page load to filled with 1,000 log entries (measured in the browser)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from ui_harness import Console, start_server, wait_for

from mockforge.testing.server import MockServer


def _rows(console: Console) -> list[dict[str, str]]:
    return list(console.js(
        "return Array.from(document.querySelectorAll('[data-test=traffic-row]')).map(r => ({"
        "method: r.querySelector('[data-test=row-method]').textContent,"
        "path: r.querySelector('[data-test=row-path]').firstChild.textContent,"
        "status: r.querySelector('[data-test=row-status]').textContent,"
        "source: r.querySelector('[data-test=row-source]').textContent}))"))


def test_entries_detail_and_filters(console: Console, http: httpx.Client, admin: httpx.Client) -> None:
    admin.post("stubs", json={"id": "hello", "request": {"method": "GET", "path": "/hello"},
                              "response": {"status": 200, "body": {"hi": True}}})
    assert http.get("/hello", headers={"authorization": "Bearer secret-value", "x-trace": "t1"}).json() == {"hi": True}
    assert http.post("/pets", json={"name": "Rex"}).status_code == 201
    assert http.post("/pets", json={"nom": 1}).status_code in (400, 422)
    assert http.put("/blob", content=bytes(range(0, 40)), headers={"content-type": "application/octet-stream"}
                    ).status_code == 404
    console.open("traffic")
    wait_for(lambda: len(_rows(console)) == 4, "4 rows")
    rows = _rows(console)
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("PUT", "/blob", "404"), ("POST", "/pets", rows[1]["status"]), ("POST", "/pets", "201"),
        ("GET", "/hello", "200")]
    assert rows[3]["source"] == "stub:hello" and rows[2]["source"] == "spec"

    # detail of the stub answer: headers with the redacted one shown as redacted, pretty JSON body
    console.find('[data-test=traffic-row][data-id] [data-test=row-path]')
    console.js("document.querySelectorAll('[data-test=traffic-row]')[3].click()")
    wait_for(lambda: console.text_of("[data-test=detail-title]") == "GET /hello", "the detail of GET /hello")
    assert console.text_of("[data-test=detail-answered]") == "stub:hello"
    headers = console.find("[data-test=detail-headers]").text
    assert "x-trace\nt1" in headers and "authorization\nredacted" in headers and "secret-value" not in headers
    assert console.find("[data-test=detail-headers] .redacted").text == "redacted"
    assert console.find("[data-test=detail-response-body]").get_attribute("data-kind") == "json"
    assert console.find("[data-test=detail-response-body]").text == '{\n  "hi": true\n}'
    console.shot("traffic", keep=True)

    # the spec refused a body: its validation problems are listed
    console.js("document.querySelectorAll('[data-test=traffic-row]')[1].click()")
    wait_for(lambda: console.find_all("[data-test=detail-problems] li"), "validation problems")
    assert "name" in console.find("[data-test=detail-problems]").text

    # a binary body is a hex dump
    console.js("document.querySelectorAll('[data-test=traffic-row]')[0].click()")
    body = wait_for(lambda: console.find("[data-test=detail-request-body]"), "the request body")
    assert body.get_attribute("data-kind") == "hex"
    assert body.text.startswith("00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f")
    assert console.find("[data-test=detail-create-stub]").text == "Create stub from this request"

    # filters
    console.find("[data-test=filter-path]").send_keys("pets")
    wait_for(lambda: [r["path"] for r in _rows(console)] == ["/pets", "/pets"], "the path filter")
    console.find("[data-test=filter-status]").send_keys("2xx")
    wait_for(lambda: [r["status"] for r in _rows(console)] == ["201"], "the status filter")
    console.js("const s = document.querySelector('[data-test=filter-status]'); s.value = '';"
               "s.dispatchEvent(new Event('input'));"
               "const p = document.querySelector('[data-test=filter-path]'); p.value = '';"
               "p.dispatchEvent(new Event('input'));"
               "const src = document.querySelector('[data-test=filter-source]'); src.value = 'stub';"
               "src.dispatchEvent(new Event('input'))")
    wait_for(lambda: [r["path"] for r in _rows(console)] == ["/hello"], "the source filter")
    console.js("const src = document.querySelector('[data-test=filter-source]'); src.value = 'unmatched';"
               "src.dispatchEvent(new Event('input'));"
               "const m = document.querySelector('[data-test=filter-method]'); m.value = 'PUT';"
               "m.dispatchEvent(new Event('input'))")
    wait_for(lambda: [r["path"] for r in _rows(console)] == ["/blob"], "the method and source filters")
    console.js("const p = document.querySelector('[data-test=filter-protocol]'); p.value = 'grpc';"
               "p.dispatchEvent(new Event('input'))")
    wait_for(lambda: _rows(console) == [], "the protocol filter")
    assert console.severe_logs() == []


def test_live_feed_shows_a_new_request_within_two_seconds(console: Console, http: httpx.Client) -> None:
    console.open("traffic")
    wait_for(lambda: console.text_of("[data-test=traffic-live]") == "live", "the feed to connect")
    # the feed is open on the server before the request is made
    wait_for(lambda: console.server.server.runtime.feed is not None and console.server.server.runtime.feed.listeners,
             "the stream to open")
    # one request first, so the measured one meets the page in its steady state (no flush pending)
    assert http.get("/warm-up").status_code == 404
    wait_for(lambda: _rows(console) and _rows(console)[0]["path"] == "/warm-up", "the warm-up row")
    console.js("window.__seenAt = null; const tb = document.querySelector('[data-test=traffic-rows]');"
               "new MutationObserver(() => { if (!window.__seenAt && tb.textContent.includes('/live-now'))"
               " window.__seenAt = performance.now(); }).observe(tb, {childList: true, subtree: true});")
    sent_at = console.js("return performance.now()")
    wall = time.perf_counter()
    assert http.get("/live-now").status_code == 404
    seen_at = wait_for(lambda: console.js("return window.__seenAt"), "the live row")
    wall_ms = (time.perf_counter() - wall) * 1000
    latency_ms = seen_at - sent_at
    print(f"\nlive feed: request to row in {latency_ms:.0f} ms (browser clock; {wall_ms:.0f} ms seen from the "
          "test, polling included)")
    assert _rows(console)[0]["path"] == "/live-now"
    assert latency_ms < 2000


def test_page_keeps_at_most_1000_rows_and_measures_load_with_1000_entries(
        browser: object, tmp_path: Path, capsys: object) -> None:
    server = start_server(tmp_path, {"core": {"max_request_logs": 2000}},
                          stubs=[{"id": "ok", "request": {"method": "GET", "path": {"glob": "/items/*"}},
                                  "response": {"status": 200, "body": {"ok": True, "n": "{{request.path}}"}}}])
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for i in range(1000):
                client.get(f"/items/{i}", headers={"x-n": str(i)})
        shots = tmp_path / "shots"
        shots.mkdir()
        console = Console(browser, server, shots)
        timings = []
        for _ in range(3):
            console.open("traffic")
            wait_for(lambda: console.js("return document.getElementById('main').dataset.filledMs"), "the table")
            timings.append(float(console.js("return Number(document.getElementById('main').dataset.filledMs)")))
            assert int(console.js("return Number(document.getElementById('main').dataset.filledRows)")) == 1000
        print(f"\nTraffic page, 1,000 log entries: navigation start to table filled {sorted(timings)[1]:.0f} ms "
              f"(median of 3; runs {', '.join(f'{t:.0f}' for t in timings)} ms)")
        console.shot("traffic-1000", keep=False)
        # live rows push the oldest out: still 1,000 rows, newest first
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for i in range(1000, 1050):
                client.get(f"/items/{i}")
        wait_for(lambda: _rows(console)[0]["path"] == "/items/1049", "the newest live row")
        rows = _rows(console)
        assert len(rows) == 1000 and rows[-1]["path"] == "/items/50"
    finally:
        browser.get("about:blank")  # type: ignore[attr-defined]
        server.stop()


def test_the_page_says_when_the_server_dropped_events_for_it(browser: object, tmp_path: Path) -> None:
    import socket

    server = start_server(tmp_path, {"admin": {"event_queue_size": 1}})
    try:
        shots = tmp_path / "shots"
        shots.mkdir()
        console = Console(browser, server, shots)
        console.open("traffic")
        wait_for(lambda: console.text_of("[data-test=traffic-live]") == "live", "the feed to connect")
        wait_for(lambda: server.server.runtime.feed is not None and server.server.runtime.feed.listeners,
                 "the stream to open")
        # 30 pipelined requests in one write: all logged before the stream writes again, into a
        # queue of 1, so 29 are dropped for this tab
        port = server.ports["http"]
        burst = b"".join(b"GET /burst/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % i for i in range(29))
        burst += b"GET /burst/29 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(burst)
            while sock.recv(65536):
                pass
        note = wait_for(lambda: console.find("[data-test=traffic-dropped]").text, "the dropped notice")
        dropped = int(note.split("dropped ")[1].split()[0])
        assert dropped >= 1 and "fell behind" in note
        assert server.server.runtime.feed is not None and server.server.runtime.feed.dropped == dropped
        wait_for(lambda: _rows(console) and _rows(console)[0]["path"] == "/burst/29", "the newest entry")
        assert len(_rows(console)) == 30 - dropped
    finally:
        browser.get("about:blank")  # type: ignore[attr-defined]
        server.stop()


DRIFT_SPEC = """
openapi: 3.0.3
info: {title: drift, version: "1"}
paths:
  /things/{id}:
    get:
      operationId: getThing
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, required: [id], properties: {id: {type: integer}}}
"""


def test_detail_lists_drift_findings_of_a_proxied_answer(browser: object, tmp_path: Path) -> None:
    upstream = MockServer(stubs=[{"id": "bad", "request": {"method": "GET", "path": "/things/1"},
                                  "response": {"status": 200, "body": {"id": "one"}}}]).start()
    spec = tmp_path / "drift.yaml"
    spec.write_text(DRIFT_SPEC)
    server = MockServer({"admin": {"enabled": True}, "http": {"drift": {"mode": "report"}},
                         "core": {"proxy": {"upstream": upstream.url, "timeout_ms": 5000}}}, spec=spec).start()
    try:
        with httpx.Client(timeout=10) as client:
            assert client.get(server.url + "/things/1").json() == {"id": "one"}
        shots = tmp_path / "shots"
        shots.mkdir()
        console = Console(browser, server, shots)
        console.open("traffic")
        wait_for(lambda: _rows(console), "the proxied row")
        console.js("document.querySelector('[data-test=traffic-row]').click()")
        finding = console.find("[data-test=drift-finding]").text
        assert finding.startswith("wrong_type at /id: expected") and 'got "one"' in finding, finding
        assert console.text_of("[data-test=detail-answered]") == "proxy"
    finally:
        browser.get("about:blank")  # type: ignore[attr-defined]
        server.stop()
        upstream.stop()
