"""The validating proxy's half in the server: judge each upstream answer, keep a bounded summary.

``FixtureService`` (``recording/service.py``) hands every proxied or recorded answer to
``DriftService.review`` when ``http.drift.mode`` is ``report`` or ``enforce``:

- ``report``: the upstream answer goes back unchanged, with its findings on ``Response.drift``
  (so on the log entry's ``drift`` field);
- ``enforce``: an answer with findings becomes a 502 ``drift_detected`` in the common error shape,
  one detail per finding (the log entry carries the findings too).

Every finding is counted in ``mockforge_drift_findings_total{operation, kind}``: ``operation`` is
a spec operation key or ``undocumented`` (a raw path would make the label set unbounded), ``kind``
one of ``findings.KINDS``, and the metrics family is capped by ``max_series`` as the others are.
``GET /__mockforge/drift`` lists findings grouped by (operation, kind) with the first and last
time seen, a count and one example each; at most ``http.drift.max_groups`` groups are kept (the
findings of new groups past it are counted in ``dropped``). ``DELETE`` clears them.

    drift = DriftService(runtime, model)
    response = drift.review(request, response)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockforge.core.model import Headers, Request, Response
from mockforge.core.responses import detail, error_response, json_response
from mockforge.drift.checker import DriftChecker
from mockforge.drift.findings import Finding
from mockforge.drift.report import FORMATS, render

if TYPE_CHECKING:
    from mockforge.openapi.model import ApiModel
    from mockforge.runtime import Runtime

#: The metrics label of every finding on a request no operation matches.
UNDOCUMENTED = "undocumented"


@dataclass(slots=True)
class Group:
    operation: str
    kind: str
    count: int
    first_seen: float
    last_seen: float
    example: Finding

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "kind": self.kind,
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "example": self.example.to_dict(),
        }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class DriftLedger:
    """Findings grouped by (operation, kind), at most ``max_groups`` groups."""

    def __init__(self, max_groups: int) -> None:
        self.max_groups = max_groups
        self.groups: dict[tuple[str, str], Group] = {}
        self.total = 0
        self.dropped = 0

    def add(self, finding: Finding, now: float) -> None:
        self.total += 1
        key = (finding.operation, finding.kind)
        group = self.groups.get(key)
        if group is not None:
            group.count += 1
            group.last_seen = now
        elif len(self.groups) < self.max_groups:
            self.groups[key] = Group(finding.operation, finding.kind, 1, now, now, finding)
        else:
            self.dropped += 1

    def clear(self) -> int:
        n = self.total
        self.groups.clear()
        self.total = self.dropped = 0
        return n

    def findings(self) -> list[Finding]:
        """One example finding per group (what the exports list)."""
        return [g.example for g in self.groups.values()]

    def summary(self) -> dict[str, Any]:
        groups = sorted(self.groups.values(), key=lambda g: (g.operation, g.kind))
        return {
            "total": self.total,
            "groups": [g.to_dict() for g in groups],
            "dropped": self.dropped,
            "max_groups": self.max_groups,
        }


class DriftService:
    def __init__(self, runtime: Runtime, model: ApiModel) -> None:
        cfg = runtime.config.http.drift
        self.runtime = runtime
        self.mode = cfg.mode
        self.checker = DriftChecker(model)
        self.ledger = DriftLedger(cfg.max_groups)

    def reload(self, model: ApiModel) -> None:
        """Judge answers against ``model`` from now on (hot reload); findings so far are kept."""
        self.checker = DriftChecker(model)

    async def review(self, request: Request, response: Response) -> Response:
        """``response`` (the upstream's) with its findings, or the 502 that replaces it (enforce)."""
        stream = response.stream
        body = response.body if stream is None else None
        findings = self.checker.check(request, response.status, Headers(response.headers), body)
        if not findings:
            return response
        now = time.time()
        metrics = self.runtime.metrics
        for f in findings:
            self.ledger.add(f, now)
            label = UNDOCUMENTED if f.kind == "undocumented_endpoint" else f.operation
            metrics.drift_finding(label, f.kind)
        found = [f.to_dict() for f in findings]
        if self.mode != "enforce":
            response.drift = found
            return response
        closer = getattr(stream, "aclose", None)
        if closer is not None:  # the upstream answer is not sent: release its connection
            await closer()
        operation = findings[0].operation
        answer = error_response(
            502,
            "drift_detected",
            f"the upstream answer to {operation} does not match the spec ({len(findings)} findings)",
            [detail(f.pointer or "/", str(f)) for f in findings],
        )
        answer.drift = found
        return answer

    async def admin(self, request: Request, sub: str) -> Response | None:
        if sub != "drift":
            return None
        if request.method == "GET":
            fmt = (request.query.get("format") or [""])[0]
            if not fmt:
                return json_response({"mode": self.mode, **self.ledger.summary()})
            if fmt not in FORMATS:
                return error_response(400, "bad_request", f"format must be one of {', '.join(FORMATS)}",
                                      [detail("query.format", f"got {fmt[:40]!r}")])
            operations = [op.key for op in self.checker.model.operations]
            body, content_type = render(fmt, self.ledger.findings(), operations)
            return Response(status=200, headers=[("content-type", content_type)], body=body, source="admin")
        if request.method == "DELETE":
            return json_response({"cleared": self.ledger.clear()})
        return error_response(405, "method_not_allowed", "GET or DELETE /__mockforge/drift",
                               headers=[("allow", "GET, DELETE")])
