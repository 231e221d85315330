"""Conformance pass rate per document and in total (the core issue's "Must show").

    python benchmarks/conformance_report.py [--seed 1] [--failures] [--strict] [--corpus DIR]

Runs the same check as tests/integration/test_conformance.py (shared code in _conformance.py):
one in-process server per document, one schema-valid request per operation, and the answer's
status, content type and body checked against the document. Prints a table (operations passed /
operations) and, with --failures, why each failing operation failed. Always exits 0.

``--strict`` (figures in docs/CONFORMANCE.md): every valid request must get a documented 2xx
where the operation documents one, not only the one with the required parameters: each operation
is also sent with every optional parameter filled in, and without its body when the body is
optional; an operation passes when all of its requests conform. Failures are always listed.
It also leaves a required parameter (or a required body) out of one request per operation and
checks the refusal: the documented 400/422/4XX/default with a body that validates, else our
own error shape; that figure is printed apart.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import _conformance as conformance


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--failures", action="store_true", help="list every failing operation and why")
    ap.add_argument("--corpus", type=Path, default=conformance.CORPUS)
    ap.add_argument("--strict", action="store_true",
                    help="also send every optional parameter, and no optional body (implies --failures)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # invalid examples in real documents warn at load
    docs = conformance.documents(args.corpus)
    if not docs:
        print(f"no OpenAPI documents under {args.corpus}")
        return 0
    started = time.perf_counter()
    width = max(len(conformance.doc_id(d, args.corpus)) for d in docs)
    header = f"{'document':<{width}}  {'passed':>6} / {'ops':<5} {'rate':>7}  {'n/a':>3}"
    print(header)
    print("-" * len(header))
    passed = total = na = 0
    refused_ok = refused_total = 0
    refusal_failures: list[str] = []
    failing: list[tuple[str, list[str]]] = []
    apart: list[str] = []
    for doc in docs:
        result = conformance.run_document(doc, seed=args.seed, root=args.corpus, strict=args.strict)
        name = conformance.doc_id(doc, args.corpus)
        if result.error is not None:
            print(f"{name:<{width}}  server did not start: {result.error}")
            failing.append((name, [f"server did not start: {result.error}"]))
            continue
        rate = f"{100 * result.passed / result.total:.1f}%" if result.total else "-"
        print(f"{name:<{width}}  {result.passed:>6} / {result.total:<5} {rate:>7}  {result.not_applicable or '':>3}")
        passed, total, na = passed + result.passed, total + result.total, na + result.not_applicable
        apart += [f"{name}: {line}" for line in result.set_apart()]
        refused_total += len(result.refusals)
        refused_ok += sum(r.ok for r in result.refusals)
        refusal_failures += [f"{name}: {r.key}: {r.reason}" for r in result.refusals if r.reason is not None]
        if result.failures():
            failing.append((name, result.failures()))
    print("-" * len(header))
    rate = f"{100 * passed / total:.1f}%" if total else "-"
    print(f"{'total (' + str(len(docs)) + ' documents)':<{width}}  {passed:>6} / {total:<5} {rate:>7}  {na or '':>3}")
    full = sum(1 for d in docs) - len(failing)
    print(f"\n{full} of {len(docs)} documents at 100%; {time.perf_counter() - started:.1f} s")
    if args.strict:
        rate = f"{100 * refused_ok / refused_total:.1f}%" if refused_total else "-"
        print(f"invalid requests refused as the spec documents: {refused_ok} / {refused_total} ({rate}; "
              "operations with a required parameter or body to leave out)")
        for line in refusal_failures:
            print(f"  {line[:400]}")
    if apart:
        print("n/a (not counted):")
        for line in apart:
            print(f"  {line}")
    if args.failures or args.strict:
        for name, reasons in failing:
            print(f"\n{name}:")
            for reason in reasons:
                print(f"  {reason[:400]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
