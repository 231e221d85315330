"""``RedisStateStore``: the stateful-mock store (``state/store.py``'s ``StateStore``) in Redis, so
that a resource created through one replica is read, changed and listed through any other
(``http.state`` with ``core.shared_state: redis://...``; docs/SHARED_STATE.md).

Layout under ``P:state`` (``P`` the prefix; namespace and bucket names are percent-encoded, so a
``:`` in them cannot reach another key): ``{ns}:{bucket}:docs`` (hash: key -> JSON document),
``{ns}:{bucket}:order`` (sorted set: key by insertion number, so lists keep insertion order and a
replaced document keeps its place), ``{ns}:count`` (documents in the namespace, for
``http.state.max_resources``), ``{ns}:buckets`` (set), ``{ns}:ints`` (hash: bucket -> the largest
integer id stored or handed out, plus the namespace's insertion counter), and ``P:state:spaces``
(sorted set of namespaces by last write, for ``http.state.max_namespaces``: the least recently
written namespace is dropped first).

Each write is one Lua script (the duplicate check, the bound and the write in one step), so racing
replicas cannot both create the same key or pass the bound. A Redis that cannot be reached raises
``StoreUnavailable`` (the state step answers 503).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import msgspec
import orjson

from mockforge.state.store import Doc, StoreFull, StoreUnavailable

log = logging.getLogger("mockforge.shared")

_encode = msgspec.json.Encoder().encode
#: Keys fetched per HMGET when a bucket is listed.
_PAGE = 1000

#: KEYS: docs, order, count, buckets, ints. ARGV: key, doc, only_new, max_resources, bucket, int key or "".
_PUT = """
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if exists and ARGV[3] == '1' then return 0 end
if not exists then
  local count = tonumber(redis.call('GET', KEYS[3]) or '0')
  if count >= tonumber(ARGV[4]) then return -1 end
  redis.call('INCR', KEYS[3])
  local seq = redis.call('HINCRBY', KEYS[5], '\\0seq', 1)
  redis.call('ZADD', KEYS[2], seq, ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[5])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[5], ARGV[5]) or '0')
  if tonumber(ARGV[6]) > current then redis.call('HSET', KEYS[5], ARGV[5], ARGV[6]) end
end
if exists then return 2 end
return 1
"""

#: KEYS: docs, order, count. ARGV: key.
_DELETE = """
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if not doc then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECR', KEYS[3])
return doc
"""

#: KEYS: ints. ARGV: bucket, floor.
_NEXT_INT = """
local n = math.max(tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') + 1, tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], ARGV[1], n)
return n
"""


def _q(name: str) -> str:
    return quote(name, safe="")


class RedisStateStore:
    """``StateStore`` on Redis; one client (its own pool) per process."""

    def __init__(self, url: str, prefix: str, max_resources: int = 10_000, max_namespaces: int = 1_000) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        self.url = url
        self.max_resources = max_resources
        self.max_namespaces = max_namespaces
        self.base = f"{prefix}:state"
        self.spaces = f"{self.base}:spaces"
        self.client: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, retry=Retry(NoBackoff(), 0), max_connections=32,
        )
        self._errors = (RedisError, OSError, TimeoutError)
        self._put = self.client.register_script(_PUT)
        self._delete = self.client.register_script(_DELETE)
        self._next_int = self.client.register_script(_NEXT_INT)
        #: namespaces dropped as least recently written (shown by the admin API)
        self.evicted_namespaces = 0

    def _keys(self, ns: str, bucket: str) -> tuple[str, str, str, str, str]:
        space = f"{self.base}:{_q(ns)}"
        b = f"{space}:{_q(bucket)}"
        return f"{b}:docs", f"{b}:order", f"{space}:count", f"{space}:buckets", f"{space}:ints"

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except self._errors as exc:
            raise StoreUnavailable(f"the state store (Redis) is unreachable: {str(exc)[:200]}") from None

    async def _touch(self, ns: str) -> None:
        """Mark ``ns`` written now; a new namespace past the bound drops the least recently
        written one first."""
        known = await self._call(self.client.zscore(self.spaces, ns))
        if known is None:
            while int(await self._call(self.client.zcard(self.spaces))) >= self.max_namespaces:
                oldest = await self._call(self.client.zrange(self.spaces, 0, 0))
                if not oldest:
                    break
                old = oldest[0].decode()
                await self.clear(old)
                self.evicted_namespaces += 1
                log.warning("state: namespace %r dropped (http.state.max_namespaces=%d reached)", old,
                            self.max_namespaces)
        await self._call(self.client.zadd(self.spaces, {ns: time.time()}))

    # ---- StateStore --------------------------------------------------------------------------
    async def get(self, ns: str, bucket: str, key: str) -> Doc | None:
        raw = await self._call(self.client.hget(self._keys(ns, bucket)[0], key))
        if raw is None:
            return None
        doc: Doc = orjson.loads(raw)
        return doc

    async def put(self, ns: str, bucket: str, key: str, doc: Doc, *, only_new: bool = False) -> bool:
        await self._touch(ns)
        int_key = key if key.isdigit() and len(key) < 16 else ""
        result = int(await self._call(self._put(
            keys=list(self._keys(ns, bucket)),
            args=[key, _encode(doc), "1" if only_new else "0", self.max_resources, bucket, int_key],
        )))
        if result == -1:
            raise StoreFull(f"namespace {ns!r} holds {self.max_resources} resources (http.state.max_resources)")
        return result == 1

    async def delete(self, ns: str, bucket: str, key: str) -> Doc | None:
        docs, order, count, _, _ = self._keys(ns, bucket)
        raw = await self._call(self._delete(keys=[docs, order, count], args=[key]))
        if raw is None:
            return None
        doc: Doc = orjson.loads(raw)
        return doc

    async def items(self, ns: str, bucket: str) -> list[Doc]:
        docs, order, _, _, _ = self._keys(ns, bucket)
        keys = await self._call(self.client.zrange(order, 0, -1))
        out: list[Doc] = []
        for i in range(0, len(keys), _PAGE):
            page = await self._call(self.client.hmget(docs, keys[i:i + _PAGE]))
            out.extend(orjson.loads(raw) for raw in page if raw is not None)
        return out

    async def next_int(self, ns: str, bucket: str, floor: int) -> int:
        ints = self._keys(ns, bucket)[4]
        return int(await self._call(self._next_int(keys=[ints], args=[bucket, floor])))

    async def _buckets(self, ns: str) -> list[str]:
        raw = await self._call(self.client.smembers(self._keys(ns, "")[3]))
        return sorted(b.decode() for b in raw)

    async def _namespaces(self) -> list[str]:
        return [n.decode() for n in await self._call(self.client.zrange(self.spaces, 0, -1))]

    async def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for ns in await self._namespaces():
            for bucket in await self._buckets(ns):
                n = int(await self._call(self.client.hlen(self._keys(ns, bucket)[0])))
                if n:
                    out.setdefault(ns, {})[bucket] = n
        return out

    async def clear(self, ns: str | None = None, bucket: str | None = None) -> int:
        if ns is None:
            return sum([await self.clear(n) for n in await self._namespaces()])
        if bucket is not None:
            docs, order, count, buckets, ints = self._keys(ns, bucket)
            pipe = self.client.pipeline(transaction=True)
            pipe.hlen(docs)
            pipe.delete(docs, order)
            pipe.srem(buckets, bucket)
            pipe.hdel(ints, bucket)
            gone = int((await self._call(pipe.execute()))[0])
            if gone:
                await self._call(self.client.decrby(count, gone))
            return gone
        total = 0
        for b in await self._buckets(ns):
            total += await self.clear(ns, b)
        _, _, count, buckets, ints = self._keys(ns, "")
        await self._call(self.client.delete(count, buckets, ints))
        await self._call(self.client.zrem(self.spaces, ns))
        return total

    async def dump(self) -> dict[str, dict[str, dict[str, Doc]]]:
        out: dict[str, dict[str, dict[str, Doc]]] = {}
        for ns in await self._namespaces():
            for bucket in await self._buckets(ns):
                docs, order, _, _, _ = self._keys(ns, bucket)
                keys = await self._call(self.client.zrange(order, 0, -1))
                values = await self._call(self.client.hmget(docs, keys)) if keys else []
                out.setdefault(ns, {})[bucket] = {
                    k.decode(): orjson.loads(v) for k, v in zip(keys, values, strict=True) if v is not None
                }
        return out

    async def load(self, data: dict[str, dict[str, dict[str, Doc]]]) -> None:
        await self.clear()
        for ns, buckets in data.items():
            for bucket, docs in buckets.items():
                for key, doc in docs.items():
                    await self.put(ns, bucket, key, doc)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()
