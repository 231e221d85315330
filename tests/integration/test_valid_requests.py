"""Valid requests in every form the issue lists are served, never refused with our own 400.

One small document per form, served over a real socket, one real httpx request per case. Each
test also sends a request that is really invalid, so a validator that accepts everything fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockforge.testing.server import MockServer

OK = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}


def doc(paths: dict[str, Any], *, version: str = "3.0.3", schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths}
    if schemas:
        out["components"] = {"schemas": schemas}
    return out


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[MockServer] = []

    def start(document: dict[str, Any]) -> str:
        spec = tmp_path / f"spec{len(servers)}.json"
        spec.write_text(json.dumps(document))
        server = MockServer(spec=spec, seed=1).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def refused(r: httpx.Response) -> bool:
    return r.status_code == 400 and r.json().get("error", {}).get("code") == "validation_failed"


def assert_served(r: httpx.Response) -> None:
    assert r.status_code == 200, (r.status_code, r.text)


def test_header_parameters_in_simple_style_with_arrays_and_objects(serve: Any) -> None:
    obj = {"type": "object", "properties": {"role": {"type": "string"}, "n": {"type": "integer"}}}
    params = [
        {"name": "X-Ids", "in": "header", "schema": {"type": "array", "items": {"type": "integer"}}},
        {"name": "X-Obj", "in": "header", "schema": obj},
        {"name": "X-Exploded", "in": "header", "explode": True, "schema": obj},
    ]
    url = serve(doc({"/h": {"get": {"parameters": params, "responses": OK}}}))
    assert_served(httpx.get(url + "/h", headers={"X-Ids": "3, 4,5"}))
    assert_served(httpx.get(url + "/h", headers=[("X-Ids", "3"), ("X-Ids", "4")]))
    assert_served(httpx.get(url + "/h", headers={"X-Obj": "role,admin,n,5"}))
    assert_served(httpx.get(url + "/h", headers={"X-Exploded": "role=admin,n=5"}))
    assert_served(httpx.get(url + "/h", headers={"X-Ids": ""}))  # an empty list
    r = httpx.get(url + "/h", headers={"X-Ids": "3,x"})
    assert refused(r) and r.json()["error"]["details"][0]["location"] == "header.x-ids.1"


def test_deep_object_and_form_exploded_object_query(serve: Any) -> None:
    filt = {"type": "object", "properties": {"color": {"type": "string"}, "size": {"type": "integer"},
                                              "range": {"type": "object",
                                                        "properties": {"min": {"type": "number"}}}}}
    page = {"type": "object", "properties": {"limit": {"type": "integer"}, "cursor": {"type": "string"}}}
    params = [
        {"name": "filter", "in": "query", "style": "deepObject", "explode": True, "schema": filt},
        {"name": "page", "in": "query", "style": "form", "explode": True, "schema": page},
        {"name": "q", "in": "query", "schema": {"type": "string"}},
    ]
    url = serve(doc({"/s": {"get": {"parameters": params, "responses": OK}}}))
    assert_served(httpx.get(url + "/s?filter[color]=red&filter[size]=3&filter[range][min]=1.5"))
    assert_served(httpx.get(url + "/s?limit=10&cursor=abc&q=x"))
    assert_served(httpx.get(url + "/s?filter%5Bcolor%5D=red"))
    r = httpx.get(url + "/s?filter[size]=big")
    assert refused(r) and r.json()["error"]["details"][0]["location"] == "query.filter.size"
    r = httpx.get(url + "/s?limit=ten")
    assert refused(r) and r.json()["error"]["details"][0]["location"].startswith("query.page")


_PET_SCHEMAS: dict[str, Any] = {
    "Pet": {"type": "object", "required": ["petType"],
            "properties": {"petType": {"type": "string"}, "name": {"type": "string"}}},
    "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                      {"type": "object", "required": ["lives"], "properties": {"lives": {"type": "integer"}}}]},
    "Dog": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                      {"type": "object", "required": ["bark"], "properties": {"bark": {"type": "boolean"}}}]},
}


@pytest.mark.parametrize("mapping", [True, False])
def test_discriminator_one_of_bodies_with_and_without_mapping(serve: Any, mapping: bool) -> None:
    disc: dict[str, Any] = {"propertyName": "petType"}
    if mapping:
        disc["mapping"] = {"cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"}
    body = {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": disc}
    op = {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}, "responses": OK}
    url = serve(doc({"/pets": {"post": op}}, schemas=_PET_SCHEMAS))
    cat = "cat" if mapping else "Cat"
    assert_served(httpx.post(url + "/pets", json={"petType": cat, "lives": 9}))
    assert_served(httpx.post(url + "/pets", json={"petType": "dog" if mapping else "Dog", "bark": True}))
    assert refused(httpx.post(url + "/pets", json={"petType": cat, "lives": "nine"}))


def test_discriminator_on_an_all_of_base_and_inline_branches(serve: Any) -> None:
    schemas = dict(_PET_SCHEMAS)
    schemas["Pet"] = {**_PET_SCHEMAS["Pet"], "discriminator": {"propertyName": "petType"}}
    inline = {"oneOf": [
        {"type": "object", "required": ["kind", "radius"],
         "properties": {"kind": {"type": "string", "enum": ["circle"]}, "radius": {"type": "number"}}},
        {"type": "object", "required": ["kind", "side"],
         "properties": {"kind": {"type": "string", "enum": ["square"]}, "side": {"type": "number"}}},
    ], "discriminator": {"propertyName": "kind"}}
    url = serve(doc({
        "/pets": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Pet"}}}}, "responses": OK}},
        "/cats": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Cat"}}}}, "responses": OK}},
        "/shapes": {"post": {"requestBody": {"content": {"application/json": {"schema": inline}}},
                             "responses": OK}},
    }, schemas=schemas))
    assert_served(httpx.post(url + "/pets", json={"petType": "Cat", "lives": 3}))
    assert_served(httpx.post(url + "/cats", json={"petType": "Cat", "lives": 3, "extra": 1}))
    assert_served(httpx.post(url + "/shapes", json={"kind": "square", "side": 2}))
    assert refused(httpx.post(url + "/cats", json={"petType": "Cat"}))
    assert refused(httpx.post(url + "/shapes", json={"kind": "square", "radius": 2}))


def test_multipart_with_binary_parts_and_per_part_encoding(serve: Any) -> None:
    schema = {"type": "object", "required": ["file", "meta"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "images": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "meta": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }}
    encoding = {"file": {"contentType": "image/png, image/jpeg"}, "meta": {"contentType": "application/json"}}
    op = {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": schema, "encoding": encoding}}}, "responses": OK}
    url = serve(doc({"/upload": {"post": op}}))
    png = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary"
    files = [
        ("file", ("a.png", png, "image/png")),
        ("images", ("b.jpg", b"\xff\xd8\xff\x00", "image/jpeg")),
        ("images", ("c.jpg", b"\xff\xd8\xff\x01", "image/jpeg")),
        ("meta", (None, b'{"title": "x"}', "application/json")),
        ("count", (None, b"3", "text/plain")),
        ("tags", (None, b"a", "text/plain")),
        ("tags", (None, b"b", "text/plain")),
    ]
    assert_served(httpx.post(url + "/upload", files=files))
    # a part without its own Content-Type: the encoding's contentType says how to read it
    assert_served(httpx.post(url + "/upload", files=[("file", ("a.png", png)), ("meta", (None, b'{"title": "y"}'))]))
    # a binary part sent without a filename is still binary
    assert_served(httpx.post(url + "/upload", files=[("file", (None, png, "application/octet-stream")),
                                                     ("meta", (None, b'{"title": "z"}', "application/json"))]))
    r = httpx.post(url + "/upload", files=[("file", ("a.png", png)), ("meta", (None, b'{"name": 1}'))])
    assert refused(r) and "body.meta" in r.json()["error"]["details"][0]["location"]


def test_urlencoded_form_with_nested_objects(serve: Any) -> None:
    schema = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "address": {"type": "object", "properties": {"city": {"type": "string"},
                                                      "geo": {"type": "object",
                                                              "properties": {"lat": {"type": "number"}}}}},
        "prefs": {"type": "object", "properties": {"mail": {"type": "boolean"}}},
        "ids": {"type": "array", "items": {"type": "integer"}},
    }}
    encoding = {"address": {"style": "deepObject", "explode": True}, "prefs": {"contentType": "application/json"}}
    op = {"requestBody": {"content": {"application/x-www-form-urlencoded": {
        "schema": schema, "encoding": encoding}}}, "responses": OK}
    plain = {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}},
             "responses": OK}
    url = serve(doc({"/people": {"post": op}, "/plain": {"post": plain}}))
    form = "name=Ann&address[city]=Oslo&address[geo][lat]=59.9&prefs=%7B%22mail%22%3Atrue%7D&ids=1&ids=2"
    ct = {"content-type": "application/x-www-form-urlencoded"}
    assert_served(httpx.post(url + "/people", content=form, headers=ct))
    # no encoding given: nested objects written as deepObject brackets are still understood
    assert_served(httpx.post(url + "/plain", content="name=Bo&address[city]=Rome&address[geo][lat]=1", headers=ct))
    assert_served(httpx.post(url + "/plain", content="name=Bo&ids=1,2", headers=ct))
    r = httpx.post(url + "/people", content="name=Ann&address[geo][lat]=north", headers=ct)
    assert refused(r) and r.json()["error"]["details"][0]["location"].startswith("body.address")


@pytest.mark.parametrize(("style", "explode", "sent"), [
    ("matrix", False, ";id=3,4,5"),
    ("matrix", True, ";id=3;id=4;id=5"),
    ("label", False, ".3,4,5"),
    ("label", True, ".3.4.5"),
    ("simple", False, "3,4,5"),
])
def test_path_parameters_in_matrix_and_label_style(serve: Any, style: str, explode: bool, sent: str) -> None:
    params = [{"name": "id", "in": "path", "required": True, "style": style, "explode": explode,
               "schema": {"type": "array", "items": {"type": "integer"}}},
              {"name": "one", "in": "path", "required": True, "style": style,
               "schema": {"type": "integer"}}]
    url = serve(doc({"/items/{id}/x/{one}": {"get": {"parameters": params, "responses": OK}}}))
    one = {"matrix": ";one=7", "label": ".7", "simple": "7"}[style]
    assert_served(httpx.get(f"{url}/items/{sent}/x/{one}"))
    bad = sent.replace("4", "four")
    assert refused(httpx.get(f"{url}/items/{bad}/x/{one}"))


def test_matrix_object_path_parameter(serve: Any) -> None:
    obj = {"type": "object", "properties": {"r": {"type": "integer"}, "g": {"type": "integer"}}}
    params = [{"name": "color", "in": "path", "required": True, "style": "matrix", "explode": True, "schema": obj}]
    url = serve(doc({"/c/{color}": {"get": {"parameters": params, "responses": OK}}}))
    assert_served(httpx.get(url + "/c/;r=1;g=2"))
    assert refused(httpx.get(url + "/c/;r=red;g=2"))


def test_empty_optional_bodies(serve: Any) -> None:
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    op = {"requestBody": {"content": {"application/json": {"schema": schema}}}, "responses": OK}
    url = serve(doc({"/things": {"post": op, "put": op}}))
    assert_served(httpx.post(url + "/things"))
    # an empty body with a Content-Type (what many clients send) is still no body
    assert_served(httpx.post(url + "/things", content=b"", headers={"content-type": "application/json"}))
    assert_served(httpx.put(url + "/things", content=b"", headers={"content-type": "text/plain"}))
    assert refused(httpx.post(url + "/things", json={"name": 5}))


def test_nullable_and_3_1_null_types(serve: Any) -> None:
    v30 = {"type": "object", "properties": {
        "nick": {"type": "string", "nullable": True},
        "owner": {"$ref": "#/components/schemas/Pet", "nullable": True},  # a $ref sibling, meant
        "pet": {"allOf": [{"$ref": "#/components/schemas/Pet"}], "nullable": True},
        "tag": {"type": "string", "enum": ["a", "b"], "nullable": True}}}
    v31 = {"type": "object", "properties": {
        "nick": {"type": ["string", "null"]},
        "age": {"type": ["integer", "null"], "minimum": 0},
        "pet": {"oneOf": [{"$ref": "#/components/schemas/Pet"}, {"type": "null"}]}}}
    pet = {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}
    q30 = [{"name": "limit", "in": "query", "schema": {"type": "integer", "nullable": True}}]
    q31 = [{"name": "limit", "in": "query", "schema": {"type": ["integer", "null"]}}]
    url30 = serve(doc({"/n": {"post": {"parameters": q30, "requestBody": {"content": {"application/json": {
        "schema": v30}}}, "responses": OK}}}, schemas=pet))
    url31 = serve(doc({"/n": {"post": {"parameters": q31, "requestBody": {"content": {"application/json": {
        "schema": v31}}}, "responses": OK}}}, version="3.1.0", schemas=pet))
    assert_served(httpx.post(url30 + "/n", json={"nick": None, "pet": None, "tag": None, "owner": None}))
    assert refused(httpx.post(url30 + "/n", json={"owner": {"name": 5}}))
    assert_served(httpx.post(url30 + "/n?limit=", json={"nick": "x", "pet": {"name": "y"}, "tag": "a"}))
    assert_served(httpx.post(url31 + "/n", json={"nick": None, "age": None, "pet": None}))
    assert_served(httpx.post(url31 + "/n?limit=3", json={"nick": "x", "age": 3, "pet": {"name": "y"}}))
    assert_served(httpx.post(url31 + "/n?limit=", json={}))
    assert refused(httpx.post(url30 + "/n", json={"nick": 5}))
    assert refused(httpx.post(url31 + "/n", json={"age": -1}))
    assert refused(httpx.post(url31 + "/n?limit=abc", json={}))


# ---- item 1: operations told apart by a header or query value written into the path key ------


def _aws_op(name: str, prop: str) -> dict[str, Any]:
    target = f"Svc_20150623.{name}"
    return {"post": {
        "operationId": name,
        "parameters": [{"name": "X-Amz-Target", "in": "header", "required": True,
                        "schema": {"type": "string", "enum": [target]}}],
        "requestBody": {"required": True, "content": {"application/x-amz-json-1.1": {"schema": {
            "type": "object", "required": [prop], "properties": {prop: {"type": "string"}}}}}},
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["op"], "properties": {"op": {"type": "string", "enum": [name]}}}}}},
            "400": {"description": "bad", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"message": {"type": "string"}}}}}}},
    }}


def test_aws_style_operations_on_one_path_are_told_apart_over_http(serve: Any) -> None:
    url = serve(doc({
        "/#X-Amz-Target=Svc_20150623.CreateThing": _aws_op("CreateThing", "Name"),
        "/#X-Amz-Target=Svc_20150623.DeleteThing": _aws_op("DeleteThing", "Id"),
        "/things/{id}#resourceType": {"get": {"parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "resourceType", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["typed"],
                "properties": {"typed": {"type": "boolean", "enum": [True]}}}}}}}}},
        "/things/{id}": {"get": {"parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["plain"],
                "properties": {"plain": {"type": "boolean", "enum": [True]}}}}}}}}},
        "/?Action=Describe": {"get": {"responses": {"200": {"description": "ok", "content": {"text/plain": {
            "schema": {"type": "string", "enum": ["described"]}}}}}}},
    }))
    ct = {"content-type": "application/x-amz-json-1.1"}
    r = httpx.post(url + "/", headers={**ct, "X-Amz-Target": "Svc_20150623.CreateThing"}, content=b'{"Name": "a"}')
    assert r.status_code == 200 and r.json() == {"op": "CreateThing"}
    r = httpx.post(url + "/", headers={**ct, "X-Amz-Target": "Svc_20150623.DeleteThing"}, content=b'{"Id": "7"}')
    assert r.status_code == 200 and r.json() == {"op": "DeleteThing"}
    # the body is validated against the operation the header chose (DeleteThing needs Id)
    r = httpx.post(url + "/", headers={**ct, "X-Amz-Target": "Svc_20150623.DeleteThing"}, content=b'{"Name": "a"}')
    assert r.status_code == 400 and "DeleteThing" in r.json()["message"]
    # an unknown target: 404 naming the operations at that path
    r = httpx.post(url + "/", headers={**ct, "X-Amz-Target": "Svc_20150623.CreateThin"}, content=b"{}")
    assert r.status_code == 404
    reasons = [d["reason"] for d in r.json()["error"]["details"]]
    assert reasons[0] == "closest route: POST /#X-Amz-Target=Svc_20150623.CreateThing"
    assert httpx.get(url + "/things/7?resourceType=bucket").json() == {"typed": True}
    assert httpx.get(url + "/things/7").json() == {"plain": True}
    assert httpx.get(url + "/?Action=Describe").text == "described"
    entries = httpx.get(url + "/__mockforge/logs").json()["entries"]
    assert "/#X-Amz-Target=Svc_20150623.DeleteThing" in {e["route"] for e in entries}


def test_overlapping_one_of_branches_with_a_discriminator_are_not_refused(serve: Any) -> None:
    # Cat and Dog only add optional properties to Pet: every pet matches both branches, which a
    # plain JSON Schema oneOf refuses; the discriminator says which branch a body must match
    schemas = {
        "Pet": {"type": "object", "required": ["petType"],
                "properties": {"petType": {"type": "string"}, "name": {"type": "string"}}},
        "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                          {"type": "object", "properties": {"lives": {"type": "integer"}}}]},
        "Dog": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                          {"type": "object", "properties": {"bark": {"type": "boolean"}}}]},
    }
    refs = [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]
    implicit = {"oneOf": refs, "discriminator": {"propertyName": "petType"}}
    mapped = {"oneOf": refs, "discriminator": {"propertyName": "petType",
                                                "mapping": {"cat": "#/components/schemas/Cat", "dog": "Dog"}}}
    plain = {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                       {"type": "object", "properties": {"b": {"type": "integer"}}}]}
    q = [{"name": "f", "in": "query", "content": {"application/json": {"schema": implicit}}}]

    def post(schema: dict[str, Any]) -> dict[str, Any]:
        return {"post": {"requestBody": {"content": {"application/json": {"schema": schema}}}, "responses": OK}}

    url = serve(doc({"/implicit": post(implicit), "/mapped": post(mapped), "/plain": post(plain),
                     "/param": {"get": {"parameters": q, "responses": OK}}}, schemas=schemas))
    assert_served(httpx.post(url + "/implicit", json={"petType": "Cat", "lives": 3}))
    assert_served(httpx.post(url + "/implicit", json={"petType": "Dog", "bark": True, "name": "Rex"}))
    assert_served(httpx.post(url + "/mapped", json={"petType": "cat", "lives": 3}))
    assert_served(httpx.post(url + "/mapped", json={"petType": "dog"}))
    assert_served(httpx.post(url + "/plain", json={"a": "x", "b": 1}))  # matches both: accepted
    assert_served(httpx.get(url + '/param?f={"petType":"Cat","lives":1}'))
    # the branch the discriminator names must still validate
    r = httpx.post(url + "/implicit", json={"petType": "Cat", "lives": "nine"})
    assert refused(r) and r.json()["error"]["details"][0]["location"] == "body.lives"
    assert refused(httpx.post(url + "/mapped", json={"petType": "dog", "bark": "loud"}))
    assert refused(httpx.post(url + "/implicit", json={"lives": 3}))  # petType is required by both
    assert refused(httpx.post(url + "/plain", json={"a": 1, "b": "x"}))  # matches neither
    assert refused(httpx.get(url + '/param?f={"petType":"Cat","lives":"x"}'))


def test_closed_all_of_members_and_loose_scalars(serve: Any) -> None:
    schemas = {
        "Base": {"type": "object", "additionalProperties": False, "required": ["id"],
                 "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}}},
        "Ext": {"allOf": [{"$ref": "#/components/schemas/Base"},
                          {"type": "object", "properties": {"x": {"type": "string"}}}]},
    }
    params = [{"name": "flag", "in": "query", "schema": {"type": "boolean"}},
              {"name": "n", "in": "query", "schema": {"type": "integer"}}]
    url = serve(doc({
        "/ext": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Ext"}}}}, "responses": OK}},
        "/base": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Base"}}}}, "responses": OK}},
        "/q": {"get": {"parameters": params, "responses": OK}},
    }, schemas=schemas))
    # Base is closed, yet Ext adds x: the author means "Base's and x, nothing else"; the
    # readOnly id is still not required in a request
    assert_served(httpx.post(url + "/ext", json={"name": "a", "x": "b"}))
    assert refused(httpx.post(url + "/ext", json={"name": "a", "x": "b", "other": 1}))
    assert refused(httpx.post(url + "/ext", json={"x": 5}))
    assert_served(httpx.post(url + "/base", json={"name": "a"}))
    assert refused(httpx.post(url + "/base", json={"name": "a", "x": "b"}))  # closed on its own
    for flag in ("true", "True", "FALSE", "1", "0"):
        assert_served(httpx.get(url + "/q", params={"flag": flag}))
    for n in ("5", "5.0", " 7 "):
        assert_served(httpx.get(url + "/q", params={"n": n}))
    assert refused(httpx.get(url + "/q", params={"flag": "maybe"}))
    assert refused(httpx.get(url + "/q", params={"n": "5.5"}))
