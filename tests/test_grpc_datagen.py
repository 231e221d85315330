"""Generated default answers cover every field kind, stay within the depth bound and repeat by seed."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any

import pytest

from mockforge.grpc.datagen import MessageGenerator, seeded_rng

PROTO = """
syntax = "proto3";
package kinds;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }

message Node { string label = 1; Node child = 2; repeated Node kids = 3; }

message All {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 x32 = 9; fixed64 x64 = 10; sfixed32 sx32 = 11;
  sfixed64 sx64 = 12; bool flag = 13; string text = 14; bytes raw = 15;
  Color color = 16;
  repeated string tags = 17;
  map<string, int32> counts = 18;
  map<string, Node> nodes = 19;
  oneof choice { string as_text = 20; int32 as_number = 21; Node as_node = 22; }
  optional string maybe = 23;
  google.protobuf.Timestamp at = 24;
  google.protobuf.Duration took = 25;
  google.protobuf.Struct meta = 26;
  google.protobuf.Value value = 27;
  google.protobuf.Any any = 28;
  google.protobuf.StringValue wrapped = 29;
  google.protobuf.Empty nothing = 30;
  google.protobuf.FieldMask mask = 31;
  Node tree = 32;
  string owner_email = 33;
}
"""


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from google.protobuf import message_factory

    from mockforge.grpc.compiler import run_protoc, well_known_dir
    from mockforge.grpc.service import build_pool

    root = tmp_path_factory.mktemp("protos")
    (root / "kinds.proto").write_text(PROTO)
    include = [str(root), str(well_known_dir())]
    pool, _ = build_pool(asyncio.run(run_protoc(["kinds.proto"], include)))
    return pool, message_factory.GetMessageClass(pool.FindMessageTypeByName("kinds.All"))


def depth(node: Any) -> int:
    below = [depth(node.child)] if node.HasField("child") else []
    below += [depth(k) for k in node.kids]
    return 1 + max(below, default=0)


def test_every_field_kind_gets_a_sensible_value(kinds: tuple[Any, Any]) -> None:
    from google.protobuf import json_format

    pool, cls = kinds
    msg = MessageGenerator(random.Random(1), max_depth=3, pool=pool).fill(cls())
    for name in ("d", "f", "i32", "i64", "u32", "u64", "s32", "s64", "x32", "x64", "sx32", "sx64"):
        assert getattr(msg, name) > 0, name
    assert msg.text.endswith(".") and " " in msg.text and msg.raw == b"mock-raw"  # a sentence for "text"
    assert re.fullmatch(r"[a-z.]+@example\.(com|org|net)", msg.owner_email)
    assert msg.color in (1, 2)
    assert 1 <= len(msg.tags) <= 2 and len(msg.counts) == 1 and len(msg.nodes) == 1
    assert msg.WhichOneof("choice") in ("as_text", "as_number", "as_node")
    assert msg.HasField("maybe")
    assert msg.at.seconds >= 1_704_067_200 and msg.took.seconds > 0
    assert set(msg.meta.fields) == {"key", "count"} and msg.value.WhichOneof("kind") == "string_value"
    assert msg.any.type_url.endswith("google.protobuf.Duration")
    assert msg.wrapped.value and list(msg.mask.paths) == ["name"] and msg.HasField("nothing")
    assert depth(msg.tree) <= 3  # the recursive Node stops at the bound
    as_json = json_format.MessageToDict(msg, descriptor_pool=pool)
    assert as_json["at"].startswith("202") and as_json["took"].endswith("s")


def test_the_same_seed_gives_the_same_message(kinds: tuple[Any, Any]) -> None:
    pool, cls = kinds

    def make(seed: int | None) -> bytes:
        gen = MessageGenerator(seeded_rng(seed, "/kinds.S/M", 0), pool=pool)
        data: bytes = gen.fill(cls()).SerializeToString(deterministic=True)
        return data

    assert make(3) == make(3)
    assert make(3) != make(4)


def test_a_stub_message_is_checked_against_the_descriptor(kinds: tuple[Any, Any]) -> None:
    from mockforge.errors import StubError
    from mockforge.grpc.stubs import check_message

    _, cls = kinds
    desc = cls.DESCRIPTOR
    check_message({"color": "RED", "tags": ["a"], "counts": {"a": 1}, "at": "2024-01-01T00:00:00Z",
                   "took": "1.5s", "i64": "12", "text": "{{request.body.x}}", "as_node": {"label": "x"},
                   "meta": {"any": ["thing"]}, "wrapped": "w", "asNumber": 3}, desc, "m")
    for bad, where in [
        ({"color": "BLUE"}, "m.color"),
        ({"tags": "a"}, "m.tags"),
        ({"counts": {"a": "x"}}, "m.counts.a"),
        ({"at": "yesterday"}, "m.at"),
        ({"tree": {"kids": [{"labl": 1}]}}, "m.tree.kids[0].labl"),
        ({"u32": -1}, "m.u32"),
    ]:
        with pytest.raises(StubError) as err:
            check_message(bad, desc, "m")
        assert err.value.where == where


def test_compile_cache_key_changes_with_content(tmp_path: Path) -> None:
    from mockforge.config import build_config
    from mockforge.grpc.compiler import cache_key

    (tmp_path / "a.proto").write_text('syntax = "proto3";\n')
    cfg = build_config({"grpc": {"proto_dir": str(tmp_path)}}, env={}).grpc
    first = cache_key(cfg)
    (tmp_path / "a.proto").write_text('syntax = "proto3";\npackage a;\n')
    assert cache_key(cfg) != first
