"""``mockforge drift check`` over recorded fixtures and HAR, and the JSON/JUnit/SARIF reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from drift_cases import CLEAN, SEEDED, SPEC
from mockforge.drift.cli import drift
from mockforge.drift.findings import KINDS, Finding
from mockforge.drift.report import SpecLines, to_junit, to_sarif, write_atomic
from mockforge.recording.fingerprint import FingerprintRules
from mockforge.recording.store import build_fixture, write_fixture_file

RULES = FingerprintRules.create()


def record(root: Path, cases: list[tuple[str, str, int, list[tuple[str, str]], bytes]]) -> None:
    for method, target, status, headers, body in cases:
        path, _, query = target.partition("?")
        fixture = build_fixture(method=method, path=path, raw_query=query, request_headers=[], request_body=b"",
                                status=status, response_headers=headers, response_body=body, rules=RULES)
        assert write_fixture_file(root, fixture, fsync=False) == "written"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(drift, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_finds_every_seeded_violation_in_recordings_and_writes_three_reports(tmp_path: Path) -> None:
    record(tmp_path / "fx", [(m, t, s, h, b) for _, m, t, s, h, b, _, _ in SEEDED] + CLEAN)
    out = {k: tmp_path / f"drift.{k}" for k in ("json", "xml", "sarif")}
    code, stdout, stderr = run("check", "--spec", str(SPEC), "--fixtures", str(tmp_path / "fx"),
                               "--json", str(out["json"]), "--junit", str(out["xml"]), "--sarif", str(out["sarif"]))
    assert code == 1, stderr
    lines = stdout.splitlines()
    assert len(lines) == len(SEEDED)
    assert all(".json: GET /" in line for line in lines)
    assert "14 exchange(s) checked, 10 finding(s)" in stderr
    data = json.loads(out["json"].read_text())
    assert sorted((f["kind"], f["pointer"]) for f in data["findings"]) == sorted((c[6], c[7]) for c in SEEDED)

    suites = ET.parse(out["xml"]).getroot()
    cases = {c.get("name"): c for c in suites.iter("testcase")}
    assert set(cases) == {"GET /pets", "GET /pets/{petId}", "GET /owners/{ownerId}", "GET /vets"}
    assert len(list(suites.iter("failure"))) == len(SEEDED)
    assert len(cases["GET /pets/{petId}"].findall("failure")) == 6

    sarif = json.loads(out["sarif"].read_text())
    assert sarif["version"] == "2.1.0"
    [run_] = sarif["runs"]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == list(KINDS)
    assert len(run_["results"]) == len(SEEDED)
    enum = next(r for r in run_["results"] if r["ruleId"] == "enum")
    loc = enum["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("drift_data/api.yaml")
    # the media type's schema of GET /pets/{petId} 200 in api.yaml
    line = SPEC.read_text().splitlines()[loc["region"]["startLine"] - 1]
    assert line.strip() == 'schema: {$ref: "#/components/schemas/Pet"}'


def test_check_is_clean_on_truthful_recordings(tmp_path: Path) -> None:
    record(tmp_path, CLEAN)
    code, stdout, stderr = run("check", "--spec", str(SPEC), "--fixtures", str(tmp_path))
    assert (code, stdout) == (0, "")
    assert "4 exchange(s) checked, 0 finding(s)" in stderr


def test_check_reads_har_entries(tmp_path: Path) -> None:
    har = {"log": {"entries": [{
        "request": {"method": "GET", "url": "http://api.test/pets/6", "headers": []},
        "response": {"status": 200, "headers": [{"name": "content-type", "value": "application/json"}],
                     "content": {"text": '{"id": 6, "name": "a", "status": "lost"}'}},
    }]}}
    (tmp_path / "t.har").write_text(json.dumps(har))
    code, stdout, _ = run("check", "--spec", str(SPEC), "--har", str(tmp_path / "t.har"))
    assert code == 1
    assert stdout.strip() == f"{tmp_path / 't.har'}#entry0: GET /pets/{{petId}} enum at /status: " \
        "expected " + stdout.split("expected ", 1)[1].strip()


def test_bad_input_exits_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.har").write_text("{not json")
    (tmp_path / "bad.yaml").write_text("openapi: [")
    for args, needle in (
        (["--spec", str(SPEC), "--fixtures", str(tmp_path / "nope")], "nope"),
        (["--spec", str(SPEC), "--har", str(tmp_path / "bad.har")], "bad.har"),
        (["--spec", str(tmp_path / "bad.yaml"), "--fixtures", str(tmp_path)], "bad.yaml"),
        (["--spec", str(SPEC)], "--fixtures"),
    ):
        code, _, stderr = run("check", *args)
        assert code == 2, args
        assert needle in stderr and stderr.count("\n") == 1


def test_junit_and_sarif_of_no_findings() -> None:
    suites = ET.fromstring(to_junit([], ["GET /a", "GET /b"]))
    assert [c.get("name") for c in suites.iter("testcase")] == ["GET /a", "GET /b"]
    assert suites.get("failures") == "0"
    assert json.loads(to_sarif([]))["runs"][0]["results"] == []


def test_junit_escapes_hostile_text() -> None:
    f = Finding("GET /x", "schema", "/a", "<&\"'>", "]]><x/>\x00", "", "")
    root = ET.fromstring(to_junit([f], []))
    assert root.find("testsuite/testcase/failure").text.startswith("expected: <&\"'>")


def test_spec_lines_tolerate_missing_files_and_pointers(tmp_path: Path) -> None:
    lines = SpecLines()
    assert lines.line(str(tmp_path / "missing.yaml"), "/paths") is None
    assert lines.line(str(SPEC), "/paths/~1nope/get") == 3  # the deepest known place: paths
    assert lines.line("", "/x") is None


def test_write_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    write_atomic(tmp_path / "r.json", b"{}")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
