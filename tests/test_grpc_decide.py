"""grpc/decide.py: a gRPC unary call is decided by the core pipeline shape (stubs, then the
descriptor's generated reply)."""

from __future__ import annotations

import asyncio
from typing import Any

from mockforge.core.model import Headers, Request
from mockforge.grpc.decide import GENERATED, unary_pipeline


class Store:
    def __init__(self, stub: Any) -> None:
        self.stub = stub
        self.asked: list[tuple[str, Any, dict[str, str]]] = []

    def find(self, path: str, body: Any, metadata: dict[str, str]) -> Any:
        self.asked.append((path, body, metadata))
        return self.stub


def call() -> Request:
    return Request(protocol="grpc", method="pkg.Books/Get", path="/pkg.Books/Get",
                   headers=Headers([("x-tenant", "a")]), body=b'{"id": 7}')


def test_a_matching_stub_decides_with_the_message_and_metadata() -> None:
    store = Store(stub="stub-1")
    assert asyncio.run(unary_pipeline(store).answer(call())) == "stub-1"  # type: ignore[arg-type]
    assert store.asked == [("/pkg.Books/Get", {"id": 7}, {"x-tenant": "a"})]


def test_without_a_stub_the_descriptor_answers() -> None:
    assert asyncio.run(unary_pipeline(Store(stub=None)).answer(call())) is GENERATED  # type: ignore[arg-type]
