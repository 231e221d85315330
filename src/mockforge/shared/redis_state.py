"""``RedisSharedState``: replicas share stubs, ``times`` counters, scenarios, miss reports, the
request log and WebSocket pushes through one Redis (``core.shared_state: redis://...``).

Keys, all under ``core.shared_state_prefix`` (``P``; docs/SHARED_STATE.md has the full table):
``P:stubs`` (hash: stub id -> its definition), ``P:served`` (hash: stub id -> answers given),
``P:scenarios`` (hash: name -> state), ``P:log`` (stream, ``log_shipper.py``), ``P:unmatched`` and
``P:near-misses`` (capped lists), ``P:epoch`` (set once; its absence after a reconnect means Redis
lost its data), channels ``P:events`` (stub and scenario changes) and ``P:ws`` (pushes).

Every replica keeps its own stub index (``core/stubs.py``, compiled matchers): an admin write goes
to Redis first in one ``MULTI`` with its ``PUBLISH``, then into the local index; the other
replicas apply the event from the channel. A stub with ``times`` or a scenario rule is taken with
one Lua script (check and count in one step, so racing replicas cannot both take the last
answer or the same transition); any other stub and every spec answer read no key.

When Redis goes away: answers go on from the local index (a ``times``/scenario stub is decided on
this replica: ``consume_fallbacks``), ``degraded`` says why (``/health/ready``), admin writes raise
``SharedUnavailable`` (503) and change nothing, log entries wait in the bounded buffer. A task
reconnects with backoff and jitter, then reloads stubs and scenarios from Redis (or, when Redis
came back empty, one replica writes its own back: ``P:epoch``) and the buffer is written.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from mockforge.config import mask_url
from mockforge.core.scenarios import STARTED
from mockforge.core.shared_state import SharedUnavailable, WsDeliver
from mockforge.core.stub_model import SOURCE_API, Stub
from mockforge.errors import ConfigError, MockforgeError
from mockforge.shared.log_shipper import Backoff, LogShipper, _reason

if TYPE_CHECKING:
    from mockforge.core.files import FileRoots
    from mockforge.core.request_log import RequestLog
    from mockforge.core.scenarios import ScenarioStates
    from mockforge.core.stubs import InMemoryStubStore
    from mockforge.runtime import Runtime

__all__ = ["RedisSharedState"]

log = logging.getLogger("mockforge.shared")

#: Connections to Redis per replica (the pool blocks a caller past it, up to ``POOL_WAIT_S``).
MAX_CONNECTIONS = 32
POOL_WAIT_S = 5.0
#: Seconds to connect, and to wait for any reply: a Redis that stalls is a lost Redis.
CONNECT_TIMEOUT_S = 2.0
REPLY_TIMEOUT_S = 5.0
#: Bytes of one event or push message read from the channels; larger ones are ignored.
MAX_MESSAGE_BYTES = 1 << 20
#: Stub ids named in one change event; a larger change tells the other replicas to reload.
MAX_EVENT_IDS = 1000

#: Takes the first of several matching stubs that may answer, in one atomic step (so a request
#: racing a transition sees either the old state or the new one for all its candidates).
#: KEYS: served, scenarios, events channel. ARGV: groups of six per stub: id, times (-1: none),
#: scenario ("": none), required state ("": any), new state ("": none), the event to publish
#: when the state moves. Returns the 1-based number of the stub taken, 0 for none.
_CONSUME = """
for n = 0, #ARGV / 6 - 1 do
  local id, times, name = ARGV[n*6+1], tonumber(ARGV[n*6+2]), ARGV[n*6+3]
  local required, new = ARGV[n*6+4], ARGV[n*6+5]
  local ok = true
  if times >= 0 then
    local served = tonumber(redis.call('HGET', KEYS[1], id) or '0')
    if served >= times then ok = false end
  end
  if ok and name ~= '' and required ~= '' then
    local current = redis.call('HGET', KEYS[2], name) or 'Started'
    if current ~= required then ok = false end
  end
  if ok then
    if name ~= '' and new ~= '' then
      redis.call('HSET', KEYS[2], name, new)
      redis.call('PUBLISH', KEYS[3], ARGV[n*6+6])
    end
    if times >= 0 then redis.call('HINCRBY', KEYS[1], id, 1) end
    return n + 1
  end
end
return 0
"""


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)


class RedisSharedState:
    """The Redis ``SharedState`` (``core/shared_state.py``); ``start`` connects or raises."""

    def __init__(
        self,
        runtime: Runtime,
        store: InMemoryStubStore,
        scenarios: ScenarioStates,
        files: FileRoots,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        cfg = runtime.config.core
        self.url = cfg.shared_state
        self.prefix = p = cfg.shared_state_prefix
        self.replica = uuid.uuid4().hex[:12]
        self.runtime = runtime
        self.store = store
        self.scenario_states = scenarios
        self.files = files
        self.errors = _redis_errors()
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=REPLY_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        # typed Any: redis-py's stubs type replies as bytes | str (decode_responses decides)
        self.client: Any = aioredis.Redis(connection_pool=pool)
        self.k_stubs, self.k_served, self.k_scenarios = f"{p}:stubs", f"{p}:served", f"{p}:scenarios"
        self.k_epoch, self.ch_events, self.ch_ws = f"{p}:epoch", f"{p}:events", f"{p}:ws"
        self.shipper = LogShipper(
            self.client, p, self.replica, runtime.log,
            max_entries=cfg.max_request_logs, buffer=cfg.max_shared_log_buffer,
            max_unmatched=cfg.max_unmatched, max_near_misses=cfg.max_near_misses,
            on_lost=lambda why: self._set_lost("log", why),
        )
        self._consume_script: Any = self.client.register_script(_CONSUME)
        self._lost: dict[str, str] = {}
        self._ws_deliver: WsDeliver | None = None
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        #: Set by ``aclose``: the event loop ends even if a cancellation was swallowed.
        self._closing = False
        #: Times a ``times``/scenario stub was decided on this replica because Redis was unreachable.
        self.consume_fallbacks = 0
        self.events_applied = 0
        self.events_ignored = 0
        self.resyncs = 0
        self.reconnects = 0

    # ---- state ------------------------------------------------------------------------------
    @property
    def degraded(self) -> str | None:
        if not self._lost:
            return None
        return "shared state (Redis) unreachable: " + "; ".join(self._lost.values())

    def _set_lost(self, part: str, why: str | None) -> None:
        if why is None:
            self._lost.pop(part, None)
            return
        if part not in self._lost:
            log.warning("shared state: %s", why)
        self._lost[part] = why

    def _require(self) -> None:
        reason = self.degraded
        if reason is not None:
            raise SharedUnavailable(reason)

    async def _call(self, coro: Any) -> Any:
        """Await a Redis call; a failure is ``SharedUnavailable`` (one line)."""
        try:
            return await coro
        except self.errors as exc:
            raise SharedUnavailable(f"shared state (Redis) unreachable: {_reason(exc)}") from None

    # ---- start and stop --------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, load what the other replicas share, and listen; ``ConfigError`` (exit 2)
        when Redis cannot be used."""
        where = mask_url(self.url)
        try:
            await asyncio.wait_for(self.client.ping(), CONNECT_TIMEOUT_S + REPLY_TIMEOUT_S)
            await self._subscribe()
            await self._resync()
        except Exception as exc:  # whatever stops Redis from being used is one line at start
            await self.aclose()
            raise ConfigError(f"cannot use {where}: {_reason(exc)}", where="core.shared_state") from None
        self.runtime.log.logged.subscribe(self.shipper.on_entry)
        self.store.on_report = self.shipper.on_report
        self.shipper.start()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="mockforge-shared-events")
        log.info("shared state: %s, prefix %r, replica %s", where, self.prefix, self.replica)

    async def aclose(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            # redis-py can swallow a cancellation that lands inside its own read timeout
            # (redis/redis-py#2551): then ``await task`` waited forever and SIGTERM hung. The loop
            # also checks ``_closing`` (its reads time out every second), and the wait is bounded.
            for _ in range(3):
                task.cancel()
                done, _pending = await asyncio.wait({task}, timeout=1.5)
                if done:
                    break
            else:
                log.warning("shared state: the event listener did not stop; left behind")
        if self.shipper.on_entry in self.runtime.log.logged.subscribers:
            self.runtime.log.logged.subscribers.remove(self.shipper.on_entry)
        if self._lost.get("channel") is None:
            await self.shipper.stop()
        else:
            await self.shipper.stop(timeout=0.2)
        await self._close_pubsub()
        await self.client.aclose()
        await self.client.connection_pool.disconnect()

    async def _subscribe(self) -> None:
        await self._close_pubsub()
        self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.ch_events, self.ch_ws)

    async def _close_pubsub(self) -> None:
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            try:
                await ps.aclose()
            except Exception:
                pass

    # ---- the event channel ---------------------------------------------------------------------
    async def _watch(self) -> None:
        """Apply events until the channel breaks, then reconnect with backoff and resync."""
        backoff = Backoff()
        while not self._closing:
            try:
                while not self._closing:
                    msg = await self._pubsub.get_message(timeout=1.0)
                    if msg is not None:
                        await self._on_message(msg)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_lost("channel", f"event channel lost: {_reason(exc)}")
            while not self._closing:
                await asyncio.sleep(backoff.next())
                try:
                    await self._subscribe()
                    await self._resync()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._set_lost("channel", f"reconnecting: {_reason(exc)}")
                    continue
                backoff.reset()
                self.reconnects += 1
                self._set_lost("channel", None)
                self.shipper.backoff.reset()
                self.shipper.wake()
                log.warning("shared state: reconnected to %s and resynced", mask_url(self.url))
                break

    async def _on_message(self, msg: dict[str, Any]) -> None:
        data = msg.get("data")
        if not isinstance(data, bytes) or len(data) > MAX_MESSAGE_BYTES:
            self.events_ignored += 1
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.events_ignored += 1
            return
        if not isinstance(event, dict) or event.get("o") == self.replica:
            return
        channel = msg.get("channel")
        try:
            if channel == self.ch_ws.encode():
                await self._deliver_ws(event)
            else:
                await self._apply(event)
        except self.errors:
            raise
        except Exception:  # a malformed event from another writer: logged, the channel goes on
            self.events_ignored += 1
            log.exception("shared state: event ignored")
            return
        self.events_applied += 1

    async def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("k")
        store = self.store
        if kind == "put":
            ids = [str(i) for i in event.get("ids", [])]
            raw = await self.client.hmget(self.k_stubs, ids) if ids else []
            stubs = [s for s in (self._parse(r) for r in raw if r is not None) if s is not None]
            store.add_all(stubs)
        elif kind == "del":
            for stub_id in event.get("ids", []):
                store.remove(str(stub_id))
        elif kind == "clear":
            store.remove_api_stubs()
        elif kind == "scn":
            self.scenario_states.set(str(event["name"]), str(event["state"]))
        elif kind == "scn-reset":
            self.scenario_states.reset()
        elif kind == "reset":
            store.remove_api_stubs()
            self.scenario_states.reset()
            store.clear_reports()
        elif kind == "resync":
            await self._resync()

    def _parse(self, raw: bytes) -> Stub | None:
        from mockforge.core.stubs import parse_stub

        try:
            data = orjson.loads(raw)
            return parse_stub(data["def"], "", SOURCE_API, files=self.files)
        except (orjson.JSONDecodeError, KeyError, TypeError, MockforgeError) as exc:
            log.warning("shared state: a stub in %s is not usable and is skipped: %s", self.k_stubs, exc)
            return None

    def _event(self, kind: str, **fields: Any) -> bytes:
        return orjson.dumps({"o": self.replica, "k": kind, **fields})

    async def _resync(self) -> None:
        """Make the local index what Redis holds; when Redis lost its data (no epoch), the first
        replica to notice writes its own API stubs and scenario states back."""
        client = self.client
        if await client.set(self.k_epoch, self.replica, nx=True):
            await self._seed()
        raw = await client.hgetall(self.k_stubs)
        states = await client.hgetall(self.k_scenarios)
        ordered = sorted(raw.values(), key=lambda r: orjson.loads(r).get("seq", 0))
        stubs = [s for s in (self._parse(r) for r in ordered) if s is not None]
        self.store.replace_source(SOURCE_API, stubs)
        known = set(self.scenario_states.list())
        for name, state in states.items():
            self.scenario_states.set(name.decode(), state.decode())
        for name in known - {n.decode() for n in states}:
            self.scenario_states.set(name, STARTED)
        self.resyncs += 1

    async def _seed(self) -> None:
        mine = [s for s in self.store.list() if s.source == SOURCE_API]
        pipe = self.client.pipeline(transaction=True)
        for seq, stub in enumerate(reversed(mine)):
            pipe.hset(self.k_stubs, stub.id, self._stub_record(stub, seq))
        states = {n: s for n, s in self.scenario_states.list().items() if s != STARTED}
        if states:
            pipe.hset(self.k_scenarios, mapping=states)
        pipe.publish(self.ch_events, self._event("resync"))
        await pipe.execute()

    @staticmethod
    def _stub_record(stub: Stub, seq: int) -> bytes:
        definition = {k: v for k, v in stub.to_dict().items() if k != "source"}
        return orjson.dumps({"def": definition, "seq": seq})

    # ---- stubs ------------------------------------------------------------------------------------
    async def put_stubs(self, stubs: Sequence[Stub]) -> None:
        self._require()
        if not stubs:
            return
        import time

        base = time.time_ns()
        pipe = self.client.pipeline(transaction=True)
        for i, stub in enumerate(stubs):
            pipe.hset(self.k_stubs, stub.id, self._stub_record(stub, base + i))
        ids = [s.id for s in stubs]
        pipe.hdel(self.k_served, *ids)
        # a long list would pass the receivers' MAX_MESSAGE_BYTES: then they reload everything
        event = self._event("put", ids=ids) if len(ids) <= MAX_EVENT_IDS else self._event("resync")
        pipe.publish(self.ch_events, event)
        await self._call(pipe.execute())

    async def remove_stubs(self, ids: Sequence[str] | None) -> int:
        self._require()
        pipe = self.client.pipeline(transaction=True)
        if ids is None:
            pipe.hlen(self.k_stubs)
            pipe.delete(self.k_stubs, self.k_served)
            pipe.publish(self.ch_events, self._event("clear"))
        else:
            pipe.hdel(self.k_stubs, *ids)
            pipe.hdel(self.k_served, *ids)
            pipe.publish(self.ch_events, self._event("del", ids=list(ids)))
        result = await self._call(pipe.execute())
        return int(result[0])

    async def consume(self, stubs: Sequence[Stub]) -> int | None:
        if self._lost:
            self.consume_fallbacks += 1
            return None
        args: list[Any] = []
        for stub in stubs:
            rule = stub.scenario
            name = rule.name if rule is not None else ""
            new = rule.new_state if rule is not None and rule.new_state is not None else ""
            required = rule.required_state if rule is not None and rule.required_state is not None else ""
            event = self._event("scn", name=name, state=new) if new else b""
            args += [stub.id, -1 if stub.times is None else stub.times, name, required, new, event]
        try:
            taken = int(await self._consume_script(keys=[self.k_served, self.k_scenarios, self.ch_events], args=args))
        except self.errors as exc:
            log.warning("shared state: deciding a stub on this replica: %s", _reason(exc))
            self.consume_fallbacks += 1
            return None
        if taken:
            rule = stubs[taken - 1].scenario
            if rule is not None and rule.new_state is not None:
                self.scenario_states.set(rule.name, rule.new_state)
        return taken - 1

    # ---- scenarios ---------------------------------------------------------------------------------
    async def scenarios(self) -> dict[str, str]:
        states = await self._call(self.client.hgetall(self.k_scenarios))
        out = {name: STARTED for name in self.scenario_states.list()}
        out.update({k.decode(): v.decode() for k, v in states.items()})
        return dict(sorted(out.items()))

    async def set_scenario(self, name: str, state: str) -> None:
        self._require()
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.k_scenarios, name, state)
        pipe.publish(self.ch_events, self._event("scn", name=name, state=state))
        await self._call(pipe.execute())
        self.scenario_states.set(name, state)

    async def reset_scenarios(self) -> None:
        self._require()
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.k_scenarios)
        pipe.publish(self.ch_events, self._event("scn-reset"))
        await self._call(pipe.execute())
        self.scenario_states.reset()

    # ---- log and reports ---------------------------------------------------------------------------
    async def log_view(self) -> RequestLog:
        if self._lost:
            raise SharedUnavailable(self.degraded or "")
        if self.shipper.pending:  # this replica's answers are visible to its own next read
            try:
                await asyncio.wait_for(self.shipper.flush(), REPLY_TIMEOUT_S)
            except Exception as exc:
                raise SharedUnavailable(f"shared state (Redis) unreachable: {_reason(exc)}") from None
        view: RequestLog = await self._call(self.shipper.read_log())
        return view

    async def clear_log(self) -> None:
        self._require()
        await self._call(self.shipper.flush())  # what this replica answered before goes too
        await self._call(self.client.delete(self.shipper.key))

    async def reports(self, kind: str) -> list[dict[str, Any]]:
        if self._lost:
            raise SharedUnavailable(self.degraded or "")
        if self.shipper.pending:
            await self._call(self.shipper.flush())
        reports: list[dict[str, Any]] = await self._call(self.shipper.read_reports(kind))
        return reports

    async def clear_reports(self) -> None:
        self._require()
        await self._call(self.client.delete(self.shipper.unmatched_key, self.shipper.near_key))

    async def reset(self) -> None:
        self._require()
        sh = self.shipper
        await self._call(sh.flush())  # what this replica answered before the reset goes too
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.k_stubs, self.k_served, self.k_scenarios, sh.key, sh.unmatched_key, sh.near_key)
        pipe.publish(self.ch_events, self._event("reset"))
        await self._call(pipe.execute())

    # ---- WebSocket fan-out ----------------------------------------------------------------------------
    def on_ws(self, deliver: WsDeliver) -> None:
        self._ws_deliver = deliver

    async def publish_ws(self, path: str, text: str | None, binary: bytes | None, connection_id: str | None) -> int:
        import base64

        payload = {
            "o": self.replica, "path": path, "text": text, "conn": connection_id,
            "b64": base64.b64encode(binary).decode() if binary is not None else None,
        }
        receivers = await self._call(self.client.publish(self.ch_ws, orjson.dumps(payload)))
        return max(0, int(receivers) - 1)  # this replica is subscribed too

    async def _deliver_ws(self, event: dict[str, Any]) -> None:
        import base64

        deliver = self._ws_deliver
        if deliver is None:
            return
        b64 = event.get("b64")
        text = event.get("text")
        binary = base64.b64decode(b64) if isinstance(b64, str) else None
        conn = event.get("conn")
        await deliver(str(event["path"]), text if isinstance(text, str) else None, binary,
                      conn if isinstance(conn, str) else None)

    # ---- reporting --------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "url": mask_url(self.url),
            "prefix": self.prefix,
            "replica": self.replica,
            "degraded": self.degraded,
            "log": self.shipper.stats(),
            "consume_fallbacks": self.consume_fallbacks,
            "events_applied": self.events_applied,
            "events_ignored": self.events_ignored,
            "resyncs": self.resyncs,
            "reconnects": self.reconnects,
        }

