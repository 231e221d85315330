"""Share of generated, example and served response bodies that validate, per corpus document.

    python benchmarks/bodies_report.py [--seed 1] [--samples 3] [--corpus DIR] [--failures]

For every OpenAPI document under the corpus, every documented JSON response (operation, status,
media type with a schema):

* generated: ``--samples`` values from the schema generator (rng seeded per sample), each
  checked against the schema;
* examples: each ``example`` / ``examples`` entry written in the document, checked as written;
* served: the body the server answers with for ``Prefer: code=STATUS`` and that media type,
  decoded and checked (this is what a client sees: the example when it validates or is trusted,
  else a repaired or generated body);
* named: the body served for each named example (``Prefer: example=NAME``), decoded and checked;
* repaired / replaced: examples the server repaired or replaced by a generated body (the
  planner's counts; 0 on revisions that did not count them).

The check is jsonschema-rs with formats, the same validator the server uses for its own checks
(``schema/validate.py``), on the schema bundled with the defs it reaches. Prints one row per
document and a total. Always exits 0; a number, not a gate.
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from pathlib import Path
from typing import Any

import orjson

from mockforge.core.model import Headers
from mockforge.openapi.loader import load_specs
from mockforge.openapi.model import MISSING
from mockforge.openapi.responses import ResponseChoice, ResponsePlanner, is_json

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "openapi"


class Tally:
    def __init__(self) -> None:
        self.gen_ok = self.gen_all = 0
        self.ex_ok = self.ex_all = 0
        self.served_ok = self.served_all = 0
        self.named_ok = self.named_all = 0
        self.repaired = self.replaced = 0
        self.failures: list[str] = []

    def add(self, other: Tally) -> None:
        for name in ("gen_ok", "gen_all", "ex_ok", "ex_all", "served_ok", "served_all", "named_ok", "named_all",
                     "repaired", "replaced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _share(ok: int, total: int) -> str:
    return f"{ok}/{total} {100 * ok / total:5.1f}%" if total else "-"


def run_document(path: Path, seed: int, samples: int) -> Tally:
    t = Tally()
    model = load_specs([str(path)])
    planner = ResponsePlanner(model, seed=seed)
    gen = planner.generator
    for op in model.operations:
        responder = planner.for_operation(op)
        for status, spec in op.responses.items():
            for media_name, media in spec.content.items():
                if media.schema is None or not is_json(media_name) or media_name.startswith("*/"):
                    continue
                make = gen.compile(media.schema)
                for i in range(samples):
                    value = make(random.Random(f"{seed}|{op.key}|{status}|{i}"))
                    t.gen_all += 1
                    error = gen.first_error(media.schema, value)
                    if error is None:
                        t.gen_ok += 1
                    else:
                        t.failures.append(f"generated {op.key} {status}: {error[:160]}")
                written = ([media.example] if media.example is not MISSING else []) + list(media.examples.values())
                for value in written:
                    t.ex_all += 1
                    if gen.first_error(media.schema, value) is None:
                        t.ex_ok += 1
                for example_name in media.examples:
                    named = responder.respond(Headers([("prefer", f'code={status}, example="{example_name}"'),
                                                       ("accept", media_name)]))
                    if not isinstance(named, ResponseChoice):
                        continue
                    t.named_all += 1
                    try:
                        ok = gen.first_error(media.schema, orjson.loads(named.body)) is None
                    except orjson.JSONDecodeError:
                        ok = False
                    t.named_ok += ok
                headers = Headers([("prefer", f"code={status}"), ("accept", media_name)])
                choice = responder.respond(headers)
                if not isinstance(choice, ResponseChoice) or not choice.body:
                    continue
                t.served_all += 1
                try:
                    served: Any = orjson.loads(choice.body)
                except orjson.JSONDecodeError:
                    t.failures.append(f"served {op.key} {status}: not JSON")
                    continue
                error = gen.first_error(media.schema, served)
                if error is None:
                    t.served_ok += 1
                else:
                    t.failures.append(f"served {op.key} {status}: {error[:160]}")
    t.repaired = int(getattr(planner, "examples_repaired", 0))
    t.replaced = int(getattr(planner, "examples_replaced", 0))
    return t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=3, help="generated values per response")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--failures", action="store_true", help="list each body that does not validate")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    docs = sorted(p for p in args.corpus.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    started = time.perf_counter()
    total = Tally()
    width = max((len(str(d.relative_to(args.corpus))) for d in docs), default=10)
    print(f"{'document':<{width}}  {'generated':>17}  {'examples':>17}  {'served':>17}  {'named':>17}  "
          "repaired replaced")
    for doc in docs:
        name = str(doc.relative_to(args.corpus))
        try:
            t = run_document(doc, args.seed, args.samples)
        except Exception as exc:  # a report: one broken document must not hide the others
            print(f"{name:<{width}}  failed: {type(exc).__name__}: {exc}")
            continue
        total.add(t)
        print(f"{name:<{width}}  {_share(t.gen_ok, t.gen_all):>17}  {_share(t.ex_ok, t.ex_all):>17}  "
              f"{_share(t.served_ok, t.served_all):>17}  {_share(t.named_ok, t.named_all):>17}  "
              f"{t.repaired:>8} {t.replaced:>8}")
        if args.failures:
            for line in t.failures[:20]:
                print(f"    {line}")
    print(f"{'total (' + str(len(docs)) + ' documents)':<{width}}  {_share(total.gen_ok, total.gen_all):>17}  "
          f"{_share(total.ex_ok, total.ex_all):>17}  {_share(total.served_ok, total.served_all):>17}  "
          f"{_share(total.named_ok, total.named_all):>17}  "
          f"{total.repaired:>8} {total.replaced:>8}")
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
