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
