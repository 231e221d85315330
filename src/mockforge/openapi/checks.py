"""``mockforge validate``: load documents the way the server does and list every problem with
its file and JSON pointer. Errors stop a document from being served; warnings do not.

Besides what the loader reports (a broken operation, an unfetchable ``$ref``, a ``pattern`` no
engine runs, an unknown ``type``), every documented response is prepared as the server would:
examples are checked against their schema (one warning per operation with the counts; one detail
line per example, shown with ``--verbose``) and one body is generated per JSON response, so a
schema no value satisfies is a warning here rather than a surprise at request time.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from mockforge.errors import SpecError

_PARAM = re.compile(r"{([^}/]+)}")


def _token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


@dataclass(slots=True)
class SpecReport:
    """What ``validate`` prints: one line per error and per warning, detail lines for
    ``--verbose`` and the example counts of the summary line."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    examples_repaired: int = 0
    examples_replaced: int = 0
    operations: int = 0


def check_specs(paths: list[str]) -> tuple[list[str], list[str]]:
    """Return (errors, warnings), one line each."""
    report = check_report(paths)
    return report.errors, report.warnings


def check_report(paths: list[str], *, verbose: bool = False) -> SpecReport:
    """Everything ``validate`` finds; detail lines are abbreviated (200 characters per example)
    unless ``verbose``."""
    from mockforge.openapi.loader import load_specs
    from mockforge.openapi.responses import ResponsePlanner, is_json

    report = SpecReport()
    try:
        model = load_specs(paths)
    except SpecError as exc:
        report.errors.append(str(exc))
        return report
    report.operations = len(model.operations)
    # What the loader had to skip (a broken operation, an unfetchable ref) is an error here: the
    # server would serve the rest, but the document is wrong.
    errors = report.errors
    errors.extend(dict.fromkeys(model.warnings))
    warnings = report.warnings
    seen_ids: dict[str, str] = {}
    for op in model.operations:
        where = f"{op.file} at {op.pointer}"
        if op.operation_id:
            other = seen_ids.get(op.operation_id)
            if other is not None:
                errors.append(f"{where}: operationId '{op.operation_id}' is also used at {other}")
            else:
                seen_ids[op.operation_id] = op.pointer
        declared = {p.name for p in op.parameters if p.location == "path"}
        for name in _PARAM.findall(op.path):
            if name not in declared:
                errors.append(f"{where}: path parameter '{name}' is not declared")
        if not op.responses:
            warnings.append(f"{where}: no responses are documented")
    planner = ResponsePlanner(model, seed=0)
    gen = planner.generator
    generated: list[str] = []
    for op in model.operations:
        planner.for_operation(op)
        for status, spec in op.responses.items():
            for media_name, media in spec.content.items():
                if media.schema is None or not is_json(media_name):
                    continue
                before = len(gen.problems)
                gen.compile(media.schema)(random.Random(f"{op.key}|{status}"))
                pointer = f"{op.pointer}/responses/{_token(str(status))}/content/{_token(media_name)}/schema"
                generated += [f"{op.file} at {pointer}: {line}" for line in gen.problems[before:]]
    warnings.extend(planner.warnings)
    warnings.extend(dict.fromkeys(generated))
    report.details = planner.detail_lines(None if verbose else 200)
    report.examples_repaired = planner.examples_repaired
    report.examples_replaced = planner.examples_replaced
    return report
