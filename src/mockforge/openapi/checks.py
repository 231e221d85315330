"""``mockforge validate``: load documents the way the server does and list every problem with
its file and JSON pointer. Errors stop a document from being served; warnings do not.
"""

from __future__ import annotations

import re

from mockforge.errors import SpecError

_PARAM = re.compile(r"{([^}/]+)}")


def check_specs(paths: list[str]) -> tuple[list[str], list[str]]:
    """Return (errors, warnings), one line each."""
    from mockforge.openapi.loader import load_specs
    from mockforge.openapi.responses import ResponsePlanner

    try:
        model = load_specs(paths)
    except SpecError as exc:
        return [str(exc)], []
    # What the loader had to skip (a broken operation, an unfetchable ref) is an error here: the
    # server would serve the rest, but the document is wrong.
    errors: list[str] = list(model.warnings)
    warnings: list[str] = []
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
    planner = ResponsePlanner(model)
    for op in model.operations:
        planner.for_operation(op)
    warnings.extend(getattr(planner, "warnings", []))
    return errors, warnings
