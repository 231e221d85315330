"""Conformance on real documents: every operation of every document in ../shared/corpus/openapi/
gets schema-valid requests (our own serialiser, benchmarks/_conformance.py; strict: required
parameters only, every optional parameter too, and no optional body) and each must get a
documented status (a 2xx where one is documented), the documented content type and a body that
validates against the documented schema; a request with a required part left out must get the
documented 400/422/4XX/default error with a valid body (else our own shape). One server per
document; failures name each operation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "openapi"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _conformance as conformance  # noqa: E402

DOCS = conformance.documents(CORPUS)


@pytest.mark.skipif(not DOCS, reason=f"no OpenAPI corpus at {CORPUS}")
@pytest.mark.parametrize("doc", DOCS, ids=[conformance.doc_id(d, CORPUS) for d in DOCS] or None)
def test_every_operation_conforms(doc: Path) -> None:
    result = conformance.run_document(doc, seed=1, root=CORPUS, strict=True)
    assert result.error is None, f"{result.doc}: the server did not start: {result.error}"
    failures = result.failures()
    assert not failures, (
        f"{result.doc}: {len(failures)} of {result.total} operations do not conform:\n  " + "\n  ".join(failures)
    )
    refusals = [f"{r.key}: {r.reason}" for r in result.refusals if r.reason is not None]
    assert not refusals, f"{result.doc}: invalid requests not refused as documented:\n  " + "\n  ".join(refusals)


def test_corpus_is_present_and_large_enough() -> None:
    if not DOCS:
        pytest.skip(f"no OpenAPI corpus at {CORPUS}")
    assert len(DOCS) >= 50


# ---- the checker itself must catch wrong answers (otherwise 100% means nothing) -----------------

SPEC = """
openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "http://x/api/v1"}]
paths:
  /items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, minimum: 1}}
        - {name: tags, in: query, required: true, style: form, explode: false,
           schema: {type: array, minItems: 2, items: {type: string, enum: [a, b, c]}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [id, name]
                properties: {id: {type: integer}, name: {type: string, minLength: 1}}
        "404": {description: missing}
"""


def test_checker_rejects_wrong_status_type_and_body(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(SPEC)
    model = conformance.load_specs([spec])
    (op,) = model.operations
    checker = conformance.Checker(model)
    ok = httpx.Response(200, json={"id": 3, "name": "x"})
    assert checker.check(op, ok) is None
    reason = checker.check(op, httpx.Response(404))
    assert reason is not None and "expected a documented 2xx" in reason
    reason = checker.check(op, httpx.Response(200, text="hi", headers={"content-type": "text/plain"}))
    assert reason is not None and "content type 'text/plain'" in reason
    reason = checker.check(op, httpx.Response(200, json={"id": "3"}))
    assert reason is not None and "does not match its schema" in reason and "/id" in reason


def test_request_generator_serialises_by_style_and_the_server_accepts_it(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(SPEC)
    model = conformance.load_specs([spec])
    (op,) = model.operations
    req = conformance.RequestGenerator(model, seed=3).build(op)
    assert req.path.startswith("/items/") and int(req.path.rsplit("/", 1)[1]) >= 1
    name, _, value = req.query.partition("=")
    assert name == "tags" and len(value.split(",")) >= 2 and set(value.split(",")) <= {"a", "b", "c"}
    result = conformance.run_document(spec, seed=3)
    assert result.error is None and result.total == 1
    assert result.failures() == []


def test_generator_finds_a_value_matching_exactly_one_of_overlapping_alternatives() -> None:
    # Two object alternatives that accept each other's values: JSON Schema's oneOf (which ignores
    # the discriminator) needs a property that the other alternative rejects.
    from mockforge.schema.generate import DataGenerator

    defs = {
        "One": {"type": "object", "required": ["kind"],
                "properties": {"kind": {"type": "string"}, "one": {"type": "number"}}},
        "Two": {"type": "object", "required": ["kind"],
                "properties": {"kind": {"type": "string"}, "two": {"type": "string"}}},
    }
    schema = {"oneOf": [{"$ref": "#/$defs/One"}, {"$ref": "#/$defs/Two"}],
              "discriminator": {"propertyName": "kind", "mapping": {"a": "#/$defs/One", "b": "#/$defs/Two"}}}
    optional = {"type": "object", "properties": {"never": {"allOf": [{"type": "string"}, {"type": "integer"}]},
                                                 "name": {"type": "string"}}}
    validators = conformance.Validators(defs)
    for seed in range(20):
        gen = DataGenerator(defs, seed=seed, for_response=False)
        value = gen.generate(schema)
        assert validators.errors(schema, value) == [], value
        assert value["kind"] in ("a", "b")
        other = gen.generate(optional)
        assert isinstance(other, dict) and "never" not in other


def test_refusal_checker_wants_the_documented_error_or_our_shape(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(SPEC.replace('"404": {description: missing}', '''"400":
          description: bad
          content:
            application/json:
              schema: {type: object, required: [message], properties: {message: {type: string}}}'''))
    model = conformance.load_specs([spec])
    (op,) = model.operations
    checker = conformance.Checker(model)
    assert checker.check_refusal(op, httpx.Response(400, json={"message": "no"})) is None
    ours = {"error": {"code": "validation_failed", "message": "x"}}
    reason = checker.check_refusal(op, httpx.Response(400, json=ours))
    assert reason is not None and "does not match its schema" in reason
    reason = checker.check_refusal(op, httpx.Response(200, json={"id": 1, "name": "x"}))
    assert reason is not None and "expected a 4xx" in reason
    reason = checker.check_refusal(op, httpx.Response(422, json={"message": "no"}))
    assert reason is not None and "not documented" in reason
    # the request it builds leaves the required query parameter out
    built = conformance.RequestGenerator(model).build_invalid(op)
    assert built is not None and "tags" not in built[0].query and "'tags' left out" in built[1]
    # an operation documenting no error: our shape is the answer
    (plain,) = conformance.load_specs([_write(tmp_path, SPEC)]).operations
    assert checker.check_refusal(plain, httpx.Response(400, json=ours)) is None
    assert checker.check_refusal(plain, httpx.Response(400, json={"message": "no"})) is not None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plain.yaml"
    path.write_text(text)
    return path
