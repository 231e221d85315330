"""gRPC over TLS with grpcio: ALPN h2, reflection and health over the secure channel, mTLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "examples" / "protos"


def _creds(mock: MockServer, cert: str | None = None, key: str | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=Path(mock.ca_path).read_bytes(),
        private_key=Path(key).read_bytes() if key else None,
        certificate_chain=Path(cert).read_bytes() if cert else None,
    )


async def test_grpcio_over_tls_with_reflection_and_health() -> None:
    from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
    from grpclib.reflection.v1alpha import reflection_pb2 as v1alpha

    async with MockServer(protos=PROTOS, tls=True) as mock:
        port = mock.ports["grpc"]
        # ALPN: h2 offered by the gRPC listener
        _, w = await asyncio.open_connection("127.0.0.1", port, ssl=mock.ssl_context(alpn=["h2", "http/1.1"]),
                                             server_hostname="localhost")
        assert w.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        w.close()
        async with grpc.aio.secure_channel(f"localhost:{port}", _creds(mock)) as ch:
            call = ch.stream_stream(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                request_serializer=v1alpha.ServerReflectionRequest.SerializeToString,
                response_deserializer=v1alpha.ServerReflectionResponse.FromString,
            )(iter([v1alpha.ServerReflectionRequest(list_services="")]))
            replies = [r async for r in call]
            names = {s.name for s in replies[0].list_services_response.service}
            assert "mockforge.MockService" in names
            health = await ch.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=HealthCheckRequest.SerializeToString,
                response_deserializer=HealthCheckResponse.FromString,
            )(HealthCheckRequest(service=""), timeout=30)
            assert health.status == HealthCheckResponse.SERVING


async def test_grpc_mtls_refuses_a_client_without_a_certificate(tmp_path: Path) -> None:
    from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

    from mockforge.tls.ca import LocalCA

    cache = tmp_path / "cache"
    ca = LocalCA.open(cache)
    cfg = {"core": {"cache_dir": str(cache)}, "grpc": {"tls": {"auto": True, "client_ca": str(ca.cert_path)}}}
    async with MockServer(config=cfg, protos=PROTOS) as mock:
        assert not mock.config.http.tls.enabled  # TLS on gRPC only
        cert, key = mock.issue_client_cert("svc", tmp_path)
        check = HealthCheckRequest(service="")
        target = f"localhost:{mock.ports['grpc']}"
        async with grpc.aio.secure_channel(target, _creds(mock, cert, key)) as ch:
            reply = await ch.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=HealthCheckRequest.SerializeToString,
                                         response_deserializer=HealthCheckResponse.FromString)(check, timeout=30)
            assert reply.status == HealthCheckResponse.SERVING
        async with grpc.aio.secure_channel(target, _creds(mock)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await ch.unary_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=HealthCheckRequest.SerializeToString,
                                     response_deserializer=HealthCheckResponse.FromString)(check, timeout=30)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        # the server still serves after the refused handshake
        async with grpc.aio.secure_channel(target, _creds(mock, cert, key)) as ch:
            reply = await ch.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=HealthCheckRequest.SerializeToString,
                                         response_deserializer=HealthCheckResponse.FromString)(check, timeout=30)
            assert reply.status == HealthCheckResponse.SERVING


async def test_stop_ends_handshakes_in_flight_and_closes_every_accepted_socket() -> None:
    """A client that connected to the TLS gRPC port but never finished (or started) its handshake
    holds no socket past the stop: the server ends the handshake, and every socket it accepted is
    closed before ``stop`` returns (a socket left closing when the loop ends is reported unclosed
    later, in whatever test runs next)."""
    async with MockServer(protos=PROTOS, tls=True) as mock:
        capped = mock.server.services.grpc._server  # type: ignore[union-attr]
        port = mock.ports["grpc"]
        stalled = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        _, gone_w = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(capped._accepted) < 4:  # accepted, each waiting for its ClientHello
            assert loop.time() < deadline, "the server did not accept the connections"
            await asyncio.sleep(0.01)
        gone_w.transport.abort()  # a client that went away just before the stop
        await mock.server.services.grpc.stop()  # type: ignore[union-attr]
        assert capped._server._active_count == 0  # every accepted socket is closed
        assert all(conn.fileno() == -1 for conn in list(capped._accepted))
        for reader, writer in stalled:
            assert await reader.read() == b""  # the server's end closed: EOF, not a hang
            writer.close()
            await writer.wait_closed()
