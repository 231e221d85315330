"""Forward a request to a real backend (``core.proxy``), for record modes and pure proxying.

Why hand-written: this is a thin adapter over httpx (a well-kept async client, imported only when
this module is, i.e. when a proxy or a record mode is configured). What is ours is the policy:
which upstream answers a path (``rules`` by prefix or regex, then ``upstream``), which headers
cross (hop-by-hop headers are dropped both ways, ``core.proxy.headers`` are added), and how much of
an answer is held in memory: at most ``buffer_limit`` bytes (the caller passes
``http.max_body_bytes`` when recording); a longer body is streamed through chunk by chunk.
httpx errors are translated here into ``UpstreamError`` carrying the status to answer (502 or 504).

    proxy = Proxy(config.core.proxy)
    upstream = proxy.upstream_for("/pets/7")              # None when no rule or upstream applies
    result = await proxy.forward(request, upstream, buffer_limit=64 * 1024)
    result.body       # bytes when complete within the limit, else None and ``result.stream``
    await proxy.aclose()
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from mockforge.config import ProxyConfig
from mockforge.core.model import Request
from mockforge.core.regex import RegexError, UserRegex, compile_user_regex
from mockforge.errors import ConfigError
from mockforge.tls.upstream import upstream_verify

#: Headers that describe one connection, never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Set by the client library or the wire layer for the new hop.
_RECOMPUTED = frozenset({"host", "content-length"})


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer in time (``status`` 502 or 504)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class ProxyResult:
    status: int
    headers: list[tuple[str, str]]
    #: The whole body when it ended within the buffer limit, else None (then ``stream`` is set).
    body: bytes | None
    stream: AsyncIterator[bytes] | None
    url: str
    started: float


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def end_to_end(headers: list[tuple[str, str]], *, drop: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """``headers`` without hop-by-hop ones (and those a ``Connection`` header names) or ``drop``."""
    skip = HOP_BY_HOP | _connection_tokens(headers) | drop
    return [(k, v) for k, v in headers if k.lower() not in skip]


def _translate(exc: httpx.HTTPError, url: str) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        kind = exc.__class__.__name__
        return UpstreamError(504, "upstream_timeout", f"upstream {url} did not answer in time ({kind})")
    reason = str(exc) or exc.__class__.__name__
    return UpstreamError(502, "upstream_unreachable", f"upstream {url} failed: {reason}")


class Proxy:
    def __init__(self, cfg: ProxyConfig) -> None:
        self.cfg = cfg
        # rule regexes are user regexes: RE2 (linear time); ``ConfigError`` names the rule
        self._rules: list[tuple[str | None, UserRegex | None, str]] = []
        for i, r in enumerate(cfg.rules):
            rx = None
            if r.regex:
                try:
                    rx = compile_user_regex(r.regex, where=f"core.proxy.rules.{i}.regex")
                except RegexError as exc:
                    raise ConfigError(exc.reason, where=exc.where) from None
            self._rules.append((r.prefix, rx, r.upstream))
        self._added = [(k.lower(), v) for k, v in cfg.headers.items()]
        self._added_names = frozenset(k for k, _ in self._added)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(cfg.timeout_ms / 1000),
            verify=upstream_verify(cfg),  # core.proxy.ca_bundle / client_cert (mockforge.tls.upstream)
            follow_redirects=False,
            trust_env=False,
        )
        # Send the client's headers as they came: no default user-agent or accept from httpx.
        self._client.headers = httpx.Headers()

    @property
    def configured(self) -> bool:
        return bool(self.cfg.upstream or self._rules)

    def upstream_for(self, path: str) -> str | None:
        for prefix, regex, upstream in self._rules:
            if (prefix is not None and path.startswith(prefix)) or (regex is not None and regex.test(path)):
                return upstream
        return self.cfg.upstream

    async def forward(
        self,
        request: Request,
        upstream: str,
        *,
        buffer_limit: int,
        set_headers: list[tuple[str, str]] | None = None,
    ) -> ProxyResult:
        """Send ``request`` to ``upstream`` (base URL + the request's path and query); raises
        ``UpstreamError`` when no answer arrives. ``set_headers`` replace the client's."""
        url = upstream.rstrip("/") + request.path + (f"?{request.raw_query}" if request.raw_query else "")
        replaced = self._added_names | {k for k, _ in set_headers or ()}
        headers = end_to_end(request.headers.items(), drop=_RECOMPUTED | replaced)
        headers += self._added
        headers += set_headers or []
        started = time.perf_counter()
        try:
            req = self._client.build_request(request.method, url, headers=headers, content=request.body or None)
            resp = await self._client.send(req, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc, url) from exc
        out_headers = end_to_end(list(resp.headers.multi_items()), drop=frozenset({"content-length"}))
        chunks: list[bytes] = []
        size = 0
        raw = resp.aiter_raw()
        try:
            async for chunk in raw:
                chunks.append(chunk)
                size += len(chunk)
                if size > buffer_limit:
                    break
            else:
                await resp.aclose()
                return ProxyResult(resp.status_code, out_headers, b"".join(chunks), None, url, started)
        except httpx.HTTPError as exc:
            await resp.aclose()
            raise _translate(exc, url) from exc
        return ProxyResult(resp.status_code, out_headers, None, self._rest(chunks, raw, resp, url), url, started)

    @staticmethod
    async def _rest(
        head: list[bytes], raw: AsyncIterator[bytes], resp: httpx.Response, url: str
    ) -> AsyncIterator[bytes]:
        try:
            while head:
                yield head.pop(0)
            async for chunk in raw:
                yield chunk
        except httpx.HTTPError as exc:
            raise _translate(exc, url) from exc
        finally:
            await resp.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
