"""The hot path of two revisions side by side: throughput, idle RSS and start-up, new/old ratios.

    python benchmarks/compare_revisions.py --base 636bfae [--rounds 3 --seconds 5]

Checks out ``--base`` (and ``--head``, default: the working tree) into temporary git worktrees,
starts both servers on examples/petstore.yaml at once, and interleaves wrk runs against each
(``GET /pets/7``, an example body, and ``GET /pets/7/owner``, a generated one), keeping the best
of each; a burst of load from elsewhere on a shared machine then hits both alike. Start-up (spawn
to first answer) and idle RSS are the medians of ``--starts`` fresh starts each. Prints each
figure for both and the ratio new/old; a throughput ratio under 0.95 or an RSS/start-up ratio over
1.05 is flagged. Never gating: the exit status is 0 unless a server failed to start.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _util import PY, ROOT, free_port, have_wrk, server_process, tree_rss, wrk

SPEC = "examples/petstore.yaml"


@contextlib.contextmanager
def checkout(rev: str | None) -> Iterator[Path]:
    """A worktree of ``rev`` (None: this working tree as it is)."""
    if rev is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="mockforge-rev-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), rev], cwd=ROOT, check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def serve_args(tree: Path, port: int) -> tuple[list[str], dict[str, str]]:
    args = [PY, "-m", "mockforge", "serve", "--log-level", "warning", "--spec", str(ROOT / SPEC),
            "--http-port", str(port)]
    return args, {"PYTHONPATH": str(tree / "src")}


def starts(tree: Path, n: int) -> tuple[float, float]:
    """Median start-up seconds and idle RSS (bytes) over ``n`` fresh starts."""
    times, rss = [], []
    for _ in range(n):
        port = free_port()
        args, env = serve_args(tree, port)
        with server_process(args, f"http://127.0.0.1:{port}/pets/7", env=env) as (proc, startup):
            times.append(startup)
            rss.append(tree_rss(proc.pid))
    return statistics.median(times), statistics.median(rss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the old revision (a commit, tag or branch)")
    ap.add_argument("--head", default=None, help="the new revision (default: the working tree)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()
    rows: list[tuple[str, float, float, bool]] = []  # name, old, new, higher is better
    with checkout(args.base) as old_tree, checkout(args.head) as new_tree:
        trees = {"old": old_tree, "new": new_tree}
        for name, tree in trees.items():
            print(f"{name}: {tree}", flush=True)
        st = {name: starts(tree, args.starts) for name, tree in trees.items()}
        rows.append(("start to first answer (s)", st["old"][0], st["new"][0], False))
        rows.append(("idle RSS (MB)", st["old"][1] / 2**20, st["new"][1] / 2**20, False))
        if have_wrk():
            ports = {name: free_port() for name in trees}
            with contextlib.ExitStack() as stack:
                for name, tree in trees.items():
                    cmd, env = serve_args(tree, ports[name])
                    stack.enter_context(server_process(cmd, f"http://127.0.0.1:{ports[name]}/pets/7", env=env))
                best: dict[tuple[str, str], float] = {}
                for _ in range(args.rounds):
                    for path in ("/pets/7", "/pets/7/owner"):
                        for name in trees:
                            r = wrk(f"http://127.0.0.1:{ports[name]}{path}", seconds=args.seconds)
                            best[(name, path)] = max(best.get((name, path), 0.0), r["rps"])
            for path in ("/pets/7", "/pets/7/owner"):
                rows.append((f"GET {path} (req/s)", best[("old", path)], best[("new", path)], True))
        else:
            print("wrk is not installed (apt-get install wrk): throughput not compared")
    print(f"\n{'figure':<30} {'old':>10} {'new':>10} {'new/old':>8}")
    for name, old, new, higher_better in rows:
        ratio = new / old if old else float("nan")
        worse = ratio < 0.95 if higher_better else ratio > 1.05
        print(f"{name:<30} {old:10.3f} {new:10.3f} {ratio:8.3f}{'  (over 5% worse)' if worse else ''}")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
