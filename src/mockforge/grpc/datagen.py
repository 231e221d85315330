"""Default answers: a protobuf message filled from its descriptor, repeatable with a seed.

Why hand-written: no library fills a runtime descriptor with plausible values (the JSON Schema
walker in ``schema/generate.py`` works on schemas, not descriptors), and walking the descriptor directly
avoids a JSON round trip per message.

    msg = MessageGenerator(random.Random(7), max_depth=4).fill(Book())
    # every scalar set, enums a defined non-zero value, one oneof branch, 1-2 repeated items,
    # one map entry, Timestamp/Duration/Struct/Value/Any/FieldMask/wrappers with sensible values

Recursion stops at ``max_depth``: deeper message fields stay unset (their default instance).
Strings read like the domain, from the field name and its message (``schema/formats.py`` and
``schema/domain.py``, shared with the OpenAPI generator): ``Book.title`` is a title, ``Pet.name``
a pet's name, ``User.email`` an address; a name with no hint gets a few words.
"""

from __future__ import annotations

import random
from typing import Any

from mockforge.schema.formats import join_hint, string_hint, words

#: 2024-01-01T00:00:00Z: generated timestamps fall in the year after it.
_BASE_EPOCH = 1_704_067_200
_YEAR_S = 365 * 86_400

_INT_TYPES = {"int32", "int64", "sint32", "sint64", "sfixed32", "sfixed64"}
_UINT_TYPES = {"uint32", "uint64", "fixed32", "fixed64"}


def _type_names() -> dict[int, str]:
    from google.protobuf.descriptor import FieldDescriptor as F

    return {
        F.TYPE_DOUBLE: "double", F.TYPE_FLOAT: "float", F.TYPE_INT64: "int64", F.TYPE_UINT64: "uint64",
        F.TYPE_INT32: "int32", F.TYPE_FIXED64: "fixed64", F.TYPE_FIXED32: "fixed32", F.TYPE_BOOL: "bool",
        F.TYPE_STRING: "string", F.TYPE_GROUP: "group", F.TYPE_MESSAGE: "message", F.TYPE_BYTES: "bytes",
        F.TYPE_UINT32: "uint32", F.TYPE_ENUM: "enum", F.TYPE_SFIXED32: "sfixed32",
        F.TYPE_SFIXED64: "sfixed64", F.TYPE_SINT32: "sint32", F.TYPE_SINT64: "sint64",
    }


def is_map_entry(message_descriptor: Any) -> bool:
    return bool(message_descriptor.GetOptions().map_entry)


def is_synthetic_oneof(oneof: Any) -> bool:
    """The hidden oneof protoc makes for a proto3 ``optional`` field (``_name`` around ``name``)."""
    fields = oneof.fields
    return len(fields) == 1 and oneof.name == "_" + fields[0].name


class MessageGenerator:
    """Fills messages in place; one instance per answer keeps values repeatable for a seed."""

    def __init__(self, rng: random.Random, *, max_depth: int = 4, pool: Any = None) -> None:
        self.rng = rng
        self.max_depth = max_depth
        self.pool = pool
        self._types = _type_names()

    def fill(self, message: Any, depth: int = 0) -> Any:
        desc = message.DESCRIPTOR
        special = _WELL_KNOWN.get(desc.full_name)
        if special is not None:
            special(self, message)
            return message
        chosen: dict[int, Any] = {}
        for oneof in desc.oneofs:
            if not is_synthetic_oneof(oneof) and oneof.fields:
                chosen[oneof.index] = self.rng.choice(list(oneof.fields))
        for field in desc.fields:
            oneof = field.containing_oneof
            if oneof is not None and oneof.index in chosen and chosen[oneof.index] is not field:
                continue
            self._set_field(message, field, depth)
        return message

    # ---- fields -------------------------------------------------------------------
    def _set_field(self, message: Any, field: Any, depth: int) -> None:
        kind = self._types[field.type]
        is_message = kind in ("message", "group")
        if is_message and depth + 1 > self.max_depth:
            return
        if field.is_repeated:
            if is_message and is_map_entry(field.message_type):
                self._set_map(message, field, depth)
                return
            target = getattr(message, field.name)
            for _ in range(self.rng.randint(1, 2)):
                if is_message:
                    self.fill(target.add(), depth + 1)
                else:
                    target.append(self.scalar(field, kind))
            return
        if is_message:
            sub = getattr(message, field.name)
            sub.SetInParent()  # present even when nothing inside is set (Empty)
            self.fill(sub, depth + 1)
            return
        setattr(message, field.name, self.scalar(field, kind))

    def _set_map(self, message: Any, field: Any, depth: int) -> None:
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        key = self.scalar(key_field, self._types[key_field.type])
        target = getattr(message, field.name)
        value_kind = self._types[value_field.type]
        if value_kind == "message":
            self.fill(target[key], depth + 1)
        else:
            target[key] = self.scalar(value_field, value_kind)

    def scalar(self, field: Any, kind: str) -> Any:
        rng = self.rng
        name: str = field.name
        if kind == "string":
            containing = field.containing_type
            return self.text(name, containing.name if containing is not None else None)
        if kind in _INT_TYPES or kind in _UINT_TYPES:
            return rng.randint(1, 1000)
        if kind == "double":
            return round(rng.uniform(1, 1000), 2)
        if kind == "float":
            return float(rng.randint(1, 400)) / 4
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "bytes":
            return f"mock-{name}".encode()
        if kind == "enum":
            values = list(field.enum_type.values)
            nonzero = [v for v in values if v.number != 0]
            return rng.choice(nonzero or values).number
        raise ValueError(f"unsupported field type {kind} for {field.full_name}")

    def text(self, name: str, context: str | None = None) -> str:
        """A string for field ``name`` of message ``context`` (``Book``, ``title``)."""
        make = string_hint(join_hint(context, name))
        if make is not None:
            return make(self.rng)
        return words(self.rng, 6, 24)

    # ---- well-known types --------------------------------------------------------
    def _timestamp(self, msg: Any) -> None:
        msg.seconds = _BASE_EPOCH + self.rng.randint(0, _YEAR_S)
        msg.nanos = 0

    def _duration(self, msg: Any) -> None:
        msg.seconds = self.rng.randint(1, 3600)
        msg.nanos = 0

    def _struct(self, msg: Any) -> None:
        msg.fields["key"].string_value = self.text("value")
        msg.fields["count"].number_value = self.rng.randint(1, 100)

    def _value(self, msg: Any) -> None:
        msg.string_value = self.text("value")

    def _list_value(self, msg: Any) -> None:
        msg.values.add().string_value = self.text("item")

    def _field_mask(self, msg: Any) -> None:
        msg.paths.append("name")

    def _any(self, msg: Any) -> None:
        """Packs a Duration when the pool knows it (so the Any prints as JSON), else stays empty."""
        if self.pool is None:
            return
        try:
            inner_desc = self.pool.FindMessageTypeByName("google.protobuf.Duration")
        except KeyError:
            return
        from google.protobuf import message_factory

        inner = message_factory.GetMessageClass(inner_desc)()
        self._duration(inner)
        msg.type_url = "type.googleapis.com/google.protobuf.Duration"
        msg.value = inner.SerializeToString()

    def _empty(self, msg: Any) -> None:
        return None


_WELL_KNOWN: dict[str, Any] = {
    "google.protobuf.Timestamp": MessageGenerator._timestamp,
    "google.protobuf.Duration": MessageGenerator._duration,
    "google.protobuf.Struct": MessageGenerator._struct,
    "google.protobuf.Value": MessageGenerator._value,
    "google.protobuf.ListValue": MessageGenerator._list_value,
    "google.protobuf.FieldMask": MessageGenerator._field_mask,
    "google.protobuf.Any": MessageGenerator._any,
    "google.protobuf.Empty": MessageGenerator._empty,
}


def seeded_rng(seed: int | None, *parts: object) -> random.Random:
    """A generator for one answer: fixed by ``seed`` and ``parts`` (method, index), else random."""
    if seed is None:
        return random.Random()
    return random.Random(":".join([str(seed), *map(str, parts)]))
