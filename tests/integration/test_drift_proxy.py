"""The validating proxy over real sockets: a seeded upstream that breaks its spec in ten ways,
mockforge in front of it with ``http.drift.mode`` report and enforce, and mockforge itself
serving the same spec as a clean upstream (zero findings)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drift_cases import SEEDED, SPEC
from mockforge.core.model import Request, Response
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp
from mockforge.testing.server import MockServer


class SeededUpstream(PlainApp):
    """Answers each seeded target with its wrong answer (drift_cases.SEEDED)."""

    max_body_bytes = 1 << 20

    def __init__(self) -> None:
        self.answers = {(m, t): (s, h, b) for _, m, t, s, h, b, _, _ in SEEDED}

    async def handle(self, request: Request) -> Response:
        target = f"{request.path}?{request.raw_query}" if request.raw_query else request.path
        status, headers, body = self.answers.get((request.method, target), (599, [], b""))
        return Response(status, list(headers), body)


class UpstreamThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.listener = HttpListener(SeededUpstream(), "127.0.0.1", 0)
        port = asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def seeded() -> Iterator[UpstreamThread]:
    up = UpstreamThread()
    yield up
    up.close()


def proxy_config(upstream: str, mode: str) -> dict[str, object]:
    return {"core": {"proxy": {"upstream": upstream, "timeout_ms": 5000}}, "http": {"drift": {"mode": mode}}}


async def test_report_mode_passes_answers_through_and_finds_each_seeded_violation_once(
    seeded: UpstreamThread,
) -> None:
    with MockServer(config=proxy_config(seeded.url, "report"), spec=SPEC) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            for _, method, target, status, _, body, _, _ in SEEDED:
                r = await client.request(method, target)
                assert r.status_code == status
                assert r.content == body
            summary = (await client.get("/__mockforge/drift")).json()
            metrics = (await client.get("/__mockforge/metrics")).text
        entries = [e for e in mock.requests() if not e["path"].startswith("/__mockforge")]
    assert len(entries) == len(SEEDED)
    for entry, case in zip(entries, SEEDED, strict=True):
        assert [(f["kind"], f["pointer"]) for f in entry["drift"]] == [(case[6], case[7])], case[0]
    assert summary["mode"] == "report"
    assert summary["total"] == len(SEEDED)
    counted = {(g["operation"], g["kind"]): g["count"] for g in summary["groups"]}
    assert counted[("GET /pets/{petId}", "wrong_type")] == 1
    assert counted[("GET /vets", "undocumented_endpoint")] == 1
    assert sum(counted.values()) == len(SEEDED)
    group = next(g for g in summary["groups"] if g["kind"] == "enum")
    assert group["example"]["got"] == '"lost"' and group["first_seen"] <= group["last_seen"]
    assert 'mockforge_drift_findings_total{kind="undocumented_endpoint",operation="undocumented"} 1.0' in metrics
    assert 'mockforge_drift_findings_total{kind="format",operation="GET /owners/{ownerId}"} 1.0' in metrics


async def test_enforce_mode_answers_502_with_the_findings(seeded: UpstreamThread) -> None:
    with MockServer(config=proxy_config(seeded.url, "enforce"), spec=SPEC) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            r = await client.get("/pets/6")
            assert r.status_code == 502
            error = r.json()["error"]
            assert error["code"] == "drift_detected"
            assert error["details"][0]["location"] == "/status"
            assert "enum" in error["details"][0]["reason"]
            cleared = (await client.delete("/__mockforge/drift")).json()
            assert cleared == {"cleared": 1}
            assert (await client.get("/__mockforge/drift")).json()["total"] == 0


async def test_mockforge_serving_the_spec_is_a_clean_upstream() -> None:
    upstream = MockServer(spec=SPEC, seed=3).start()
    try:
        with MockServer(config=proxy_config(upstream.url, "enforce"), spec=SPEC) as mock:
            async with httpx.AsyncClient(base_url=mock.url) as client:
                for target in ("/pets", "/pets/1", "/pets/2", "/owners/ann"):
                    r = await client.get(target)
                    assert r.status_code == 200, r.text
                summary = (await client.get("/__mockforge/drift")).json()
    finally:
        upstream.stop()
    assert summary["total"] == 0, summary


async def test_drift_off_has_no_service_and_no_admin_route(seeded: UpstreamThread) -> None:
    with MockServer(config=proxy_config(seeded.url, "off"), spec=SPEC) as mock:
        assert mock.server.services.drift is None
        r = httpx.get(mock.url + "/__mockforge/drift")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("mode", "expected"), [("off", "absent"), ("report", "loaded")])
def test_the_drift_package_is_imported_only_when_a_mode_asks(
    seeded: UpstreamThread, mode: str, expected: str
) -> None:
    code = f"""
import asyncio, sys, httpx
from mockforge.config import build_config
from mockforge.server import Server
async def main():
    cfg = {{"http": {{"port": 0, "specs": [{str(SPEC)!r}], "drift": {{"mode": {mode!r}}}}},
           "core": {{"proxy": {{"upstream": {seeded.url!r}}}}}}}
    s = Server(build_config(cfg, env={{}}))
    await s.start()
    async with httpx.AsyncClient() as c:
        r = await c.get(f"http://127.0.0.1:{{s.ports['http']}}/pets/1")
        assert r.status_code == 200, r.text
    await s.stop()
asyncio.run(main())
print("loaded" if "mockforge.drift" in sys.modules else "absent")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


async def test_export_writes_the_servers_findings_in_three_formats(seeded: UpstreamThread, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from click.testing import CliRunner

    from mockforge.drift.cli import drift

    with MockServer(config=proxy_config(seeded.url, "report"), spec=SPEC) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            for target in ("/pets/1", "/pets/6", "/vets"):
                await client.get(target)
            bad = await client.get("/__mockforge/drift", params={"format": "pdf"})
            assert bad.status_code == 400
            assert bad.json()["error"]["details"][0]["location"] == "query.format"
        out = {k: tmp_path / f"d.{k}" for k in ("json", "xml", "sarif")}
        result = CliRunner().invoke(drift, ["export", "--url", mock.url, "--json", str(out["json"]),
                                            "--junit", str(out["xml"]), "--sarif", str(out["sarif"])])
    assert result.exit_code == 0, result.output
    assert sorted(f["kind"] for f in json.loads(out["json"].read_text())["findings"]) == [
        "enum", "undocumented_endpoint", "wrong_type"]
    cases = {c.get("name"): len(c.findall("failure")) for c in ET.parse(out["xml"]).getroot().iter("testcase")}
    assert cases == {"GET /pets": 0, "GET /pets/{petId}": 2, "GET /owners/{ownerId}": 0, "GET /vets": 1}
    assert len(json.loads(out["sarif"].read_text())["runs"][0]["results"]) == 3


def test_export_from_a_server_that_is_not_there_exits_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mockforge.drift.cli import drift

    result = CliRunner().invoke(drift, ["export", "--url", "http://127.0.0.1:9", "--json", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()


async def test_a_reloaded_spec_judges_the_next_answers(seeded: UpstreamThread, tmp_path: Path) -> None:
    from mockforge.openapi.loader import load_specs

    wider = tmp_path / "api.yaml"
    wider.write_text(SPEC.read_text().replace("enum: [available, sold]", "enum: [available, sold, lost]"))
    with MockServer(config=proxy_config(seeded.url, "report"), spec=SPEC) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            await client.get("/pets/6")
            mock.server.reload_spec(load_specs([str(wider)]))
            await client.get("/pets/6")
            summary = (await client.get("/__mockforge/drift")).json()
    assert [(g["kind"], g["count"]) for g in summary["groups"]] == [("enum", 1)]
