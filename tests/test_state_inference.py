"""Resource inference (state/inference.py) and ``mockforge state plan``: collection + item path,
the id field rules in order, envelopes, nested scoping, overrides, and specs with none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from mockforge.cli import main
from mockforge.openapi.loader import load_specs
from mockforge.state.inference import infer, singular


def _spec(tmp_path: Path, paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> Path:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas or {}},
    }
    p = tmp_path / "api.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _json(schema: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _crud(item_schema: Any, list_schema: Any, param: str = "id") -> dict[str, Any]:
    return {
        "get": {"responses": {"200": {"description": "ok", **_json(list_schema)}}},
        "post": {"requestBody": _json(item_schema), "responses": {"201": {"description": "ok", **_json(item_schema)}}},
    }, {
        "parameters": [{"name": param, "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"responses": {"200": {"description": "ok", **_json(item_schema)}}},
        "delete": {"responses": {"204": {"description": "gone"}}},
    }


def test_petstore_example_infers_pets_with_its_reasons() -> None:
    plan = infer(load_specs(["examples/petstore.yaml"]))
    [pets] = plan.resources
    assert (pets.collection, pets.item, pets.id_field, pets.id_kind, pets.list_property) == (
        "/pets",
        "/pets/{id}",
        "id",
        "integer",
        None,
    )
    assert any("path parameter's name" in r for r in pets.reasons)
    assert "/pets/{id}/owner" in plan.skipped


def test_id_field_rules_in_order(tmp_path: Path) -> None:
    cases = [
        ({"petId": {"type": "integer"}, "id": {"type": "string"}}, "petId", "petId", "integer"),
        ({"id": {"type": "string", "format": "uuid"}}, "petId", "id", "uuid"),
        ({"pet_id": {"type": "string"}}, "key", "pet_id", "string"),
        ({"ref": {"type": "string", "format": "uuid"}, "name": {"type": "string"}}, "key", "ref", "uuid"),
    ]
    ip_param = {"name": "ip_key", "in": "path", "required": True, "schema": {"type": "string", "format": "ipv4"}}
    props_ip = {"ip": {"type": "string", "format": "ipv4"}, "name": {"type": "string"}}
    item_ip = {"type": "object", "properties": props_ip}
    coll, one = _crud(item_ip, {"type": "array", "items": item_ip}, "ip_key")
    one["parameters"] = [ip_param]
    [res] = infer(load_specs([_spec(tmp_path, {"/ips": coll, "/ips/{ip_key}": one})])).resources
    assert (res.id_field, res.id_kind) == ("ip", "string")  # rule 4: the path parameter's format
    for props, param, field, kind in cases:
        item = {"type": "object", "required": list(props), "properties": props}
        coll, one = _crud(item, {"type": "array", "items": item}, param)
        plan = infer(load_specs([_spec(tmp_path, {"/pets": coll, f"/pets/{{{param}}}": one})]))
        [res] = plan.resources
        assert (res.id_field, res.id_kind) == (field, kind), props


def test_envelope_and_nested_scoping(tmp_path: Path) -> None:
    order = {"type": "object", "properties": {"id": {"type": "integer"}, "total": {"type": "number"}}}
    env = {
        "type": "object",
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
            "total": {"type": "integer"},
        },
    }
    coll, one = _crud({"$ref": "#/components/schemas/Order"}, env, "orderId")
    plan = infer(
        load_specs(
            [
                _spec(
                    tmp_path,
                    {"/users/{userId}/orders": coll, "/users/{userId}/orders/{orderId}": one},
                    {"Order": order},
                )
            ]
        )
    )
    [res] = plan.resources
    assert res.name == "orders" and res.parents == ("userId",) and res.list_property == "data" and res.id_field == "id"
    assert "scoped by userId" in plan.lines()[0]


def test_overrides_win_and_unknown_override_is_reported(tmp_path: Path) -> None:
    item = {"type": "object", "properties": {"id": {"type": "integer"}, "code": {"type": "string"}}}
    coll, one = _crud(item, {"type": "array", "items": item})
    model = load_specs([_spec(tmp_path, {"/pets": coll, "/pets/{id}": one})])
    plan = infer(model, [{"collection": "/pets", "id_field": "code", "id_kind": "string"}, {"collection": "/nope"}])
    assert (plan.resources[0].id_field, plan.resources[0].id_kind) == ("code", "string")
    assert "no such collection" in plan.skipped["/nope"]


def test_wrapped_items_and_the_wrapper_override(tmp_path: Path) -> None:
    pet = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    wrapped = {"type": "object", "properties": {"pet": {"$ref": "#/components/schemas/Pet"}}}
    coll, one = _crud(wrapped, {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}})
    model = load_specs([_spec(tmp_path, {"/pets": coll, "/pets/{key}": one}, {"Pet": pet})])
    [res] = infer(model).resources
    assert (res.wrapper, res.id_field, res.id_kind) == ("pet", "id", "integer")
    assert any("wraps the item in 'pet'" in r for r in res.reasons)
    [kept] = infer(model, [{"collection": "/pets", "wrapper": None}]).resources
    assert kept.wrapper is None and kept.id_field == "id" and kept.id_kind == "string"  # from the path


def test_an_object_with_its_own_id_is_not_a_wrapper(tmp_path: Path) -> None:
    owner = {"type": "object", "properties": {"n": {"type": "string"}}}
    item = {"type": "object", "properties": {"id": {"type": "integer"}, "owner": owner}}
    coll, one = _crud(item, {"type": "array", "items": item})
    [res] = infer(load_specs([_spec(tmp_path, {"/pets": coll, "/pets/{id}": one})])).resources
    assert res.wrapper is None and res.id_field == "id"


def test_spec_without_resources(tmp_path: Path) -> None:
    plan = infer(load_specs([_spec(tmp_path, {"/health": {"get": {"responses": {"200": {"description": "ok"}}}}})]))
    assert plan.resources == [] and "no item path" in plan.skipped["/health"]


def test_singular() -> None:
    assert [singular(w) for w in ("pets", "categories", "boxes", "status", "address")] == [
        "pet",
        "category",
        "box",
        "status",
        "address",
    ]


def test_state_plan_command() -> None:
    result = CliRunner().invoke(main, ["state", "plan", "examples/petstore.yaml"])
    assert result.exit_code == 0, result.output
    assert "resource pets: /pets + /pets/{id}, id id (integer), list bare array" in result.output
    assert result.output.rstrip().endswith("1 resource(s)")
    bad = CliRunner().invoke(main, ["state", "plan", "does-not-exist.yaml"])
    assert bad.exit_code == 2


def test_yaml_on_and_off_are_state_modes(tmp_path: Path) -> None:
    from mockforge.config import load_config

    cfg = tmp_path / "m.yaml"
    cfg.write_text("http:\n  state: {mode: on}\n")
    assert load_config(str(cfg), env={}).http.state.mode == "on"
    cfg.write_text("http:\n  state: {mode: off}\n")
    assert load_config(str(cfg), env={}).http.state.mode == "off"
