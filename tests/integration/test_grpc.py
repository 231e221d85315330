"""gRPC mocks over real sockets on 127.0.0.1 with real clients (grpclib, and grpcio for interop)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from mockforge.config import build_config
from mockforge.core.model import Headers, Request
from mockforge.errors import ProtoError, StubError
from mockforge.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "proto"
EXAMPLES = REPO / "examples"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"proto corpus not found at {CORPUS}")


@asynccontextmanager
async def serving(tmp_path: Path, **grpc: Any) -> AsyncIterator[tuple[Any, int, Runtime]]:
    from mockforge.grpc.service import GrpcService

    data = {"grpc": {"port": 0, **grpc}, "core": {"cache_dir": str(tmp_path / "cache"), "seed": 7}}
    rt = Runtime(build_config(data, env={}))
    svc = await GrpcService.create(rt)
    port = await svc.start("127.0.0.1", 0)
    try:
        yield svc, port, rt
    finally:
        await svc.stop(2.0)


@asynccontextmanager
async def channel(port: int) -> AsyncIterator[Any]:
    from grpclib.client import Channel

    ch = Channel("127.0.0.1", port)
    try:
        yield ch
    finally:
        ch.close()


def independent_classes(proto_dir: Path, files: list[str]) -> Any:
    """Message classes from a pool compiled by the test itself (in-process protoc), so replies are
    decoded with descriptors the server did not build."""
    import tempfile

    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from grpc_tools import protoc

    wkt = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        rc = protoc.main(["protoc", f"-I{proto_dir}", f"-I{wkt}", "--include_imports",
                          f"--descriptor_set_out={out}", *files])
        assert rc == 0
        fds = descriptor_pb2.FileDescriptorSet.FromString(Path(out).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for fdp in fds.file:
        pool.Add(fdp)

    def cls(name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))

    return pool, cls


def cardinality(info: Any) -> Any:
    from grpclib.const import Cardinality

    return {
        (False, False): Cardinality.UNARY_UNARY,
        (False, True): Cardinality.UNARY_STREAM,
        (True, False): Cardinality.STREAM_UNARY,
        (True, True): Cardinality.STREAM_STREAM,
    }[(info.client_streaming, info.server_streaming)]


async def unary(ch: Any, info: Any, request: Any, metadata: dict[str, str] | None = None,
                *, with_headers: bool = False) -> Any:
    async with ch.request(info.path, cardinality(info), info.input_type, info.output_type,
                          metadata=metadata) as st:
        await st.send_message(request, end=True)
        reply = await st.recv_message()
        await st.recv_trailing_metadata()
    return (reply, st.initial_metadata) if with_headers else reply


# --------------------------------------------------------------------------- corpus


@needs_corpus
async def test_every_corpus_method_answers_with_a_message_that_decodes(tmp_path: Path) -> None:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.proto"))
    pool, cls = independent_classes(CORPUS, files)
    running = serving(tmp_path, proto_dir=str(CORPUS), stream_count=2, stream_interval_ms=1)
    async with running as (svc, port, rt):
        assert {"google.bytestream.ByteStream", "google.example.library.v1.LibraryService",
                "google.pubsub.v1beta2.Subscriber", "google.pubsub.v1beta2.Publisher",
                "grpc.health.v1.Health"} <= set(svc.services())
        checked = 0
        async with channel(port) as ch:
            for path, info in svc.methods.items():
                service, method = path[1:].split("/")
                mdesc = pool.FindServiceByName(service).methods_by_name[method]
                req_cls, resp_cls = cls(mdesc.input_type.full_name), cls(mdesc.output_type.full_name)
                async with ch.request(path, cardinality(info), req_cls, resp_cls) as st:
                    await st.send_message(req_cls(), end=True)
                    reply = await st.recv_message()
                    if path == "/grpc.health.v1.Health/Watch":
                        await st.cancel()  # Watch streams until the client leaves
                    else:
                        rest = [m async for m in st]
                        if info.server_streaming:
                            assert len(rest) == 1, path  # stream_count=2
                assert reply is not None, path
                assert type(reply).DESCRIPTOR.full_name == mdesc.output_type.full_name
                if mdesc.output_type.fields and mdesc.output_type.full_name != "google.protobuf.Empty":
                    assert reply.ListFields(), f"{path} answered an empty {mdesc.output_type.full_name}"
                checked += 1
        assert checked == len(svc.methods) >= 30
        logged = {e.method for e in rt.log.snapshot()}
        assert "google.example.library.v1.LibraryService/GetBook" in logged


@needs_corpus
async def test_generated_answers_repeat_with_the_same_seed(tmp_path: Path) -> None:
    replies = []
    for _ in range(2):
        async with serving(tmp_path, proto_dir=str(CORPUS)) as (svc, port, _rt):
            info = svc.methods["/google.example.library.v1.LibraryService/ListBooks"]
            async with channel(port) as ch:
                reply = await unary(ch, info, info.input_type())
                replies.append(reply.SerializeToString())
    assert replies[0] == replies[1] and replies[0]


@needs_corpus
async def test_server_stream_sends_stream_count_messages_and_client_stream_one_reply(tmp_path: Path) -> None:
    running = serving(tmp_path, proto_dir=str(CORPUS), stream_count=4, stream_interval_ms=5)
    async with running as (svc, port, _):
        read = svc.methods["/google.bytestream.ByteStream/Read"]
        write = svc.methods["/google.bytestream.ByteStream/Write"]
        async with channel(port) as ch:
            async with ch.request(read.path, cardinality(read), read.input_type, read.output_type) as st:
                await st.send_message(read.input_type(resource_name="r"), end=True)
                chunks = [m async for m in st]
            assert len(chunks) == 4 and all(c.data for c in chunks)
            async with ch.request(write.path, cardinality(write), write.input_type, write.output_type) as st:
                for i in range(3):
                    await st.send_message(write.input_type(data=b"x" * i, write_offset=i))
                await st.end()
                reply = await st.recv_message()
            assert reply.committed_size > 0


# --------------------------------------------------------------------------- MockService example


@asynccontextmanager
async def mock_service(tmp_path: Path) -> AsyncIterator[tuple[Any, int, Runtime]]:
    async with serving(tmp_path, proto_dir=str(EXAMPLES / "protos"),
                       stubs_dir=str(EXAMPLES / "grpc_stubs")) as running:
        yield running


async def test_mock_service_unary_echoes_with_a_server_timestamp(tmp_path: Path) -> None:
    async with mock_service(tmp_path) as (svc, port, rt), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/UnaryCall"]
        req = info.input_type(name="ada", message="hello")
        req.timestamp.FromSeconds(1_700_000_000)
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            await st.send_message(req, end=True)
            reply = await st.recv_message()
        assert (reply.name, reply.message, reply.timestamp.seconds) == ("ada", "hello", 1_700_000_000)
        assert abs(reply.server_timestamp.seconds - time.time()) < 60
        entry = rt.log.snapshot()[-1]
        assert (entry.protocol, entry.method, entry.path) == (
            "grpc", "mockforge.MockService/UnaryCall", "/mockforge.MockService/UnaryCall")
        assert (entry.status, entry.status_text, entry.matched) == (0, "OK", "stub:mock-unary-echo")
        assert orjson.loads(entry.body_excerpt)["name"] == "ada"
        assert orjson.loads(entry.response_excerpt)["message"] == "hello"


async def test_mock_service_server_stream_sends_count_replies_interval_apart(tmp_path: Path) -> None:
    async with mock_service(tmp_path) as (svc, port, _), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/ServerStream"]
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            await st.send_message(info.input_type(count=5, interval_ms=30), end=True)
            arrivals, seqs = [], []
            async for m in st:
                arrivals.append(time.monotonic())
                seqs.append(m.sequence)
        assert seqs == [1, 2, 3, 4, 5]
        assert arrivals[-1] - arrivals[0] >= 4 * 0.030 * 0.9


async def test_mock_service_client_stream_counts_messages(tmp_path: Path) -> None:
    async with mock_service(tmp_path) as (svc, port, _), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/ClientStream"]
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            for i in range(7):
                await st.send_message(info.input_type(sequence=i, data=f"d{i}"))
            await st.end()
            reply = await st.recv_message()
        assert reply.total_received == 7


async def test_bidi_replies_interleave_with_requests(tmp_path: Path) -> None:
    async with mock_service(tmp_path) as (svc, port, _), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/BidirectionalStream"]
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            for seq in (11, 12, 13, 14):
                await st.send_message(info.input_type(sequence=seq, data="x"))
                reply = await asyncio.wait_for(st.recv_message(), 5)  # before the next request is sent
                assert (reply.sequence, reply.data) == (seq, f"ack {seq}")
            await st.end()
            assert [m async for m in st] == []


async def test_bidi_without_stub_answers_each_message_with_a_generated_reply(tmp_path: Path) -> None:
    async with serving(tmp_path, proto_dir=str(EXAMPLES / "protos")) as (svc, port, _), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/BidirectionalStream"]
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            for seq in range(3):
                await st.send_message(info.input_type(sequence=seq))
                reply = await asyncio.wait_for(st.recv_message(), 5)
                assert reply.data and reply.HasField("timestamp")
            await st.end()


# --------------------------------------------------------------------------- stubs


def admin_request(method: str, body: Any = None) -> Request:
    return Request(protocol="http", method=method, path="/__mockforge/grpc/stubs",
                   headers=Headers([("content-type", "application/json")]),
                   body=orjson.dumps(body) if body is not None else b"")


@needs_corpus
async def test_stubs_match_fields_and_metadata_and_return_error_statuses(tmp_path: Path) -> None:
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError

    stubs = [
        {"id": "book-1", "service": "google.example.library.v1.LibraryService", "method": "GetBook",
         "request": {"fields": {"$.name": "shelves/1/books/1"}},
         "response": {"message": {"name": "{{request.body.name}}", "title": "Dune", "read": True}}},
        {"id": "book-tenant", "service": "google.example.library.v1.LibraryService", "method": "GetBook",
         "priority": 1,
         "request": {"fields": {"name": {"contains": "books/1"}}, "metadata": {"x-tenant": "acme"}},
         "response": {"message": {"title": "Acme edition of {{request.body.name}}"}},
         "metadata": {"x-stub": "tenant"}},
        {"id": "missing", "service": "google.example.library.v1.LibraryService", "method": "GetBook",
         "request": {"fields": {"$.name": {"matches": ".*/missing"}}},
         "response": {"error": {"code": "NOT_FOUND", "message": "no book {{request.body.name}}"}}},
    ]
    async with serving(tmp_path, proto_dir=str(CORPUS)) as (svc, port, rt):
        resp = await svc.admin(admin_request("POST", stubs), "grpc/stubs")
        assert resp is not None and resp.status == 201
        info = svc.methods["/google.example.library.v1.LibraryService/GetBook"]

        async def get(name: str, metadata: dict[str, str] | None = None) -> Any:
            async with channel(port) as ch:
                return await unary(ch, info, info.input_type(name=name), metadata, with_headers=True)

        book, _ = await get("shelves/1/books/1")
        assert (book.name, book.title, book.read) == ("shelves/1/books/1", "Dune", True)
        tenant, headers = await get("shelves/1/books/1", {"x-tenant": "acme"})
        assert tenant.title == "Acme edition of shelves/1/books/1"
        assert dict(headers)["x-stub"] == "tenant"
        other, _ = await get("shelves/2/books/9")
        assert other.title.istitle() and "-" not in other.title  # generated (a title), no stub matched
        with pytest.raises(GRPCError) as err:
            await get("shelves/1/missing")
        assert err.value.status == Status.NOT_FOUND
        assert err.value.message == "no book shelves/1/missing"
        statuses = [(e.status, e.status_text, e.matched) for e in rt.log.snapshot()]
        assert statuses[-1] == (5, "NOT_FOUND", "stub:missing")
        assert statuses[0] == (0, "OK", "stub:book-1")


@needs_corpus
async def test_admin_api_lists_gets_and_deletes_stubs(tmp_path: Path) -> None:
    stub = {"id": "s1", "service": "google.pubsub.v1beta2.Publisher", "method": "GetTopic",
            "response": {"message": {"name": "topics/t"}}}
    async with serving(tmp_path, proto_dir=str(CORPUS), stubs=[stub]) as (svc, _port, _):
        listed = await svc.admin(admin_request("GET"), "grpc/stubs")
        assert listed is not None and orjson.loads(listed.body)["stubs"][0]["id"] == "s1"
        one = await svc.admin(admin_request("GET"), "grpc/stubs/s1")
        assert one is not None and orjson.loads(one.body)["response"]["message"]["name"] == "topics/t"
        gone = await svc.admin(admin_request("DELETE"), "grpc/stubs/s1")
        assert gone is not None and gone.status == 200
        missing = await svc.admin(admin_request("GET"), "grpc/stubs/s1")
        assert missing is not None and missing.status == 404
        assert await svc.admin(admin_request("GET"), "http/stubs") is None


@needs_corpus
@pytest.mark.parametrize(
    ("message", "where"),
    [
        ({"titel": "x"}, "stubs[0].response.message.titel"),
        ({"read": "yes"}, "stubs[0].response.message.read"),
        ({"books": [{"title": 3}]}, "stubs[0].response.message.books[0].title"),
    ],
)
async def test_a_stub_that_does_not_fit_its_type_is_rejected_with_the_field_path(
    tmp_path: Path, message: dict[str, Any], where: str
) -> None:
    method = "ListBooks" if "books" in message else "GetBook"
    stub = {"service": "google.example.library.v1.LibraryService", "method": method,
            "response": {"message": message}}
    async with serving(tmp_path, proto_dir=str(CORPUS)) as (svc, _port, _):
        resp = await svc.admin(admin_request("POST", stub), "grpc/stubs")
        assert resp is not None and resp.status == 400
        error = orjson.loads(resp.body)["error"]
        assert error["details"][0]["location"] == where
    bad_config = {"grpc": {"port": 0, "proto_dir": str(CORPUS), "stubs": [stub]},
                  "core": {"cache_dir": str(tmp_path / "cache")}}
    from mockforge.grpc.service import GrpcService

    with pytest.raises(StubError) as err:
        await GrpcService.create(Runtime(build_config(bad_config, env={})))
    assert where.replace("stubs[0]", "grpc.stubs[0]") in str(err.value)


# --------------------------------------------------------------------------- reflection, health


@needs_corpus
async def test_reflection_v1_and_v1alpha_list_every_service(tmp_path: Path) -> None:
    import grpc
    from google.protobuf import descriptor_pb2
    from grpclib.reflection.v1 import reflection_pb2 as v1
    from grpclib.reflection.v1.reflection_grpc import ServerReflectionStub
    from grpclib.reflection.v1alpha import reflection_pb2 as v1alpha

    async with serving(tmp_path, proto_dir=str(CORPUS)) as (svc, port, _):
        expected = set(svc.services())
        # v1 with grpclib's client
        async with channel(port) as ch, ServerReflectionStub(ch).ServerReflectionInfo.open() as st:
            await st.send_message(v1.ServerReflectionRequest(list_services=""))
            listed = await st.recv_message()
            await st.send_message(v1.ServerReflectionRequest(
                file_containing_symbol="google.example.library.v1.LibraryService"))
            files = await st.recv_message()
            await st.end()
        assert listed is not None and files is not None
        assert {s.name for s in listed.list_services_response.service} == expected
        fdp = descriptor_pb2.FileDescriptorProto.FromString(
            files.file_descriptor_response.file_descriptor_proto[0])
        assert [s.name for s in fdp.service] == ["LibraryService"]
        # v1alpha with grpcio (raw reflection requests)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as gch:
            call = gch.stream_stream(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                request_serializer=v1alpha.ServerReflectionRequest.SerializeToString,
                response_deserializer=v1alpha.ServerReflectionResponse.FromString,
            )(iter([v1alpha.ServerReflectionRequest(list_services="")]))
            replies = [r async for r in call]
        assert {s.name for s in replies[0].list_services_response.service} == expected


@needs_corpus
async def test_health_reports_serving_for_the_server_and_each_service(tmp_path: Path) -> None:
    from grpclib.health.v1.health_grpc import HealthStub
    from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

    async with serving(tmp_path, proto_dir=str(CORPUS)) as (svc, port, _), channel(port) as ch:
        stub = HealthStub(ch)
        for name in ["", *svc.services()]:
            reply = await stub.Check(HealthCheckRequest(service=name))
            assert reply.status == HealthCheckResponse.SERVING, name


# --------------------------------------------------------------------------- bad input


async def test_unknown_method_is_unimplemented_and_malformed_message_invalid_argument(tmp_path: Path) -> None:
    import grpc

    async with serving(tmp_path, proto_dir=str(EXAMPLES / "protos")) as (svc, port, rt):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as gch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await gch.unary_unary("/mockforge.MockService/Nope")(b"")
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await gch.unary_unary("/mockforge.MockService/UnaryCall")(b"\x0a\xff\xff\xff")
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            info = svc.methods["/mockforge.MockService/UnaryCall"]
            ok = await gch.unary_unary(
                info.path,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=info.output_type.FromString,
            )(info.input_type(name="still serving"))
            assert ok.name  # a generated reply: the server kept serving
        assert [e.status_text for e in rt.log.snapshot()][-2:] == ["INVALID_ARGUMENT", "OK"]


def test_a_bad_proto_names_file_and_line(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    protos.mkdir()
    (protos / "good.proto").write_text('syntax = "proto3";\npackage g;\nservice S { rpc M(R) returns (R); }\n'
                                       "message R { string a = 1; }\n")
    (protos / "bad.proto").write_text('syntax = "proto3";\npackage b;\nmessage A {\n  int32 a = 1\n}\n')
    from mockforge.grpc.service import GrpcService

    def runtime(on_error: str) -> Runtime:
        data = {"grpc": {"proto_dir": str(protos), "on_error": on_error},
                "core": {"cache_dir": str(tmp_path / "cache")}}
        return Runtime(build_config(data, env={}))

    with pytest.raises(ProtoError) as err:
        asyncio.run(GrpcService.create(runtime("fail")))
    text = str(err.value)
    assert str(protos / "bad.proto") in text and "line 5" in text and "Expected" in text
    assert "\n" not in text
    svc = asyncio.run(GrpcService.create(runtime("skip")))
    assert "g.S" in svc.services() and "b.A" not in str(svc.services())
    assert len(svc.warnings) == 1 and "bad.proto" in svc.warnings[0]


async def test_descriptor_sets_load_directly_and_compiles_are_cached(tmp_path: Path) -> None:
    from mockforge.grpc.compiler import load_descriptor_set

    cfg = build_config({"grpc": {"proto_dir": str(EXAMPLES / "protos")}}, env={}).grpc
    first = await load_descriptor_set(cfg, cache_dir=str(tmp_path / "cache"))
    again = await load_descriptor_set(cfg, cache_dir=str(tmp_path / "cache"))
    assert not first.cached and again.cached and first.descriptor_set == again.descriptor_set
    pb = tmp_path / "mock.pb"
    pb.write_bytes(first.descriptor_set)
    async with serving(tmp_path, descriptor_sets=[str(pb)]) as (svc, port, _), channel(port) as ch:
        info = svc.methods["/mockforge.MockService/UnaryCall"]
        async with ch.request(info.path, cardinality(info), info.input_type, info.output_type) as st:
            await st.send_message(info.input_type(), end=True)
            assert (await st.recv_message()).name


def test_importing_the_grpc_package_loads_no_grpc_stack() -> None:
    code = ("import sys, mockforge.grpc; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('grpclib', 'grpc', 'grpc_tools', 'h2') "
            "or m.startswith('google.protobuf')]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
