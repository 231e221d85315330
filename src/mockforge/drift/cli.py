"""``mockforge drift``: check recordings against the spec offline, export a server's findings.

    mockforge drift check --spec api.yaml --fixtures fixtures/ [--har traffic.har] \\
        [--json drift.json] [--junit drift.xml] [--sarif drift.sarif]
    mockforge drift export --url http://127.0.0.1:3000 --junit drift.xml

``check`` runs every recorded exchange (fixture files, HAR entries) through the same checker as the
validating proxy (``checker.py``) and prints one line per finding, naming the fixture file or HAR
entry. Exit codes: 0 clean, 1 findings, 2 bad input (a spec, fixture or HAR that cannot be read,
named with its file). ``export`` asks a running server's admin API
(``GET /__mockforge/drift?format=``) and writes the reports it names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from mockforge.drift.findings import Finding


def _fail(message: str) -> NoReturn:
    click.echo(f"mockforge: error: {message}", err=True)
    sys.exit(2)


@click.group()
def drift() -> None:
    """Where a real backend, its spec and the recordings disagree (docs/DRIFT.md)."""


def _outputs(fn: click.decorators.FC) -> click.decorators.FC:
    for name in ("sarif", "junit", "json"):
        fn = click.option(f"--{name}", f"{name}_out", metavar="FILE", help=f"Write a {name.upper()} report.")(fn)
    return fn


def _write(findings: list[Finding], operations: list[str], outs: dict[str, str | None]) -> None:
    from mockforge.drift.report import render, write_atomic

    for fmt, target in outs.items():
        if target:
            body, _ = render(fmt, findings, operations)
            write_atomic(target, body)


@drift.command("check")
@click.option("--spec", "specs", multiple=True, required=True, metavar="FILE", help="OpenAPI document (repeatable).")
@click.option("--fixtures", "fixtures_dir", metavar="DIR", help="Folder of recorded fixtures.")
@click.option("--har", "har_files", multiple=True, metavar="FILE", help="HAR file of recorded traffic (repeatable).")
@_outputs
def check_cmd(specs: tuple[str, ...], fixtures_dir: str | None, har_files: tuple[str, ...],
              json_out: str | None, junit_out: str | None, sarif_out: str | None) -> None:
    """Check recorded exchanges against the spec offline (exit 1 on findings, 2 on bad input)."""
    from mockforge.core.files import FileAccessError, read_regular_file
    from mockforge.core.model import Headers, Request
    from mockforge.drift.checker import DriftChecker
    from mockforge.errors import FixtureError, MockforgeError
    from mockforge.openapi.loader import load_specs
    from mockforge.recording.fingerprint import FingerprintRules
    from mockforge.recording.har import import_har
    from mockforge.recording.store import FixtureFile, iter_fixture_files, read_fixture_file, stored_query

    if not fixtures_dir and not har_files:
        _fail("drift check needs --fixtures DIR or --har FILE")
    try:
        model = load_specs(list(specs))
    except MockforgeError as exc:
        _fail(str(exc))
    recorded: list[tuple[str, FixtureFile]] = []
    if fixtures_dir:
        root = Path(fixtures_dir)
        if not root.is_dir():
            _fail(f"{fixtures_dir}: not a folder of fixtures")
        for path in iter_fixture_files(root):
            try:
                fixture = read_fixture_file(path)
            except FixtureError as exc:
                _fail(str(exc))
            if fixture is not None:
                recorded.append((str(path), fixture))
    rules = FingerprintRules.create(ignore_query=[], match_headers=[], ignore_body_fields=[], redact=[])
    for har in har_files:
        try:
            data = json.loads(read_regular_file(har, what="HAR file").decode("utf-8"))
        except FileAccessError as exc:
            _fail(str(exc))
        except ValueError as exc:
            _fail(f"{har}: not a readable HAR (JSON) file: {exc}")
        found, problems = import_har(data, rules)
        if problems and not found:
            _fail(f"{har}: {problems[0]}")
        for line in problems:
            click.echo(f"skipped: {har}: {line}", err=True)
        recorded += [(f"{har}#entry{i}", fx) for i, fx in enumerate(found)]
    checker = DriftChecker(model)
    findings: list[Finding] = []
    for where, fx in recorded:
        req, resp = fx.request, fx.response
        request = Request(protocol="http", method=req.method, path=req.path, raw_query=stored_query(fx),
                          headers=Headers(req.headers), body=fx.request_body())
        for f in checker.check(request, resp.status, Headers(resp.headers), fx.response_body()):
            findings.append(f)
            click.echo(f"{where}: {f}")
    _write(findings, [op.key for op in model.operations], {"json": json_out, "junit": junit_out, "sarif": sarif_out})
    click.echo(f"{len(recorded)} exchange(s) checked, {len(findings)} finding(s)", err=True)
    sys.exit(1 if findings else 0)


@drift.command("diff")
@click.option("--fixtures", "fixtures_dir", required=True, metavar="DIR", help="Folder of recorded fixtures.")
@click.option("--target", required=True, metavar="URL", help="The live backend to replay against.")
@click.option("--ignore", multiple=True, metavar="JSONPATH", help="Never compare this path ($.updatedAt; repeatable).")
@click.option("--compare-values", is_flag=True, help="Compare scalar values too (volatile ones are skipped).")
@click.option("--all-methods", is_flag=True, help="Replay writes too (needs --yes-send-writes).")
@click.option("--yes-send-writes", is_flag=True, help="Confirm that --all-methods may change the target's data.")
@click.option("--rps", type=click.FloatRange(min=0.1, max=1000), default=5.0, show_default=True,
              help="Requests per second to the target.")
@click.option("--max-requests", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Send at most this many requests.")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="Add to every live request.")
@click.option("--config", "config_file", metavar="FILE", help="Config whose redaction lists apply.")
@_outputs
def diff_cmd(fixtures_dir: str, target: str, ignore: tuple[str, ...], compare_values: bool, all_methods: bool,
             yes_send_writes: bool, rps: float, max_requests: int, headers: tuple[str, ...],
             config_file: str | None, json_out: str | None, junit_out: str | None, sarif_out: str | None) -> None:
    """Replay recorded requests against a live backend and compare the answers by structure
    (exit 1 on differences, 2 on bad input)."""
    import asyncio

    import httpx

    from mockforge.config import load_config
    from mockforge.core.request_log import ALWAYS_REDACTED
    from mockforge.drift.diff import DiffOptions, Recording, diff_recordings
    from mockforge.errors import FixtureError, MockforgeError
    from mockforge.recording.store import iter_fixture_files, read_fixture_file

    if all_methods and not yes_send_writes:
        _fail("--all-methods replays writes against the target: confirm with --yes-send-writes")
    extra: list[tuple[str, str]] = []
    for h in headers:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            _fail(f"--header {h!r}: expected 'NAME: VALUE'")
        extra.append((name.strip().lower(), value.strip()))
    for p in ignore:
        if not p.startswith("$"):
            _fail(f"--ignore {p!r}: a JSON path starts with '$' ($.updatedAt, $.items[*].id)")
    redact = set(ALWAYS_REDACTED)
    try:
        cfg = load_config(config_file, overrides={})
    except MockforgeError as exc:
        _fail(str(exc))
    redact.update(h.lower() for h in cfg.core.log_redact_headers)
    redact.update(h.lower() for h in cfg.core.fixtures.redact)
    root = Path(fixtures_dir)
    if not root.is_dir():
        _fail(f"{fixtures_dir}: not a folder of fixtures")
    recordings: list[Recording] = []
    for path in iter_fixture_files(root):
        try:
            fixture = read_fixture_file(path)
        except FixtureError as exc:
            _fail(str(exc))
        if fixture is not None:
            recordings.append(Recording(str(path), fixture))
    options = DiffOptions(rps=rps, max_requests=max_requests, all_methods=all_methods, compare_values=compare_values,
                          ignore=tuple(p.rstrip(".") for p in ignore), redact_headers=frozenset(redact),
                          extra_headers=tuple(extra))
    try:
        findings, sent = asyncio.run(diff_recordings(recordings, target, options))
    except httpx.HTTPError as exc:
        _fail(f"{target}: {exc or exc.__class__.__name__}")
    for f in findings:
        click.echo(f"{f.spec_file}: {f.pointer}: recorded {f.expected} vs live {f.got} ({f.kind})")
    _write(findings, sorted({f.operation for f in findings}), {"json": json_out, "junit": junit_out,
                                                              "sarif": sarif_out})
    click.echo(f"{sent} request(s) replayed, {len(findings)} difference(s)", err=True)
    sys.exit(1 if findings else 0)


@drift.command("export")
@click.option("--url", required=True, metavar="URL", help="The server (or admin listener) base URL.")
@click.option("--token", metavar="TOKEN", help="Admin token (admin.token).")
@_outputs
def export_cmd(url: str, token: str | None, json_out: str | None, junit_out: str | None,
               sarif_out: str | None) -> None:
    """Write a running server's drift findings as JSON, JUnit XML and/or SARIF."""
    import httpx

    from mockforge.drift.report import write_atomic

    outs = {"json": json_out, "junit": junit_out, "sarif": sarif_out}
    if not any(outs.values()):
        _fail("drift export needs --json, --junit or --sarif FILE")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30, trust_env=False) as client:
        for fmt, target in outs.items():
            if not target:
                continue
            try:
                r = client.get("/__mockforge/drift", params={"format": fmt})
            except httpx.HTTPError as exc:
                _fail(f"{url}: {exc}")
            if r.status_code != 200:
                _fail(f"{url}/__mockforge/drift: {r.status_code} {r.text[:200]}")
            write_atomic(target, r.content)
            click.echo(f"wrote {target}")
