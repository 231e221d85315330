"""Stateful mocks over the corpus: for every document with at least one inferred resource, a
scripted create -> read -> list -> patch -> delete -> read cycle per resource whose answers must
all validate against the spec.

    python benchmarks/state_corpus.py                 # every document under ../shared/corpus/openapi
    python benchmarks/state_corpus.py FILE...         # these documents

A resource takes part when its collection documents POST with a JSON body and its item GET; the
others are counted apart (their cycle cannot start). The server runs with ``http.state.mode:
strict`` and request validation ``warn`` (the generated bodies are the spec's own shapes). A step
passes when its status is the one expected (201/2xx; the final read: 404) and its body validates
against the documented schema of that status, and the read answers the created item (its id,
inside the wrapper of a wrapped item). Prints one line per document and the totals.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import httpx

from mockforge.openapi.loader import load_specs
from mockforge.openapi.model import ApiModel, Operation
from mockforge.schema.generate import DataGenerator
from mockforge.state.inference import Resource, infer
from mockforge.state.render import json_schema
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "openapi"
_JSON = re.compile(r"^application/([\w.+-]*\+)?json", re.I)


def _op(model: ApiModel, method: str, path: str) -> Operation | None:
    return next((o for o in model.operations if o.method == method and (o.path.rstrip("/") or "/") == path), None)


def _body_schema(op: Operation) -> Any:
    if op.request_body is None:
        return None
    return next((m.schema for c, m in op.request_body.content.items() if _JSON.match(c) and m.schema), None)


def _fill(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{([^{}/]+)\}", lambda m: params.setdefault(m.group(1), "p1"), template)


def _check(gen: DataGenerator, op: Operation, r: httpx.Response, want: int | None) -> str | None:
    if want is not None and r.status_code != want:
        return f"status {r.status_code}, expected {want}: {r.text[:400]}"
    if want is None and not 200 <= r.status_code < 300:
        return f"status {r.status_code}: {r.text[:400]}"
    spec = op.responses.get(str(r.status_code)) or op.responses.get(f"{r.status_code // 100}XX")
    schema = json_schema(spec)
    if schema is None or not r.content:
        return None
    return gen.first_error({"$defs": gen.defs, **schema} if "$defs" not in schema else schema, r.json())


def _parents(
    c: httpx.Client,
    model: ApiModel,
    res: Resource,
    by_item: dict[str, Resource],
    gen: DataGenerator,
    params: dict[str, str],
) -> None:
    """Create the parent (and its parents) first: strict mode answers 404 under a missing one."""
    parent = by_item.get(res.collection.rsplit("/", 1)[0])
    post = _op(model, "POST", parent.collection) if parent is not None else None
    if parent is None or post is None or _body_schema(post) is None:
        return
    _parents(c, model, parent, by_item, gen, params)
    body = gen.generate(_body_schema(post))
    r = c.post(_fill(parent.collection, params), json=body)
    loc = r.headers.get("location", "")
    if loc:
        params[parent.item_param] = loc.rsplit("/", 1)[1]
    elif r.status_code == 409 and isinstance(body, dict) and parent.id_field in body:
        # an earlier cycle created this parent from the same seeded body (409: it exists)
        params[parent.item_param] = str(body[parent.id_field])


def cycle(c: httpx.Client, model: ApiModel, res: Resource, by_item: dict[str, Resource]) -> list[str]:
    """The failures of one resource's cycle (empty: every answer validated)."""
    gen = DataGenerator(model.defs, seed=1, for_response=False)
    check = DataGenerator(model.defs, seed=1)
    post, get_item = _op(model, "POST", res.collection), _op(model, "GET", res.item)
    assert post is not None and get_item is not None
    params: dict[str, str] = {}
    _parents(c, model, res, by_item, gen, params)
    coll = _fill(res.collection, params)
    body = gen.generate(_body_schema(post))
    created = c.post(coll, json=body)
    fails = []
    if (why := _check(check, post, created, None)) is not None:
        return [f"create: {why}"]
    loc = created.headers.get("location", "")
    item = loc or f"{coll}/{created.json().get(res.id_field)}"
    steps: list[tuple[str, Operation | None, str, Any, int | None]] = [
        ("read", get_item, "GET", None, 200),
        ("list", _op(model, "GET", res.collection), "LIST", None, None),
        ("patch", _op(model, "PATCH", res.item), "PATCH", {}, None),
        ("delete", _op(model, "DELETE", res.item), "DELETE", None, None),
        ("read after delete", get_item, "GET", None, 404),
    ]
    deleted = False
    for name, op, method, payload, want in steps:
        if op is None:
            continue
        if name == "read after delete" and not deleted:
            continue
        if method == "LIST":
            r = c.get(coll)
        elif method == "PATCH":
            r = c.patch(item, json=payload, headers={"content-type": "application/merge-patch+json"})
        else:
            r = c.request(method, item)
        deleted = deleted or method == "DELETE"
        if want == 404 and r.status_code == 404:
            continue  # the documented 404 (or the common error shape)
        why = _check(check, op, r, want)
        if why is None and name == "read":
            why = _same_item(res, r, item)
        if why is not None:
            fails.append(f"{name}: {why}")
    return fails


def _same_item(res: Resource, r: httpx.Response, item: str) -> str | None:
    """The read answers the created item (unwrapped from its wrapper), not some valid other one."""
    props = (res.schema or {}).get("properties") or {}
    if res.id_field not in props:
        return None  # the id lives only in the path
    body = r.json()
    if res.wrapper and isinstance(body, dict):
        body = body.get(res.wrapper)
    got = body.get(res.id_field) if isinstance(body, dict) else None
    want = item.rsplit("/", 1)[1]
    return None if str(got) == want else f"answers {res.id_field}={got!r}, created {want!r}"


def run(doc: Path) -> tuple[int, int, int, list[str]]:
    model = load_specs([doc])
    plan = infer(model)
    cyclable = [
        r
        for r in plan.resources
        if _op(model, "POST", r.collection)
        and _op(model, "GET", r.item)
        and _body_schema(_op(model, "POST", r.collection))
    ]  # type: ignore[arg-type]
    passed, notes = 0, []
    if cyclable:
        cfg = {"http": {"state": {"mode": "strict"}, "validation": {"mode": "warn"}}}
        with MockServer(cfg, spec=doc, seed=1) as server, httpx.Client(base_url=server.url, timeout=30) as c:
            by_item = {r.item: r for r in plan.resources}
            for res in cyclable:
                fails = cycle(c, model, res, by_item)
                passed += not fails
                notes += [f"  {res.collection}: {f}" for f in fails]
    return len(plan.resources), len(cyclable), passed, notes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("docs", nargs="*", type=Path)
    p.add_argument("-v", "--verbose", action="store_true", help="print each failing step")
    args = p.parse_args()
    docs = args.docs or sorted(f for f in CORPUS.rglob("*") if f.suffix in (".json", ".yaml", ".yml"))
    totals = [0, 0, 0, 0]
    for doc in docs:
        try:
            inferred, cyclable, passed, notes = run(doc)
        except Exception as exc:  # a document the loader refuses is reported, not fatal
            print(f"{doc.name}: error {type(exc).__name__}: {exc}")
            continue
        if not inferred:
            continue
        totals[0] += 1
        totals[1] += inferred
        totals[2] += cyclable
        totals[3] += passed
        print(
            f"{doc.relative_to(doc.parents[1]) if len(doc.parents) > 1 else doc}: {inferred} inferred, "
            f"cycle {passed}/{cyclable} passed"
        )
        if args.verbose:
            print("\n".join(notes))
    print(
        f"documents with resources: {totals[0]}; resources inferred: {totals[1]}; "
        f"cycles passed: {totals[3]}/{totals[2]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
