"""The SQLite state store (``http.state.store: sqlite:///path/state.db``): stdlib ``sqlite3``.

Why these settings: WAL journal (readers never wait for the writer, and a commit is one append),
``synchronous=NORMAL`` (a committed transaction survives the process being killed, ``kill -9``
included; only an OS crash or power loss can lose the last commits), one transaction per write
(``with self._db``), so every answered write is on disk before its answer is sent. Documents are
stored as JSON text keyed by (namespace, bucket, key); the namespace LRU order is kept in memory
(rebuilt from the file at start) so a read costs no write.

The same interface and bounds as ``MemoryStore`` (state/store.py); the calls run on the event
loop: each is one indexed statement on a local file, well under a millisecond.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict

import orjson

from mockforge.state.store import Doc, StoreFull

__all__ = ["SqliteStore", "sqlite_path"]

log = logging.getLogger("mockforge")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (ns TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
                                 doc TEXT NOT NULL, PRIMARY KEY (ns, bucket, key)) WITHOUT ROWID;
"""


def sqlite_path(url: str) -> str | None:
    """``sqlite:///state.db`` -> ``state.db``, ``sqlite:////abs/state.db`` -> ``/abs/state.db``;
    ``None`` for anything else."""
    prefix = "sqlite:///"
    return url[len(prefix) :] if url.startswith(prefix) and len(url) > len(prefix) else None


class SqliteStore:
    """``StateStore`` on one SQLite file."""

    def __init__(self, path: str, max_resources: int = 10_000, max_namespaces: int = 1_000) -> None:
        self.path = path
        self.max_resources = max_resources
        self.max_namespaces = max_namespaces
        self.evicted_namespaces = 0
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lru: OrderedDict[str, None] = OrderedDict(
            (row[0], None) for row in self._db.execute("SELECT DISTINCT ns FROM docs")
        )

    def close(self) -> None:
        self._db.close()

    def _touch(self, ns: str, create: bool) -> bool:
        if ns in self._lru:
            self._lru.move_to_end(ns)
            return True
        if not create:
            return False
        while len(self._lru) >= self.max_namespaces:
            old, _ = self._lru.popitem(last=False)
            self.clear(old)
            self.evicted_namespaces += 1
            log.warning("state: namespace %r dropped (http.state.max_namespaces=%d reached)", old, self.max_namespaces)
        self._lru[ns] = None
        return True

    def get(self, ns: str, bucket: str, key: str) -> Doc | None:
        if not self._touch(ns, False):
            return None
        row = self._db.execute("SELECT doc FROM docs WHERE ns=? AND bucket=? AND key=?", (ns, bucket, key)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, ns: str, bucket: str, key: str, doc: Doc) -> bool:
        self._touch(ns, True)
        text = orjson.dumps(doc).decode()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            new = (
                db.execute("SELECT 1 FROM docs WHERE ns=? AND bucket=? AND key=?", (ns, bucket, key)).fetchone() is None
            )
            if new:
                (count,) = db.execute("SELECT COUNT(*) FROM docs WHERE ns=?", (ns,)).fetchone()
                if count >= self.max_resources:
                    raise StoreFull(f"namespace {ns!r} holds {count} resources (http.state.max_resources)")
            db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?)", (ns, bucket, key, text))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return new

    def delete(self, ns: str, bucket: str, key: str) -> Doc | None:
        doc = self.get(ns, bucket, key)
        if doc is not None:
            self._db.execute("DELETE FROM docs WHERE ns=? AND bucket=? AND key=?", (ns, bucket, key))
        return doc

    def items(self, ns: str, bucket: str) -> list[Doc]:
        if not self._touch(ns, False):
            return []
        rows = self._db.execute("SELECT doc FROM docs WHERE ns=? AND bucket=?", (ns, bucket))
        return [orjson.loads(r[0]) for r in rows]

    def next_int(self, ns: str, bucket: str, floor: int) -> int:
        self._touch(ns, True)
        (top,) = self._db.execute(
            "SELECT MAX(CAST(key AS INTEGER)) FROM docs WHERE ns=? AND bucket=? AND key GLOB '[0-9]*'"
            " AND length(key) < 19",
            (ns, bucket),
        ).fetchone()
        return max((top or 0) + 1, floor)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for ns, bucket, n in self._db.execute("SELECT ns, bucket, COUNT(*) FROM docs GROUP BY ns, bucket"):
            out.setdefault(ns, {})[bucket] = n
        return out

    def clear(self, ns: str | None = None, bucket: str | None = None) -> int:
        if ns is None:
            cur = self._db.execute("DELETE FROM docs")
            self._lru.clear()
        elif bucket is None:
            cur = self._db.execute("DELETE FROM docs WHERE ns=?", (ns,))
            self._lru.pop(ns, None)
        else:
            cur = self._db.execute("DELETE FROM docs WHERE ns=? AND bucket=?", (ns, bucket))
        return cur.rowcount

    def dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        out: dict[str, dict[str, dict[str, Doc]]] = {}
        for ns, bucket, key, doc in self._db.execute("SELECT ns, bucket, key, doc FROM docs"):
            out.setdefault(ns, {}).setdefault(bucket, {})[key] = orjson.loads(doc)
        return out

    def load(self, data: dict[str, dict[str, dict[str, Doc]]]) -> None:
        rows = [
            (ns, b, k, orjson.dumps(d).decode())
            for ns, bs in data.items()
            for b, ds in bs.items()
            for k, d in ds.items()
        ]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM docs")
            db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._lru = OrderedDict((ns, None) for ns in data)
