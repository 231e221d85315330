"""``mockforge serve --workers N``: one port served by N processes, restarts, graceful stop,
the refusal without shared state and per-worker answers with ``--independent-workers``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import psutil
import pytest

from workers.helpers import ROOT, SPEC, clean_env, health, indexes_seen, start, until


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockforge", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=clean_env())


def test_more_than_one_worker_without_shared_state_is_refused_in_one_line() -> None:
    result = run("serve", "--spec", SPEC, "--http-port", "0", "--workers", "2")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "core.workers" in lines[0] and "--shared-state" in lines[0] and "--independent-workers" in lines[0]
    assert "starting" not in result.stdout  # refused before any worker was started


def test_bad_workers_values_are_one_line_errors() -> None:
    for value, expected in (("zero", "--workers"), ("0", "core.workers"), ("100000", "core.workers")):
        result = run("serve", "--http-port", "0", "--workers", value, "--independent-workers")
        assert result.returncode == 2, (value, result.stderr)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) <= 3, result.stderr


def test_env_variable_sets_workers_and_the_refusal_applies() -> None:
    env = {**clean_env(), "MOCKFORGE_WORKERS": "auto"}
    result = subprocess.run([sys.executable, "-m", "mockforge", "serve", "--http-port", "0"], capture_output=True,
                            text=True, timeout=120, cwd=ROOT, env=env)
    if (os.cpu_count() or 1) > 1:
        assert result.returncode == 2 and "core.workers" in result.stderr


def test_two_workers_share_one_port_and_each_answers() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    try:
        pids = tree.worker_pids()
        assert len(pids) == 2 and tree.proc.pid not in pids
        seen = indexes_seen(tree.url, {1, 2})
        assert set(seen.values()) == pids  # two different processes answered on the one port
        w = health(tree.url)
        assert w["configured"] == 2 and w["alive"] == 2 and w["restarts"] == 0
        r = httpx.get(f"{tree.url}/pets/7")
        assert r.status_code == 200 and r.json()["name"] == "Rex"
        assert "2 workers" in "".join(tree.out)
    finally:
        code, err = tree.stop()
    assert code == 0, err


def test_independent_workers_say_their_logs_and_verification_cover_one_worker() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    try:
        scopes = set()

        def both_scopes() -> bool:
            with httpx.Client(base_url=tree.url, headers={"connection": "close"}) as c:
                logs = c.get("/__mockforge/logs").json()
                verify = c.post("/__mockforge/verify", json={"request": {"method": "GET"}, "count": {"at_least": 0}})
            assert verify.status_code == 200, verify.text
            assert "entries" in logs and logs["scope"] in ("worker 1 of 2", "worker 2 of 2")
            assert verify.json()["scope"] in ("worker 1 of 2", "worker 2 of 2")
            scopes.add(logs["scope"])
            return len(scopes) == 2

        until(both_scopes, "logs from both workers")
    finally:
        code, _ = tree.stop()
    assert code == 0


def test_one_worker_logs_carry_no_scope_and_no_supervisor() -> None:
    tree = start("--spec", SPEC, "--http-port", "0")
    try:
        assert tree.worker_pids() == set()  # the default runs in one process: no supervisor, no child
        assert "scope" not in httpx.get(f"{tree.url}/__mockforge/logs").json()
        w = health(tree.url)
        assert w == {"configured": 1, "alive": 1, "restarts": 0, "index": 1, "pid": tree.proc.pid}
    finally:
        code, _ = tree.stop()
    assert code == 0


def test_a_killed_worker_is_restarted_and_the_port_keeps_answering() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    try:
        before = indexes_seen(tree.url, {1, 2})
        os.kill(before[2], signal.SIGKILL)
        # the port answers all along (worker 1 takes every new connection meanwhile)
        for _ in range(20):
            assert httpx.get(f"{tree.url}/pets/7", headers={"connection": "close"}).status_code == 200

        def restarted() -> bool:
            w = health(tree.url)
            return w["restarts"] == 1 and w["alive"] == 2 and w["index"] == 2 and w["pid"] != before[2]

        until(restarted, "worker 2 restarted")
        assert not psutil.pid_exists(before[2]) or psutil.Process(before[2]).status() == psutil.STATUS_ZOMBIE
        assert len(tree.worker_pids()) == 2
    finally:
        code, err = tree.stop()
    assert code == 0
    assert "worker 2" in err and "restarting" in err


def test_sigterm_stops_every_worker_and_leaves_no_orphan() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    pids = tree.worker_pids()
    assert len(pids) == 2
    code, _ = tree.stop(signal.SIGTERM)
    assert code == 0
    for pid in pids:
        assert not psutil.pid_exists(pid), f"worker {pid} outlived the supervisor"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{tree.url}/health")


def test_sigint_stops_gracefully_too() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    pids = tree.worker_pids()
    code, _ = tree.stop(signal.SIGINT)
    assert code == 0
    assert not any(psutil.pid_exists(p) for p in pids)


def test_workers_stop_when_the_supervisor_is_killed() -> None:
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    pids = [psutil.Process(p) for p in tree.worker_pids()]
    tree.stop(signal.SIGKILL)  # no chance to forward anything: the workers see their stdin close
    gone, alive = psutil.wait_procs(pids, timeout=60)
    assert not alive and len(gone) == 2


def test_a_bad_spec_is_reported_once_and_exits_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.3\npaths: [unclosed\n")
    result = run("serve", "--spec", str(bad), "--http-port", "0", "--workers", "3", "--independent-workers")
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mockforge: error:")]
    assert len(errors) == 1 and "bad.yaml" in errors[0], result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stdout + result.stderr


def test_a_shared_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run("serve", "--http-port", str(port), "--workers", "2", "--independent-workers")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and str(port) in errors[0] and "http listener" in errors[0], result.stderr


def test_a_port_another_workers_server_shares_is_refused_not_split() -> None:
    # Both would bind with SO_REUSEPORT, and the kernel would then spread one port's connections
    # over two unrelated servers: the second must see the port as in use.
    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    try:
        port = tree.ports["HTTP"]
        result = run("serve", "--http-port", str(port), "--workers", "2", "--independent-workers")
        assert result.returncode == 2, result.stdout + result.stderr
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "in use" in errors[0], result.stderr
        assert "starting" not in result.stdout
        assert httpx.get(f"{tree.url}/pets/7").json()["name"] == "Rex"  # the first one still answers
    finally:
        code, _ = tree.stop()
    assert code == 0


def test_a_sigterm_while_worker_1_loads_stops_everything_and_leaves_no_orphan() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", "--spec", SPEC, "--http-port", "0",
                             "--workers", "2", "--independent-workers"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=clean_env())
    try:
        # the supervisor is up and worker 1 is loading (not ready: no other worker yet)
        children = until(lambda: psutil.Process(proc.pid).children(), "worker 1 to start")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
    for child in children:
        assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE, child


def test_one_worker_imports_nothing_of_the_workers_package() -> None:
    code = ("import sys, mockforge.cli, mockforge.server, mockforge.runtime;"
            "print(sorted(m for m in sys.modules if m.startswith('mockforge.workers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env=clean_env(), check=True).stdout
    assert out.strip() == "[]"


def test_a_crash_loop_stops_everything_with_exit_1_instead_of_spinning() -> None:
    from mockforge.workers.supervisor import MAX_RESTARTS

    tree = start("--spec", SPEC, "--http-port", "0", "--workers", "2", "--independent-workers")
    worker1 = indexes_seen(tree.url, {1, 2})[1]
    killed: list[int] = []
    try:
        for _ in range(MAX_RESTARTS + 1):  # kill worker 2 each time it is back
            pid = until(lambda: (p := indexes_seen(tree.url, {1, 2})[2]) not in killed and p, "worker 2 back")
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)
        tree.proc.wait(timeout=120)
    finally:
        code, err = tree.stop()
    assert code == 1, err
    assert f"worker 2 died {MAX_RESTARTS + 1} times" in err
    assert not psutil.pid_exists(worker1)  # the healthy worker was stopped too: nothing left behind


def test_the_supervisor_imports_only_the_standard_library() -> None:
    """It lives as long as the server: click, the config, asyncio and msgspec stay out of it."""
    code = ("import sys; import mockforge.workers.supervisor;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in"
            " ('mockforge', 'click', 'msgspec', 'yaml', 'asyncio', 'uvloop', 'httptools')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env=clean_env(), check=True).stdout
    assert out.strip() == "['mockforge', 'mockforge.workers', 'mockforge.workers.supervisor']"
