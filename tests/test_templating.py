from __future__ import annotations

import random
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mockforge.core import templating
from mockforge.core.model import Headers, Request
from mockforge.core.templating import (
    FAKERS,
    TemplateContext,
    compile_template,
    compile_value,
    has_tokens,
    register_function,
    unregister_function,
)

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
BODY = b'{"count": 3, "ok": true, "price": 1.5, "owner": {"name": "Ada", "tags": ["a", {"k": "deep"}]}}'
FIXED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_request() -> Request:
    return Request(
        "http",
        "POST",
        "/pets/7",
        raw_query="name=Rex&name=Max&empty=",
        headers=Headers([("X-Trace-Id", "abc-123"), ("Content-Type", "application/json")]),
        body=BODY,
        path_params={"fromRoute": "r1"},
    )


@pytest.fixture
def ctx() -> TemplateContext:
    return TemplateContext(make_request(), {"id": "7"}, rng=random.Random(42), clock=lambda: FIXED)


def render(text: str, ctx: TemplateContext) -> str:
    return compile_template(text).render(ctx)


# --------------------------------------------------------------------------- built-in tokens


def test_uuid_is_v4_and_fresh_per_render(ctx: TemplateContext) -> None:
    tpl = compile_template("{{uuid}}")
    first, second = tpl.render(ctx), tpl.render(ctx)
    assert UUID_RE.fullmatch(first) and UUID_RE.fullmatch(second) and first != second
    assert UUID_RE.fullmatch(tpl.render(TemplateContext(None, {})))


def test_uuid_is_repeatable_with_a_seeded_rng() -> None:
    tpl = compile_template("{{uuid}}")
    a = tpl.render(TemplateContext(None, {}, rng=random.Random(1)))
    b = tpl.render(TemplateContext(None, {}, rng=random.Random(1)))
    assert a == b


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("now", "2024-05-01T12:00:00Z"),
        ("now+1d", "2024-05-02T12:00:00Z"),
        ("now-2h", "2024-05-01T10:00:00Z"),
        ("now+30m", "2024-05-01T12:30:00Z"),
        ("now+10s", "2024-05-01T12:00:10Z"),
        ("now-1w", "2024-04-24T12:00:00Z"),
        (" now + 1d ", "2024-05-02T12:00:00Z"),
    ],
)
def test_now_and_offsets(ctx: TemplateContext, token: str, expected: str) -> None:
    assert render("{{" + token + "}}", ctx) == expected


def test_now_without_clock_is_current_utc() -> None:
    text = render("{{now}}", TemplateContext(None, {}))
    stamp = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 5


def test_rand_int_covers_its_inclusive_range_and_is_native(ctx: TemplateContext) -> None:
    tpl = compile_template("{{randInt 1 3}}")
    seen = {tpl.render_value(ctx) for _ in range(200)}
    assert seen == {1, 2, 3}
    assert compile_template("n={{randInt 5 5}}").render(ctx) == "n=5"


def test_rand_float(ctx: TemplateContext) -> None:
    values = [compile_template("{{randFloat 0 1}}").render_value(ctx) for _ in range(50)]
    assert all(isinstance(v, float) and 0 <= v <= 1 for v in values)


def test_request_fields(ctx: TemplateContext) -> None:
    assert render("{{request.method}} {{request.path}}", ctx) == "POST /pets/7"
    assert render("{{request.path.id}}/{{request.path.fromRoute}}", ctx) == "7/r1"
    assert render("{{request.query.name}}|{{request.query.empty}}|{{request.query.nope}}", ctx) == "Rex||"
    assert render("{{request.headers.x-trace-id}} {{request.headers.X-TRACE-ID}}", ctx) == "abc-123 abc-123"
    assert render("{{request.body.owner.name}} {{request.body.owner.tags.1.k}}", ctx) == "Ada deep"
    assert render("[{{request.body.owner.tags.9}}{{request.body.nope.x}}]", ctx) == "[]"
    assert render("{{request.body}}", ctx) == make_request().text()


def test_request_tokens_without_a_request_render_empty() -> None:
    assert (
        render("<{{request.method}}{{request.body.a}}{{request.query.q}}>", TemplateContext(None, {})) == "<>"
    )


def test_values_in_text_are_json_spelled(ctx: TemplateContext) -> None:
    text = render(
        "{{request.body.ok}} {{request.body.count}} {{request.body.price}} {{request.body.owner}}", ctx
    )
    assert text == 'true 3 1.5 {"name":"Ada","tags":["a",{"k":"deep"}]}'


@pytest.mark.parametrize("name", sorted(FAKERS))
def test_every_faker_gives_plausible_text(name: str, ctx: TemplateContext) -> None:
    value = render("{{faker." + name + "}}", ctx)
    assert value and "{{" not in value
    checks: dict[str, Any] = {
        "email": re.compile(r"[a-z]+\.[a-z]+\d+@example\.(com|org|net)"),
        "phone": re.compile(r"\+1-555-\d{3}-\d{4}"),
        "url": re.compile(r"https://[a-z]+\.example\.(com|org|net)/"),
        "uuid": UUID_RE,
        "name": re.compile(r"[A-Z][a-z]+ [A-Z][a-z]+"),
        "sentence": re.compile(r"[A-Z][a-z]+( [a-z]+){4,9}\."),
        "address": re.compile(r"\d+ [A-Z][a-z]+ [A-Z][a-z]+, [A-Z][a-z]+"),
        "word": re.compile(r"[a-z]+"),
    }
    if name in checks:
        assert checks[name].fullmatch(value), value
    assert set(FAKERS) >= {
        "name", "email", "phone", "company", "address", "city", "country", "url", "word", "sentence",
        "first_name", "last_name", "uuid",
    }  # fmt: skip


def test_fakers_are_repeatable_with_a_seed() -> None:
    tpl = compile_template("{{faker.name}} <{{faker.email}}> {{faker.company}}")
    one = tpl.render(TemplateContext(None, {}, rng=random.Random(7)))
    two = tpl.render(TemplateContext(None, {}, rng=random.Random(7)))
    assert one == two


def test_whitespace_inside_braces(ctx: TemplateContext) -> None:
    assert render("{{ request.path.id }}-{{  request.method}}", ctx) == "7-POST"
    assert UUID_RE.fullmatch(render("{{ uuid }}", ctx))


@pytest.mark.parametrize(
    "text",
    [
        "{{nope}}",
        "{{ nope }}",
        "a {{request.nope}} b",
        "{{request.path.a.b}}",
        "{{faker.unicorn}}",
        "{{randInt a b}}",
        "{{randInt 1}}",
        "{{now+1y}}",
        "{{uuid extra}}",
        '{{plugin.x.y "unbalanced}}',
        "{{}}",
        "{{ }}",
        "{{a..b}}",
        "{{#each items}}",
        "{{ plugin.none.here 1 2 }}",
    ],
)
def test_unknown_tokens_stay_as_written(text: str, ctx: TemplateContext) -> None:
    assert render(text, ctx) == text
    assert compile_value(text).render(ctx) == text


def test_unknown_tokens_next_to_known_ones(ctx: TemplateContext) -> None:
    assert render("{{x}}{{request.path.id}}{{ y }}", ctx) == "{{x}}7{{ y }}"


def test_has_tokens() -> None:
    assert has_tokens("a {{uuid}} b")
    assert has_tokens("{{ anything }}")
    assert not has_tokens("plain")
    assert not has_tokens("{{ open only")
    assert not has_tokens("}} {")


# --------------------------------------------------------------------------- extra and plugins


def test_extra_values_for_websocket_messages(ctx: TemplateContext) -> None:
    ws = TemplateContext(None, {}, extra={"message": {"a": {"b": 2}, "list": [10, 20]}})
    assert render("{{message.a.b}} {{message.list.1}}", ws) == "2 20"
    assert compile_template("{{message.a}}").render_value(ws) == {"b": 2}
    assert render("{{message}}", TemplateContext(None, {}, extra={"message": "hello"})) == "hello"
    as_text = TemplateContext(None, {}, extra={"message": '{"a": {"b": "x"}}'})
    assert render("{{message.a.b}}", as_text) == "x"
    assert render("{{message}}", ctx) == "{{message}}"


@pytest.fixture
def plugin_fn() -> Iterator[list[list[str]]]:
    calls: list[list[str]] = []

    def greet(args: list[str]) -> Any:
        calls.append(args)
        return f"hello {' & '.join(args)}"

    register_function("plugin.p1.greet", greet)
    register_function("plugin.p1.count", lambda args: len(args))
    yield calls
    unregister_function("plugin.p1.greet")
    unregister_function("plugin.p1.count")


def test_registered_plugin_function_gets_shell_split_args(
    plugin_fn: list[list[str]], ctx: TemplateContext
) -> None:
    assert render('{{plugin.p1.greet bob "big world"}}', ctx) == "hello bob & big world"
    assert plugin_fn == [["bob", "big world"]]
    assert compile_template("{{plugin.p1.count a 'b c' d}}").render_value(ctx) == 3


def test_function_registered_after_compiling_is_used(ctx: TemplateContext) -> None:
    tpl = compile_template("{{plugin.late.fn x}}")
    assert tpl.render(ctx) == "{{plugin.late.fn x}}"
    register_function("plugin.late.fn", lambda args: args[0].upper())
    try:
        assert tpl.render(ctx) == "X"
    finally:
        unregister_function("plugin.late.fn")
    assert tpl.render(ctx) == "{{plugin.late.fn x}}"


# --------------------------------------------------------------------------- compiled values


def test_static_values_render_to_the_same_object(ctx: TemplateContext) -> None:
    value = {"a": [1, {"b": "no tokens"}], "c": "{{ not closed"}
    compiled = compile_value(value)
    assert compiled.is_static and compiled.render(ctx) is value
    # unknown at compile time (not an ``extra`` name or function looked up later)
    assert compile_value("{{request.nope}} {{faker.nope}}").is_static
    assert not compile_value("{{nope}}").is_static


def test_whole_token_leaves_keep_native_types(ctx: TemplateContext) -> None:
    compiled = compile_value(
        {
            "count": "{{request.body.count}}",
            "ok": "{{request.body.ok}}",
            "price": "{{request.body.price}}",
            "owner": "{{request.body.owner}}",
            "id": "{{request.path.id}}",
            "label": "n={{request.body.count}}",
            "missing": "{{request.body.none}}",
            "keep": 5,
            "list": ["{{request.body.count}}", "x", None],
            "{{request.path.id}}": "key",
        }
    )
    assert not compiled.is_static
    assert compiled.render(ctx) == {
        "count": 3,
        "ok": True,
        "price": 1.5,
        "owner": {"name": "Ada", "tags": ["a", {"k": "deep"}]},
        "id": "7",
        "label": "n=3",
        "missing": "",
        "keep": 5,
        "list": [3, "x", None],
        "7": "key",
    }


def test_rendered_values_are_fresh_each_time(ctx: TemplateContext) -> None:
    compiled = compile_value({"id": "{{uuid}}"})
    first, second = compiled.render(ctx), compiled.render(ctx)
    assert first["id"] != second["id"]


def test_rendering_never_parses(monkeypatch: pytest.MonkeyPatch, ctx: TemplateContext) -> None:
    tpl = compile_template("{{request.method}} {{uuid}} {{nope}} {{now+1d}} {{faker.city}}")
    value = compile_value({"a": ["{{request.body.count}}", "x {{request.path.id}}"]})

    def boom(*_: Any) -> Any:
        raise AssertionError("parsed during render")

    monkeypatch.setattr(templating, "_parse", boom)
    monkeypatch.setattr(templating, "_compile_token", boom)
    monkeypatch.setattr(shlex, "split", boom)
    text = tpl.render(ctx)
    assert text.startswith("POST ") and "{{nope}} 2024-05-02T12:00:00Z" in text
    assert value.render(ctx) == {"a": [3, "x 7"]}
