"""Compare a load run's figures with ``tests/load/thresholds.json`` and print the verdict.

    python tests/load/check_thresholds.py http figures.json
    python tests/load/check_thresholds.py ws ws_load_output.txt --load-exit 0 --server-log server.err
    python tests/load/check_thresholds.py grpc grpc_load_output.txt --load-exit 0

``http`` reads the JSON that ``http_mix.lua`` (its ``MOCKFORGE_RESULT`` line) or ``http_load.py
--json`` writes; ``ws`` and ``grpc`` read the printed output of ``ws_load.py`` and
``grpc_load.py`` (run with their own thresholds switched off). Errors always gate: an error rate
over the bound, a non-zero exit of the load tool, a traceback in the server's log, a server that
died. Latency (p95, p99) and throughput gate too, except under ``CI=true``, where the machines are
shared and noisy and those verdicts are printed only. Exit 0 on PASS, 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NUM = r"([\d.,]+|nan)"


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def parse_ws(text: str) -> list[tuple[str, dict[str, float]]]:
    trips = re.search(rf"round trips: (\d+) in {NUM} s = {NUM} messages/s", text)
    lat = re.search(rf"latency ms: p50 {NUM}\s+p95 {NUM}\s+p99 {NUM}", text)
    verdict = re.search(r"verdict: \w+ \(.*?(\d+) errors\)", text)
    if not (trips and lat and verdict):
        return [("ws", {"requests": 0, "errors": 1, "rps": 0.0, "p95_ms": float("nan"), "p99_ms": float("nan")})]
    return [("ws", {"requests": int(trips.group(1)), "rps": _num(trips.group(3)),
                    "p95_ms": _num(lat.group(2)), "p99_ms": _num(lat.group(3)), "errors": int(verdict.group(1))})]


def parse_grpc(text: str) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for m in re.finditer(rf"^(unary|server_stream|client_stream|bidi)\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+"
                         r"(\w+)(?: \((\d+) errors)?", text, re.M):
        rows.append((f"grpc {m.group(1)}", {"requests": int(m.group(2)), "rps": _num(m.group(3)),
                                            "p95_ms": _num(m.group(5)), "p99_ms": _num(m.group(6)),
                                            "errors": int(m.group(8) or 0)}))
    if len(rows) != 4:
        rows.append(("grpc (output)", {"requests": 0, "errors": 1, "rps": 0.0,
                                       "p95_ms": float("nan"), "p99_ms": float("nan")}))
    return rows


def parse_http(text: str) -> list[tuple[str, dict[str, float]]]:
    data = json.loads(text)
    return [(f"http ({data.get('tool', '?')})", data)]


def check(protocol: str, rows: list[tuple[str, dict[str, Any]]], limits: dict[str, float],
          gate_speed: bool) -> tuple[bool, list[str]]:
    ok = True
    lines = [f"{'run':<22}{'count':>9}{'rate/s':>10}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}  checks"]
    for name, f in rows:
        count = int(f.get("requests", 0))
        errors = int(f.get("errors", 0))
        # HTTP counts failed statuses among its requests; the other tools count only successes
        total = count + (int(f.get("errors_socket", 0)) if "errors_status" in f else errors)
        rate = errors / max(1, total) if count or errors else 1.0
        checks = {
            "errors": rate <= limits["error_rate"] and count > 0,
            "p95": f["p95_ms"] <= limits["p95_ms"],
            "p99": f["p99_ms"] <= limits["p99_ms"],
            "throughput": f["rps"] >= limits["min_rps"],
        }
        missed = [k for k, v in checks.items() if not v]
        gating = [k for k in missed if k == "errors" or gate_speed]
        ok &= not gating
        text = "all met" if not missed else "missed: " + ", ".join(
            k + ("" if k in gating else " (not gating)") for k in missed)
        lines.append(f"{name:<22}{count:>9}{f['rps']:>10.0f}{f['p95_ms']:>9.2f}{f['p99_ms']:>9.2f}{errors:>8}  {text}")
    lines.append(f"thresholds ({protocol}): p95 <= {limits['p95_ms']} ms, p99 <= {limits['p99_ms']} ms, "
                 f"error rate <= {limits['error_rate']:.3%}, rate >= {limits['min_rps']}/s")
    return ok, lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("protocol", choices=["http", "ws", "grpc"])
    p.add_argument("result", help="figures JSON (http) or the load tool's output (ws, grpc)")
    p.add_argument("--thresholds", default=str(HERE / "thresholds.json"))
    p.add_argument("--load-exit", type=int, default=0, help="exit status of the load tool")
    p.add_argument("--server-log", help="the server's stderr: a traceback in it fails the run")
    p.add_argument("--server-alive", choices=["yes", "no"], default="yes")
    p.add_argument("--health-after", choices=["ok", "failed"], default="ok")
    args = p.parse_args()
    limits = json.loads(Path(args.thresholds).read_text())[args.protocol]
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    text = Path(args.result).read_text() if Path(args.result).exists() else ""
    parser = {"http": parse_http, "ws": parse_ws, "grpc": parse_grpc}[args.protocol]
    try:
        rows = parser(text)
    except (ValueError, KeyError) as exc:
        print(f"could not read the load figures: {exc}")
        rows = []
    ok, lines = check(args.protocol, rows, limits, gate_speed=not ci) if rows else (False, [])
    print("\n".join(lines))
    problems = []
    if args.load_exit != 0:
        problems.append(f"load tool exited {args.load_exit}")
    if args.server_alive != "yes":
        problems.append("server died during the load")
    if args.health_after != "ok":
        problems.append("/health failed after the load")
    if args.server_log and Path(args.server_log).exists():
        tracebacks = Path(args.server_log).read_text(errors="replace").count("Traceback (most recent call last)")
        if tracebacks:
            problems.append(f"{tracebacks} traceback(s) in the server log")
    ok = ok and not problems
    mode = "CI=true: latency and throughput not gating" if ci else "all checks gating"
    print(f"verdict: {'PASS' if ok else 'FAIL'} ({args.protocol}; {mode}"
          + (f"; {'; '.join(problems)}" if problems else "") + ")")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
