"""Reading one gRPC message off an HTTP/2 stream with its bounds checked before the data.

What it bounds: a gRPC message is a 5-byte prefix (compressed-flag byte, 4-byte big-endian
length) and then ``length`` bytes. grpclib's ``recv_message`` reads the prefix and then waits for
all ``length`` bytes, acknowledging each DATA frame as it arrives, so a client announcing 64 MiB
got 64 MiB buffered before our code could compare it with ``grpc.max_message_bytes``. Here the
prefix is checked first and the call fails at once, before any byte of the body is read:

    prefix announces more than the limit     -> RESOURCE_EXHAUSTED
    compressed-flag 1 (we negotiate no codec) -> UNIMPLEMENTED
    compressed-flag other than 0 or 1         -> INVALID_ARGUMENT
    stream ends inside the prefix or the body -> INVALID_ARGUMENT ("truncated")
    body that protobuf cannot decode          -> INVALID_ARGUMENT ("malformed")

grpclib then sends the trailers and resets the stream (RST_STREAM), and HTTP/2 flow control keeps
what the client can push unread to one stream window: ``server_config`` sizes that window from the
message limit (at most 4 MiB; HTTP/2's floor is 64 KiB) and the connection window to 4 MiB.

Where it hooks in, and why there: grpclib (0.4.x) has no receive-size knob on the server, and
``grpclib.server.Stream.recv_message`` calls the module-level name ``recv_message`` that it
imported from ``grpclib.stream``. ``install()`` rebinds that one name to ``recv_bounded``, which
is the narrowest point that sees the prefix before the body; every servable of the server
(our mocks, Health, reflection) goes through it. The limit travels with the server's codec
(``BoundedProtoCodec``), so a grpclib server built without that codec (another library in the
same process) keeps grpclib's own behaviour. If grpclib's internals change so that the name is
no longer grpclib's own function, ``install()`` logs a warning and leaves it alone; the tests in
``tests/security/test_sec_grpc.py`` would then fail.

Cost: two ``await``s and an int comparison per message, the same reads grpclib did.
"""

from __future__ import annotations

import logging
from typing import Any

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError
from grpclib.stream import recv_message as _grpclib_recv_message

log = logging.getLogger("mockforge.grpc")

#: HTTP/2 limits on a flow-control window (RFC 9113 6.9.2) and the largest we advertise.
_WINDOW_MIN = 2**16 - 1
_WINDOW_MAX = 4 * 1024 * 1024
_PREFIX = 5


class BoundedProtoCodec(ProtoCodec):  # type: ignore[misc]
    """grpclib's protobuf codec, carrying the server's message limit; a body that protobuf
    cannot decode fails the call with INVALID_ARGUMENT instead of an internal error."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes

    def decode(self, data: bytes, message_type: Any) -> Any:
        try:
            return message_type.FromString(data)
        except Exception as exc:  # DecodeError, RecursionError, ... from a hostile body
            name = message_type.DESCRIPTOR.full_name
            raise GRPCError(Status.INVALID_ARGUMENT, f"malformed {name}: {exc}"[:500]) from None


async def recv_bounded(stream: Any, codec: Any, message_type: Any) -> Any:
    """One message from ``stream`` (a ``grpclib.protocol.Stream``), or ``None`` at the end."""
    limit = getattr(codec, "max_message_bytes", None)
    if limit is None:
        return await _grpclib_recv_message(stream, codec, message_type)
    try:
        prefix = await stream.recv_data(_PREFIX)
    except AssertionError:  # grpclib's buffer: the stream ended before 5 bytes
        raise GRPCError(Status.INVALID_ARGUMENT, "truncated message: the stream ended inside its prefix") from None
    if not prefix:
        return None
    flag = prefix[0]
    length = int.from_bytes(prefix[1:_PREFIX], "big")
    if flag == 1:
        raise GRPCError(
            Status.UNIMPLEMENTED,
            "compressed message, but no grpc-encoding was negotiated (mockforge accepts identity only)",
        )
    if flag != 0:
        raise GRPCError(Status.INVALID_ARGUMENT, f"bad message prefix: compressed-flag is {flag}, not 0 or 1")
    if length > limit:
        raise GRPCError(
            Status.RESOURCE_EXHAUSTED,
            f"message of {length} bytes is larger than grpc.max_message_bytes ({limit})",
        )
    try:
        body = await stream.recv_data(length) if length else b""
    except AssertionError:
        body = b""
    if len(body) != length:
        raise GRPCError(
            Status.INVALID_ARGUMENT,
            f"truncated message: the prefix announced {length} bytes but the stream ended before them",
        )
    return codec.decode(body, message_type)


def server_config(max_message_bytes: int) -> Any:
    """grpclib ``Configuration`` whose flow-control windows keep unread client data near the
    message limit: one stream window holds a whole message and its prefix (64 KiB to 4 MiB)."""
    from grpclib.config import Configuration

    stream_window = min(max(max_message_bytes + _PREFIX, _WINDOW_MIN), _WINDOW_MAX)
    return Configuration(http2_connection_window_size=_WINDOW_MAX, http2_stream_window_size=stream_window)


def install() -> bool:
    """Make grpclib's server read messages through ``recv_bounded``; False (and a warning) when
    this grpclib does not read them the way this module expects."""
    import grpclib.server

    current = getattr(grpclib.server, "recv_message", None)
    if current is recv_bounded:
        return True
    if current is not _grpclib_recv_message:
        log.warning(
            "this grpclib reads messages differently: grpc.max_message_bytes is checked after "
            "reading, and bad prefixes may answer UNKNOWN"
        )
        return False
    setattr(grpclib.server, "recv_message", recv_bounded)  # noqa: B010 (not exported, see above)
    return True
