"""Load OpenAPI 2.0, 3.0 and 3.1 files into one ``ApiModel``.

Hand-written (see ``resolver.py`` for why no library): one linear pass over ``paths``; each
parameter, response and request body reached through a ``$ref`` is built once and shared; every
schema reached becomes a ``defs`` entry. Raw documents are dropped when ``load_specs`` returns;
``combined_document`` reads the top-level files again when someone asks for them.

    model = load_specs(["petstore.yaml"])
    model.operations[0].key         # "GET /pets"
    model.defs["Pet"]               # JSON Schema 2020-12, refs as "#/$defs/..."

File paths in the model (``files``, ``spec_files``, ``Operation.file``) are absolute; messages
show them relative to the working directory. ``base_paths`` is ``[""]`` when no server or
``basePath`` gives a path.

Problems in the document's structure (unreadable file, unknown version, a broken ``$ref`` in a
path item or a shared schema, the same route in two files) raise ``SpecError``; an operation that
is broken on its own is left out with one line in ``ApiModel.warnings`` (and in ``errors``).
A document that would serve nothing without a word gets a warning too: one with no operations,
and schemas that are only ``$ref`` to each other in a cycle (A -> B -> A, which describes no value).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from mockforge.core.files import FileRoots
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits
from mockforge.errors import SpecError
from mockforge.openapi import swagger2
from mockforge.openapi.model import (
    MISSING,
    ApiModel,
    CallbackSpec,
    HeaderSpec,
    MediaType,
    Operation,
    Parameter,
    RequestBodySpec,
    ResponseSpec,
)
from mockforge.openapi.resolver import RefError, Resolver, escape, read_document, shown
from mockforge.openapi.swagger2 import Malformed, RawParam

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LOCATIONS_3 = frozenset({"path", "query", "header", "cookie"})
_LOCATIONS_2 = frozenset({"path", "query", "header", "body", "formData"})
_SERVER_VAR = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_PARAM = re.compile(r"\{[^{}/]*\}")


def load_specs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | None = None,
    limits: DocumentLimits = DEFAULT_LIMITS,
    roots: FileRoots | None = None,
) -> ApiModel:
    """Read every spec file (and the files they ``$ref``) into one model; see the module docstring.
    ``limits`` bounds each file's nesting depth and YAML alias expansion (``core.max_document_depth``,
    ``core.max_yaml_alias_nodes``). With ``roots``, every file read must sit in a root or in the
    folder of one of ``paths`` (a hostile spec cannot ``$ref`` /etc/passwd)."""
    if not paths:
        raise SpecError("no spec file given")
    if roots is not None:  # a $ref'd file must sit under a spec's folder or a configured root
        roots = roots.with_roots(os.path.dirname(os.path.realpath(os.fspath(p))) for p in paths)
    res = Resolver(cache_dir=cache_dir, limits=limits, roots=roots)
    model = ApiModel()
    loaders = []
    for given in paths:
        path = os.path.abspath(os.fspath(given))
        if path in model.spec_files:
            continue
        doc = res.document(path)
        loaders.append(_SpecLoader(res, model, path, doc, _version(doc, path)))
        model.spec_files.append(path)
    for loader in loaders:  # top-level component names first, so that they keep their own name
        loader.register_components()
    routes: dict[str, Operation] = {}
    for loader in loaders:
        loader.load_paths(routes)
        loader.load_webhooks()
    res.finish()
    model.warnings.extend(res.notes)
    model.defs = res.defs
    model.files = res.files
    for loader in loaders:
        if not loader.operations and not loader.skipped and not loader.doc.get("webhooks"):
            where = "/paths" if isinstance(loader.doc.get("paths"), dict) else "/"
            model.warnings.append(f"{shown(loader.path)} at {where}: no operations: this document serves nothing")
    model.warnings.extend(_ref_only_cycles(res))
    return model


def _ref_only_cycles(res: Resolver) -> list[str]:
    """One warning per cycle of schemas that are nothing but a ``$ref`` to the next one."""
    nxt: dict[str, str] = {}
    for name, schema in res.defs.items():
        if isinstance(schema, dict) and len(schema) == 1 and str(schema.get("$ref", "")).startswith("#/$defs/"):
            nxt[name] = schema["$ref"][len("#/$defs/"):]
    out: list[str] = []
    done: set[str] = set()
    for start in nxt:
        path: list[str] = []
        at = start
        while at in nxt and at not in done and at not in path:
            path.append(at)
            at = nxt[at]
        done.update(path)
        if at not in path:
            continue
        cycle = path[path.index(at):]
        place = res.origin(cycle[0])
        where = f"{shown(place[0])} at {place[1]}" if place else cycle[0]
        names = " -> ".join([*cycle, cycle[0]])
        out.append(f"{where}: schemas that only $ref each other in a cycle ({names}) describe no value")
    return out


def combined_document(
    model: ApiModel, *, cache_dir: str | None = None, limits: DocumentLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The top-level documents read again: one file as is; several merged into the first
    (paths, and components/definitions the first one lacks)."""
    docs = [read_document(path, cache_dir=cache_dir, limits=limits) for path in model.spec_files]
    if not docs or not isinstance(docs[0], dict):
        return {}
    merged = dict(docs[0])
    if len(docs) == 1:
        return merged
    paths: dict[str, Any] = dict(merged.get("paths") or {})
    for doc in docs[1:]:
        if not isinstance(doc, dict):
            continue
        for key, item in (doc.get("paths") or {}).items():
            current = paths.get(key)
            paths[key] = {**current, **item} if isinstance(current, dict) and isinstance(item, dict) else item
        for section in ("components", "definitions", "parameters", "responses", "securityDefinitions"):
            extra = doc.get(section)
            if not isinstance(extra, dict):
                continue
            target = merged[section] = dict(merged.get(section) or {})
            for name, value in extra.items():
                if section == "components" and isinstance(value, dict):
                    target[name] = {**value, **(target.get(name) or {})}
                else:
                    target.setdefault(name, value)
    merged["paths"] = paths
    return merged


def _version(doc: Any, path: str) -> str:
    name = shown(path)
    if isinstance(doc, dict):
        if "openapi" in doc:
            version = str(doc["openapi"])
            for known in ("3.0", "3.1"):
                if version == known or version.startswith(known + "."):
                    return known
            raise SpecError(
                f"unsupported OpenAPI version {version!r} (2.0, 3.0 and 3.1 are read)",
                file=name,
                where="/openapi",
            )
        if "swagger" in doc:
            version = str(doc["swagger"])
            if version in ("2", "2.0"):
                return "2.0"
            raise SpecError(
                f"unsupported Swagger version {version!r} (2.0, 3.0 and 3.1 are read)",
                file=name,
                where="/swagger",
            )
        if "swaggerVersion" in doc:
            raise SpecError(
                f"unsupported Swagger version {str(doc['swaggerVersion'])!r} (2.0, 3.0 and 3.1 are read)",
                file=name,
                where="/swaggerVersion",
            )
    raise SpecError(
        "not an OpenAPI document (no 'openapi' or 'swagger' field at the top)", file=name, where="/"
    )


def route_key(method: str, template: str) -> str:
    """``GET /pets/{petId}/`` -> ``GET /pets/{}``: two templates that route alike share a key."""
    return f"{method} {_TEMPLATE_PARAM.sub('{}', template).rstrip('/') or '/'}"


def base_path_of(url: str) -> str:
    """Path part of a server URL without trailing slash: ``https://x.io/v1/`` -> ``/v1``."""
    path = urlsplit(url).path if ("://" in url or url.startswith("//")) else url.split("?", 1)[0]
    if not path.startswith("/"):
        path = "/" + path.lstrip("./")
    return path.rstrip("/")


def _servers(servers: Any) -> list[str] | None:
    """Base paths of a ``servers`` list, or None when the list is absent or empty."""
    if not isinstance(servers, list) or not servers:
        return None
    out: list[str] = []
    for server in servers:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        raw_vars = server.get("variables")
        variables: dict[str, Any] = raw_vars if isinstance(raw_vars, dict) else {}

        def default(match: re.Match[str], variables: dict[str, Any] = variables) -> str:
            var = variables.get(match[1])
            return str(var.get("default", "")) if isinstance(var, dict) else ""

        base = base_path_of(_SERVER_VAR.sub(default, server["url"]))
        if base not in out:
            out.append(base)
    return out or None


class _SpecLoader:
    """Builds the operations of one top-level document."""

    def __init__(self, res: Resolver, model: ApiModel, path: str, doc: dict[str, Any], version: str) -> None:
        self.res = res
        self.model = model
        self.path = path
        self.doc = doc
        self.version = version
        self.v2 = version == "2.0"
        self.siblings = version == "3.1"  # 3.1 keeps keywords next to a schema $ref
        #: operations this document contributed (a document with none gets a warning)
        self.operations = 0
        #: operations and path items left out (each already has its own line)
        self.skipped = 0
        # objects reached through a shared $ref are built once: (file, pointer) -> object
        self.param_memo: dict[tuple[str, str], Parameter] = {}
        self.body_memo: dict[tuple[str, str], RequestBodySpec] = {}
        self.response_memo: dict[tuple[str, str], tuple[dict[str, MediaType], dict[str, HeaderSpec]]] = {}
        comps = doc.get("components")
        self.components: dict[str, Any] = comps if isinstance(comps, dict) else {}
        self.api_keys = self._api_key_schemes()
        self.model.api_key_headers.update(self.api_keys.values())
        if self.v2:
            self.doc_bases = [base_path_of(doc["basePath"])] if isinstance(doc.get("basePath"), str) else [""]
            self.consumes = swagger2.media_types(doc.get("consumes"), [swagger2.JSON])
            self.produces = swagger2.media_types(doc.get("produces"), [swagger2.JSON])
        else:
            self.doc_bases = _servers(doc.get("servers")) or [""]

    # -- document level -------------------------------------------------------------------

    def register_components(self) -> None:
        where, schemas = (
            ("/definitions", self.doc.get("definitions"))
            if self.v2
            else ("/components/schemas", self.components.get("schemas"))
        )
        if not isinstance(schemas, dict):
            return
        for name, node in schemas.items():
            self.res.define(self.path, f"{where}/{escape(str(name))}", node, self.siblings, name=str(name))

    def _api_key_schemes(self) -> dict[str, str]:
        raw = self.doc.get("securityDefinitions") if self.v2 else self.components.get("securitySchemes")
        out: dict[str, str] = {}
        if not isinstance(raw, dict):
            return out
        for name, scheme in raw.items():
            try:
                node, _, _ = self.res.deref(scheme, self.path, "")
            except RefError:
                continue
            if (
                isinstance(node, dict)
                and node.get("type") == "apiKey"
                and node.get("in") == "header"
                and isinstance(node.get("name"), str)
            ):
                out[str(name)] = node["name"].lower()
        return out

    def load_paths(self, routes: dict[str, Operation]) -> None:
        paths = self.doc.get("paths")
        if paths is None:
            return
        if not isinstance(paths, dict):
            raise SpecError("'paths' is not a mapping", file=shown(self.path), where="/paths")
        for key, item in paths.items():
            template = str(key)
            if not template.startswith("/"):
                continue  # x- extensions
            pointer = "/paths/" + escape(template)
            file = self.path
            if isinstance(item, dict) and "$ref" in item:
                try:
                    item, file, pointer = self.res.deref(item, file, pointer)
                except RefError as exc:
                    raise SpecError(exc.message, file=shown(self.path), where=pointer + "/$ref") from None
            if not isinstance(item, dict):
                self._error(f"{shown(file)} at {pointer}: path item is not a mapping, skipped")
                continue
            bases = self.doc_bases if self.v2 else (_servers(item.get("servers")) or self.doc_bases)
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                op_pointer = f"{pointer}/{method}"
                try:
                    if not isinstance(op, dict):
                        raise Malformed("operation is not a mapping")
                    operation = self._operation(method, template, item, op, file, pointer, bases)
                except (RefError, Malformed) as exc:
                    self._error(f"{shown(file)} at {op_pointer}: {method.upper()} {template} skipped: {exc.message}")
                    continue
                self._add(operation, routes)
                self.operations += 1

    def _error(self, line: str) -> None:
        """Something left out of the model: a warning at start, a reason to keep the last good
        model on hot reload."""
        self.model.warnings.append(line)
        self.model.errors.append(line)
        self.skipped += 1

    def _add(self, operation: Operation, routes: dict[str, Operation]) -> None:
        key = route_key(operation.method, operation.path)
        first = routes.get(key)
        if first is None:
            routes[key] = operation
            self.model.operations.append(operation)
        elif first.file != operation.file:
            raise SpecError(
                f"{operation.key} is also defined in {shown(first.file)} at {first.pointer}",
                file=shown(operation.file),
                where=operation.pointer,
            )
        else:
            self.model.warnings.append(
                f"{shown(operation.file)} at {operation.pointer}: {operation.key} "
                f"routes like {first.key}, which is served instead"
            )

    # -- one operation ----------------------------------------------------------------------

    def _operation(
        self,
        method: str,
        template: str,
        item: dict[str, Any],
        op: dict[str, Any],
        file: str,
        pointer: str,
        bases: list[str],
    ) -> Operation:
        op_pointer = f"{pointer}/{method}"
        raw_params = self._merge(
            self._params(item.get("parameters"), file, pointer),
            self._params(op.get("parameters"), file, op_pointer),
        )
        body: RequestBodySpec | None
        if self.v2:
            plain, body_param, form = swagger2.split_parameters(raw_params)
            params = [self._parameter(n, f, p) for n, f, p in plain]
            consumes = swagger2.media_types(op.get("consumes"), self.consumes)
            body = swagger2.request_body(self.res, body_param, form, consumes)
            produces = swagger2.media_types(op.get("produces"), self.produces)
            responses = swagger2.responses(self.res, op.get("responses"), file, op_pointer, produces)
        else:
            params = [self._parameter(n, f, p) for n, f, p in raw_params]
            body = self._request_body(op.get("requestBody"), file, op_pointer)
            responses = self._responses(op.get("responses"), file, op_pointer)
            bases = _servers(op.get("servers")) or bases
        security = op.get("security", self.doc.get("security"))
        api_keys: list[str] = []
        if isinstance(security, list):
            for requirement in security:
                if isinstance(requirement, dict):
                    for scheme in requirement:
                        header = self.api_keys.get(str(scheme))
                        if header is not None and header not in api_keys:
                            api_keys.append(header)
        tags = op.get("tags")
        op_id = op.get("operationId")
        return Operation(
            method=method.upper(),
            path=template,
            operation_id=op_id if isinstance(op_id, str) else None,
            tags=[str(t) for t in tags] if isinstance(tags, list) else [],
            parameters=params,
            request_body=body,
            responses=responses,
            api_key_headers=api_keys,
            base_paths=list(bases),
            file=file,
            pointer=op_pointer,
            extensions={k: v for k, v in op.items() if isinstance(k, str) and k.startswith("x-")},
            callbacks=[] if self.v2 else self._callbacks(op.get("callbacks"), file, op_pointer),
        )

    # -- callbacks and webhooks (docs/CALLBACKS.md) ---------------------------------------------

    def _callbacks(self, raw: Any, file: str, pointer: str) -> list[CallbackSpec]:
        """An operation's callbacks; a broken one is left out with a warning (the operation stays)."""
        if not isinstance(raw, dict):
            return []
        out: list[CallbackSpec] = []
        for name, value in raw.items():
            where = f"{pointer}/callbacks/{escape(str(name))}"
            try:
                node, f, p = self.res.deref(value, file, where)
                if not isinstance(node, dict):
                    raise Malformed("a callback is not a mapping")
                for expression, item in node.items():
                    if str(expression).startswith("x-"):
                        continue
                    out += self._path_item_requests(str(name), str(expression), item, f,
                                                    f"{p}/{escape(str(expression))}")
            except (RefError, Malformed) as exc:
                self.model.warnings.append(f"{shown(file)} at {where}: callback {name} left out: {exc.message}")
        return out

    def load_webhooks(self) -> None:
        """The 3.1 ``webhooks`` of this document; a broken one is left out with a warning."""
        raw = self.doc.get("webhooks")
        if self.version != "3.1" or not isinstance(raw, dict):
            return
        for name, item in raw.items():
            where = f"/webhooks/{escape(str(name))}"
            try:
                requests = self._path_item_requests(str(name), "", item, self.path, where)
            except (RefError, Malformed) as exc:
                self.model.warnings.append(f"{shown(self.path)} at {where}: webhook {name} left out: {exc.message}")
                continue
            if requests:
                self.model.webhooks.setdefault(str(name), requests)

    def _path_item_requests(self, name: str, expression: str, item: Any, file: str, pointer: str) -> list[CallbackSpec]:
        item, file, pointer = self.res.deref(item, file, pointer)
        if not isinstance(item, dict):
            raise Malformed("path item is not a mapping")
        out: list[CallbackSpec] = []
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"{pointer}/{method}"
            body = self._request_body(op.get("requestBody"), file, where)
            media = None
            if body is not None and body.content:
                media = next((m for ct, m in body.content.items() if "json" in ct.lower()), None)
                media = media or next(iter(body.content.values()))
            out.append(CallbackSpec(name, expression, method.upper(), media, file, where))
        return out

    def _params(self, raw: Any, file: str, pointer: str) -> list[RawParam]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise Malformed("'parameters' is not a list")
        allowed = _LOCATIONS_2 if self.v2 else _LOCATIONS_3
        out: list[RawParam] = []
        for i, value in enumerate(raw):
            node, f, p = self.res.deref(value, file, f"{pointer}/parameters/{i}")
            if not isinstance(node, dict):
                raise Malformed(f"parameter {i} is not a mapping")
            name, loc = node.get("name"), node.get("in")
            if not isinstance(name, str) or not name:
                raise Malformed(f"parameter {i} has no name")
            if loc not in allowed:
                raise Malformed(
                    f"parameter {name!r} has 'in: {loc}' (expected one of {', '.join(sorted(allowed))})"
                )
            out.append((node, f, p))
        return out

    @staticmethod
    def _merge(common: list[RawParam], own: list[RawParam]) -> list[RawParam]:
        """Path-item parameters overridden by the operation's own, matched on name + location."""
        if not common:
            return own
        merged = {(n["name"], n["in"]): (n, f, p) for n, f, p in common}
        for item in own:
            merged[(item[0]["name"], item[0]["in"])] = item
        return list(merged.values())

    def _schema(self, node: Any, file: str) -> Any:
        return self.res.schema(node, file, self.siblings)

    def _example(self, node: dict[str, Any], file: str, pointer: str) -> Any:
        if "example" in node:
            return node["example"]
        examples = self._examples(node.get("examples"), file, pointer)
        return next(iter(examples.values())) if examples else MISSING

    def _examples(self, raw: Any, file: str, pointer: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            return {}
        out: dict[str, Any] = {}
        for name, value in raw.items():
            node, _, _ = self.res.deref(value, file, f"{pointer}/examples/{escape(str(name))}")
            if isinstance(node, dict) and "value" in node:
                out[str(name)] = node["value"]
        return out

    def _parameter(self, node: dict[str, Any], file: str, pointer: str) -> Parameter:
        param = self.param_memo.get((file, pointer))
        if param is None:
            if self.v2:
                param = swagger2.parameter(self.res, node, file)
            else:
                param = self._parameter3(node, file, pointer)
            self.param_memo[(file, pointer)] = param
        return param

    def _parameter3(self, node: dict[str, Any], file: str, pointer: str) -> Parameter:
        loc = node["in"]
        style = node.get("style")
        if not isinstance(style, str):
            style = "form" if loc in ("query", "cookie") else "simple"
        explode = node.get("explode")
        schema: Any = None
        content_type = None
        if "schema" in node:
            schema = self._schema(node["schema"], file)
        elif isinstance(node.get("content"), dict) and node["content"]:
            content_type, media = next(iter(node["content"].items()))
            content_type = str(content_type)
            if isinstance(media, dict) and "schema" in media:
                schema = self._schema(media["schema"], file)
        return Parameter(
            name=node["name"],
            location=loc,
            required=bool(node.get("required")) or loc == "path",
            schema=schema,
            style=style,
            explode=explode if isinstance(explode, bool) else style == "form",
            content_type=content_type,
            allow_empty_value=bool(node.get("allowEmptyValue")),
            example=self._example(node, file, pointer),
        )

    def _content(self, raw: Any, file: str, pointer: str) -> dict[str, MediaType]:
        if not isinstance(raw, dict):
            return {}
        out: dict[str, MediaType] = {}
        for ct, media in raw.items():
            ct = str(ct)
            if not isinstance(media, dict):
                out[ct] = MediaType(ct)
                continue
            where = f"{pointer}/content/{escape(ct)}"
            encoding = media.get("encoding")
            out[ct] = MediaType(
                content_type=ct,
                schema=self._schema(media["schema"], file) if "schema" in media else None,
                example=media.get("example", MISSING),
                examples=self._examples(media.get("examples"), file, where),
                encoding={
                    str(k): {f: v[f] for f in ("contentType", "style", "explode") if f in v}
                    for k, v in encoding.items()
                    if isinstance(v, dict)
                }
                if isinstance(encoding, dict)
                else {},
            )
        return out

    def _request_body(self, raw: Any, file: str, pointer: str) -> RequestBodySpec | None:
        if raw is None:
            return None
        node, f, p = self.res.deref(raw, file, pointer + "/requestBody")
        if not isinstance(node, dict):
            raise Malformed("'requestBody' is not a mapping")
        body = self.body_memo.get((f, p))
        if body is None:
            content = self._content(node.get("content"), f, p)
            body = self.body_memo[(f, p)] = RequestBodySpec(
                required=bool(node.get("required")), content=content
            )
        return body

    def _responses(self, raw: Any, file: str, pointer: str) -> dict[str, ResponseSpec]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise Malformed("'responses' is not a mapping")
        out: dict[str, ResponseSpec] = {}
        for code, value in raw.items():
            status = str(code)
            if status.startswith("x-"):
                continue
            if status != "default":
                status = status.upper()
            node, f, p = self.res.deref(value, file, f"{pointer}/responses/{escape(str(code))}")
            if not isinstance(node, dict):
                raise Malformed(f"response {status} is not a mapping")
            parts = self.response_memo.get((f, p))
            if parts is None:
                parts = (self._content(node.get("content"), f, p), self._headers(node.get("headers"), f, p))
                self.response_memo[(f, p)] = parts
            content, headers = parts
            out[status] = ResponseSpec(
                status=status,
                description=str(node.get("description") or ""),
                content=content,
                headers=headers,
            )
        return out

    def _headers(self, raw: Any, file: str, pointer: str) -> dict[str, HeaderSpec]:
        if not isinstance(raw, dict):
            return {}
        out: dict[str, HeaderSpec] = {}
        for name, value in raw.items():
            name = str(name)
            if name.lower() == "content-type":
                continue  # ignored by the OpenAPI spec: the media type decides
            where = f"{pointer}/headers/{escape(name)}"
            node, f, p = self.res.deref(value, file, where)
            if not isinstance(node, dict):
                raise Malformed(f"header {name!r} is not a mapping")
            schema: Any = None
            if "schema" in node:
                schema = self._schema(node["schema"], f)
            elif isinstance(node.get("content"), dict) and node["content"]:
                media = next(iter(node["content"].values()))
                if isinstance(media, dict) and "schema" in media:
                    schema = self._schema(media["schema"], f)
            out[name] = HeaderSpec(
                name=name,
                schema=schema,
                required=bool(node.get("required")),
                example=self._example(node, f, p),
            )
        return out
