"""Runtime expressions (how a callback finds its URL) and how callbacks and webhooks are loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mockforge.core.hosts import AllowList
from mockforge.core.model import Headers, Request, Response
from mockforge.openapi.expressions import ExpressionError, evaluate, url_of
from mockforge.openapi.loader import load_specs

REQ = Request("http", "POST", "/subscribe", "sub=7&sub=8", Headers([("Host", "api.test:3000"), ("X-Cb", "http://h/x")]),
              b'{"callbackUrl": "http://127.0.0.1:9/cb", "n": {"deep": [1, {"a/b": 2}]}}', path_params={"id": "42"})
RESP = Response(201, [("location", "/subs/1")], b'{"id": 1}')


@pytest.mark.parametrize(("template", "expected"), [
    ("{$request.body#/callbackUrl}", "http://127.0.0.1:9/cb"),
    ("$request.body#/callbackUrl", "http://127.0.0.1:9/cb"),
    ("{$request.body#/callbackUrl}/done?sub={$request.query.sub}&id={$request.path.id}",
     "http://127.0.0.1:9/cb/done?sub=7&id=42"),
    ("{$request.header.x-cb}", "http://h/x"),
    ("http://127.0.0.1/{$method}/{$statusCode}/{$response.body#/id}", "http://127.0.0.1/POST/201/1"),
    ("{$request.body#/n/deep/1/a~1b}", "2"),
    ("{$response.header.Location}", "/subs/1"),
    ("{$url}", "http://api.test:3000/subscribe?sub=7&sub=8"),
    ("http://127.0.0.1/fixed", "http://127.0.0.1/fixed"),
])
def test_templates(template: str, expected: str) -> None:
    assert url_of(template, REQ, RESP) == expected


@pytest.mark.parametrize("expression", [
    "$request.body#/missing", "$request.query.nope", "$request.header.nope", "$request.path.nope",
    "$request.cookie.x", "$nonsense", "$request.body#no-slash",
])
def test_expressions_without_a_value_are_errors(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, REQ, RESP)


def test_a_body_that_is_not_json_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="not JSON"):
        evaluate("$request.body#/a", Request("http", "POST", "/", body=b"{nope"), RESP)


def test_allow_list_names_addresses_and_ranges() -> None:
    allow = AllowList(["localhost", "hooks.test", "10.1.0.0/16"])
    assert allow.host_allowed("LOCALHOST") and allow.host_allowed("hooks.test.") and allow.host_allowed("127.0.0.5")
    assert allow.host_allowed("10.1.2.3") and allow.host_allowed("[::1]")
    assert not allow.host_allowed("10.2.0.1") and not allow.host_allowed("evil.test")
    import ipaddress

    assert allow.address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"))  # IPv4-mapped loopback
    assert not allow.address_allowed(ipaddress.ip_address("169.254.169.254"))
    assert not AllowList(["hooks.test"]).host_allowed("127.0.0.1")


def test_callbacks_and_webhooks_are_loaded(tmp_path: Path) -> None:
    body = {"content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"example": {"a": 1}}}}
    callbacks = {
        "ok": {"{$request.body#/url}": {"put": {"requestBody": body}}},
        "shared": {"$ref": "#/components/callbacks/Shared"},
        "broken": {"$ref": "#/components/callbacks/Gone"},
    }
    operation = {"responses": {"200": {"description": "ok"}}, "callbacks": callbacks}
    doc = {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/s": {"post": operation}},
        "webhooks": {"ping": {"post": {}}, "shared": {"$ref": "#/components/pathItems/Hook"}},
        "components": {
            "callbacks": {"Shared": {"http://127.0.0.1/fixed": {"post": {}}}},
            "pathItems": {"Hook": {"patch": {"requestBody": {"content": {"application/json": {"schema": {}}}}}}},
        },
    }
    spec = tmp_path / "cb.yaml"
    spec.write_text(yaml.safe_dump(doc))
    model = load_specs([str(spec)])
    (op,) = model.operations
    assert [(c.name, c.expression, c.method) for c in op.callbacks] == [
        ("ok", "{$request.body#/url}", "PUT"), ("shared", "http://127.0.0.1/fixed", "POST")]
    assert op.callbacks[0].body is not None and op.callbacks[0].body.content_type == "application/json"
    assert op.callbacks[1].body is None
    assert model.errors == []  # a broken callback leaves the operation in, with a warning
    (warning,) = model.warnings
    assert "/paths/~1s/post/callbacks/broken" in warning and "callback broken left out" in warning
    assert {name: [s.method for s in specs] for name, specs in model.webhooks.items()} == {
        "ping": ["POST"], "shared": ["PATCH"]}


def test_a_document_with_only_webhooks_is_not_warned_as_empty(tmp_path: Path) -> None:
    spec = tmp_path / "hooks.yaml"
    spec.write_text(yaml.safe_dump({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                                    "webhooks": {"ping": {"post": {}}}}))
    model = load_specs([str(spec)])
    assert model.warnings == [] and list(model.webhooks) == ["ping"]
