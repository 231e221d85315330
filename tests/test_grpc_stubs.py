"""gRPC stubs are core stubs: the gRPC format translates into ``Stub`` + ``RequestPattern``."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pb2

from mockforge.core.matching import JsonPathCheck, RequestPattern
from mockforge.core.stub_model import Stub
from mockforge.errors import StubError
from mockforge.grpc.stubs import GrpcResponse, MethodInfo, StubStore, parse_stub

PATH = "/pkg.Files/Get"


def methods() -> dict[str, MethodInfo]:
    msg = descriptor_pb2.FileDescriptorProto
    return {PATH: MethodInfo("pkg.Files", "Get", msg, msg, False, False)}


def stub(**extra: Any) -> dict[str, Any]:
    return {"service": "pkg.Files", "method": "Get", "response": {"message": {"name": "x"}}, **extra}


def test_a_grpc_stub_is_a_core_stub_with_a_core_request_pattern() -> None:
    s = parse_stub(stub(id="a", request={"fields": {"name": "f.proto"}, "metadata": {"X-Tenant": "acme"}}),
                   methods())
    assert isinstance(s, Stub) and isinstance(s.response, GrpcResponse)
    assert isinstance(s.request, RequestPattern)
    assert s.request.path is not None and s.request.path.exact == PATH
    assert [name for name, _ in s.request.headers] == ["x-tenant"]
    assert s.request.body is not None and isinstance(s.request.body.checks[0], JsonPathCheck)
    assert s.spec["id"] == "a" and s.priority == 5


def test_fields_and_metadata_match_through_the_shared_operators() -> None:
    store = StubStore()
    store.add(parse_stub(stub(id="tenant", request={"fields": {"$.name": {"contains": ".proto"}},
                                                    "metadata": {"x-tenant": {"matches": "^ac"}}}), methods()))
    assert store.find(PATH, {"name": "a.proto"}, {"x-tenant": "acme"}) is not None
    assert store.find(PATH, {"name": "a.proto"}, {"x-tenant": "other"}) is None
    assert store.find(PATH, {"name": "a.txt"}, {"x-tenant": "acme"}) is None
    assert store.find(PATH, {"name": "a.proto"}, {}) is None
    assert store.find("/pkg.Files/Other", {"name": "a.proto"}, {"x-tenant": "acme"}) is None


def test_a_field_matcher_sees_the_first_value_found_as_proto_json_text() -> None:
    store = StubStore()
    store.add(parse_stub(stub(id="first", request={"fields": {"$.dependency[*]": "a"}}), methods()))
    assert store.find(PATH, {"dependency": ["a", "b"]}, {}) is not None
    assert store.find(PATH, {"dependency": ["b", "a"]}, {}) is None  # HTTP json_path would match any
    store.add(parse_stub(stub(id="flag", priority=1, request={"fields": {"options.deprecated": "true"}}),
                         methods()))
    found = store.find(PATH, {"options": {"deprecated": True}}, {})
    assert found is not None and found.id == "flag"
    store.add(parse_stub(stub(id="absent", priority=0, request={"fields": {"$.syntax": {"absent": True}}}),
                         methods()))
    found = store.find(PATH, {"name": "n"}, {})
    assert found is not None and found.id == "absent"


def test_lower_priority_wins_then_the_earlier_stub_and_readding_replaces() -> None:
    store = StubStore()
    store.add_all([parse_stub(stub(id="one"), methods()), parse_stub(stub(id="two"), methods())])
    found = store.find(PATH, {}, {})
    assert found is not None and found.id == "one"
    store.add(parse_stub(stub(id="three", priority=1), methods()))
    found = store.find(PATH, {}, {})
    assert found is not None and found.id == "three"
    assert [s.id for s in store.all()] == ["three", "one", "two"]
    assert store.remove("three") and not store.remove("three")
    assert [s.index for s in store.all()] == [1, 2]


@pytest.mark.parametrize(
    ("request_spec", "where", "reason"),
    [
        ({"fields": {"$.[": "x"}}, "stub.request.fields.$.[", "bad JSONPath"),
        ({"fields": {"name": {"matches": "(a)\\1"}}}, "stub.request.fields.name.matches", ""),
        ({"metadata": {"k": {"nope": 1}}}, "stub.request.metadata.k", "unknown matcher key"),
        ({"fields": ["name"]}, "stub.request.fields", "expected a mapping"),
    ],
)
def test_bad_request_matchers_name_the_field(request_spec: dict[str, Any], where: str, reason: str) -> None:
    with pytest.raises(StubError) as err:
        parse_stub(stub(request=request_spec), methods())
    assert err.value.where == where
    assert reason in err.value.message


def test_the_response_definition_keeps_metadata_trailers_and_delay() -> None:
    s = parse_stub(stub(metadata={"X-Stub": "t"}, trailers={"x-t": "{{request.body.name}}"}, delay_ms=5,
                        response={"error": {"code": "NOT_FOUND", "message": "gone"}}), methods())
    assert s.response.error_code == 5 and s.response.delay_ms == 5
    assert list(s.response.headers) == ["x-stub"] and list(s.response.trailers) == ["x-t"]
