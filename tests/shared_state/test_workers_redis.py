"""``--workers 2 --shared-state redis://...``: the workers of one process tree share state as
replicas do (a stub added through the admin API answers on every worker; the log is one)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx

from redis_server import RedisServer
from workers.helpers import SPEC, health, indexes_seen, start, until

from .test_replicas import _stub


def test_two_workers_on_redis_share_stubs_and_one_log(redis_server: RedisServer, prefix: str,
                                                       tmp_path: Path) -> None:
    # the helper drops MOCKFORGE_* from the environment: the test's prefix comes from a config file
    cfg = tmp_path / "mockforge.yaml"
    cfg.write_text(f"core:\n  shared_state_prefix: {prefix}\n")
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--shared-state", redis_server.url,
                 "--config", str(cfg))
    try:
        seen = indexes_seen(tree.url, {1, 2})
        assert len(set(seen.values())) == 2
        assert health(tree.url)["configured"] == 2
        with httpx.Client(base_url=tree.url, timeout=30) as c:
            assert c.post("/__mockforge/stubs", json=_stub("/everywhere", "yes")).status_code == 201
        answered_by: set[int] = set()

        def every_worker_answers() -> bool:
            with httpx.Client(base_url=tree.url, headers={"connection": "close"}, timeout=30) as c:
                r = c.get("/everywhere")
                w = c.get("/health").json()["workers"]
            if r.status_code == 200 and r.json() == "yes":
                answered_by.add(w["index"])
            return answered_by == {1, 2}

        until(every_worker_answers, "the stub on both workers")

        def hit(i: int) -> int:
            with httpx.Client(base_url=tree.url, headers={"connection": "close"}, timeout=30) as c:
                return c.get(f"/pets/{i + 1}", headers={"x-n": str(i)}).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(hit, range(1000))) == [200] * 1000

        def counted() -> bool:
            with httpx.Client(base_url=tree.url, headers={"connection": "close"}, timeout=30) as c:
                v = c.post("/__mockforge/verify", json={"request": {"method": "GET", "path": "/pets/{id}"},
                                                        "count": {"exactly": 1000}}).json()
            return bool(v["ok"]) and "scope" not in v

        until(counted, "1000 requests in the shared log, whichever worker reads it")
        with httpx.Client(base_url=tree.url, timeout=30) as c:
            entries = c.get("/__mockforge/logs", params={"limit": 5000, "path": "/pets/*"}).json()["entries"]
        assert sorted(int(e["headers"]["x-n"]) for e in entries) == list(range(1000))
    finally:
        code, err = tree.stop()
    assert code == 0, err
