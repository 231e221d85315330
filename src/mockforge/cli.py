"""The ``mockforge`` command: serve, validate, init (and the groups later parts attach).

Every user error prints one line (``mockforge: error: FILE at PLACE: what``) and exits 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from mockforge.errors import MockforgeError
from mockforge.version import __version__

#: Seconds beyond ``http.graceful_timeout_ms`` that closing services may take on SIGTERM.
STOP_GRACE_S = 15.0


def _fail(exc: MockforgeError | str, code: int = 2) -> None:
    click.echo(f"mockforge: error: {exc}", err=True)
    sys.exit(code)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mockforge")
def main() -> None:
    """mockforge: mock HTTP (OpenAPI), WebSocket and gRPC APIs in one light process."""


@main.command()
@click.option("--spec", "specs", multiple=True, metavar="FILE", help="OpenAPI 2.0/3.0/3.1 document (repeatable).")
@click.option("--config", "config_file", metavar="FILE",
              help="Config file (YAML/JSON). Default: ./mockforge.yaml when present.")
@click.option("--profile", help="Named overlay from the config's 'profiles:' (or MOCKFORGE_PROFILE).")
@click.option("--host", help="Address for the HTTP, WebSocket and gRPC listeners (never the admin one).")
@click.option("--http-port", "--port", "-p", "http_port", type=int,
              help="HTTP port (default 3000; 0 = any free port).")
@click.option("--ws-port", type=int, help="Start the WebSocket listener on this port (default 3001 when enabled).")
@click.option("--grpc-port", type=int, help="gRPC port (default 50051; gRPC starts when protos are configured).")
@click.option("--admin", "admin", is_flag=True, default=None,
              help="Start the admin listener (127.0.0.1:9080; web console at /__mockforge/ui/).")
@click.option("--admin-port", type=int, help="Admin listener port (starts it).")
@click.option("--metrics", "metrics", is_flag=True, default=None, help="Start the Prometheus metrics listener.")
@click.option("--metrics-port", type=int, help="Metrics listener port (default 9090; starts it).")
@click.option("--proto-dir", metavar="DIR", help="Folder of .proto files to serve over gRPC.")
@click.option("--seed", type=int, help="Seed for generated data, latency and faults (reproducible output).")
@click.option(
    "--watch",
    is_flag=True,
    default=None,
    help="Reload specs, stub files, config routes and the state seed file on change.",
)
@click.option("--validation", type=click.Choice(["off", "warn", "enforce"]), help="Request validation mode.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="Log level.")
@click.option("--log-requests", is_flag=True, default=None,
              help="Print one line per exchange on stderr (time, protocol, method, path, status, source, ms).")
@click.option("--fixtures-mode", type=click.Choice(["off", "replay", "replay_strict", "record", "record_missing"]),
              help="Record/replay mode for fixtures on disk.")
@click.option("--record", "record_url", metavar="URL", help="Record mode, proxying to this upstream URL.")
@click.option("--replay", is_flag=True, default=None, help="Replay mode: answer from recorded fixtures.")
@click.option("--fixtures-dir", metavar="DIR", help="Fixture folder (default ./fixtures).")
@click.option("--tls", "tls", is_flag=True, default=None,
              help="HTTPS with a certificate from the local CA (docs/TLS.md).")
@click.option("--proxy", "proxy_url", metavar="URL", help="Proxy unanswered requests to this upstream URL.")
@click.option("--drift", type=click.Choice(["off", "report", "enforce"]),
              help="Check proxied answers against the spec (docs/DRIFT.md).")
@click.option("--state", "state_mode", type=click.Choice(["off", "on", "strict"]),
              help="Stateful mocks: remember what clients create (docs/STATE.md).")
# ---- workers (docs/SCALING.md) ----
@click.option("--workers", metavar="N|auto",
              help="Worker processes serving the same ports (default 1; auto = one per core). "
                   "More than 1 needs --shared-state or --independent-workers.")
@click.option("--independent-workers", is_flag=True, default=None,
              help="Let each worker keep its own logs, stubs and scenarios (a load-test target).")
# ---- shared state (docs/SHARED_STATE.md) ----
@click.option("--shared-state", "shared_state", metavar="URL",
              help="Share stubs, scenarios and the request log with other replicas through Redis "
                   "(redis://host:6379/0, rediss://..., unix:///path); default memory.")
def serve(**opts: Any) -> None:
    """Serve mocks until SIGINT/SIGTERM. Prints the bound ports on start."""
    from mockforge.config import load_config

    overrides: dict[str, Any] = {
        "http.specs": list(opts["specs"]) or None,
        "http.host": opts["host"],
        "websocket.host": opts["host"],
        "grpc.host": opts["host"],
        "http.port": opts["http_port"],
        "websocket.port": opts["ws_port"],
        "grpc.port": opts["grpc_port"],
        "admin.enabled": opts["admin"],
        "admin.port": opts["admin_port"],
        "observability.metrics.enabled": opts["metrics"],
        "observability.metrics.port": opts["metrics_port"],
        "grpc.proto_dir": opts["proto_dir"],
        "core.seed": opts["seed"],
        "http.watch": opts["watch"],
        "http.validation.mode": opts["validation"],
        "observability.log_level": opts["log_level"],
        "observability.log_requests": opts["log_requests"],
        "core.fixtures.mode": opts["fixtures_mode"],
        "core.fixtures.dir": opts["fixtures_dir"],
        "http.tls.auto": opts["tls"],
        "core.proxy.upstream": opts["proxy_url"],
        "http.drift.mode": opts["drift"],
        "http.state.mode": opts["state_mode"],
        "core.workers": _workers_option(opts["workers"]),
        "core.independent_workers": opts["independent_workers"],
        "core.shared_state": opts["shared_state"],
    }
    if opts["record_url"]:
        overrides["core.fixtures.mode"] = "record"
        overrides["core.proxy.upstream"] = opts["record_url"]
    elif opts["replay"]:
        overrides["core.fixtures.mode"] = "replay"
    try:
        cfg = load_config(opts["config_file"], profile=opts["profile"], overrides=overrides)
    except MockforgeError as exc:
        _fail(exc)
        return
    setup_logging(cfg.observability.log_level)
    if cfg.worker_count() > 1:
        from mockforge.workers.launch import supervise

        supervise(cfg)  # becomes the supervisor process (exec): never returns
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep serving without it
        runner = asyncio.Runner()
    with runner:
        try:
            runner.run(_serve(cfg))
        except MockforgeError as exc:
            _fail(exc)


def _workers_option(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        _fail(f"--workers: expected a number or 'auto', got {value!r}")
        raise AssertionError("unreachable") from None


#: What ``serve`` prints when it was given nothing to answer from (it still serves health and admin).
NOTHING_TO_SERVE = (
    "mockforge: nothing to serve yet: pass --spec api.yaml (OpenAPI), --config mockforge.yaml, "
    "--proto-dir DIR (gRPC), --proxy URL, or put stub files in ./stubs; stubs can also be added with "
    "POST /__mockforge/stubs. `mockforge init DIR` writes a starter project."
)


async def _serve(cfg: Any) -> None:
    from mockforge.server import Server

    server = Server(cfg)
    await server.start()
    for line in server.describe():
        click.echo(f"  {line}")
    if server.nothing_to_serve():
        click.echo(NOTHING_TO_SERVE, err=True)
    click.echo(f"mockforge {__version__} ready (SIGINT or SIGTERM stops it)")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    click.echo("mockforge: stopping (in-flight requests finish first; a second signal stops at once)")
    stop.clear()
    stopping = asyncio.ensure_future(server.stop())
    again = asyncio.ensure_future(stop.wait())
    # SIGTERM always ends the process in bounded time: the graceful stop gets its timeout plus
    # STOP_GRACE_S for closing services; past that (or on a second signal) the tasks still
    # pending are named on stderr and the process exits 1 instead of hanging.
    limit = cfg.http.graceful_timeout_ms / 1000 + STOP_GRACE_S
    done, _ = await asyncio.wait({stopping, again}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    again.cancel()
    if stopping in done:
        stopping.result()
        return
    why = "a second signal" if again in done else f"not stopped after {limit:.0f} s"
    pending = sorted(
        t.get_name() + ": " + repr(t.get_coro())[:160]
        for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
    )
    click.echo(f"mockforge: {why}; exiting now (still running: {'; '.join(pending[:8]) or 'nothing'})", err=True)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(1)


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option("--verbose", "-v", count=True,
              help="List each example that does not match its schema, cut to 200 characters (-vv: whole).")
def validate(specs: tuple[str, ...], strict: bool, verbose: int) -> None:
    """Check OpenAPI documents; list problems with file and location. Exit 1 on any error."""
    from mockforge.openapi.checks import check_report

    # Every finding is printed below, once, on stdout: the loggers the checks share with the
    # server must not print it again on stderr (Python's last-resort handler would).
    logging.getLogger("mockforge").addHandler(logging.NullHandler())
    report = check_report(list(specs), verbose=verbose > 1)
    for line in report.errors:
        click.echo(f"error: {line}")
    for line in report.warnings:
        click.echo(f"warning: {line}")
    if verbose:
        for line in report.details:
            click.echo(f"  example: {line}")
    examples = report.examples_repaired + report.examples_replaced
    summary = (f"{len(specs)} document(s), {report.operations} operation(s): {len(report.errors)} error(s), "
               f"{len(report.warnings)} warning(s); {examples} example(s) do not match their schema "
               f"({report.examples_repaired} repaired, {report.examples_replaced} replaced)")
    if report.errors or (strict and report.warnings):
        click.echo(f"failed: {summary}")
        sys.exit(1)
    click.echo(f"ok: {summary}" + ("" if verbose or not examples else "; --verbose lists them"))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: str, force: bool) -> None:
    """Write a commented mockforge.yaml and an example OpenAPI spec into DIRECTORY."""
    from mockforge.scaffold import write_project

    try:
        written = write_project(Path(directory), force=force)
    except MockforgeError as exc:
        _fail(exc)
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && mockforge serve")


def _attach_groups() -> None:
    # Each group imports only click and its own light modules at this point; the heavy parts
    # (httpx, wasmtime) load inside the commands that need them.
    from mockforge.plugins.cli import plugin
    from mockforge.recording.cli import fixtures

    main.add_command(fixtures, "fixtures")
    main.add_command(plugin, "plugin")
    from mockforge.tls.cli import ca

    main.add_command(ca, "ca")
    from mockforge.drift.cli import drift

    main.add_command(drift, "drift")
    from mockforge.state.cli import state

    main.add_command(state, "state")


_attach_groups()

if __name__ == "__main__":  # pragma: no cover
    main()
