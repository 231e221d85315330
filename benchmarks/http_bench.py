"""HTTP throughput, memory and start-up (core issue).

    python benchmarks/http_bench.py [--seconds 8]

In one run: a bare hello world on the same HTTP layer (the baseline), then mockforge serving
examples/petstore.yaml with the request log on: GET /pets/7 (an example body) and
GET /pets/7/owner (a schema-generated body). Prints requests/s, the ratio to the baseline,
idle RSS after the first request, peak RSS under 400 connections, and start to first answer.
"""

from __future__ import annotations

import argparse
import json

from _util import PY, PeakSampler, free_port, have_wrk, mb, mockforge_args, server_process, tree_rss, wrk

SPEC = "examples/petstore.yaml"


def main() -> dict[str, object]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not have_wrk():
        print("wrk is not installed (apt-get install wrk): skipping the throughput part")
        return {}
    # Both servers run at once and the wrk runs are interleaved over several rounds (best of
    # each kept), so a burst of load from elsewhere on a shared machine hits all figures alike.
    hello_port, port = free_port(), free_port()
    cmd = mockforge_args("--spec", SPEC, "--http-port", str(port))
    with server_process(cmd, f"http://127.0.0.1:{port}/pets/7") as (proc, startup), \
            server_process([PY, "benchmarks/hello_app.py", str(hello_port)], f"http://127.0.0.1:{hello_port}/"):
        idle = tree_rss(proc.pid)
        runs: dict[str, list[dict[str, float]]] = {"hello": [], "example": [], "generated": []}
        urls = {"hello": f"http://127.0.0.1:{hello_port}/", "example": f"http://127.0.0.1:{port}/pets/7",
                "generated": f"http://127.0.0.1:{port}/pets/7/owner"}
        for _ in range(args.rounds):
            for name, url in urls.items():
                runs[name].append(wrk(url, seconds=args.seconds))
        hello, example, generated = (max(runs[n], key=lambda r: r["rps"]) for n in ("hello", "example", "generated"))
        after = tree_rss(proc.pid)
        with PeakSampler(proc.pid) as sampler:
            burst = wrk(f"http://127.0.0.1:{port}/pets/7/owner", seconds=args.seconds, connections=400, threads=2)
        peak = sampler.peak
    results = {
        "hello_rps": hello["rps"],
        "example_rps": example["rps"],
        "generated_rps": generated["rps"],
        "example_ratio": example["rps"] / hello["rps"],
        "generated_ratio": generated["rps"] / hello["rps"],
        "errors": example["errors"] + generated["errors"],
        "burst_rps": burst["rps"],
        "burst_errors": burst["errors"],
        "idle_rss_mb": idle / 2**20,
        "rss_after_load_mb": after / 2**20,
        "peak_rss_400_mb": peak / 2**20,
        "peak_minus_idle_mb": (peak - idle) / 2**20,
        "start_to_first_answer_s": startup,
    }
    print(f"hello world (baseline)      {hello['rps']:9.0f} req/s")
    print(f"GET /pets/7 (example)       {example['rps']:9.0f} req/s  ratio {results['example_ratio']:.2f}")
    print(f"GET /pets/7/owner (gen.)    {generated['rps']:9.0f} req/s  ratio {results['generated_ratio']:.2f}"
          f"  (target >= 0.50: {'met' if results['generated_ratio'] >= 0.5 else 'MISSED'})")
    print(f"idle RSS after first request {mb(idle)} (target < 45 MB: {'met' if idle < 45 * 2**20 else 'MISSED'})")
    print(f"peak RSS, 400 connections    {mb(peak)} (+{mb(peak - idle)}; target within 20 MB: "
          f"{'met' if peak - idle < 20 * 2**20 else 'MISSED'}); {burst['rps']:.0f} req/s, {burst['errors']:.0f} errors")
    print(f"start to first answer        {startup:.3f} s (target < 0.5 s: {'met' if startup < 0.5 else 'MISSED'})")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
