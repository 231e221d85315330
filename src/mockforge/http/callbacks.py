"""OpenAPI callbacks and 3.1 webhooks: requests mockforge sends (docs/CALLBACKS.md).

    sender = CallbackSender(runtime)               # one per server, created when a spec has any
    sender.fire(model, operation, request, answer)  # after an operation with callbacks answered 2xx
    await sender.send_webhook(model, "newPet", "http://127.0.0.1:9000/hook")   # the admin API

Each callback is a task started after the answer was written (the HTTP layer writes a buffered
answer before its task next yields, and the task only starts then), so its failure can never
change an answer already sent. Bounds: URLs past ``max_url_bytes`` are not sent; at most
``max_in_flight`` callbacks run at once (a new one past it is dropped and counted); each attempt
has ``timeout_ms`` from connection to the end of the answer, of which ``max_response_bytes`` are
read; ``retries`` more attempts follow a failure to connect, a timeout, a 5xx or a 429, after a
backoff doubling from ``retry_backoff_ms``. Redirects are never followed (one could lead off the
allow list); the 3xx is logged as the outcome.

Only hosts of ``http.callbacks.allow_hosts`` are called, and only at addresses that list allows:
the name is resolved here, every address it resolves to must be allowed, and the connection goes
to the checked address (the URL's name is kept in ``Host`` and for TLS), so a DNS answer cannot
point a callback at another machine between check and use (rebinding).

Every attempt is one request log entry (``source: callback``, the URL as its path, status 0 when
there was no answer, with the reason as status text). httpx is imported on the first send:
a server whose spec has no callbacks never imports it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from mockforge.core.hosts import AllowList, ip_of
from mockforge.core.model import Headers, Request, Response
from mockforge.openapi.expressions import ExpressionError, url_of
from mockforge.openapi.model import MISSING, ApiModel, CallbackSpec, Operation
from mockforge.version import __version__

if TYPE_CHECKING:
    from mockforge.config import CallbacksConfig
    from mockforge.runtime import Runtime
    from mockforge.schema.generate import DataGenerator

__all__ = ["CallbackSender", "Outcome"]

log = logging.getLogger("mockforge.callbacks")

class Refused(Exception):
    """A callback that is not sent (bad URL, host or address not allowed)."""


@dataclass(slots=True)
class Outcome:
    """How one callback ended: the last attempt's status (0: no answer) and why it failed."""

    url: str
    status: int = 0
    attempts: int = 0
    error: str = ""

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "status": self.status, "attempts": self.attempts,
                               "delivered": self.delivered}
        if self.error:
            out["error"] = self.error
        return out


class CallbackSender:
    """Sends the callbacks of answered operations and the webhooks the admin API fires."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        resolve: Callable[[str, int], Awaitable[list[str]]] | None = None,
    ) -> None:
        cfg: CallbacksConfig = runtime.config.http.callbacks
        self.runtime = runtime
        self.cfg = cfg
        self.allow = AllowList(cfg.allow_hosts)
        #: Waits between attempts (tests inject a recorder instead of waiting).
        self.sleep = sleep
        self.resolve = resolve or _resolve
        self.seed = runtime.config.core.seed
        self.tasks: set[asyncio.Task[Outcome]] = set()
        #: Callbacks dropped because ``max_in_flight`` were running (``/stats`` refused.callbacks).
        self.dropped = 0
        #: Callbacks not sent: URL or host refused, no value for the URL expression.
        self.refused = 0
        self._client: Any = None
        self._gen: tuple[dict[str, Any], DataGenerator] | None = None
        self._rng = random.Random(self.seed)

    # ---- what to send --------------------------------------------------------------------
    def body_of(self, model: ApiModel, spec: CallbackSpec) -> tuple[bytes, str | None]:
        """The body of a callback: its example, else a value generated from its schema."""
        media = spec.body
        if media is None:
            return b"", None
        value: Any = media.example
        if value is MISSING and media.examples:
            value = next(iter(media.examples.values()))
        if value is MISSING and media.schema is not None:
            value = self._generator(model).generate(media.schema, self._rng)
        if value is MISSING:
            return b"", media.content_type
        if "json" not in media.content_type.lower() and isinstance(value, str):
            return value.encode(), media.content_type
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str), media.content_type

    def _generator(self, model: ApiModel) -> DataGenerator:
        if self._gen is None or self._gen[0] is not model.defs:
            from mockforge.schema.generate import DataGenerator

            self._gen = (model.defs, DataGenerator(model.defs, seed=self.seed, for_response=False))
        return self._gen[1]

    # ---- firing --------------------------------------------------------------------------
    def fire(self, model: ApiModel, op: Operation, request: Request, response: Response) -> None:
        """Start the callbacks of ``op`` for this exchange (never raises: the answer stands)."""
        for spec in op.callbacks:
            try:
                url = url_of(spec.expression, request, response)
            except ExpressionError as exc:
                self.refused += 1
                log.warning("callback %s of %s not sent: %s", spec.name, op.key, exc)
                continue
            self.start(model, spec, url, f"{op.key} callback {spec.name}")

    def start(self, model: ApiModel, spec: CallbackSpec, url: str, route: str) -> asyncio.Task[Outcome] | None:
        """Send in a task of its own; None (and counted) when ``max_in_flight`` are running."""
        if len(self.tasks) >= self.cfg.max_in_flight:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("%s dropped: %d callbacks in flight (http.callbacks.max_in_flight); %d dropped so far",
                            route, len(self.tasks), self.dropped)
            return None
        task = asyncio.get_running_loop().create_task(self.send(model, spec, url, route), name="mockforge-callback")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def send_webhook(self, model: ApiModel, name: str, url: str, method: str | None = None) -> Outcome | None:
        """Fire the webhook ``name`` at ``url`` and wait for the outcome; None when
        ``max_in_flight`` callbacks are running. ``KeyError`` for an unknown name or method."""
        requests = model.webhooks[name]
        spec = next((s for s in requests if method is None or s.method == method.upper()), None)
        if spec is None:
            raise KeyError(method)
        task = self.start(model, spec, url, f"webhook {name}")
        return None if task is None else await task

    async def send(self, model: ApiModel, spec: CallbackSpec, url: str, route: str) -> Outcome:
        """Send one callback with its retries, logging each attempt; never raises."""
        outcome = Outcome(url=url[:200])
        try:
            body, content_type = self.body_of(model, spec)
            target, headers, extensions = await self._target(url)
        except Refused as exc:
            self.refused += 1
            outcome.error = str(exc)
            log.warning("%s to %s not sent: %s", route, outcome.url, exc)
            self._log(spec, url, route, [], b"", Response(status=0), 0.0, f"not sent: {exc}")
            return outcome
        except Exception as exc:  # a bug of ours must not leave an unretrieved task error
            log.exception("%s to %s failed", route, outcome.url)
            outcome.error = f"{type(exc).__name__}: {exc}"
            return outcome
        if content_type:
            headers.append(("content-type", content_type))
        cfg = self.cfg
        for attempt in range(cfg.retries + 1):
            if attempt:
                await self.sleep(cfg.retry_backoff_ms * 2 ** (attempt - 1) / 1000)
            outcome.attempts = attempt + 1
            status, error = await self._attempt(spec, url, route, target, headers, body, extensions)
            outcome.status, outcome.error = status, error
            if status and status < 500 and status != 429:
                break
        if not outcome.delivered:
            log.warning("%s to %s: %s after %d attempt(s)", route, outcome.url,
                        outcome.error or f"answered {outcome.status}", outcome.attempts)
        return outcome

    async def _target(self, url: str) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
        """Check ``url`` and resolve its host: (URL to the checked address, headers, extensions)."""
        if len(url) > self.cfg.max_url_bytes:
            raise Refused(f"the URL is longer than http.callbacks.max_url_bytes ({self.cfg.max_url_bytes})")
        if not url.isprintable() or any(c.isspace() for c in url):
            raise Refused("the URL holds spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise Refused(f"not a URL: {exc}") from None
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise Refused("not an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise Refused("credentials in the URL are not sent")
        if not self.allow.host_allowed(host):
            raise Refused(f"host {host!r} is not in http.callbacks.allow_hosts")
        literal = ip_of(host)
        addresses = [str(literal)]
        if literal is None:
            try:  # the resolver's own retries can take long: the attempt's time bounds it too
                async with asyncio.timeout(self.cfg.timeout_ms / 1000):
                    addresses = await self.resolve(host, port)
            except TimeoutError:
                raise Refused(f"host {host!r} did not resolve within http.callbacks.timeout_ms") from None
        if not addresses:
            raise Refused(f"host {host!r} does not resolve")
        for address in addresses:
            ip = ip_of(address)
            if ip is None or not self.allow.address_allowed(ip):
                raise Refused(f"host {host!r} resolves to {address}, which http.callbacks.allow_hosts does not allow")
        chosen = addresses[0]
        netloc = f"[{chosen}]:{port}" if ":" in chosen else f"{chosen}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = [("host", parts.netloc.rpartition("@")[2]), ("user-agent", f"mockforge/{__version__}")]
        extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" and literal is None else {}
        return target, headers, extensions

    async def _attempt(
        self, spec: CallbackSpec, url: str, route: str, target: str, headers: list[tuple[str, str]], body: bytes,
        extensions: dict[str, Any],
    ) -> tuple[int, str]:
        import httpx

        client = self._http()
        started = time.perf_counter()
        cap = self.cfg.max_response_bytes
        status, error = 0, ""
        answer = Response(status=0)
        try:
            async with asyncio.timeout(self.cfg.timeout_ms / 1000):
                request = client.build_request(spec.method, target, headers=headers, content=body,
                                               extensions=extensions)
                reply = await client.send(request, stream=True)
                try:
                    data = bytearray()
                    async for chunk in reply.aiter_raw():
                        data += chunk[: cap - len(data)]
                        if len(data) >= cap:
                            break
                finally:
                    await reply.aclose()
            status = reply.status_code
            answer = Response(status=status, headers=list(reply.headers.items()), body=bytes(data), source="callback")
        except TimeoutError:
            error = f"no answer within http.callbacks.timeout_ms ({self.cfg.timeout_ms} ms)"
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]  # nothing may escape the task: it is logged
        self._log(spec, url, route, headers, body, answer, (time.perf_counter() - started) * 1000, error)
        return status, error

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=self.cfg.timeout_ms / 1000,
                limits=httpx.Limits(max_connections=self.cfg.max_in_flight, max_keepalive_connections=8),
            )
        return self._client

    def _log(self, spec: CallbackSpec, url: str, route: str, headers: list[tuple[str, str]], body: bytes,
             answer: Response, ms: float, error: str) -> None:
        request = Request(protocol="http", method=spec.method, path=url[: self.cfg.max_url_bytes],
                          headers=Headers(headers), body=body, client="mockforge", route=route)
        answer.source = "callback"
        self.runtime.log.record(request, answer, ms, status=answer.status,
                                status_text=error or None)

    async def aclose(self) -> None:
        """Cancel the callbacks in flight and close the client."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def counters(self) -> dict[str, int]:
        return {"in_flight": len(self.tasks), "dropped": self.dropped, "not_sent": self.refused}


async def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"host {host!r} does not resolve: {exc}") from None
    out: list[str] = []
    for info in infos:
        address = str(info[4][0]).partition("%")[0]
        if address not in out:
            out.append(address)
    return out
