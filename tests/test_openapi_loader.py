from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from mockforge.errors import SpecError
from mockforge.openapi import resolver
from mockforge.openapi.loader import base_path_of, combined_document, load_specs
from mockforge.openapi.model import MISSING, ApiModel, Operation

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "openapi"
OAS = CORPUS / "oas-examples"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
CORPUS_FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml")) if CORPUS.is_dir() else []
)
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def op_of(model: ApiModel, key: str) -> Operation:
    found = [op for op in model.operations if op.key == key]
    assert found, f"{key} not in {[op.key for op in model.operations]}"
    return found[0]


def count_operations(doc: dict[str, Any]) -> int:
    """Independent count: method keys under paths, following local path-item $refs."""
    total = 0
    for item in (doc.get("paths") or {}).values():
        while "$ref" in item:
            node: Any = doc
            for token in item["$ref"][2:].split("/"):
                node = node[token.replace("~1", "/").replace("~0", "~")]
            item = node
        total += sum(1 for key in item if key in METHODS)
    return total


def response_schemas(model: ApiModel) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for op in model.operations:
        for status, response in op.responses.items():
            for ct, media in response.content.items():
                if isinstance(media.schema, dict):
                    out.append((f"{op.key} {status} {ct}", media.schema))
    return out


# --------------------------------------------------------------------------- the corpus


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_document_loads_every_operation(path: Path) -> None:
    model = load_specs([str(path)])
    raw = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    assert len(model.operations) == count_operations(raw)
    assert model.warnings == []
    assert model.spec_files == [str(path)]
    assert str(path) in model.files
    json.dumps(model.defs)  # finite: recursion stays as $ref
    for op in model.operations:
        assert op.file and op.pointer.startswith("/paths/")
        assert op.base_paths, op.key


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_response_schemas_compile(path: Path) -> None:
    """Every response schema (and every def) compiles with jsonschema_rs against the defs.

    One validator holds all of them (compiling the defs once per schema would take seconds on the
    large documents); on failure each schema is compiled alone so the message names the culprits."""
    model = load_specs([str(path)])
    schemas = response_schemas(model) + [(f"def {name}", {"$ref": f"#/$defs/{name}"}) for name in model.defs]
    extra = {f"__check{i}": schema for i, (_, schema) in enumerate(schemas)}
    combined = {"$defs": {**model.defs, **extra}, "anyOf": [{"$ref": f"#/$defs/{k}"} for k in extra]}
    try:
        jsonschema_rs.validator_for(combined)
    except Exception:
        failed = []
        for label, schema in schemas:
            try:
                jsonschema_rs.validator_for({"$defs": model.defs, **schema})
            except Exception as exc:
                failed.append(f"{label}: {exc}")
        assert failed == []


@needs_corpus
def test_corpus_large_documents_counted() -> None:
    do = load_specs([str(CORPUS / "large" / "digitalocean.com.json")])
    sq = load_specs([str(CORPUS / "large" / "squareup.com.json")])
    assert (len(do.operations), len(sq.operations)) == (290, 200)
    assert do.operations[0].base_paths == [""]
    assert len(sq.defs) > 700


# --------------------------------------------------------------------------- swagger 2.0


@needs_corpus
def test_swagger2_petstore_normalised() -> None:
    model = load_specs([str(OAS / "2.0" / "json" / "petstore.json")])
    add = op_of(model, "POST /pet")
    assert add.base_paths == ["/v2"]
    assert add.request_body is not None and add.request_body.required
    assert {ct: m.schema for ct, m in add.request_body.content.items()} == {
        "application/json": {"$ref": "#/$defs/Pet"},
        "application/xml": {"$ref": "#/$defs/Pet"},
    }
    find = op_of(model, "GET /pet/findByStatus")
    ok = find.responses["200"]
    assert list(ok.content) == ["application/xml", "application/json"]  # the operation's produces
    assert ok.content["application/json"].schema == {"type": "array", "items": {"$ref": "#/$defs/Pet"}}
    status = find.parameters[0]
    assert (status.name, status.location, status.style, status.explode) == ("status", "query", "form", True)
    assert status.schema is not None and status.schema["items"]["enum"] == ["available", "pending", "sold"]
    form = op_of(model, "POST /pet/{petId}").request_body
    assert form is not None and list(form.content) == ["application/x-www-form-urlencoded"]
    form_schema = form.content["application/x-www-form-urlencoded"].schema
    assert form_schema is not None and set(form_schema["properties"]) == {"name", "status"}
    upload = op_of(model, "POST /pet/{petId}/uploadImage").request_body
    assert upload is not None and list(upload.content) == ["multipart/form-data"]
    upload_schema = upload.content["multipart/form-data"].schema
    assert upload_schema is not None
    assert upload_schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert op_of(model, "GET /pet/{petId}").api_key_headers == ["api_key"]
    assert op_of(model, "PUT /pet").api_key_headers == []
    assert model.api_key_headers == {"api_key"}
    assert model.defs["Pet"]["required"] == ["name", "photoUrls"]
    assert op_of(model, "GET /pet/{petId}").parameters[0].required


def test_swagger2_collection_formats_and_nullable(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "s.yaml",
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/things/{ids}": {
                    "get": {
                        "produces": ["text/csv"],
                        "parameters": [
                            {"name": "ids", "in": "path", "type": "array", "items": {"type": "integer"}},
                            {
                                "name": "tags",
                                "in": "query",
                                "type": "array",
                                "items": {"type": "string"},
                                "collectionFormat": "pipes",
                            },
                            {
                                "name": "q",
                                "in": "query",
                                "type": "string",
                                "x-nullable": True,
                                "maxLength": 3,
                            },
                            {
                                "name": "X-Ids",
                                "in": "header",
                                "type": "array",
                                "items": {"type": "string"},
                                "collectionFormat": "ssv",
                            },
                        ],
                        "responses": {
                            200: {
                                "description": "ok",
                                "schema": {"type": "string"},
                                "examples": {"text/csv": "a,b", "application/json": ["a"]},
                                "headers": {"X-Rate": {"type": "integer", "minimum": 0}},
                            }
                        },
                    }
                }
            },
        },
    )
    op = load_specs([str(spec)]).operations[0]
    styles = {p.name: (p.location, p.style, p.explode, p.required) for p in op.parameters}
    assert styles == {
        "ids": ("path", "simple", False, True),
        "tags": ("query", "pipeDelimited", False, False),
        "q": ("query", "form", True, False),
        "X-Ids": ("header", "simple", False, False),
    }
    q = next(p for p in op.parameters if p.name == "q")
    assert q.schema == {"type": ["string", "null"], "maxLength": 3}
    ok = op.responses["200"]
    assert ok.content["text/csv"].example == "a,b"
    assert ok.content["application/json"].example == ["a"]
    assert ok.headers["X-Rate"].schema == {"type": "integer", "minimum": 0}
    assert op.base_paths == [""]


# --------------------------------------------------------------------------- 3.x features


@needs_corpus
def test_circular_schemas_stay_references() -> None:
    for version in ("2.0", "3.0"):
        model = load_specs([str(OAS / version / "json" / "schema-circular.json")])
        text = json.dumps(model.defs)
        assert '"$ref": "#/$defs/' in text
    model = load_specs([str(OAS / "3.0" / "json" / "schema-circular.json")])
    multipart = model.defs["MultiPart"]
    assert multipart["properties"]["parent"] == {"$ref": "#/$defs/MultiPart"}
    validator = jsonschema_rs.validator_for({"$defs": model.defs, "$ref": "#/$defs/MultiPart"})
    assert validator.is_valid({"parent": {"parent": {"parent": {}}}})
    assert not validator.is_valid({"parent": {"parent": {"parent": 3}}})


@needs_corpus
def test_discriminator_mapping_rewritten_to_defs() -> None:
    model = load_specs([str(OAS / "3.0" / "json" / "discriminators.json")])
    mapping = model.defs["BaseVehicle"]["discriminator"]["mapping"]
    assert mapping["electricity"] == "#/$defs/ElectricVehicle"
    assert all(v.removeprefix("#/$defs/") in model.defs for v in mapping.values())


@needs_corpus
def test_servers_give_base_paths() -> None:
    model = load_specs([str(OAS / "3.0" / "json" / "server-path-level.json")])
    assert op_of(model, "GET /relative-path-server").base_paths == ["/v2"]
    assert op_of(model, "GET /relative-operation-server").base_paths == ["/v3"]
    assert op_of(model, "GET /operation-server-variables").base_paths == ["/v3"]
    model = load_specs([str(OAS / "3.0" / "json" / "server-variables.json")])
    assert op_of(model, "POST /global").base_paths == ["/v2", "/v1"]


def test_base_path_of() -> None:
    assert base_path_of("https://api.example.com/v1/") == "/v1"
    assert base_path_of("https://api.example.com") == ""
    assert base_path_of("/") == ""
    assert base_path_of("v2") == "/v2"


@needs_corpus
def test_api_key_headers_follow_security() -> None:
    model = load_specs([str(OAS / "3.0" / "json" / "security.json")])
    assert op_of(model, "PUT /anything/apiKey").api_key_headers == ["x-api-key"]
    assert op_of(model, "GET /anything/apiKey").api_key_headers == []  # in: query
    assert "x-api-key" in model.api_key_headers


def test_openapi30_parameters_and_schema_dialect(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "api.yaml",
        """
openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://x.io/api/"}]
security: [{key: []}]
paths:
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: limit, in: query, schema: {type: integer}}
      - {name: trace, in: header, schema: {type: string}}
    get:
      operationId: getItem
      tags: [items]
      x-mockforge-plugin: demo
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 10, exclusiveMaximum: true}}
        - {name: filter, in: query, content: {application/json: {schema: {type: object}}}}
        - {name: sid, in: cookie, schema: {type: string}, examples: {one: {value: abc}}}
      responses:
        200:
          description: ok
          headers:
            X-Next: {schema: {type: string, nullable: true}, example: "n"}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Item"}
              examples: {first: {$ref: "#/components/examples/First"}, ext: {externalValue: "x.json"}}
        2xx: {description: other}
        default: {$ref: "#/components/responses/Error"}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
  examples:
    First: {value: {name: one, created: 2024-01-01, flag: yes}}
  responses:
    Error:
      description: err
      content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}
  schemas:
    Item:
      type: object
      required: [name]
      properties:
        name: {type: string, nullable: true, enum: [a, b]}
        parent: {allOf: [{$ref: "#/components/schemas/Item"}], nullable: true, title: up, description: long}
        count: {type: integer, minimum: 1, exclusiveMinimum: true, readOnly: true}
        bad: {type: String, required: true, maxLength: "3"}
    Error: {type: object, properties: {message: {type: string}}, example: {message: boom}}
""",
    )
    model = load_specs([str(spec)])
    op = model.operations[0]
    assert (op.operation_id, op.tags, op.extensions) == ("getItem", ["items"], {"x-mockforge-plugin": "demo"})
    assert op.base_paths == ["/api"]
    assert op.api_key_headers == ["x-key"]
    params = {p.name: p for p in op.parameters}
    assert list(params) == ["id", "limit", "trace", "filter", "sid"]
    assert params["limit"].schema == {"type": "integer", "exclusiveMaximum": 10}  # the operation's wins
    assert (params["id"].style, params["id"].explode, params["id"].required) == ("simple", False, True)
    assert (params["trace"].style, params["trace"].explode) == ("simple", False)
    assert (params["sid"].style, params["sid"].explode, params["sid"].example) == ("form", True, "abc")
    assert (params["filter"].content_type, params["filter"].schema) == (
        "application/json",
        {"type": "object"},
    )
    assert params["id"].example is MISSING
    assert set(op.responses) == {"200", "2XX", "default"}
    ok = op.responses["200"].content["application/json"]
    assert ok.schema == {"$ref": "#/$defs/Item"}
    assert ok.examples == {"first": {"name": "one", "created": "2024-01-01", "flag": "yes"}}
    assert op.responses["200"].headers["X-Next"].schema == {"type": ["string", "null"]}
    assert op.responses["200"].headers["X-Next"].example == "n"
    assert op.responses["default"].content["application/json"].schema == {"$ref": "#/$defs/Error"}
    props = model.defs["Item"]["properties"]
    assert props["name"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert props["parent"] == {
        "title": "up",
        "anyOf": [{"allOf": [{"$ref": "#/$defs/Item"}]}, {"type": "null"}],
    }
    assert props["count"] == {"type": "integer", "exclusiveMinimum": 1, "readOnly": True}
    assert props["bad"] == {"type": "string"}
    assert model.defs["Error"]["example"] == {"message": "boom"}
    validator = jsonschema_rs.validator_for({"$defs": model.defs, "$ref": "#/$defs/Item"})
    assert validator.is_valid({"name": None, "parent": None, "count": 2})
    assert not validator.is_valid({"name": "c"})


def test_openapi31_keeps_ref_siblings_and_type_arrays(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "a.json",
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "t", "version": "1"},
                "paths": {
                    "/a": {
                        "post": {
                            "requestBody": {
                                "required": True,
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/A", "title": "the A"}
                                    }
                                },
                            },
                            "responses": {"204": {"description": "none"}},
                        }
                    }
                },
                "components": {
                    "schemas": {"A": {"type": ["string", "null"], "$id": "https://x/a", "examples": ["x"]}}
                },
            }
        ),
    )
    model = load_specs([str(spec)])
    body = model.operations[0].request_body
    assert body is not None and body.required
    assert body.content["application/json"].schema == {"$ref": "#/$defs/A", "title": "the A"}
    assert model.defs["A"] == {"type": ["string", "null"], "examples": ["x"]}
    assert model.operations[0].responses["204"].content == {}


# --------------------------------------------------------------------------- files and refs


def test_relative_file_refs_resolve_from_the_referencing_file(tmp_path: Path) -> None:
    write(
        tmp_path / "api" / "openapi.yaml",
        {
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/pets": {
                    "get": {
                        "parameters": [{"$ref": "./params.yaml#/limit"}],
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {
                                        "schema": {"type": "array", "items": {"$ref": "./schemas/pet.yaml"}}
                                    }
                                },
                            }
                        },
                    }
                },
                "/owners": {"$ref": "paths/owners.yaml"},
            },
            "components": {"schemas": {"Owner": {"type": "string"}}},
        },
    )
    write(
        tmp_path / "api" / "params.yaml",
        {"limit": {"name": "limit", "in": "query", "schema": {"$ref": "./schemas/common.yaml#/Limit"}}},
    )
    write(
        tmp_path / "api" / "schemas" / "pet.yaml",
        {
            "type": "object",
            "properties": {"owner": {"$ref": "./common.yaml#/Owner"}, "name": {"type": "string"}},
        },
    )
    write(
        tmp_path / "api" / "schemas" / "common.yaml",
        {
            "Owner": {
                "type": "object",
                "properties": {"pets": {"type": "array", "items": {"$ref": "pet.yaml"}}},
            },
            "Limit": {"type": "integer", "maximum": 50},
        },
    )
    write(
        tmp_path / "api" / "paths" / "owners.yaml",
        {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "../schemas/common.yaml#/Owner"}}
                        },
                    }
                }
            }
        },
    )
    model = load_specs([str(tmp_path / "api" / "openapi.yaml")])
    assert model.warnings == []
    assert model.files == {
        str(tmp_path / "api" / name)
        for name in (
            "openapi.yaml",
            "params.yaml",
            "schemas/pet.yaml",
            "schemas/common.yaml",
            "paths/owners.yaml",
        )
    }
    assert model.spec_files == [str(tmp_path / "api" / "openapi.yaml")]
    pets = op_of(model, "GET /pets")
    assert pets.responses["200"].content["application/json"].schema == {
        "type": "array",
        "items": {"$ref": "#/$defs/pet"},
    }
    assert pets.parameters[0].schema == {"$ref": "#/$defs/Limit"}
    # the top-level component keeps "Owner"; the external one gets a name of its own
    assert model.defs["Owner"] == {"type": "string"}
    external_owner = model.defs["pet"]["properties"]["owner"]["$ref"].removeprefix("#/$defs/")
    assert external_owner != "Owner" and model.defs[external_owner]["type"] == "object"
    assert model.defs[external_owner]["properties"]["pets"]["items"] == {"$ref": "#/$defs/pet"}
    owners = op_of(model, "GET /owners")
    assert owners.file == str(tmp_path / "api" / "paths" / "owners.yaml")
    assert owners.responses["200"].content["application/json"].schema == {"$ref": f"#/$defs/{external_owner}"}
    validator = jsonschema_rs.validator_for({"$defs": model.defs, "$ref": "#/$defs/pet"})
    assert validator.is_valid({"owner": {"pets": [{"name": "a"}]}})
    assert not validator.is_valid({"owner": {"pets": [{"name": 1}]}})


def test_several_files_merge_and_same_names_stay_apart(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a.yaml",
        {
            "openapi": "3.0.0",
            "info": {"title": "a", "version": "1"},
            "paths": {
                "/a": {
                    "get": {
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                                },
                            }
                        }
                    }
                }
            },
            "components": {"schemas": {"Thing": {"type": "string"}}},
        },
    )
    b = write(
        tmp_path / "b.yaml",
        {
            "swagger": "2.0",
            "info": {"title": "b", "version": "1"},
            "basePath": "/b",
            "paths": {
                "/b": {
                    "get": {
                        "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"}}}
                    }
                }
            },
            "definitions": {"Thing": {"type": "integer"}},
        },
    )
    model = load_specs([str(a), str(b)])
    assert [op.key for op in model.operations] == ["GET /a", "GET /b"]
    assert model.defs["Thing"] == {"type": "string"}
    assert model.defs["b_Thing"] == {"type": "integer"}
    assert op_of(model, "GET /b").responses["200"].content["application/json"].schema == {
        "$ref": "#/$defs/b_Thing"
    }
    combined = combined_document(model)
    assert set(combined["paths"]) == {"/a", "/b"}
    assert combined["openapi"] == "3.0.0"
    assert combined_document(load_specs([str(a)]))["paths"] == {
        "/a": yaml.safe_load(a.read_text())["paths"]["/a"]
    }


def test_same_route_in_two_files_names_both(tmp_path: Path) -> None:
    operation = {"get": {"responses": {"200": {"description": "ok"}}}}
    doc: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {"title": "a", "version": "1"},
        "paths": {"/pets/{id}": operation},
    }
    a = write(tmp_path / "a.yaml", doc)
    doc["paths"] = {"/pets/{petId}": operation}
    b = write(tmp_path / "b.yaml", doc)
    with pytest.raises(SpecError) as info:
        load_specs([str(a), str(b)])
    message = str(info.value)
    assert "a.yaml" in message and "b.yaml" in message and "GET /pets/{petId}" in message
    assert "\n" not in message


def test_yaml_cache_is_keyed_by_content_and_kept_apart(tmp_path: Path) -> None:
    paths = {f"/r{i}": {"get": {"responses": {"200": {"description": "ok " * 20}}}} for i in range(300)}
    spec = write(
        tmp_path / "spec" / "big.yaml",
        {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": paths},
    )
    data = spec.read_bytes()
    assert len(data) >= resolver.YAML_CACHE_MIN_BYTES
    cache = tmp_path / "cache"
    first = load_specs([str(spec)], cache_dir=str(cache))
    digest = hashlib.sha256(resolver._CACHE_SALT + data).hexdigest()
    assert [p.name for p in cache.iterdir()] == [f"{digest}.msgpack"]
    assert os.listdir(spec.parent) == ["big.yaml"]
    second = load_specs([str(spec)], cache_dir=str(cache))
    assert [op.key for op in second.operations] == [op.key for op in first.operations]
    (cache / f"{digest}.msgpack").write_bytes(b"\xc1 corrupt")
    assert len(load_specs([str(spec)], cache_dir=str(cache)).operations) == 300


def test_combined_document_reads_the_file_again(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "a.json", json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}})
    )
    model = load_specs([str(spec)])
    assert model.operations == []
    spec.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "changed", "version": "1"}}))
    assert combined_document(model)["info"]["title"] == "changed"


# --------------------------------------------------------------------------- errors

MINIMAL = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}}


def spec_error(tmp_path: Path, name: str, content: Any) -> SpecError:
    path = tmp_path / name
    if content is not None:
        write(path, content)
    with pytest.raises(SpecError) as info:
        load_specs([str(path)])
    err = info.value
    assert "\n" not in str(err)
    assert err.file is not None and name in err.file and name in str(err)
    return err


@pytest.mark.parametrize(
    ("name", "content", "where", "words"),
    [
        ("missing.yaml", None, None, "file not found"),
        ("bad.yaml", "openapi: 3.0.0\npaths: [unclosed\n", "line 3", "not valid YAML"),
        ("bad.json", '{"openapi": "3.0.0",', "line 1", "not valid JSON"),
        ("list.yaml", "- a\n- b\n", "/", "not an OpenAPI document"),
        ("text.yaml", "just words\n", "/", "not an OpenAPI document"),
        ("old.json", json.dumps({"swaggerVersion": "1.2", "apis": []}), "/swaggerVersion", "1.2"),
        ("future.yaml", {"openapi": "4.0.0", "paths": {}}, "/openapi", "unsupported OpenAPI version '4.0.0'"),
        ("sw3.yaml", {"swagger": "3.0", "paths": {}}, "/swagger", "unsupported Swagger version"),
        (
            "ref.yaml",
            {**MINIMAL, "paths": {"/a": {"$ref": "#/components/pathItems/nope"}}},
            "/paths/~1a/$ref",
            "does not resolve",
        ),
        ("paths.yaml", {**MINIMAL, "paths": ["/a"]}, "/paths", "not a mapping"),
        (
            "def.yaml",
            {
                **MINIMAL,
                "components": {
                    "schemas": {
                        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/Missing"}}}
                    }
                },
            },
            "/components/schemas/A/properties/b",
            "'#/components/schemas/Missing' does not resolve",
        ),
        (
            "ext.yaml",
            {**MINIMAL, "components": {"schemas": {"A": {"$ref": "other.yaml#/A"}}}},
            "/components/schemas/A",
            "file not found",
        ),
    ],
)
def test_spec_errors_are_one_line_with_file_and_place(
    tmp_path: Path, name: str, content: Any, where: str | None, words: str
) -> None:
    err = spec_error(tmp_path, name, content)
    assert words in str(err)
    if where is None:
        assert err.where is None
    else:
        assert err.where is not None and err.where.startswith(where)


def test_broken_operation_is_skipped_with_one_warning(tmp_path: Path) -> None:
    ok = {"responses": {"200": {"description": "ok"}}}
    spec = write(
        tmp_path / "api.yaml",
        {
            **MINIMAL,
            "paths": {
                "/good": {"get": ok},
                "/bad-ref": {
                    "get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}},
                    "post": ok,
                },
                "/bad-schema": {
                    "get": {
                        "responses": {
                            "200": {
                                "description": "x",
                                "content": {"application/json": {"schema": {"$ref": "missing.yaml#/X"}}},
                            }
                        }
                    }
                },
                "/bad-param": {"get": {**ok, "parameters": [{"name": "q", "schema": {"type": "string"}}]}},
                "/remote": {"get": {**ok, "parameters": [{"$ref": "https://example.com/p.yaml#/q"}]}},
            },
        },
    )
    model = load_specs([str(spec)])
    assert [op.key for op in model.operations] == ["GET /good", "POST /bad-ref"]
    assert len(model.warnings) == 4
    for warning, pointer, words in zip(
        model.warnings,
        [
            "/paths/~1bad-ref/get",
            "/paths/~1bad-schema/get",
            "/paths/~1bad-param/get",
            "/paths/~1remote/get",
        ],
        ["does not resolve", "file not found", "has 'in: None'", "remote $ref"],
        strict=True,
    ):
        assert warning.startswith(f"{resolver.shown(str(spec))} at {pointer}: ")
        assert words in warning and "skipped" in warning and "\n" not in warning


def test_yaml_keeps_dates_and_yes_as_strings(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "a.yaml",
        """
openapi: 3.0.0
info: {title: t, version: 1.0}
paths:
  /a:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: string, enum: [yes, no, on]}
              example: 2024-01-01
""",
    )
    media = load_specs([str(spec)]).operations[0].responses["200"].content["application/json"]
    assert media.example == "2024-01-01"
    assert media.schema == {"type": "string", "enum": ["yes", "no", "on"]}


def test_schema_values_jsonschema_rs_would_reject_are_left_out(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "a.yaml",
        {
            **MINIMAL,
            "components": {
                "schemas": {
                    "A": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string", "pattern": "^(?<x$", "examples": {"one": "a1"}},
                            "ok": {"type": "string", "pattern": "^[a-z]+$", "title": 3, "readOnly": "yes"},
                        },
                        "patternProperties": {"^x-": {"type": "string"}, "(": {"type": "integer"}},
                    }
                }
            },
        },
    )
    model = load_specs([str(spec)])
    props = model.defs["A"]["properties"]
    assert props["code"] == {"type": "string", "examples": ["a1"]}
    assert props["ok"] == {"type": "string", "pattern": "^[a-z]+$"}
    assert list(model.defs["A"]["patternProperties"]) == ["^x-"]
    left_out = [w for w in model.warnings if "no operations" not in w]  # MINIMAL has no paths
    assert len(left_out) == 2 and all("a.yaml: " in w and "left out" in w for w in left_out)
    jsonschema_rs.validator_for({"$defs": model.defs, "$ref": "#/$defs/A"})
