"""The state store: a small interface (so a Redis backend can implement it later) and the
in-memory backend used by default.

Data is addressed as (namespace, bucket, key): the namespace is the ``X-Mockforge-Namespace``
header's value (``default`` without one), the bucket is a resource's collection path with its
parent ids filled in (``/users/7/orders``: nested collections are scoped by their parents), the
key is the id as text. Documents are JSON-ready dicts; the memory backend keeps each as its
JSON bytes (decoding is a faster copy than ``deepcopy``, and bytes take less memory than dicts),
so no caller can change a stored document in place.

Bounds (docs/SECURITY.md): ``max_resources`` documents per namespace (a create beyond it raises
``StoreFull``, the step answers 507, nothing is evicted); ``max_namespaces`` namespaces, the
least recently used one dropped first (and logged) so that a client that invents namespace names
cannot grow memory without end.

Why a Protocol of ten coroutine methods and not a class hierarchy: a backend implements exactly
these, each one round trip (Redis: a hash per bucket), and the step never sees how they are kept.
They are coroutines so that a backend doing I/O (the SQLite file on its own thread, a Redis
connection) never holds the event loop; the memory backend's never suspend. Two of them are
shaped so that concurrent requests stay correct across an ``await``: ``put(only_new=True)``
stores only if the key is free (the create's duplicate check and write are one step), and
``next_int`` reserves the id it returns (two creates never get the same one).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

import msgspec
import orjson

__all__ = ["MemoryStore", "StateStore", "StoreFull", "StoreUnavailable"]

log = logging.getLogger("mockforge")
Doc = dict[str, Any]


#: msgspec's encoder: its bytes are the size of the text (orjson's keep a 4 KB buffer each,
#: measured: 10,000 pets took 40 MB); orjson decodes them.
_encode = msgspec.json.Encoder().encode


class StoreFull(Exception):
    """A create would pass ``http.state.max_resources`` in its namespace."""


class StoreUnavailable(Exception):
    """A backend over the network (Redis, docs/SHARED_STATE.md) cannot be reached now; the step
    and the admin API answer 503."""


class StateStore(Protocol):
    """What the state step and the admin API need from a backend."""

    async def get(self, ns: str, bucket: str, key: str) -> Doc | None: ...

    async def put(self, ns: str, bucket: str, key: str, doc: Doc, *, only_new: bool = False) -> bool:
        """Store ``doc``; True when it is new. ``StoreFull`` when new and over the bound. With
        ``only_new`` an existing document is left as it is and the answer is False."""
        ...

    async def delete(self, ns: str, bucket: str, key: str) -> Doc | None: ...

    async def items(self, ns: str, bucket: str) -> list[Doc]:
        """The bucket's documents in insertion order (a replaced document keeps its place)."""
        ...

    async def next_int(self, ns: str, bucket: str, floor: int) -> int:
        """An integer id past every integer id stored or handed out in the bucket (and at least
        ``floor``), reserved: the next call answers a larger one."""
        ...

    async def counts(self) -> dict[str, dict[str, int]]:
        """namespace -> bucket -> number of documents."""
        ...

    async def clear(self, ns: str | None = None, bucket: str | None = None) -> int:
        """Drop a bucket, a namespace, or everything; how many documents went."""
        ...

    async def dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        """Everything, for snapshots; ``load`` puts such a dump back whole."""
        ...

    async def load(self, data: dict[str, dict[str, dict[str, Doc]]]) -> None: ...

    async def aclose(self) -> None:
        """Release what the backend holds (a file, a thread, a connection); called once at stop."""
        ...


class _Space:
    __slots__ = ("buckets", "count", "ints")

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, bytes]] = {}
        self.ints: dict[str, int] = {}
        self.count = 0


class MemoryStore:
    """Dicts in a least-recently-used ordered map of namespaces."""

    def __init__(self, max_resources: int = 10_000, max_namespaces: int = 1_000) -> None:
        self.max_resources = max_resources
        self.max_namespaces = max_namespaces
        self._spaces: OrderedDict[str, _Space] = OrderedDict()
        #: namespaces dropped as least recently used (shown by the admin API)
        self.evicted_namespaces = 0

    def _space(self, ns: str, create: bool) -> _Space | None:
        space = self._spaces.get(ns)
        if space is not None:
            self._spaces.move_to_end(ns)
            return space
        if not create:
            return None
        while len(self._spaces) >= self.max_namespaces:
            old, _ = self._spaces.popitem(last=False)
            self.evicted_namespaces += 1
            log.warning("state: namespace %r dropped (http.state.max_namespaces=%d reached)", old, self.max_namespaces)
        space = self._spaces[ns] = _Space()
        return space

    async def get(self, ns: str, bucket: str, key: str) -> Doc | None:
        space = self._space(ns, False)
        raw = space.buckets.get(bucket, {}).get(key) if space else None
        if raw is None:
            return None
        doc: Doc = orjson.loads(raw)
        return doc

    async def put(self, ns: str, bucket: str, key: str, doc: Doc, *, only_new: bool = False) -> bool:
        space = self._space(ns, True)
        assert space is not None
        docs = space.buckets.setdefault(bucket, {})
        new = key not in docs
        if only_new and not new:
            return False
        if new and space.count >= self.max_resources:
            raise StoreFull(f"namespace {ns!r} holds {space.count} resources (http.state.max_resources)")
        docs[key] = _encode(doc)
        if new:
            space.count += 1
        if key.isdigit() and len(key) < 19:
            space.ints[bucket] = max(space.ints.get(bucket, 0), int(key))
        return new

    async def delete(self, ns: str, bucket: str, key: str) -> Doc | None:
        space = self._space(ns, False)
        if space is None:
            return None
        raw = space.buckets.get(bucket, {}).pop(key, None)
        if raw is None:
            return None
        space.count -= 1
        doc: Doc = orjson.loads(raw)
        return doc

    async def items(self, ns: str, bucket: str) -> list[Doc]:
        space = self._space(ns, False)
        return [orjson.loads(raw) for raw in space.buckets.get(bucket, {}).values()] if space else []

    async def next_int(self, ns: str, bucket: str, floor: int) -> int:
        space = self._space(ns, True)
        assert space is not None
        value = space.ints[bucket] = max(space.ints.get(bucket, 0) + 1, floor)
        return value

    async def counts(self) -> dict[str, dict[str, int]]:
        return {ns: {b: len(d) for b, d in s.buckets.items() if d} for ns, s in self._spaces.items()}

    async def clear(self, ns: str | None = None, bucket: str | None = None) -> int:
        if ns is None:
            gone = sum(s.count for s in self._spaces.values())
            self._spaces.clear()
            return gone
        space = self._spaces.get(ns)
        if space is None:
            return 0
        if bucket is None:
            del self._spaces[ns]
            return space.count
        docs = space.buckets.pop(bucket, {})
        space.ints.pop(bucket, None)
        space.count -= len(docs)
        return len(docs)

    async def dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        return {
            ns: {b: {k: orjson.loads(raw) for k, raw in docs.items()} for b, docs in s.buckets.items()}
            for ns, s in self._spaces.items()
        }

    async def load(self, data: dict[str, dict[str, dict[str, Doc]]]) -> None:
        self._spaces.clear()
        for ns, buckets in data.items():
            for bucket, docs in buckets.items():
                for key, doc in docs.items():
                    await self.put(ns, bucket, key, doc)

    async def aclose(self) -> None:
        """Nothing to release: the dicts go with the object."""
