"""How workers share a listening port.

Linux: every worker binds its own socket to the port with ``SO_REUSEPORT``, and the kernel spreads
new connections over the workers evenly. The supervisor binds the same address first (with
``SO_REUSEPORT``, never listening, so it gets no connections) to turn a port 0 into a real one and
to keep the port while a worker restarts; it first binds the port once without ``SO_REUSEPORT``,
so a port another server (another ``--workers`` instance) already shares is refused as in use
instead of silently split. Elsewhere (macOS and the BSDs accept ``SO_REUSEPORT``
but do not balance with it) the supervisor creates one listening socket per port and every worker
inherits it and accepts from it.

Only the listeners that answer the same thing on every worker are shared: HTTP, HTTPS, WebSocket,
gRPC and admin. Metrics are per worker (``worker_metrics_port``): counters scraped from a
random worker would jump between workers' values.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from mockforge.config import Config

#: ``reuseport``: each worker binds the port itself; ``inherit``: the workers inherit one socket.
DEFAULT_MODE = "reuseport" if sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") else "inherit"
BACKLOG = 2048


def shared_listeners(cfg: Config) -> list[tuple[str, str, int]]:
    """(listener name, host, configured port) of every listener the workers share, in the order
    ``Server.start`` binds them."""
    out = [("http", cfg.http.host, cfg.http.port)]
    tls = cfg.http.tls
    if tls.enabled and tls.port is not None:
        out.append(("https", cfg.http.host, tls.port))
    ws_port = cfg.ws_listener_port()
    if ws_port is not None:
        out.append(("ws", cfg.websocket.host or cfg.http.host, ws_port))
    if cfg.grpc_enabled():
        out.append(("grpc", cfg.grpc.host or cfg.http.host, cfg.grpc_listener_port()))
    admin_port = cfg.admin_listener_port()
    if admin_port is not None:
        out.append(("admin", cfg.admin.host, admin_port))
    return out


def with_ports(cfg: Config, ports: dict[str, int]) -> Config:
    """``cfg`` with the shared listeners' ports set to the ones the supervisor bound."""
    import msgspec

    replace = msgspec.structs.replace
    http = cfg.http
    if "http" in ports:
        http = replace(http, port=ports["http"])
    if "https" in ports:
        http = replace(http, tls=replace(http.tls, port=ports["https"]))
    ws = replace(cfg.websocket, port=ports["ws"]) if "ws" in ports else cfg.websocket
    grpc = replace(cfg.grpc, port=ports["grpc"]) if "grpc" in ports else cfg.grpc
    admin = replace(cfg.admin, port=ports["admin"]) if "admin" in ports else cfg.admin
    return replace(cfg, http=http, websocket=ws, grpc=grpc, admin=admin)


def worker_metrics_port(cfg: Config, index: int) -> int | None:
    """The metrics port of worker ``index`` (1-based): the configured port plus ``index - 1``, so
    workers 1 and 2 of port 9090 serve on 9090 and 9091; any free port each when it is 0."""
    port = cfg.metrics_listener_port()
    if port is None or port == 0:
        return port
    return port + index - 1


def _new_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def _free_port(host: str, port: int) -> int:
    """``port`` (or, for 0, one the kernel picks) after checking nobody holds it: a socket bound
    without ``SO_REUSEPORT`` fails on a port that another server shares with ``SO_REUSEPORT`` (a
    second ``mockforge serve --workers`` on the same port), where binding with it would succeed
    and the kernel would split the connections between the two servers."""
    probe = _new_socket(host, port, reuse_port=False)
    try:
        return int(probe.getsockname()[1])
    finally:
        probe.close()


class BindError(Exception):
    """A shared port could not be bound: ``listener`` is (name, host, port), ``error`` the OSError."""

    def __init__(self, listener: tuple[str, str, int] | None, error: OSError) -> None:
        super().__init__(str(error))
        self.listener = listener
        self.error = error


class Reservation:
    """The supervisor's sockets, one per shared listener, held for the life of the supervisor."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sockets: dict[str, socket.socket] = {}
        #: The listener being bound when ``bind`` raised: (name, host, port).
        self.failed: tuple[str, str, int] | None = None

    @classmethod
    def bind(cls, listeners: list[tuple[str, str, int]], mode: str = DEFAULT_MODE) -> Reservation:
        """Bind every listener; on failure nothing stays bound and ``BindError`` says which."""
        res = cls(mode)
        try:
            for name, host, port in listeners:
                res.failed = (name, host, port)
                if mode == "reuseport":
                    port = _free_port(host, port)
                sock = _new_socket(host, port, reuse_port=mode == "reuseport")
                res.sockets[name] = sock
                if mode == "inherit":
                    sock.listen(BACKLOG)
                    sock.set_inheritable(True)
        except OSError as exc:
            res.close()
            raise BindError(res.failed, exc) from None
        except BaseException:
            res.close()
            raise
        return res

    @property
    def ports(self) -> dict[str, int]:
        return {name: int(sock.getsockname()[1]) for name, sock in self.sockets.items()}

    def fds(self) -> tuple[int, ...]:
        """File descriptors a worker must inherit (none with ``reuseport``)."""
        return tuple(s.fileno() for s in self.sockets.values()) if self.mode == "inherit" else ()

    def worker_spec(self) -> dict[str, Any]:
        """What a worker needs to open its share of each port (JSON, for ``MOCKFORGE_WORKER``)."""
        if self.mode == "inherit":
            return {name: {"fd": sock.fileno()} for name, sock in self.sockets.items()}
        return {name: {"host": sock.getsockname()[0], "port": int(sock.getsockname()[1])}
                for name, sock in self.sockets.items()}

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()


def open_share(spec: dict[str, Any]) -> socket.socket:
    """A worker's listening socket for one entry of ``Reservation.worker_spec``."""
    if "fd" in spec:
        sock = socket.socket(fileno=int(spec["fd"]))
        sock.setblocking(False)
        return sock
    sock = _new_socket(str(spec["host"]), int(spec["port"]), reuse_port=True)
    try:
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
