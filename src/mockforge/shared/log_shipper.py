"""Copies this replica's request log and miss reports to Redis, off the answer path.

The answer path only appends to a bounded deque (``on_entry``, subscribed to the log's
``ExchangeLogged``); a task writes what is waiting in batches of up to ``BATCH`` entries, each
batch one Lua call (``XADD ... MAXLEN ~ core.max_request_logs`` per entry) in one pipelined round
trip with the miss reports (``LPUSH`` + ``LTRIM``). When Redis is slow or down the deque fills up
to ``core.max_shared_log_buffer``; past it new entries are dropped and counted (``dropped``),
never blocking an answer. A failed batch goes back to the front of the deque and is tried again
after a backoff with jitter.

Delivery is at least once: a batch whose reply was lost after Redis ran it is written again, so
every entry carries an id unique across replicas (``<replica>-<n>``) and ``read_log`` keeps the
first copy of each.

Why hand-written: redis-py has no batching writer; this is a deque, a loop and one small script.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from mockforge.core.model import LogEntry
from mockforge.core.request_log import RequestLog

log = logging.getLogger("mockforge.shared")

#: Entries written per round trip.
BATCH = 512
#: Seconds the writer waits after the first waiting entry so that a batch gathers more.
LINGER_S = 0.002
#: Entries read per ``XRANGE`` page when the shared log is read.
READ_PAGE = 2000

_APPEND = """
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
end
return #ARGV - 1
"""

_encode = msgspec.msgpack.Encoder().encode
_decode_entry = msgspec.msgpack.Decoder(LogEntry).decode


class Backoff:
    """Delays for reconnecting: doubling from ``first`` up to ``cap`` seconds, each with +-50 %
    jitter so that replicas which lost Redis together do not come back in step."""

    def __init__(self, first: float = 0.05, cap: float = 2.0, rand: Callable[[], float] | None = None) -> None:
        import random

        self.first = first
        self.cap = cap
        self._rand = rand or random.random
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next(self) -> float:
        delay = self._next * (0.5 + self._rand())
        self._next = min(self.cap, self._next * 2)
        return delay


class LogShipper:
    """The bounded buffer between the answer path and the Redis stream ``<prefix>:log``."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        replica: str,
        local: RequestLog,
        *,
        max_entries: int,
        buffer: int,
        max_unmatched: int,
        max_near_misses: int,
        on_lost: Callable[[str | None], None],
    ) -> None:
        self.client = client
        self.key = f"{prefix}:log"
        self.unmatched_key = f"{prefix}:unmatched"
        self.near_key = f"{prefix}:near-misses"
        self.replica = replica
        self.local = local
        self.max_entries = max_entries
        self.capacity = buffer
        self.max_unmatched = max_unmatched
        self.max_near_misses = max_near_misses
        self._on_lost = on_lost
        self._entries: deque[LogEntry] = deque()
        self._reports: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._script = client.register_script(_APPEND)
        self._task: asyncio.Task[None] | None = None
        self.backoff = Backoff()
        #: Entries and reports dropped because the buffer was full (Redis slow or down).
        self.dropped = 0
        self.written = 0
        self.batches = 0
        self.failed_batches = 0

    # ---- the answer path ------------------------------------------------------------------
    def on_entry(self, entry: LogEntry) -> None:
        """``ExchangeLogged`` subscriber: O(1), never waits."""
        if len(self._entries) + len(self._reports) >= self.capacity:
            self.dropped += 1
            return
        self._entries.append(entry)
        if not self._wake.is_set():
            self._wake.set()

    def on_report(self, kind: str, report: dict[str, Any]) -> None:
        """A miss report (``unmatched`` or ``near-misses``), bounded by the same buffer."""
        if len(self._entries) + len(self._reports) >= self.capacity:
            self.dropped += 1
            return
        self._reports.append((kind, _encode(report)))
        if not self._wake.is_set():
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._entries) + len(self._reports)

    # ---- the writer ---------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mockforge-log-shipper")

    async def stop(self, timeout: float = 2.0) -> None:
        """Write what is waiting (within ``timeout``), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        # bounded: redis-py can swallow a cancellation that lands inside its read timeout
        # (redis/redis-py#2551), and a stop must never wait on it forever
        for _ in range(3):
            task.cancel()
            done, _pending = await asyncio.wait({task}, timeout=1.0)
            if done:
                break
        else:
            log.warning("shared log: the writer did not stop; left behind")
        if self.pending:
            try:
                await asyncio.wait_for(self.flush(), timeout)
            except (TimeoutError, Exception):  # stopping: what is left is reported, not raised
                log.warning("shared log: %d entries not written to Redis at stop", self.pending)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(LINGER_S)  # not a sync point: lets a busy replica fill a batch
            self._wake.clear()
            while self.pending:
                try:
                    await self.flush()
                except Exception as exc:
                    self._on_lost(f"writing the log failed: {_reason(exc)}")
                    await asyncio.sleep(self.backoff.next())

    async def flush(self) -> None:
        """Write everything waiting, in batches; a failed batch goes back and the error is raised."""
        async with self._lock:
            while self.pending:
                await self._write_batch()
            self.backoff.reset()
            self._on_lost(None)

    async def _write_batch(self) -> None:
        entries = [self._entries.popleft() for _ in range(min(BATCH, len(self._entries)))]
        reports = [self._reports.popleft() for _ in range(min(BATCH, len(self._reports)))]
        try:
            pipe = self.client.pipeline(transaction=False)
            if entries and self.max_entries > 0:
                args: list[Any] = [self.max_entries]
                settle = self.local.settle
                replica = self.replica
                for e in entries:
                    settle(e)
                    args.append(_encode(msgspec.structs.replace(e, id=f"{replica}-{e.id}")))
                await self._script(keys=[self.key], args=args, client=pipe)
            for kind, data in reports:
                key, cap = (self.unmatched_key, self.max_unmatched) if kind == "unmatched" else (
                    self.near_key, self.max_near_misses)
                pipe.lpush(key, data)
                pipe.ltrim(key, 0, max(0, cap - 1))
            await pipe.execute()
        except BaseException:
            self.failed_batches += 1
            self._entries.extendleft(reversed(entries))
            self._reports.extendleft(reversed(reports))
            over = self.pending - self.capacity
            while over > 0 and self._entries:  # what arrived meanwhile past the bound goes
                self._entries.pop()
                self.dropped += 1
                over -= 1
            raise
        self.written += len(entries)
        self.batches += 1

    def stats(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "capacity": self.capacity,
            "written": self.written,
            "dropped": self.dropped,
            "batches": self.batches,
            "failed_batches": self.failed_batches,
        }

    # ---- reading ------------------------------------------------------------------------------
    async def read_log(self) -> RequestLog:
        """Every replica's entries as one ``RequestLog`` (oldest first; ties in the millisecond
        keep stream order); duplicates of a rewritten batch are kept once."""
        client = self.client
        entries: list[LogEntry] = []
        seen: set[str] = set()
        start = "-"
        while True:
            page = await client.xrange(self.key, min=start, max="+", count=READ_PAGE)
            for _id, fields in page:
                raw = fields.get(b"e")
                if raw is None:
                    continue
                try:
                    entry = _decode_entry(raw)
                except msgspec.DecodeError:
                    continue  # not ours: skipped, never fatal
                if entry.id not in seen:
                    seen.add(entry.id)
                    entries.append(entry)
            if len(page) < READ_PAGE:
                break
            last = page[-1][0].decode()
            start = "(" + last
        entries.sort(key=lambda e: e.timestamp)
        added = length = 0
        try:
            info = await client.xinfo_stream(self.key)
            added = int(info.get("entries-added", 0) or 0)
            length = int(info.get("length", 0) or 0)
        except Exception as exc:
            if "no such key" not in str(exc).lower():
                raise
        cap = max(1, self.max_entries)
        evicted = max(0, added - length)  # what MAXLEN trimmed
        if len(entries) > cap:  # MAXLEN ~ keeps a little more than asked
            evicted += len(entries) - cap
            entries = entries[-cap:]
        return RequestLog.view(entries, max_entries=cap, evicted=evicted, total=added)

    async def read_reports(self, kind: str) -> list[dict[str, Any]]:
        key = self.unmatched_key if kind == "unmatched" else self.near_key
        raw = await self.client.lrange(key, 0, -1)
        out: list[dict[str, Any]] = []
        for item in reversed(raw):
            try:
                value = msgspec.msgpack.decode(item)
            except msgspec.DecodeError:
                continue
            if isinstance(value, dict):
                out.append(value)
        # replicas write their reports in batches: order them by when each request came
        out.sort(key=lambda r: str(r.get("timestamp") or (r.get("request") or {}).get("timestamp") or ""))
        return out


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
