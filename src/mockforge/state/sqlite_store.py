"""The SQLite state store (``http.state.store: sqlite:///path/state.db``): stdlib ``sqlite3``.

Why these settings: WAL journal (readers never wait for the writer, and a commit is one append),
``synchronous=NORMAL`` (a committed transaction survives the process being killed, ``kill -9``
included; only an OS crash or power loss can lose the last commits), one transaction per write
(``BEGIN IMMEDIATE`` ... ``COMMIT``), and a call's coroutine returns only after its commit did,
so every answered write is on disk before its answer is sent. Documents are stored as JSON text
keyed by (namespace, bucket, key); the table's rowid keeps insertion order for lists (an upsert
keeps the row, so a replaced document keeps its place, as in the memory store).

Why a thread: a commit costs about a millisecond (an fsync-free WAL append, still a syscall and
a page write) and a list reads every row of a bucket; on the event loop that time is taken from
every other connection. One dedicated thread owns the connection (SQLite connections are not
shared between threads) and runs the calls one at a time, in the order they were made, so each
call is atomic with respect to the others; the loop only waits on a future. The namespace LRU
order and the integer-id high marks live on that thread too (rebuilt from the file at start), so
a read costs no write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import orjson

from mockforge.state.store import Doc, StoreFull

__all__ = ["SqliteStore", "sqlite_path"]

log = logging.getLogger("mockforge")
T = TypeVar("T")

#: Rowid table (insertion order) with a unique (ns, bucket, key). ``docs`` was the first layout
#: (WITHOUT ROWID, listed in key order); a file holding it is moved over once at open.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS state_docs (ns TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
                                       doc TEXT NOT NULL, UNIQUE (ns, bucket, key));
"""
_MIGRATE = """
INSERT OR IGNORE INTO state_docs (ns, bucket, key, doc) SELECT ns, bucket, key, doc FROM docs ORDER BY ns, bucket, key;
DROP TABLE docs;
"""
_WHERE = "WHERE ns=? AND bucket=? AND key=?"


def sqlite_path(url: str) -> str | None:
    """``sqlite:///state.db`` -> ``state.db``, ``sqlite:////abs/state.db`` -> ``/abs/state.db``;
    ``None`` for anything else."""
    prefix = "sqlite:///"
    return url[len(prefix) :] if url.startswith(prefix) and len(url) > len(prefix) else None


def _int_key(key: str) -> int | None:
    return int(key) if key.isdigit() and len(key) < 19 else None


class SqliteStore:
    """``StateStore`` on one SQLite file, run on one thread of its own."""

    def __init__(self, path: str, max_resources: int = 10_000, max_namespaces: int = 1_000) -> None:
        self.path = path
        self.max_resources = max_resources
        self.max_namespaces = max_namespaces
        self.evicted_namespaces = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mockforge-sqlite")
        self._db: sqlite3.Connection | None = None
        self._lru: OrderedDict[str, None] = OrderedDict()
        #: (ns, bucket) -> the largest integer id stored or handed out (``next_int``)
        self._ints: dict[tuple[str, str], int] = {}
        try:  # at start, once: opening on the thread that will own the connection
            self._pool.submit(self._open).result()
        except BaseException:
            self._pool.shutdown(wait=True)
            raise

    # ---- the thread's side

    def _open(self) -> None:
        db = self._db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='docs'").fetchone():
            db.executescript(f"BEGIN IMMEDIATE; {_MIGRATE} COMMIT;")
        self._lru = OrderedDict((row[0], None) for row in db.execute("SELECT DISTINCT ns FROM state_docs"))

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the SQLite state store is closed")
        return self._db

    def _touch(self, ns: str, create: bool) -> bool:
        if ns in self._lru:
            self._lru.move_to_end(ns)
            return True
        if not create:
            return False
        while len(self._lru) >= self.max_namespaces:
            old, _ = self._lru.popitem(last=False)
            self._clear(old, None)
            self.evicted_namespaces += 1
            log.warning("state: namespace %r dropped (http.state.max_namespaces=%d reached)", old, self.max_namespaces)
        self._lru[ns] = None
        return True

    def _get(self, ns: str, bucket: str, key: str) -> Doc | None:
        if not self._touch(ns, False):
            return None
        row = self._conn().execute(f"SELECT doc FROM state_docs {_WHERE}", (ns, bucket, key)).fetchone()
        return orjson.loads(row[0]) if row else None

    def _put(self, ns: str, bucket: str, key: str, text: str, only_new: bool) -> bool:
        self._touch(ns, True)
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            new = db.execute(f"SELECT 1 FROM state_docs {_WHERE}", (ns, bucket, key)).fetchone() is None
            if only_new and not new:
                db.execute("ROLLBACK")
                return False
            if new:
                (count,) = db.execute("SELECT COUNT(*) FROM state_docs WHERE ns=?", (ns,)).fetchone()
                if count >= self.max_resources:
                    raise StoreFull(f"namespace {ns!r} holds {count} resources (http.state.max_resources)")
            db.execute(
                "INSERT INTO state_docs (ns, bucket, key, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (ns, bucket, key) DO UPDATE SET doc=excluded.doc",
                (ns, bucket, key, text),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        number = _int_key(key)
        if number is not None and (ns, bucket) in self._ints:
            self._ints[ns, bucket] = max(self._ints[ns, bucket], number)
        return new

    def _delete(self, ns: str, bucket: str, key: str) -> Doc | None:
        if not self._touch(ns, False):
            return None
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(f"SELECT doc FROM state_docs {_WHERE}", (ns, bucket, key)).fetchone()
            if row is not None:
                db.execute(f"DELETE FROM state_docs {_WHERE}", (ns, bucket, key))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return orjson.loads(row[0]) if row else None

    def _items(self, ns: str, bucket: str) -> list[Doc]:
        if not self._touch(ns, False):
            return []
        rows = self._conn().execute("SELECT doc FROM state_docs WHERE ns=? AND bucket=? ORDER BY rowid", (ns, bucket))
        return [orjson.loads(r[0]) for r in rows]

    def _next_int(self, ns: str, bucket: str, floor: int) -> int:
        self._touch(ns, True)
        top = self._ints.get((ns, bucket))
        if top is None:
            (top,) = self._conn().execute(
                "SELECT MAX(CAST(key AS INTEGER)) FROM state_docs WHERE ns=? AND bucket=? AND key GLOB '[0-9]*'"
                " AND key NOT GLOB '*[^0-9]*' AND length(key) < 19",
                (ns, bucket),
            ).fetchone()
        value = self._ints[ns, bucket] = max((top or 0) + 1, floor)
        return value

    def _counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for ns, bucket, n in self._conn().execute("SELECT ns, bucket, COUNT(*) FROM state_docs GROUP BY ns, bucket"):
            out.setdefault(ns, {})[bucket] = n
        return out

    def _clear(self, ns: str | None, bucket: str | None) -> int:
        db = self._conn()
        if ns is None:
            cur = db.execute("DELETE FROM state_docs")
            self._lru.clear()
            self._ints.clear()
        elif bucket is None:
            cur = db.execute("DELETE FROM state_docs WHERE ns=?", (ns,))
            self._lru.pop(ns, None)
            self._ints = {k: v for k, v in self._ints.items() if k[0] != ns}
        else:
            cur = db.execute("DELETE FROM state_docs WHERE ns=? AND bucket=?", (ns, bucket))
            self._ints.pop((ns, bucket), None)
        return cur.rowcount

    def _dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        out: dict[str, dict[str, dict[str, Doc]]] = {}
        for ns, bucket, key, doc in self._conn().execute("SELECT ns, bucket, key, doc FROM state_docs ORDER BY rowid"):
            out.setdefault(ns, {}).setdefault(bucket, {})[key] = orjson.loads(doc)
        return out

    def _load(self, rows: list[tuple[str, str, str, str]], namespaces: list[str]) -> None:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM state_docs")
            db.executemany("INSERT INTO state_docs (ns, bucket, key, doc) VALUES (?, ?, ?, ?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._lru = OrderedDict((ns, None) for ns in namespaces)
        self._ints.clear()

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---- the loop's side: each call is one job on the thread

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def get(self, ns: str, bucket: str, key: str) -> Doc | None:
        return await self._run(self._get, ns, bucket, key)

    async def put(self, ns: str, bucket: str, key: str, doc: Doc, *, only_new: bool = False) -> bool:
        return await self._run(self._put, ns, bucket, key, orjson.dumps(doc).decode(), only_new)

    async def delete(self, ns: str, bucket: str, key: str) -> Doc | None:
        return await self._run(self._delete, ns, bucket, key)

    async def items(self, ns: str, bucket: str) -> list[Doc]:
        return await self._run(self._items, ns, bucket)

    async def next_int(self, ns: str, bucket: str, floor: int) -> int:
        return await self._run(self._next_int, ns, bucket, floor)

    async def counts(self) -> dict[str, dict[str, int]]:
        return await self._run(self._counts)

    async def clear(self, ns: str | None = None, bucket: str | None = None) -> int:
        return await self._run(self._clear, ns, bucket)

    async def dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        return await self._run(self._dump)

    async def load(self, data: dict[str, dict[str, dict[str, Doc]]]) -> None:
        rows = [
            (ns, b, k, orjson.dumps(d).decode())
            for ns, bs in data.items()
            for b, ds in bs.items()
            for k, d in ds.items()
        ]
        await self._run(self._load, rows, list(data))

    async def aclose(self) -> None:
        """Close the file on its thread, then end the thread (calls made after this fail)."""
        try:
            await self._run(self._close)
        finally:
            self._pool.shutdown(wait=True)  # the thread is idle: joining it is immediate

    def close(self) -> None:
        """The same from outside a loop (tests, tools)."""
        self._pool.submit(self._close).result()
        self._pool.shutdown(wait=True)
