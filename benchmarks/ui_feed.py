"""The console's cost (issue 19): idle RSS with and without a console request, and RSS growth
while 5 browser tabs follow the live feed at 200 requests/s.

    python benchmarks/ui_feed.py                   # 60 s per phase (the issue's figure)
    python benchmarks/ui_feed.py --seconds 20      # shorter

Each phase runs a fresh ``mockforge serve --admin-port 0`` child (benchmarks/_server.py):

1. idle: settled RSS after start, then after the first ``GET /__mockforge/ui/`` and its assets
   (what loading ``mockforge.ui`` costs, paid only once someone opens the console);
2. baseline: 200 requests/s for N seconds, nobody following the feed (the log ring fills: that
   growth is the server's own);
3. 5 tabs: the same load while 5 headless Chromium tabs show the Traffic page (each one a live
   feed stream); RSS growth is compared with the baseline's, and each tab reports how many events
   the server dropped for it and how many rows it kept (at most 1,000).

The target is growth under 5 MB with 5 tabs; the baseline's growth is printed beside it (the
ratio of interest is the difference). Verdicts are printed, never gating (CI shares 2 cores).
Needs /usr/bin/chromium and /usr/bin/chromedriver (``make ui-deps``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ui"))

from _server import Mockforge

MB = 1024 * 1024
RATE = 200
TABS = 5


def _load(url: str, seconds: float, rate: int, stop: threading.Event, sent: list[int]) -> None:
    """``rate`` requests/s for ``seconds`` (paced per 10 ms slot) from one keep-alive client."""
    with httpx.Client(base_url=url, timeout=10) as client:
        started = time.perf_counter()
        n = 0
        while not stop.is_set():
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            while n < due:
                client.get(f"/items/{n % 500}", headers={"x-n": str(n)})
                n += 1
            time.sleep(0.005)
        sent.append(n)


def _run_load(mf: Mockforge, seconds: float, samples: list[tuple[float, int]]) -> int:
    stop = threading.Event()
    sent: list[int] = []
    worker = threading.Thread(target=_load, args=(mf.url(), seconds, RATE, stop, sent))
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        samples.append((time.perf_counter() - started, mf.rss()))
        worker.join(timeout=5)
    samples.append((time.perf_counter() - started, mf.rss()))
    return sent[0] if sent else 0


def _serve() -> Mockforge:
    return Mockforge("--http-port", "0", "--admin-port", "0")


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def idle_phase() -> None:
    with _serve() as mf:
        before = mf.settled_rss()
        with httpx.Client(timeout=10) as client:
            base = f"http://127.0.0.1:{mf.ports['admin']}/__mockforge/ui/"
            client.get(base)
            for asset in ("app.js", "dom.js", "api.js", "app.css", "stubdraft.js", "pages/traffic.js"):
                client.get(base + "assets/" + asset).raise_for_status()
        after = mf.settled_rss()
    print(f"idle RSS: {_mb(before)} before any console request; {_mb(after)} after the console's files "
          f"were served (+{_mb(after - before)}, paid once the console is opened)")


def feed_phase(seconds: float, tabs: int) -> tuple[int, int, int]:
    """RSS growth (bytes) under load with ``tabs`` Traffic pages open, requests sent, and dropped events."""
    from ui_harness import make_driver

    samples: list[tuple[float, int]] = []
    driver: Any = None
    with _serve() as mf:
        try:
            if tabs:
                driver = make_driver(1200, 800)
                url = f"http://127.0.0.1:{mf.ports['admin']}/__mockforge/ui/#/traffic"
                for i in range(tabs):
                    if i:
                        driver.switch_to.new_window("tab")
                    driver.get(url)
                deadline = time.monotonic() + 30
                for handle in driver.window_handles:
                    driver.switch_to.window(handle)
                    while driver.execute_script("return document.querySelector('[data-test=traffic-live]')"
                                                " ? document.querySelector('[data-test=traffic-live]').textContent"
                                                " : ''") != "live":
                        if time.monotonic() > deadline:
                            raise RuntimeError("a tab did not connect to the live feed")
                        time.sleep(0.1)
            # warm up: the log ring and the tabs' tables fill, so growth is what stays after
            _run_load(mf, min(10.0, seconds / 3), [])
            start = mf.settled_rss(wait=1.0, samples=3)
            sent = _run_load(mf, seconds, samples)
            end = mf.settled_rss(wait=1.0, samples=3)
            peak = max(r for _, r in samples)
            dropped = 0
            if driver is not None:
                for handle in driver.window_handles:
                    driver.switch_to.window(handle)
                    note = driver.execute_script(
                        "const n = document.querySelector('[data-test=traffic-dropped]');"
                        "return n && !n.hidden ? n.textContent : ''")
                    rows = driver.execute_script("return document.querySelectorAll('[data-test=traffic-row]').length")
                    words = [w for w in str(note).split() if w.isdigit()]
                    dropped += int(words[0]) if words else 0
                    print(f"  tab {handle[:6]}: {rows} rows kept; {note or 'no events dropped'}")
            print(f"{tabs} tabs: {sent} requests in {seconds:.0f} s ({sent / seconds:.0f}/s); RSS start "
                  f"{_mb(start)}, peak {_mb(peak)}, end {_mb(end)}; growth {_mb(end - start)} "
                  f"(peak {_mb(peak - start)})")
            return end - start, sent, dropped
        finally:
            if driver is not None:
                driver.quit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="load time per phase (default 60)")
    args = p.parse_args()
    idle_phase()
    base_growth, _, _ = feed_phase(args.seconds, 0)
    tab_growth, _, dropped = feed_phase(args.seconds, TABS)
    extra = tab_growth - base_growth
    print(f"\nRSS growth with {TABS} tabs following the feed: {_mb(tab_growth)} against {_mb(base_growth)} with none "
          f"(difference {_mb(extra)}); {dropped} events dropped for slow tabs in total")
    verdict = "within" if tab_growth < 5 * MB else "OVER"
    print(f"verdict: growth {verdict} the 5 MB target (printed, not gating)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
