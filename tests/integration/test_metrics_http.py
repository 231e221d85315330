"""Metrics and stats over real sockets: HTTP, WebSocket and gRPC traffic against a running server,
the separate metrics listener, bounded label sets, and prometheus_client staying unloaded."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from mockforge.core.model import LogEntry
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PETSTORE = EXAMPLES / "petstore.yaml"


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> {sorted label pairs: value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def entries_seen(mock: MockServer, done: Callable[[LogEntry], bool], count: int = 1) -> asyncio.Event:
    """An event set once ``count`` log entries satisfying ``done`` were appended (same loop)."""
    event = asyncio.Event()
    seen = 0

    def listener(entry: LogEntry) -> None:
        nonlocal seen
        if done(entry):
            seen += 1
            if seen >= count:
                event.set()

    mock.runtime.log.listeners.append(listener)
    return event


async def get_metrics(client: httpx.AsyncClient, url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    resp = await client.get(url)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(resp.text)


def http_key(method: str, route: str, status: int) -> tuple[tuple[str, str], ...]:
    return (("method", method), ("protocol", "http"), ("route", route), ("status", str(status)))


async def test_http_traffic_is_counted_by_route_template_with_errors_and_durations() -> None:
    async with MockServer(spec=PETSTORE) as mock, httpx.AsyncClient(base_url=mock.url) as client:
        assert (await client.get("/pets")).status_code == 200
        for pet in (7, 8):
            assert (await client.get(f"/pets/{pet}")).status_code == 200
        # refused with the 422 POST /pets documents: still a validation error of ours
        assert (await client.post("/pets", json={"nope": True})).status_code == 422
        assert (await client.get("/no/such/thing")).status_code == 404
        assert (await client.get("/__mockforge/stats")).status_code == 200  # admin calls are not counted
        m = await get_metrics(client, "/__mockforge/metrics")
    assert m["mockforge_requests_total"] == {
        http_key("GET", "/pets", 200): 1,
        http_key("GET", "/pets/{id}", 200): 2,
        http_key("POST", "/pets", 422): 1,
        http_key("GET", "unmatched", 404): 1,
    }
    assert m["mockforge_errors_total"] == {
        (("kind", "validation"), ("protocol", "http")): 1,
        (("kind", "unmatched"), ("protocol", "http")): 1,
    }
    counts = m["mockforge_request_duration_seconds_count"]
    assert counts[(("protocol", "http"), ("route", "/pets/{id}"))] == 2
    inf = m["mockforge_request_duration_seconds_bucket"][(("le", "+Inf"), ("protocol", "http"), ("route", "/pets"))]
    assert inf == 2  # GET and POST /pets share the route's histogram
    assert m["mockforge_request_log_entries"] == {(): 5}
    assert m["mockforge_request_log_evicted_total"] == {(): 0}
    assert m["process_resident_memory_bytes"][()] > 10_000_000
    assert m["process_open_fds"][()] > 0
    assert m["mockforge_fixture_hits_total"] == {(): 0}


async def test_websocket_and_grpc_traffic_fill_their_families(tmp_path: Path) -> None:
    from grpclib.client import Channel
    from grpclib.const import Cardinality
    from websockets.asyncio.client import connect

    config = {
        "websocket": {"routes": [{"path": "/ws", "mode": "echo"}]},
        "grpc": {"stubs_dir": str(EXAMPLES / "grpc_stubs")},
        "core": {"cache_dir": str(tmp_path / "cache")},
    }
    async with MockServer(config, protos=EXAMPLES / "protos") as mock, httpx.AsyncClient(base_url=mock.url) as client:
        closed = entries_seen(mock, lambda e: e.protocol == "ws" and e.method == "CLOSE")
        async with connect(f"ws://127.0.0.1:{mock.ports['http']}/ws") as ws:
            for text in ("one", "two"):
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), 5) == text
            while_open = await get_metrics(client, "/__mockforge/metrics")
        await asyncio.wait_for(closed.wait(), 5)

        svc = mock.server.services.grpc
        info = svc.methods["/mockforge.MockService/UnaryCall"]
        logged = entries_seen(mock, lambda e: e.protocol == "grpc")
        channel = Channel("127.0.0.1", mock.ports["grpc"])
        try:
            async with channel.request(info.path, Cardinality.UNARY_UNARY, info.input_type, info.output_type) as st:
                await st.send_message(info.input_type(name="ada", message="hi"), end=True)
                reply = await st.recv_message()
        finally:
            channel.close()
        assert reply.name == "ada"
        await asyncio.wait_for(logged.wait(), 5)
        m = await get_metrics(client, "/__mockforge/metrics")
        stats = (await client.get("/__mockforge/stats")).json()

    assert while_open["mockforge_ws_connections_active"] == {(): 1}
    assert m["mockforge_ws_connections_active"] == {(): 0}
    assert m["mockforge_ws_messages_total"] == {(("direction", "in"),): 2, (("direction", "out"),): 2}
    requests = m["mockforge_requests_total"]
    assert requests[(("method", "CONNECT"), ("protocol", "ws"), ("route", "/ws"), ("status", "101"))] == 1
    method = "mockforge.MockService/UnaryCall"
    assert requests[(("method", "POST"), ("protocol", "grpc"), ("route", method), ("status", "0"))] == 1
    assert m["mockforge_grpc_calls_total"] == {(("code", "OK"), ("method", method)): 1}
    assert m["mockforge_request_duration_seconds_count"][(("protocol", "grpc"), ("route", method))] == 1
    assert stats["requests_by_protocol"] == {"ws": 1, "grpc": 1}
    assert stats["ws_messages"] == {"in": 2, "out": 2}
    assert stats["ws_connections_active"] == 0
    # the totals agree: requests_total is the sum by protocol and of since_reset (no reset yet);
    # every log entry (2 messages in, 2 out, the close) is in log_entries_total
    assert stats["requests_total"] == 2
    assert sum(n for by_class in stats["since_reset"].values() for n in by_class.values()) == 2
    assert stats["log_entries_total"] == 2 + 4 + 1


async def test_separate_metrics_listener_serves_metrics_health_and_errors() -> None:
    config = {"observability": {"metrics": {"enabled": True}}}
    async with MockServer(config, spec=PETSTORE) as mock, httpx.AsyncClient() as client:
        port = mock.ports["metrics"]
        assert port not in (0, mock.ports["http"])
        base = f"http://127.0.0.1:{port}"
        assert (await client.get(mock.url + "/pets/3")).status_code == 200
        m = await get_metrics(client, base + "/metrics")
        assert m["mockforge_requests_total"] == {http_key("GET", "/pets/{id}", 200): 1}
        health = await client.get(base + "/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        missing = await client.get(base + "/pets/3")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong = await client.post(base + "/metrics")
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")
        assert wrong.json()["error"]["code"] == "method_not_allowed"
        again = await get_metrics(client, base + "/metrics")
        assert len(mock.runtime.log) == 1  # scrapes and metrics-port errors are not logged
    assert again["mockforge_requests_total"] == {http_key("GET", "/pets/{id}", 200): 1}


async def blast_unmatched(port: int, total: int, connections: int = 4, batch: int = 50) -> int:
    """Send ``total`` GETs to distinct paths, pipelined in batches; returns how many got a 404."""

    async def one_connection(start: int, count: int) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        got = 0
        try:
            for first in range(start, start + count, batch):
                last = min(first + batch, start + count)
                writer.write(b"".join(b"GET /unknown/%d HTTP/1.1\r\nhost: x\r\n\r\n" % i for i in range(first, last)))
                await writer.drain()
                for _ in range(first, last):
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                    await reader.readexactly(length)
                    got += head.startswith(b"HTTP/1.1 404 ")
        finally:
            writer.close()
        return got

    share = total // connections
    results = await asyncio.gather(*(one_connection(i * share, share) for i in range(connections)))
    return sum(results)


async def test_ten_thousand_distinct_paths_make_one_series() -> None:
    config = {"core": {"max_request_logs": 100}}
    async with MockServer(config, spec=PETSTORE) as mock, httpx.AsyncClient(base_url=mock.url) as client:
        assert await blast_unmatched(mock.ports["http"], 10_000) == 10_000
        m = await get_metrics(client, "/__mockforge/metrics")
        stats = (await client.get("/__mockforge/stats")).json()
    assert m["mockforge_requests_total"] == {http_key("GET", "unmatched", 404): 10_000}
    assert len(m["mockforge_request_duration_seconds_count"]) == 1
    assert m["mockforge_errors_total"] == {(("kind", "unmatched"), ("protocol", "http")): 10_000}
    assert m["mockforge_request_log_entries"] == {(): 100}
    assert m["mockforge_request_log_evicted_total"] == {(): 9_900}
    assert stats["requests_by_protocol"] == {"http": 10_000}  # not bounded by the log
    assert stats["requests_in_log_by_protocol"] == {"http": 100}


async def test_stats_reports_uptime_counts_log_fill_rss_and_bounds() -> None:
    config = {"core": {"max_request_logs": 3}}
    async with MockServer(config, spec=PETSTORE) as mock, httpx.AsyncClient(base_url=mock.url) as client:
        for i in range(1, 6):
            assert (await client.get(f"/pets/{i}")).status_code == 200
        await client.get("/nowhere")
        resp = await client.get("/__mockforge/stats")
    assert resp.status_code == 200
    stats = resp.json()
    assert stats["uptime_s"] >= 0
    assert stats["requests_total"] == 6
    assert stats["requests_by_protocol"] == {"http": 6}
    assert stats["errors_by_protocol"] == {"http": 1}
    assert stats["log"] == {"entries": 3, "capacity": 3, "evicted": 3}
    assert stats["rss_bytes"] > 10_000_000
    assert stats["bounds"]["core.max_request_logs"] == 3
    assert stats["bounds"]["http.max_body_bytes"] > 0


def test_an_http_only_server_never_scraped_does_not_import_prometheus_client() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from mockforge.testing.server import MockServer

        async def main():
            async with MockServer(spec={str(PETSTORE)!r}) as mock:
                reader, writer = await asyncio.open_connection("127.0.0.1", mock.ports["http"])
                for path in (b"/pets/1", b"/__mockforge/stats"):
                    writer.write(b"GET " + path + b" HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\n\\r\\n")
                await writer.drain()
                await reader.readuntil(b"HTTP/1.1 200 ")
                await reader.readuntil(b"HTTP/1.1 200 ")
                writer.close()
                before = "prometheus_client" in sys.modules
                mock.runtime.metrics.render()
                print(json.dumps({{"before_scrape": before, "after_scrape": "prometheus_client" in sys.modules,
                                  "counted": mock.runtime.metrics.by_protocol}}))

        asyncio.run(main())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    result = orjson.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"before_scrape": False, "after_scrape": True, "counted": {"http": 1}}
