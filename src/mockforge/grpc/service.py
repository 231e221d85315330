"""The gRPC adapter: serves every method of every compiled service with grpclib, no generated code.

Why hand-written: grpclib serves anything whose ``__mapping__()`` returns
``{"/pkg.Service/Method": Handler(func, cardinality, request_class, reply_class)}``; we build that
dict once at start from a private ``DescriptorPool`` (reference/python-stack.md section 4: 12 MB
lighter and one thread, against grpcio). Each call is answered by a stub, else by a message
generated from the reply descriptor, and logged to the shared request log.

    svc = await GrpcService.create(runtime)       # compile protos, build pool, load stubs
    port = await svc.start("127.0.0.1", 0)
    svc.services()                                # ["pkg.Books", "grpc.health.v1.Health", ...]
    await svc.stop(timeout=5)

Built in: ``grpc.health.v1.Health`` (Check and Watch report SERVING for "" and every service; a
user-supplied health.proto keeps its other methods mocked) and server reflection v1 + v1alpha
over the private pool (grpclib's files are added to it when their names are free).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from mockforge.core.limits import LimitError
from mockforge.core.model import Headers, Request, Response
from mockforge.core.responses import detail, error_response, json_response
from mockforge.core.templating import TemplateContext
from mockforge.errors import ProtoError, StubError
from mockforge.grpc.compiler import load_descriptor_set
from mockforge.grpc.datagen import MessageGenerator, seeded_rng
from mockforge.grpc.decide import Generated, unary_pipeline
from mockforge.grpc.stubs import STATUS_NAMES, GrpcStub, MethodInfo, StubStore, parse_stub, prune_unset
from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.grpc")

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")
_MAX_DEPTH = 4


#: Closed HTTP/2 stream ids remembered per connection (see ``GrpcService.start``).
_MAX_CLOSED_STREAMS = 4096

class _Named:
    """Stands for one service name where grpclib's Health expects a servable."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __mapping__(self) -> dict[str, Any]:
        return {f"/{self._name}/_": None}


def build_pool(descriptor_set: bytes) -> tuple[Any, list[Any]]:
    """A private ``DescriptorPool`` holding every file of the set, and its service descriptors."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    services: list[Any] = []
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    for fdp in fds.file:
        try:
            fd = pool.AddSerializedFile(fdp.SerializeToString())
        except (TypeError, ValueError) as exc:
            raise ProtoError(f"descriptor cannot be loaded: {exc}", file=fdp.name) from None
        services.extend(fd.services_by_name.values())
    return pool, services


def _add_builtin_files(pool: Any) -> None:
    """Put grpclib's health and reflection files in ``pool`` when their symbols are free, so that
    reflection can describe the built-in services too."""
    import importlib

    from google.protobuf import descriptor_pb2

    for module_name, symbol in (
        ("grpclib.health.v1.health_pb2", HEALTH_SERVICE),
        ("grpclib.reflection.v1.reflection_pb2", REFLECTION_SERVICES[0]),
        ("grpclib.reflection.v1alpha.reflection_pb2", REFLECTION_SERVICES[1]),
    ):
        try:
            pool.FindFileContainingSymbol(symbol)
            continue
        except KeyError:
            pass
        try:
            module = importlib.import_module(module_name)
        except (ImportError, TypeError) as exc:
            log.debug("reflection will not describe %s: %s", symbol, exc)
            continue
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        try:
            pool.AddSerializedFile(proto.SerializeToString())
        except (TypeError, ValueError) as exc:
            log.debug("reflection will not describe %s: %s", symbol, exc)


def load_stub_files(stubs_dir: str) -> list[tuple[str, Any]]:
    """(file, definition) for every stub in ``*.yaml|*.yml|*.json`` under ``stubs_dir``."""
    import msgspec
    import yaml

    from mockforge.core.limits import LimitError, decode_document

    root = Path(stubs_dir)
    if not root.is_dir():
        raise StubError("grpc.stubs_dir is not a folder", file=stubs_dir)
    out: list[tuple[str, Any]] = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        try:
            text = path.read_bytes()
            data = decode_document(text, as_json=path.suffix == ".json")  # depth and YAML alias bounds
        except LimitError as exc:
            raise StubError(exc.message, file=str(path), where=exc.where) from None
        except (yaml.YAMLError, msgspec.DecodeError) as exc:
            raise StubError(f"not valid YAML/JSON: {exc}".splitlines()[0], file=str(path)) from None
        items = data if isinstance(data, list) else [data]
        out.extend((str(path), item) for item in items if item is not None)
    return out


class GrpcService:
    def __init__(self, runtime: Runtime, pool: Any, services: list[Any]) -> None:
        from google.protobuf import message_factory

        self.runtime = runtime
        self.config = runtime.config.grpc
        self.seed = runtime.config.core.seed
        self.pool = pool
        self.stubs = StubStore()
        #: stubs -> the descriptor's generated reply (``decide.py``; unary and client streams)
        self.pipeline = unary_pipeline(self.stubs)
        self.methods: dict[str, MethodInfo] = {}
        self._service_names: list[str] = []
        for svc in services:
            if svc.full_name in self._service_names:
                continue
            self._service_names.append(svc.full_name)
            for m in svc.methods:
                info = MethodInfo(
                    service=svc.full_name,
                    name=m.name,
                    input_type=message_factory.GetMessageClass(m.input_type),
                    output_type=message_factory.GetMessageClass(m.output_type),
                    client_streaming=bool(m.client_streaming),
                    server_streaming=bool(m.server_streaming),
                )
                self.methods[info.path] = info
        self.warnings: list[str] = []
        self._defaults: dict[tuple[str, int], tuple[Any, bytes]] = {}
        self._built: dict[tuple[str, int, int], Any] = {}
        self._server: Any = None
        #: False when grpclib could not be hooked; messages are then size-checked after reading.
        self._bounded_reads = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- lifecycle ------------------------------------------------------------------
    @classmethod
    async def create(cls, runtime: Runtime) -> GrpcService:
        cfg = runtime.config.grpc
        result = await load_descriptor_set(cfg, cache_dir=runtime.config.core.cache_dir or None)
        pool, services = build_pool(result.descriptor_set) if result.descriptor_set else (None, [])
        if pool is None:
            from google.protobuf import descriptor_pool

            pool = descriptor_pool.DescriptorPool()
        svc = cls(runtime, pool, services)
        svc.warnings = list(result.warnings)
        for i, item in enumerate(cfg.stubs):
            svc.stubs.add(parse_stub(item, svc.methods, where=f"grpc.stubs[{i}]"))
        if cfg.stubs_dir:
            for file, item in load_stub_files(cfg.stubs_dir):
                try:
                    svc.stubs.add(parse_stub(item, svc.methods))
                except StubError as exc:
                    raise StubError(exc.message, file=file, where=exc.where) from None
        return svc

    def services(self) -> list[str]:
        """Every service name answered, built-ins included."""
        names = list(self._service_names)
        extra = [HEALTH_SERVICE]
        if self.config.reflection:
            extra.extend(REFLECTION_SERVICES)
        return names + [n for n in extra if n not in names]

    def _servables(self) -> list[Any]:
        out: list[Any] = [self]
        try:
            from grpclib.health.service import Health
        except TypeError as exc:  # another library put the same health.proto in the default pool
            log.warning("health service off: %s", exc)
        else:
            out.append(Health({_Named(n): [] for n in self.services()}))
        if self.config.reflection:
            from grpclib.reflection.service import ServerReflection

            _add_builtin_files(self.pool)
            names = self.services()
            out.append(ServerReflection(_service_names=names, _pool=self.pool))
            try:
                from grpclib.reflection._deprecated import ServerReflection as ReflectionV1Alpha
            except TypeError as exc:  # grpcio-reflection's v1alpha module is already loaded
                log.warning("reflection v1alpha off: %s", exc)
            else:
                out.append(ReflectionV1Alpha(_service_names=names, _pool=self.pool))
        return out

    async def start(self, host: str, port: int, ssl: Any = None, sock: Any = None) -> int:
        """Bind and serve; the bound port (``port`` may be 0). With ``sock`` (a worker's share of
        the port, ``mockforge.workers.sockets``) serve that socket instead of binding."""
        import h2.connection

        from mockforge.grpc import framing
        from mockforge.grpc.connections import CappedServer

        # h2 remembers the id of every closed stream of a connection, up to 65,536 (about 110 B
        # each): a long-lived client grows the server by ~7 MB per connection before it levels
        # off (found by benchmarks/soak_tracemalloc.py). A few thousand is plenty to tell late
        # frames of a closed stream from a protocol error.
        h2.connection.H2Connection.MAX_CLOSED_STREAMS = _MAX_CLOSED_STREAMS
        # Messages are read through framing.recv_bounded: the length prefix is checked against
        # grpc.max_message_bytes before the body is read, and the flow-control windows are sized
        # from the same limit. h2 already advertises MAX_CONCURRENT_STREAMS 100 per connection
        # (a client opening more loses its connection with GOAWAY), and connections are capped at
        # grpc.max_connections (connections.py).
        self._bounded_reads = framing.install()
        limit = self.config.max_message_bytes
        self._server = CappedServer(
            self._servables(),
            max_connections=self.config.max_connections,
            codec=framing.BoundedProtoCodec(limit),
            status_details_codec=_status_details_codec(),
            config=framing.server_config(limit),
        )
        if sock is not None:
            await self._server.start(sock=sock, ssl=ssl, backlog=2048)
        else:
            await self._server.start(host, port, ssl=ssl)  # ssl: an SSLContext with ALPN h2 (mockforge.tls)
        sockets = self._server._server.sockets
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        self.runtime.ports["grpc"] = bound
        return bound

    @property
    def connections_refused(self) -> int:
        """Connections refused at ``grpc.max_connections`` since start (for /stats)."""
        return self._server.connections_refused if self._server is not None else 0

    @property
    def open_connections(self) -> int:
        return self._server.open_connections if self._server is not None else 0

    async def stop(self, timeout: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout)
        except TimeoutError:
            log.warning("gRPC server did not close within %.1fs", timeout)

    # ---- dispatch ----------------------------------------------------------------------
    def __mapping__(self) -> dict[str, Any]:
        from grpclib.const import Cardinality, Handler

        kinds = {
            (False, False): Cardinality.UNARY_UNARY,
            (False, True): Cardinality.UNARY_STREAM,
            (True, False): Cardinality.STREAM_UNARY,
            (True, True): Cardinality.STREAM_STREAM,
        }
        return {
            path: Handler(
                self._handler(info),
                kinds[(info.client_streaming, info.server_streaming)],
                info.input_type,
                info.output_type,
            )
            for path, info in self.methods.items()
        }

    def _handler(self, info: MethodInfo) -> Callable[[Any], Any]:
        async def handle(stream: Any) -> None:
            await _Call(self, info, stream).run()

        return handle

    # ---- answers ---------------------------------------------------------------------------
    def default_reply(self, info: MethodInfo, index: int) -> tuple[Any, bytes]:
        """The generated reply number ``index`` of a method (built once, then reused) and its JSON."""
        key = (info.path, index)
        cached = self._defaults.get(key)
        if cached is None:
            rng = seeded_rng(self.seed, info.path, index)
            gen = MessageGenerator(rng, max_depth=_MAX_DEPTH, pool=self.pool)
            msg = gen.fill(info.output_type())
            cached = (msg, self.to_json(msg))
            self._defaults[key] = cached
        return cached

    def to_json(self, message: Any) -> bytes:
        from google.protobuf import json_format

        data = json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
            descriptor_pool=self.pool,
        )
        return orjson.dumps(data)

    def build_reply(self, stub: GrpcStub, index: int, info: MethodInfo, ctx: TemplateContext) -> Any:
        """Stub reply ``index`` as a message; static replies are parsed once."""
        from google.protobuf import json_format

        cv = stub.response.messages[index]
        key = (stub.id, stub.index, index)
        if cv.is_static and key in self._built:
            return self._built[key]
        value = cv.render(ctx)
        if not cv.is_static:
            value = prune_unset(value, info.output_type.DESCRIPTOR)
        msg = json_format.ParseDict(value, info.output_type(), descriptor_pool=self.pool)
        if cv.is_static:
            self._built[key] = msg
        return msg

    # ---- admin API -------------------------------------------------------------------------
    async def admin(self, request: Request, subpath: str) -> Response | None:
        """``grpc/stubs`` (GET list, POST add one or a list, DELETE all) and ``grpc/stubs/{id}``."""
        parts = subpath.strip("/").split("/")
        if parts[:2] != ["grpc", "stubs"] or len(parts) > 3:
            return None
        method = request.method.upper()
        if len(parts) == 3:
            stub = self.stubs.get(parts[2])
            if stub is None:
                return error_response(404, "not_found", f"no gRPC stub with id {parts[2]}")
            if method == "GET":
                return json_response(stub.spec)
            if method == "DELETE":
                self.stubs.remove(stub.id)
                return json_response({"deleted": stub.id})
            return error_response(405, "method_not_allowed", "use GET or DELETE")
        if method == "GET":
            return json_response({"stubs": [s.spec for s in self.stubs.all()]})
        if method == "DELETE":
            count = len(self.stubs.all())
            self.stubs.clear()
            self._built.clear()
            return json_response({"deleted": count})
        if method != "POST":
            return error_response(405, "method_not_allowed", "use GET, POST or DELETE")
        data = request.json()
        if data is None:
            return error_response(400, "invalid_stub", "the body must be a JSON stub or a list of stubs")
        items = data if isinstance(data, list) else [data]
        try:
            parsed = [parse_stub(item, self.methods, where=f"stubs[{i}]") for i, item in enumerate(items)]
        except StubError as exc:
            return error_response(400, "invalid_stub", exc.message, [detail(exc.where or "", exc.message)])
        self.stubs.add_all(parsed)
        return json_response({"stubs": [s.spec for s in parsed]}, status=201)


def _metadata(stream: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in stream.metadata.items():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        out.append((key, value))
    return out


class _Call:
    """One RPC from first byte to trailers: read, answer, log."""

    __slots__ = ("code", "info", "message", "req_json", "request", "resp_bytes", "resp_json", "source",
                 "started", "stream", "svc")

    def __init__(self, svc: GrpcService, info: MethodInfo, stream: Any) -> None:
        self.svc = svc
        self.info = info
        self.stream = stream
        self.started = time.perf_counter()
        self.code = 0
        self.message = ""
        self.req_json = b""
        self.resp_json = b""
        self.resp_bytes = 0
        self.source = "generated"
        peer = stream.peer.addr() if stream.peer is not None else None
        self.request = Request(
            protocol="grpc",
            method=info.full_name,
            path=info.path,
            headers=Headers(_metadata(stream)),
            client=f"{peer[0]}:{peer[1]}" if peer else "",
        )

    async def run(self) -> None:
        from grpclib.exceptions import GRPCError, StreamTerminatedError

        metrics = self.svc.runtime.metrics
        metrics.in_flight("grpc", 1)
        try:
            if self.info.client_streaming and self.info.server_streaming:
                await self._bidi()
            elif self.info.client_streaming:
                await self._client_stream()
            else:
                await self._single_request()
        except GRPCError as exc:
            self.code = int(exc.status.value)
            self.message = exc.message or ""
            raise
        except (asyncio.CancelledError, StreamTerminatedError):
            self.code = 1
            raise
        except LimitError as exc:  # a message nested past http.max_json_depth: the client's input
            self.code = 3
            self.message = exc.message
            raise GRPCError(_status(3), f"invalid message: {exc.message}"[:500]) from None
        except Exception as exc:
            self.code = 13
            self.message = str(exc)
            raise GRPCError(_status(13), f"mock failed: {exc}"[:500]) from None
        finally:
            if metrics is not None:
                metrics.in_flight("grpc", -1)
            self._log()

    # ---- reading ---------------------------------------------------------------------------
    async def _recv(self) -> Any:
        """The next message; bounds and bad input are answered by ``framing.recv_bounded``."""
        msg = await self.stream.recv_message()
        if msg is not None and not self.svc._bounded_reads and msg.ByteSize() > self.svc.config.max_message_bytes:
            from grpclib.exceptions import GRPCError

            raise GRPCError(_status(8), f"message larger than {self.svc.config.max_message_bytes} bytes")
        return msg

    def _use_request(self, msg: Any) -> Any:
        """Make ``msg`` the request the templates and matchers see; its JSON value."""
        body = self.svc.to_json(msg)
        if not self.req_json:
            self.req_json = body
        req = self.request
        req.body = body
        req._json_parsed = False
        return req.json()

    # ---- call kinds ------------------------------------------------------------------------
    async def _single_request(self) -> None:
        msg = await self._recv()
        if msg is None:
            msg = self.info.input_type()
        self._use_request(msg)
        await self._answer(await self._decide(), received=1)

    async def _client_stream(self) -> None:
        received = 0
        last = None
        while (msg := await self._recv()) is not None:
            received += 1
            last = msg
        self._use_request(last if last is not None else self.info.input_type())
        await self._answer(await self._decide(), received=received)

    async def _decide(self) -> GrpcStub | None:
        """The stub that replies, or None for the descriptor's generated reply (``decide.py``)."""
        decided = await self.svc.pipeline.answer(self.request)
        return None if isinstance(decided, Generated) else decided

    async def _bidi(self) -> None:
        received = 0
        meta = self.request.headers.to_dict()
        sent_headers = False
        while (msg := await self._recv()) is not None:
            received += 1
            body = self._use_request(msg)
            stub = self.svc.stubs.find(self.info.path, body, meta)
            if stub is not None and stub.response.error_code:
                await self._answer(stub, received=received, headers_sent=sent_headers)
                return
            if not sent_headers:
                await self._send_headers(stub)
                sent_headers = True
            if stub is None:
                reply, js = self.svc.default_reply(self.info, received - 1)
                await self._send(reply, js)
            else:
                await self._delay(stub)
                self.source = f"stub:{stub.id}"
                for i in range(len(stub.response.messages)):
                    await self._send_stub_reply(stub, i, received - 1, received)
        if not sent_headers:
            await self._send_headers(None)
        await self._finish(None)

    # ---- writing ---------------------------------------------------------------------------
    def _ctx(self, index: int, received: int, count: int | None = None) -> TemplateContext:
        stream = {"index": index, "number": index + 1, "received": received}
        if count is not None:
            stream["count"] = count
        return TemplateContext(self.request, extra={"stream": stream})

    async def _send(self, reply: Any, js: bytes | None = None) -> None:
        if not self.resp_json:
            self.resp_json = js if js is not None else self.svc.to_json(reply)
        self.resp_bytes += reply.ByteSize()
        await self.stream.send_message(reply)

    async def _send_stub_reply(self, stub: GrpcStub, i: int, index: int, received: int) -> None:
        from google.protobuf import json_format

        try:
            reply = self.svc.build_reply(stub, i, self.info, self._ctx(index, received))
        except (json_format.ParseError, TypeError, ValueError) as exc:
            raise RuntimeError(f"stub {stub.id} rendered a reply that does not fit: {exc}") from None
        await self._send(reply)

    async def _send_headers(self, stub: GrpcStub | None) -> None:
        if stub is not None and stub.response.headers:
            ctx = self._ctx(0, 0)
            await self.stream.send_initial_metadata(
                metadata={k: str(v.render(ctx)) for k, v in stub.response.headers.items()}
            )
        else:
            await self.stream.send_initial_metadata()

    async def _delay(self, stub: GrpcStub) -> None:
        if stub.response.delay_ms:
            await asyncio.sleep(stub.response.delay_ms / 1000)

    async def _finish(self, stub: GrpcStub | None, code: int = 0, message: str = "") -> None:
        trailers: dict[str, str] = {}
        if stub is not None and stub.response.trailers:
            ctx = self._ctx(0, 0)
            trailers = {k: str(v.render(ctx)) for k, v in stub.response.trailers.items()}
        if stub is not None and stub.response.error_details is not None:
            trailers["mockforge-error-details"] = orjson.dumps(stub.response.error_details).decode()
        self.code, self.message = code, message
        await self.stream.send_trailing_metadata(
            status=_status(code), status_message=message or None, metadata=trailers or None
        )

    async def _answer(self, stub: GrpcStub | None, *, received: int, headers_sent: bool = False) -> None:
        """Everything after the request(s) were read: headers, replies, trailers."""
        info, svc = self.info, self.svc
        if stub is None:
            await self._send_headers(None)
            count = svc.config.stream_count if info.server_streaming else 1
            for i in range(count):
                if i and info.server_streaming:
                    await asyncio.sleep(svc.config.stream_interval_ms / 1000)
                reply, js = svc.default_reply(info, i)
                await self._send(reply, js)
            await self._finish(None)
            return
        self.source = f"stub:{stub.id}"
        await self._delay(stub)
        resp = stub.response
        ctx = self._ctx(0, received)
        if resp.error_code:
            if not headers_sent and stub.response.headers:
                await self._send_headers(stub)
            text = str(resp.error_message.render(ctx)) if resp.error_message else ""
            await self._finish(stub, resp.error_code, text)
            return
        if not headers_sent:
            await self._send_headers(stub)
        count = len(resp.messages)
        interval = svc.config.stream_interval_ms
        if info.server_streaming:
            if resp.single:
                count = _as_int(resp.repeat.render(ctx), "repeat") if resp.repeat else svc.config.stream_count
            if resp.interval_ms is not None:
                interval = _as_int(resp.interval_ms.render(ctx), "interval_ms")
        for i in range(count):
            if i and info.server_streaming and interval:
                await asyncio.sleep(interval / 1000)
            await self._send_stub_reply(stub, 0 if resp.single else i, i, received)
        await self._finish(stub)

    # ---- log ---------------------------------------------------------------------------------
    def _log(self) -> None:
        rt = self.svc.runtime
        req = self.request
        req.body = self.req_json
        duration = (time.perf_counter() - self.started) * 1000
        resp = Response(status=self.code, body=self.resp_json, source=self.source)
        rt.log.record(req, resp, duration, self.resp_bytes, status=self.code,
                      status_text=STATUS_NAMES.get(self.code, "UNKNOWN"))


def _as_int(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"stub {what} rendered {value!r}, not an integer") from None
    return max(number, 0)


def _status_details_codec() -> Any:
    """What grpclib's Server picks when given no codec (we pass one, so we pick it too)."""
    from grpclib.encoding.proto import ProtoStatusDetailsCodec, _googleapis_available

    return ProtoStatusDetailsCodec() if _googleapis_available() else None


def _status(code: int) -> Any:
    from grpclib.const import Status

    return Status(code)
