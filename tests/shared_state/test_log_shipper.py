"""The log writer's bounded buffer (shared/log_shipper.py): answers never wait, a full buffer
drops and counts, a failed batch is kept and written once Redis answers again."""

from __future__ import annotations

import redis.asyncio as aioredis

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.shared.log_shipper import Backoff, LogShipper
from redis_server import RedisServer, free_port


def _capture(log: RequestLog, n: int) -> list:  # type: ignore[type-arg]
    req = Request(protocol="http", method="GET", path="/pets/1", raw_query="",
                  headers=Headers([("authorization", "Bearer secret"), ("x-n", "1")]), body=b"", client="c")
    return [log.capture(req, Response(status=200, body=b"{}"), 0.1) for _ in range(n)]


def _shipper(client: aioredis.Redis, log: RequestLog, lost: list[str | None], buffer: int = 10) -> LogShipper:
    return LogShipper(client, "p", "rep", log, max_entries=100, buffer=buffer, max_unmatched=5, max_near_misses=5,
                      on_lost=lost.append)


async def test_a_full_buffer_drops_and_counts_and_a_failed_batch_is_kept() -> None:
    log = RequestLog(100)
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    lost: list[str | None] = []
    shipper = _shipper(client, log, lost)
    try:
        for e in _capture(log, 15):
            shipper.on_entry(e)  # never awaits: the answer path
        shipper.on_report("unmatched", {"path": "/x"})
        assert shipper.pending == 10 and shipper.dropped == 6
        try:
            await shipper.flush()
        except Exception as exc:  # Redis is not there
            assert "connect" in str(exc).lower() or "refused" in str(exc).lower()
        else:
            raise AssertionError("flush should fail without Redis")
        assert shipper.pending == 10 and shipper.failed_batches == 1  # kept for the next try
    finally:
        await client.aclose()


async def test_entries_reach_the_stream_redacted_and_once(redis_server: RedisServer) -> None:
    log = RequestLog(100)
    client = aioredis.Redis.from_url(redis_server.url)
    lost: list[str | None] = []
    shipper = _shipper(client, log, lost, buffer=100)
    try:
        await client.delete("p:log")
        originals = _capture(log, 3)
        for e in originals:
            shipper.on_entry(e)
        await shipper.flush()
        view = await shipper.read_log()
        entries = view.snapshot()
        assert [e.id for e in entries] == ["rep-1", "rep-2", "rep-3"]
        assert entries[0].headers["authorization"] == "<redacted>"
        assert await client.xlen("p:log") == 3 and lost[-1] is None
        # a batch written twice (its reply lost) is read once
        for e in originals:
            shipper.on_entry(e)
        await shipper.flush()
        assert len((await shipper.read_log()).snapshot()) == 3
    finally:
        await client.delete("p:log")
        await client.aclose()


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    values = iter([0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    b = Backoff(first=0.1, cap=0.4, rand=lambda: next(values))
    assert [round(b.next(), 3) for _ in range(5)] == [0.05, 0.3, 0.4, 0.4, 0.4]
    b.reset()
    assert round(b.next(), 3) == 0.1
