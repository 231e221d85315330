"""Hostile or broken input to a worker: what the supervisor sends it cannot crash or bend it."""

from __future__ import annotations

import json
import subprocess
import sys

from mockforge.workers.child import MAX_STATUS_LINE, Worker
from workers.helpers import ROOT, clean_env


def test_status_lines_only_update_the_two_counts_they_may() -> None:
    workers = {"configured": 2, "alive": 2, "restarts": 0, "index": 1, "pid": 42}
    for line in (b"not json", b"[1, 2]", b'{"alive": "many"}', b'{"pid": 7, "index": 9, "configured": 100}',
                 b'{"alive": ' + b"9" * (MAX_STATUS_LINE + 1) + b"}", b"\xff\xfe", b""):
        Worker._status(line, workers)
    assert workers == {"configured": 2, "alive": 2, "restarts": 0, "index": 1, "pid": 42}
    Worker._status(b'{"alive": 1, "restarts": 3}', workers)
    assert workers["alive"] == 1 and workers["restarts"] == 3


def _child(stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**clean_env(), "MOCKFORGE_WORKER": json.dumps({"index": 1, "count": 2, "report_fd": 2, "sockets": {}})}
    return subprocess.run([sys.executable, "-m", "mockforge.workers.child"], input=stdin, capture_output=True,
                          timeout=60, cwd=ROOT, env=env)


def test_a_config_that_is_not_a_config_is_one_line_and_exit_2() -> None:
    for stdin in (b"", b"{not json}\n", b'{"http": {"port": "x"}}\n', b"[]\n"):
        result = _child(stdin)
        assert result.returncode == 2, (stdin, result.stderr)
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mockforge: error: worker 1:"), (stdin, lines)
