"""The console's admin additions over real sockets: the live feed ``GET /__mockforge/events``
(entries as they are logged, a bounded queue per client with ``dropped`` events, a cap on open
streams, the end of every stream when the server stops, no subscriber left when nobody listens)
and the stub model's ``enabled`` flag and hit counts."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from mockforge.config import build_config
from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.server import Server
from mockforge.ui.feed import LiveFeed


def _events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        event, data = "message", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            out.append((event, data))
    return out


async def _start(**admin: Any) -> Server:
    server = Server(build_config({"http": {"port": 0, "host": "127.0.0.1"}, "admin": {"port": 0, **admin}}, env={}))
    await server.start()
    return server


async def _until(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_feed_streams_each_logged_request_and_leaves_nothing_subscribed() -> None:
    server = await _start()
    log = server.runtime.log
    base = f"http://127.0.0.1:{server.ports['admin']}/__mockforge"
    mock = f"http://127.0.0.1:{server.ports['http']}"
    try:
        idle_subscribers = list(log.logged.subscribers)
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", base + "/events") as resp:
                assert resp.status_code == 200
                assert resp.headers["content-type"].startswith("text/event-stream")
                chunks = resp.aiter_text()
                first = await anext(chunks)
                assert first.startswith("retry: 2000")
                r = await client.get(mock + "/hello?x=%3Cb%3E", headers={"authorization": "Bearer t", "x-k": "v"})
                assert r.status_code == 404
                text = ""
                while "event: entry" not in text:
                    text += await anext(chunks)
                [(event, entry)] = _events(text)
                assert event == "entry"
                assert entry["method"] == "GET" and entry["path"] == "/hello" and entry["status"] == 404
                assert entry["query"] == {"x": ["<b>"]}
                assert entry["headers"]["authorization"] == "<redacted>" and entry["headers"]["x-k"] == "v"
                assert len(log.logged.subscribers) == len(idle_subscribers) + 1
            # the client left: an entry logged now finds its connection closed, and the feed
            # unsubscribes from the log when its last stream ends
            feed = server.runtime.feed
            assert feed is not None
            deadline = time.monotonic() + 10
            while feed.listeners:
                assert time.monotonic() < deadline, "the stream was not released"
                await client.get(mock + "/again")
                await asyncio.sleep(0.02)
        assert log.logged.subscribers == idle_subscribers
    finally:
        await server.stop()


async def test_a_slow_reader_loses_the_oldest_entries_and_is_told_how_many() -> None:
    log = RequestLog(100)
    feed = LiveFeed(log, max_streams=2, queue_size=5, heartbeat_s=60)
    resp = feed.response()
    assert resp.status == 200 and resp.stream is not None
    stream = resp.stream
    assert (await anext(stream)).startswith(b"retry:")
    for i in range(12):  # the reader is not reading: 12 entries into a queue of 5
        log.record(Request(protocol="http", method="GET", path=f"/p{i}", headers=Headers()), Response(status=200), 1.0)
    events = _events((await anext(stream)).decode())
    assert events[0] == ("dropped", {"dropped": 7})
    assert [e["path"] for kind, e in events[1:]] == ["/p7", "/p8", "/p9", "/p10", "/p11"]
    assert all(kind == "entry" for kind, _ in events[1:])
    assert not next(iter(feed.listeners)).queue
    assert feed.dropped == 7
    await stream.aclose()  # type: ignore[attr-defined]
    assert not feed.listeners and feed._on_entry not in log.logged.subscribers


async def test_streams_past_the_cap_are_refused_with_503() -> None:
    server = await _start(max_event_streams=1)
    base = f"http://127.0.0.1:{server.ports['admin']}/__mockforge"
    try:
        async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", base + "/events") as first:
            assert first.status_code == 200
            await anext(first.aiter_text())
            second = await client.get(base + "/events")
            assert second.status_code == 503
            assert second.json()["error"]["code"] == "too_many_streams"
            assert "admin.max_event_streams" in second.json()["error"]["message"]
            refused = (await client.get(base + "/stats")).json()["refused"]["events"]
            assert refused == {"streams_open": 1, "streams_refused": 1, "entries_dropped": 0}
    finally:
        await server.stop()


async def test_every_stream_ends_when_the_server_stops() -> None:
    server = await _start()
    base = f"http://127.0.0.1:{server.ports['admin']}/__mockforge"
    stopped = False
    try:
        async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", base + "/events") as resp:
            chunks = resp.aiter_text()
            await anext(chunks)
            stopping = asyncio.ensure_future(server.stop())
            rest = [chunk async for chunk in chunks]  # ends: the server closed the stream
            await stopping
            stopped = True
            assert "event: entry" not in "".join(rest)
    finally:
        if not stopped:
            await server.stop()


async def test_bad_bounds_are_config_errors() -> None:
    from mockforge.errors import ConfigError

    for key in ("max_event_streams", "event_queue_size"):
        with pytest.raises(ConfigError) as err:
            build_config({"admin": {key: 0}}, env={})
        assert f"admin.{key}" in str(err.value)


async def test_an_answer_never_sent_holds_no_stream_slot() -> None:
    log = RequestLog(10)
    feed = LiveFeed(log, max_streams=1, queue_size=4)
    unsent = feed.response()  # e.g. the client closed before the head was written
    assert unsent.status == 200 and not feed.listeners
    sent = feed.response()
    assert sent.status == 200 and sent.stream is not None
    assert (await anext(sent.stream)).startswith(b"retry:")
    assert len(feed.listeners) == 1 and feed.response().status == 503
    await sent.stream.aclose()  # type: ignore[attr-defined]
    assert not feed.listeners and feed._on_entry not in log.logged.subscribers
