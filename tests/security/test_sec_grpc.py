"""gRPC input bounds (issue 12, items 4 and 8), driven with raw HTTP/2 frames (``h2``) over a real
socket so that prefixes, flags and truncation can be sent exactly as an attacker would.

The reproduction: a message announcing far more than ``grpc.max_message_bytes`` was read whole
(64 MiB buffered past the 4 MiB limit) before it was refused. Now it is refused from its 5-byte
prefix while the client has sent nothing more, with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from mockforge.config import build_config
from mockforge.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]
PROTOS = REPO / "examples" / "protos"
UNARY = "/mockforge.MockService/UnaryCall"
CLIENT_STREAM = "/mockforge.MockService/ClientStream"
HEALTH = "/grpc.health.v1.Health/Check"
LIVENESS_S = 30.0


@asynccontextmanager
async def serving(tmp_path: Path, **grpc: Any) -> AsyncIterator[tuple[Any, int]]:
    from mockforge.grpc.service import GrpcService

    data = {"grpc": {"port": 0, "proto_dir": str(PROTOS), **grpc}, "core": {"cache_dir": str(tmp_path / "c")}}
    svc = await GrpcService.create(Runtime(build_config(data, env={})))
    port = await svc.start("127.0.0.1", 0)
    try:
        yield svc, port
    finally:
        await svc.stop(2.0)


class RawH2:
    """One client HTTP/2 connection driven frame by frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.events: list[Any] = []
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> RawH2:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        raw.conn.initiate_connection()
        raw.flush()
        await raw.until(lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in raw.events))
        return raw

    def flush(self) -> None:
        self.writer.write(self.conn.data_to_send())

    def call(self, path: str, extra: list[tuple[str, str]] = ()) -> int:  # type: ignore[assignment]
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
                   ("content-type", "application/grpc"), ("te", "trailers"), *extra]
        self.conn.send_headers(sid, headers)
        self.flush()
        return sid

    def send(self, sid: int, data: bytes, end: bool = False) -> None:
        self.conn.send_data(sid, data, end_stream=end)
        self.flush()

    async def until(self, done: Any, timeout: float = LIVENESS_S) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.closed:
                raise AssertionError("the server closed the connection")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no answer before the liveness deadline")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except TimeoutError:
                continue
            if not data:
                self.closed = True
                continue
            self.events.extend(self.conn.receive_data(data))
            self.flush()

    async def outcome(self, sid: int) -> dict[str, Any]:
        """Headers and trailers of stream ``sid`` merged, once it ended or was reset."""

        def finished() -> bool:
            return any(isinstance(e, h2.events.StreamEnded | h2.events.StreamReset) and e.stream_id == sid
                       for e in self.events)

        await self.until(finished)
        out: dict[str, Any] = {}
        for e in self.events:
            if isinstance(e, h2.events.ResponseReceived | h2.events.TrailersReceived) and e.stream_id == sid:
                out.update(dict(e.headers))
        return out

    async def read_to_end(self) -> None:
        """Read (and feed h2) until the server closes the connection."""
        try:
            await self.until(lambda: False)
        except AssertionError as exc:
            assert self.closed, exc

    def close(self) -> None:
        self.writer.close()


async def eventually(check: Any, timeout: float = LIVENESS_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met before the liveness deadline"
        await asyncio.sleep(0.01)


def prefix(length: int, flag: int = 0) -> bytes:
    return bytes([flag]) + length.to_bytes(4, "big")


# ---- the reproduction: refused from the prefix, before the body ----------------------------


@pytest.mark.parametrize("path", [UNARY, HEALTH])
async def test_a_message_announcing_more_than_the_limit_is_refused_from_its_prefix(
    tmp_path: Path, path: str
) -> None:
    async with serving(tmp_path) as (_svc, port):  # default limit: 4 MiB
        raw = await RawH2.open(port)
        try:
            sid = raw.call(path)
            raw.send(sid, prefix(64 * 1024 * 1024))  # announce 64 MiB, send none of it
            answer = await raw.outcome(sid)
            assert answer["grpc-status"] == "8"  # RESOURCE_EXHAUSTED
            assert "67108864 bytes" in answer["grpc-message"]
            assert "grpc.max_message_bytes (4194304)" in answer["grpc-message"]
            # and the stream is reset, so the client stops sending the body
            await raw.until(lambda: any(isinstance(e, h2.events.StreamReset) and e.stream_id == sid
                                        for e in raw.events))
            # the same connection still answers a well-formed call
            ok = raw.call(UNARY)
            raw.send(ok, prefix(0), end=True)
            assert (await raw.outcome(ok))["grpc-status"] == "0"
        finally:
            raw.close()


async def test_a_message_at_the_limit_is_served_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    from grpclib.client import Channel
    from grpclib.const import Cardinality
    from grpclib.exceptions import GRPCError

    async with serving(tmp_path, max_message_bytes=2000) as (svc, port):
        info = svc.methods[UNARY]
        fits, over = info.input_type(name="n" * 1997), info.input_type(name="n" * 1998)
        assert (fits.ByteSize(), over.ByteSize()) == (2000, 2001)
        ch = Channel("127.0.0.1", port)
        try:
            async with ch.request(UNARY, Cardinality.UNARY_UNARY, info.input_type, info.output_type) as st:
                await st.send_message(fits, end=True)
                assert await st.recv_message() is not None
            with pytest.raises(GRPCError) as refused:
                async with ch.request(UNARY, Cardinality.UNARY_UNARY, info.input_type, info.output_type) as st:
                    await st.send_message(over, end=True)
                    await st.recv_message()
            assert refused.value.status.value == 8
            assert refused.value.message == "message of 2001 bytes is larger than grpc.max_message_bytes (2000)"
        finally:
            ch.close()


async def test_flow_control_windows_and_concurrent_streams_are_bounded(tmp_path: Path) -> None:
    async with serving(tmp_path, max_message_bytes=1024) as (_svc, port):
        raw = await RawH2.open(port)
        try:
            settings = raw.conn.remote_settings
            # one stream may carry a whole message; HTTP/2's floor for a window is 64 KiB - 1
            assert settings.initial_window_size == 65535
            assert settings.max_concurrent_streams == 100
            assert raw.conn.outbound_flow_control_window <= 4 * 1024 * 1024
        finally:
            raw.close()
    async with serving(tmp_path, max_message_bytes=64 * 1024 * 1024) as (_svc, port):
        raw = await RawH2.open(port)
        try:
            assert raw.conn.remote_settings.initial_window_size == 4 * 1024 * 1024  # capped
        finally:
            raw.close()


async def test_a_client_opening_more_streams_than_allowed_loses_only_its_connection(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_svc, port):
        flood = await RawH2.open(port)
        flood.conn.remote_settings.max_concurrent_streams = 1000  # ignore what the server said
        flood.conn.remote_settings.acknowledge()
        for _ in range(101):
            sid = flood.call(CLIENT_STREAM)  # streams that never end
        with pytest.raises(AssertionError, match="closed the connection"):
            await flood.outcome(sid)
        flood.close()
        other = await RawH2.open(port)
        try:
            ok = other.call(UNARY)
            other.send(ok, prefix(0), end=True)
            assert (await other.outcome(ok))["grpc-status"] == "0"
        finally:
            other.close()


async def test_connections_past_grpc_max_connections_get_goaway_and_slots_come_back(tmp_path: Path) -> None:
    from h2.errors import ErrorCodes

    async with serving(tmp_path, max_connections=3) as (svc, port):
        held = [await RawH2.open(port) for _ in range(3)]
        assert svc.open_connections == 3
        refused = await RawH2.open(port)
        await refused.read_to_end()
        goaway = [e for e in refused.events if isinstance(e, h2.events.ConnectionTerminated)]
        assert len(goaway) == 1 and goaway[0].error_code == ErrorCodes.ENHANCE_YOUR_CALM
        assert goaway[0].additional_data == b"grpc.max_connections (3) reached; try again later"
        assert svc.connections_refused == 1
        refused.close()
        # the held connections still work, and a closed one frees its slot
        ok = held[0].call(UNARY)
        held[0].send(ok, prefix(0), end=True)
        assert (await held[0].outcome(ok))["grpc-status"] == "0"
        held.pop().close()
        await eventually(lambda: svc.open_connections == 2)
        again = await RawH2.open(port)
        try:
            ok = again.call(UNARY)
            again.send(ok, prefix(0), end=True)
            assert (await again.outcome(ok))["grpc-status"] == "0"
        finally:
            again.close()
            for raw in held:
                raw.close()


# ---- bad input status codes (item 8) -------------------------------------------------------


@pytest.mark.parametrize("path", [UNARY, HEALTH])
@pytest.mark.parametrize(
    ("frames", "status", "says"),
    [
        ([prefix(10) + b"\x0a\x03"], "3", "truncated message: the prefix announced 10 bytes"),
        ([b"\x00\x00\x00"], "3", "truncated message: the stream ended inside its prefix"),
        ([prefix(3) + b"\xff\xff\xff"], "3", "malformed "),
        ([prefix(4, flag=1) + b"abcd"], "12", "compressed message, but no grpc-encoding was negotiated"),
        ([prefix(4, flag=7) + b"abcd"], "3", "compressed-flag is 7"),
    ],
    ids=["truncated-body", "truncated-prefix", "undecodable", "compressed", "bad-flag"],
)
async def test_bad_messages_get_the_status_that_names_the_problem(
    tmp_path: Path, path: str, frames: list[bytes], status: str, says: str
) -> None:
    async with serving(tmp_path) as (_svc, port):
        raw = await RawH2.open(port)
        try:
            sid = raw.call(path)
            for i, frame in enumerate(frames):
                raw.send(sid, frame, end=i == len(frames) - 1)
            answer = await raw.outcome(sid)
            assert answer["grpc-status"] == status, answer
            assert says in answer["grpc-message"].replace("%20", " "), answer
            ok = raw.call(UNARY)
            raw.send(ok, prefix(0), end=True)
            assert (await raw.outcome(ok))["grpc-status"] == "0"
        finally:
            raw.close()


NESTED_PROTO = """syntax = "proto3";
package deep;
message Node { Node child = 1; string name = 2; }
service Deep { rpc Echo(Node) returns (Node); }
"""


def nested(depth: int) -> bytes:
    """A ``deep.Node`` nested ``depth`` levels, encoded by hand (field 1, length-delimited)."""
    body = b"\x12\x01x"  # name: "x"
    for _ in range(depth - 1):
        size = len(body)
        varint = bytearray()
        while True:
            byte, size = size & 0x7F, size >> 7
            varint.append(byte | (0x80 if size else 0))
            if not size:
                break
        body = b"\x0a" + bytes(varint) + body
    return body


async def test_a_message_nested_past_the_json_depth_is_invalid_argument_not_internal(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    protos.mkdir()
    (protos / "deep.proto").write_text(NESTED_PROTO)
    async with serving(tmp_path, proto_dir=str(protos)) as (_svc, port):
        raw = await RawH2.open(port)
        try:
            sid = raw.call("/deep.Deep/Echo")
            msg = nested(90)  # protobuf decodes it (its own limit is 100); its JSON is past http.max_json_depth
            raw.send(sid, prefix(len(msg)) + msg, end=True)
            answer = await raw.outcome(sid)
            assert answer["grpc-status"] == "3", answer
            assert "nested deeper than 64 levels" in answer["grpc-message"].replace("%20", " "), answer
            ok = raw.call("/deep.Deep/Echo")
            small = nested(3)
            raw.send(ok, prefix(len(small)) + small, end=True)
            assert (await raw.outcome(ok))["grpc-status"] == "0"
        finally:
            raw.close()
