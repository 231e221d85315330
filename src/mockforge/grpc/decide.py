"""What decides a gRPC unary (and client-streaming) answer: the same pipeline shape as HTTP
(``core/pipeline.py``), with gRPC's steps: stubs, then the descriptor's generated reply.

    pipeline = unary_pipeline(svc.stubs)
    decided = await pipeline.answer(request)    # a GrpcStub, or GENERATED (the descriptor answers)

The answer is which stub replies, not a ``Response``: a gRPC reply is messages plus trailers,
written by ``service._Call._answer`` once decided. Bidirectional streams decide per message
(``service._Call._bidi``) and stay outside it. No fault or plugin tail applies to gRPC (a stub's
own ``delay_ms`` is applied when it replies). Cost per call: one coroutine per step.
"""

from __future__ import annotations

from mockforge.core.model import Request
from mockforge.core.pipeline import Pipeline
from mockforge.grpc.stubs import GrpcStub, StubStore

__all__ = ["GENERATED", "Generated", "unary_pipeline"]


class Generated:
    """The descriptor answers: replies generated from the output message type."""

    __slots__ = ()


GENERATED = Generated()


class StubStep:
    """The first step: the first stub whose matchers all hold for the request and its metadata."""

    __slots__ = ("stubs",)

    def __init__(self, stubs: StubStore) -> None:
        self.stubs = stubs

    async def answer(self, request: Request) -> GrpcStub | None:
        return self.stubs.find(request.path, request.json(), request.headers.to_dict())


class DescriptorStep:
    """The final step: nothing matched, the descriptor answers."""

    __slots__ = ()

    async def answer(self, request: Request) -> GrpcStub | Generated:
        return GENERATED


def unary_pipeline(stubs: StubStore) -> Pipeline[GrpcStub | Generated]:
    return Pipeline((StubStep(stubs),), DescriptorStep())
