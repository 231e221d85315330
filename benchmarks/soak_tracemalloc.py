"""Where soak growth goes: the soak's mixed load against an in-process server under tracemalloc.

    python benchmarks/soak_tracemalloc.py                  # 60 s warm-up, then 180 s between snapshots
    python benchmarks/soak_tracemalloc.py --warmup 30 --seconds 120 --top 5

``soak.py`` measures RSS from outside; when it shows growth, this says which allocation sites
grew. The server (HTTP, WebSocket, gRPC, admin, metrics; log of 10,000 entries, filled first)
runs in this process with ``tracemalloc`` on, which slows it several times; HTTP load comes from
``tests/load/http_load.py`` and WebSocket and gRPC load from ``soak.Load``, each in its own
process. Prints the traced total at both snapshots and the allocation tracebacks that grew most.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc

from _server import CACHE_DIR, EXAMPLES, LOAD_DIR, PY
from _util import ROOT

CLIENT = """
import asyncio, sys
sys.path.insert(0, sys.argv[4])
from soak import Load

async def main():
    load = Load(int(sys.argv[1]), int(sys.argv[2]), 100, 50, 10)
    task = asyncio.create_task(load.run())
    await asyncio.sleep(float(sys.argv[3]))
    load.stop.set()
    await task
    print(f"ws/grpc client: {load.counts}, {len(load.errors)} errors {load.errors[:2]}")

asyncio.run(main())
"""


async def run(args: argparse.Namespace) -> None:
    from mockforge.config import build_config
    from mockforge.server import Server

    cfg = build_config({
        "http": {"port": 0, "specs": [str(EXAMPLES / "petstore.yaml")], "stubs_dir": str(EXAMPLES / "stubs")},
        "websocket": {"enabled": True, "port": 0,
                      "routes": [{"path": "/ws", "mode": "echo"}, {"path": "/ws/json", "mode": "json_echo"}]},
        "grpc": {"port": 0, "proto_dir": str(EXAMPLES / "protos"), "stubs_dir": str(EXAMPLES / "grpc_stubs")},
        "admin": {"enabled": True, "port": 0},
        "observability": {"metrics": {"enabled": True, "port": 0}},
        "plugins": {"dirs": []},
        "core": {"cache_dir": str(CACHE_DIR), "max_request_logs": 10_000},
    }, env={})
    server = Server(cfg)
    await server.start()
    ports = server.ports
    url = f"http://127.0.0.1:{ports['http']}"
    total = args.warmup + args.seconds + 5
    fill = await asyncio.create_subprocess_exec(PY, str(LOAD_DIR / "http_load.py"), "--url", url, "--requests",
                                                "10100", "--seconds", "120", "--quiet")
    await fill.wait()
    procs = [
        await asyncio.create_subprocess_exec(PY, str(LOAD_DIR / "http_load.py"), "--url", url, "--rate", "300",
                                             "--seconds", str(total), "--connections", "10"),
        await asyncio.create_subprocess_exec(PY, "-c", CLIENT, str(ports["ws"]), str(ports["grpc"]), str(total),
                                             str(ROOT / "benchmarks")),
    ]
    try:
        await asyncio.sleep(args.warmup)
        gc.collect()
        first, first_total = tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0]
        await asyncio.sleep(args.seconds)
        gc.collect()
        second, second_total = tracemalloc.take_snapshot(), tracemalloc.get_traced_memory()[0]
    finally:
        for proc in procs:
            await asyncio.wait_for(proc.wait(), total + 60)
        await server.stop(2)
    print(f"traced Python memory: {first_total / 2**20:.2f} -> {second_total / 2**20:.2f} MB over {args.seconds:.0f} s")
    own = [tracemalloc.Filter(False, tracemalloc.__file__)]
    for stat in second.filter_traces(own).compare_to(first.filter_traces(own), "traceback")[:args.top]:
        print(f"{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks, allocated at:")
        for line in stat.traceback.format()[-2 * args.depth:]:
            print("   ", line)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--warmup", type=float, default=60.0)
    p.add_argument("--seconds", type=float, default=180.0, help="time between the two snapshots")
    p.add_argument("--top", type=int, default=8)
    p.add_argument("--depth", type=int, default=4, help="frames shown per traceback")
    args = p.parse_args()
    if not (0 <= args.warmup <= 600 and 10 <= args.seconds <= 1800):
        p.error("--warmup 0..600, --seconds 10..1800")
    tracemalloc.start(args.depth + 4)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
