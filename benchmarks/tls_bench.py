"""HTTPS cost (issue 17): keep-alive throughput as a ratio of plain HTTP, new handshakes per
second, and idle RSS with TLS on minus off.

    python benchmarks/tls_bench.py [--seconds 5]

One server process serves the same stub on a plain port and on a TLS port (``http.tls.port``),
so both figures come from the same process in the same run, interleaved (plain, TLS, plain,
TLS) to spread the machine's noise. Handshakes: wrk with ``Connection: close`` makes every
request a new connection (on TLS, a full handshake, ECDHE + the EC P-256 certificate of the
local CA). Idle RSS: a TLS-off and a TLS-on server, each measured after one answered request; the
TLS-on one is a restart (its certificate cached, as on every start after the first of a cache
folder, which alone imports ``cryptography``: about 13 MB more).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _util import free_port, have_wrk, mb, mockforge_args, server_process, tree_rss, wrk

CONFIG = """\
http:
  port: {plain}
  routes:
    - request: {{method: GET, path: /hello}}
      response: {{body_text: hello}}
{tls}
core:
  cache_dir: {cache}
"""


def _config(folder: Path, name: str, *, tls: bool) -> tuple[Path, int, int]:
    plain, secure = free_port(), free_port()
    block = f"  tls: {{auto: true, port: {secure}}}" if tls else ""
    path = folder / f"{name}.yaml"
    path.write_text(CONFIG.format(plain=plain, tls=block, cache=folder / "cache"))
    return path, plain, secure


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # idle RSS, TLS off then on
        off_cfg, off_port, _ = _config(folder, "off", tls=False)
        off_url = f"http://127.0.0.1:{off_port}/hello"
        with server_process(mockforge_args("--config", str(off_cfg)), off_url) as (proc, _):
            time.sleep(0.5)
            rss_off = tree_rss(proc.pid)
        on_cfg, plain, secure = _config(folder, "on", tls=True)
        with server_process(mockforge_args("--config", str(on_cfg)), f"http://127.0.0.1:{plain}/hello"):
            pass  # the first start makes the CA and the server certificate
        with server_process(mockforge_args("--config", str(on_cfg)), f"http://127.0.0.1:{plain}/hello") as (proc, _):
            time.sleep(0.5)
            rss_on = tree_rss(proc.pid)
            print(f"idle RSS: TLS off {mb(rss_off)}, TLS on {mb(rss_on)}, difference {mb(rss_on - rss_off)}")
            if not have_wrk():
                print("wrk not installed: throughput and handshake figures skipped")
                return 0
            http_url, https_url = f"http://127.0.0.1:{plain}/hello", f"https://127.0.0.1:{secure}/hello"
            keep = {"http": [], "https": []}  # type: dict[str, list[float]]
            for _ in range(2):
                for name, url in (("http", http_url), ("https", https_url)):
                    r = wrk(url, seconds=args.seconds, connections=50)
                    if r["errors"]:
                        print(f"{name}: {int(r['errors'])} errors", file=sys.stderr)
                    keep[name].append(r["rps"])
            best_http, best_https = max(keep["http"]), max(keep["https"])
            print(f"keep-alive req/s: HTTP {best_http:,.0f}, HTTPS {best_https:,.0f}, "
                  f"ratio {best_https / best_http:.2f}")
            close = {}
            for name, url in (("http", http_url), ("https", https_url)):
                script = folder / "close.lua"
                script.write_text('wrk.headers["Connection"] = "close"\n')
                close[name] = wrk(url, seconds=args.seconds, connections=10, script=str(script))["rps"]
            print(f"new connections/s: plain {close['http']:,.0f}, TLS handshakes {close['https']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
