"""``mockforge serve --workers N`` (N > 1), in the CLI process: bind the shared ports, then become
the supervisor.

    supervise(cfg)        # never returns: the process becomes ``python -m mockforge.workers.supervisor``

The CLI process has loaded click, the config and its checks (about 29 MB); the supervisor needs
none of it for the life of the server. So the ports are bound here (``sockets.Reservation``: a
port that cannot be bound is one line and exit 2, as without workers), the checked config with
the bound ports is written to an unlinked temporary file (it may hold the admin token, so not in
the environment or argv), and the process ``exec``s a fresh interpreter running the supervisor,
which inherits the sockets and that file and imports only the standard library (about 12 MB).
The pid stays the same, so signals sent to ``mockforge serve`` reach the supervisor.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import NoReturn

import msgspec

from mockforge.config import Config
from mockforge.version import __version__
from mockforge.workers.sockets import DEFAULT_MODE, BindError, Reservation, shared_listeners, with_ports

#: The variable that carries the supervisor's plan across ``exec`` (JSON, no secrets).
PLAN_ENV = "MOCKFORGE_SUPERVISOR"


def supervise(cfg: Config, mode: str = DEFAULT_MODE) -> NoReturn:
    """Bind the shared ports and exec the supervisor for ``cfg.worker_count()`` workers."""
    count = cfg.worker_count()
    try:
        reservation = Reservation.bind(shared_listeners(cfg), mode)
    except BindError as exc:
        name, host, port = exc.listener or ("http", "?", 0)
        print(f"mockforge: error: {name} listener: cannot listen on {host}:{port}: "
              f"{exc.error.strerror or exc.error}", file=sys.stderr)
        sys.exit(2)
    config_file = tempfile.TemporaryFile()  # noqa: SIM115 - unlinked, and kept open across exec
    config_file.write(msgspec.json.encode(with_ports(cfg, reservation.ports)) + b"\n")
    config_file.flush()
    config_file.seek(0)
    fds = [config_file.fileno(), *(s.fileno() for s in reservation.sockets.values())]
    for fd in fds:
        os.set_inheritable(fd, True)
    plan = {
        "count": count,
        "mode": mode,
        "version": __version__,
        "grace_s": cfg.http.graceful_timeout_ms / 1000,
        "config_fd": config_file.fileno(),
        "sockets": reservation.worker_spec(),
        "inherit_fds": list(reservation.fds()),
        "held_fds": [s.fileno() for s in reservation.sockets.values()],
    }
    # nothing printed here: a worker that cannot start (a bad spec) is then the one line the user
    # sees, as without workers; the supervisor prints the listeners and the ready line
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, PLAN_ENV: json.dumps(plan)}
    os.execve(sys.executable, [sys.executable, "-m", "mockforge.workers.supervisor"], env)
