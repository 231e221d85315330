"""Hot reload over real sockets: a spec, a ``$ref``'d file, stub files and the config's
``http.routes`` change under a running server; a bad edit in between is reported once (file and
line or pointer) and the last good version keeps serving until a good edit is picked up.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from mockforge.testing.server import MockServer

T = TypeVar("T")
#: A liveness deadline, not a speed check (a loaded CI machine may be slow; no upper bound on
#: how fast an edit is picked up is asserted here).
DEADLINE_S = 30.0

SPEC = """
openapi: 3.0.3
info: {title: reload, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200":
          description: ok
          content:
            application/json:
              example: {name: one}
  /shared:
    get:
      operationId: shared
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "./parts/schemas.yaml#/Pet"}
"""

SCHEMAS = """
Pet:
  type: object
  required: [name]
  properties:
    name: {type: string}
  example: {name: from-ref}
"""


def eventually(check: Callable[[], T | None], what: str, timeout: float = DEADLINE_S) -> tuple[T, float]:
    """Poll ``check`` until it returns a truthy value; returns it and the time it took."""
    start = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.02)


def json_of(url: str) -> Any:
    r = httpx.get(url, timeout=5)
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text


def warnings_about(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    name = str(path.resolve())
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and name in r.getMessage()]


def rewrite(path: Path, text: str) -> None:
    """Write like an editor that saves twice: the same content, two events."""
    path.write_text(text)
    os.utime(path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "schemas.yaml").write_text(SCHEMAS)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "hello.yaml").write_text("id: hello\nrequest: {method: GET, path: /hello}\nresponse: {body: {v: 1}}\n")
    config = {
        "http": {
            "specs": ["spec.yaml"],
            "stubs_dir": "stubs",
            "watch": True,
            "routes": [{"id": "cfg", "request": {"path": "/cfg"}, "response": {"body": {"r": 1}}}],
        }
    }
    (tmp_path / "mockforge.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


@pytest.fixture
def mock(project: Path, caplog: pytest.LogCaptureFixture) -> Iterator[MockServer]:
    caplog.set_level(logging.INFO, logger="mockforge")
    with MockServer(config=project / "mockforge.yaml") as server:
        yield server


def test_spec_edit_with_a_bad_edit_in_between(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = project / "spec.yaml"
    assert json_of(mock.url + "/pets") == {"name": "one"}
    rewrite(spec, SPEC.replace("example: {name: one}", "example: {name: one"))
    (message,), _ = eventually(lambda: warnings_about(caplog, spec), "the bad spec edit is reported")
    assert "line " in message
    assert "last good version keeps serving" in message
    assert json_of(mock.url + "/pets") == {"name": "one"}
    rewrite(spec, SPEC.replace("example: {name: one}", "example: {name: two}"))
    eventually(lambda: json_of(mock.url + "/pets") == {"name": "two"}, "the good spec edit is served")
    assert len(warnings_about(caplog, spec)) == 1


def test_a_new_route_in_the_spec_is_served_and_the_admin_listener_sees_it(project: Path) -> None:
    data = yaml.safe_load((project / "mockforge.yaml").read_text())
    data["admin"] = {"enabled": True}
    (project / "mockforge.yaml").write_text(yaml.safe_dump(data))
    with MockServer(config=project / "mockforge.yaml") as mock:
        assert httpx.get(mock.url + "/cats").status_code == 404
        added = SPEC.replace("paths:\n", "paths:\n  /cats:\n    get:\n      operationId: cats\n"
                             "      responses: {\"200\": {description: ok, content: "
                             "{application/json: {example: [tom]}}}}\n")
        (project / "spec.yaml").write_text(added)
        eventually(lambda: httpx.get(mock.url + "/cats").status_code == 200, "the new route is served")
        assert httpx.get(mock.url + "/cats").json() == ["tom"]

        def admin_lists_cats() -> bool:
            routes = httpx.get(mock.admin_url + "/routes").json()["routes"]
            return any(r["path"] == "/cats" for r in routes)

        eventually(admin_lists_cats, "the admin listener lists the new route")


def test_ref_file_edit_with_a_broken_ref_in_between(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    schemas = project / "parts" / "schemas.yaml"
    assert json_of(mock.url + "/shared") == {"name": "from-ref"}
    rewrite(schemas, SCHEMAS.replace("name: {type: string}", "name: {$ref: '#/Missing'}"))
    (message,), _ = eventually(lambda: warnings_about(caplog, schemas), "the broken $ref is reported")
    assert "/Pet/properties/name" in message  # the JSON pointer of the bad $ref
    assert "Missing" in message
    assert json_of(mock.url + "/shared") == {"name": "from-ref"}
    rewrite(schemas, SCHEMAS.replace("from-ref", "edited-ref"))
    eventually(lambda: json_of(mock.url + "/shared") == {"name": "edited-ref"}, "the $ref'd edit is served")
    assert len(warnings_about(caplog, schemas)) == 1


def test_a_file_newly_reached_by_ref_is_watched_too(mock: MockServer, project: Path) -> None:
    extra = project / "more" / "extra.yaml"
    extra.parent.mkdir()
    extra.write_text("Thing: {type: object, example: {thing: 1}}\n")
    spec = SPEC + (
        "  /thing:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
        "          content:\n            application/json:\n"
        "              schema: {$ref: \"./more/extra.yaml#/Thing\"}\n"
    )
    (project / "spec.yaml").write_text(spec)
    eventually(lambda: json_of(mock.url + "/thing") == {"thing": 1}, "the route using the new file is served")
    extra.write_text("Thing: {type: object, example: {thing: 2}}\n")
    eventually(lambda: json_of(mock.url + "/thing") == {"thing": 2}, "an edit of the new $ref'd file is served")


def test_a_reloaded_spec_reads_files_only_where_the_started_one_may(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload goes through ``Server.load_spec_model``, with the same file roots as at start: a
    $ref that leaves the spec's folder is refused (its operation would be skipped, as at start:
    a load error, so the last good model keeps serving), and the file out there is never read."""
    outside = project.parent / f"{project.name}-outside.yaml"
    outside.write_text("Pet: {type: object, example: {name: outside}}\n")
    spec = project / "spec.yaml"
    rewrite(spec, SPEC.replace("./parts/schemas.yaml#/Pet", f"../{outside.name}#/Pet"))
    (message,), _ = eventually(lambda: warnings_about(caplog, outside), "the $ref out of the roots is refused")
    assert "GET /shared skipped" in message and "core.file_roots" in message
    assert "last good version keeps serving" in message
    assert json_of(mock.url + "/shared") == {"name": "from-ref"}
    assert json_of(mock.url + "/pets") == {"name": "one"}


def test_an_edit_that_drops_an_operation_keeps_the_last_good_model(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken $ref inside one operation used to drop that operation and serve the reduced
    model; now the edit is refused with one message, and a fixed edit goes live."""
    spec = project / "spec.yaml"
    broken = SPEC.replace("example: {name: one}", "schema: {$ref: '#/components/schemas/Gone'}")
    rewrite(spec, broken.replace("paths:\n", "paths:\n  /new:\n    get:\n      responses: {\"200\": "
                                 "{description: ok, content: {application/json: {example: [new]}}}}\n"))
    (message,), _ = eventually(lambda: warnings_about(caplog, spec), "the dropped operation is reported")
    assert message.startswith("spec not reloaded, the last good version keeps serving: ")
    assert "/paths/~1pets/get" in message and "GET /pets skipped" in message and "Gone" in message
    assert json_of(mock.url + "/pets") == {"name": "one"}  # the last good model still serves
    assert httpx.get(mock.url + "/new").status_code == 404  # nothing of the refused edit went live
    rewrite(spec, SPEC.replace("example: {name: one}", "example: {name: fixed}"))
    eventually(lambda: json_of(mock.url + "/pets") == {"name": "fixed"}, "the fixed edit is served")
    assert len(warnings_about(caplog, spec)) == 1


def test_a_warning_only_edit_is_served(mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Warnings (here: schemas that only $ref each other) do not stop a reload."""
    spec = project / "spec.yaml"
    rewrite(spec, SPEC.replace("example: {name: one}", "example: {name: warned}") + (
        "components:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n"
    ))
    eventually(lambda: json_of(mock.url + "/pets") == {"name": "warned"}, "the edit with a warning is served")
    (message,), _ = eventually(lambda: warnings_about(caplog, spec), "the cycle is warned about")
    assert "/components/schemas/A" in message and "A -> B -> A" in message


def test_stub_file_edit_with_an_invalid_stub_in_between(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hello = project / "stubs" / "hello.yaml"
    assert json_of(mock.url + "/hello") == {"v": 1}
    rewrite(hello, "id: hello\nrequest: {method: GET, path: {regex: '^/hel(lo'}}\nresponse: {body: {v: 9}}\n")
    (message,), _ = eventually(lambda: warnings_about(caplog, hello), "the invalid stub is reported")
    assert "request.path.regex" in message
    assert json_of(mock.url + "/hello") == {"v": 1}
    rewrite(hello, "id: hello\nrequest: {method: GET, path: /hello}\nresponse: {body: {v: 2}}\n")
    eventually(lambda: json_of(mock.url + "/hello") == {"v": 2}, "the good stub edit is served")
    # a YAML syntax error names the line
    rewrite(hello, "id: hello\nrequest: {method: GET, path: /hello\nresponse: {body: {v: 3}}\n")
    eventually(lambda: len(warnings_about(caplog, hello)) == 2, "the syntax error is reported")
    assert "line " in warnings_about(caplog, hello)[-1]
    assert json_of(mock.url + "/hello") == {"v": 2}


def test_stub_files_added_removed_and_in_new_folders(mock: MockServer, project: Path) -> None:
    stubs = project / "stubs"
    (stubs / "new.json").write_text('{"id": "new", "request": {"path": "/new"}, "response": {"body_text": "fresh"}}')
    eventually(lambda: json_of(mock.url + "/new") == "fresh", "a new stub file is served")
    (stubs / "new.json").unlink()
    eventually(lambda: httpx.get(mock.url + "/new").status_code == 404, "a deleted stub file stops answering")
    (stubs / "team" / "deep").mkdir(parents=True)
    (stubs / "team" / "deep" / "a.yml").write_text("request: {path: /deep}\nresponse: {body_text: deep}\n")
    eventually(lambda: json_of(mock.url + "/deep") == "deep", "a stub file in a new folder is served")
    (stubs / "team" / "deep" / "a.yml").write_text("request: {path: /deep}\nresponse: {body_text: deeper}\n")
    eventually(lambda: json_of(mock.url + "/deep") == "deeper", "an edit in the new folder is served")
    assert json_of(mock.url + "/hello") == {"v": 1}


def test_config_routes_edit_with_a_bad_route_in_between(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = project / "mockforge.yaml"
    data = yaml.safe_load(config.read_text())
    assert json_of(mock.url + "/cfg") == {"r": 1}
    data["http"]["routes"][0]["request"]["query"] = {"q": {"matches": "(("}}
    rewrite(config, yaml.safe_dump(data))
    (message,), _ = eventually(lambda: warnings_about(caplog, config), "the bad route is reported")
    assert "http.routes[0].request.query.q.matches" in message
    assert json_of(mock.url + "/cfg") == {"r": 1}
    del data["http"]["routes"][0]["request"]["query"]
    data["http"]["routes"][0]["response"]["body"] = {"r": 2}
    data["http"]["routes"].append({"id": "cfg2", "request": {"path": "/cfg2"}, "response": {"body_text": "two"}})
    rewrite(config, yaml.safe_dump(data))
    eventually(lambda: json_of(mock.url + "/cfg") == {"r": 2}, "the good routes are served")
    assert json_of(mock.url + "/cfg2") == "two"
    assert json_of(mock.url + "/hello") == {"v": 1}  # stub files are untouched by a config reload
    assert len(warnings_about(caplog, config)) == 1


def test_a_port_change_under_watch_says_it_needs_a_restart(
    mock: MockServer, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = project / "mockforge.yaml"
    data = yaml.safe_load(config.read_text())
    data["http"]["port"] = 4321
    data["http"]["routes"][0]["response"]["body"] = {"r": 2}
    rewrite(config, yaml.safe_dump(data))
    eventually(lambda: json_of(mock.url + "/cfg") == {"r": 2}, "the routes of the same edit are served")
    (message,) = warnings_about(caplog, config)
    assert "http.port 3000 -> 4321" in message and "restart mockforge" in message
    assert json_of(mock.url + "/pets") == {"name": "one"}  # still on the port it bound
    data["http"]["routes"][0]["response"]["body"] = {"r": 3}  # another edit, same port: no new warning
    rewrite(config, yaml.safe_dump(data))
    eventually(lambda: json_of(mock.url + "/cfg") == {"r": 3}, "the next edit is served")
    assert len(warnings_about(caplog, config)) == 1


def test_watching_stops_with_the_server(project: Path) -> None:
    mock = MockServer(config=project / "mockforge.yaml").start()
    task = mock.server._watch_task
    assert task is not None
    mock.stop()
    assert mock.server._watch_task is None
    assert task.cancelled() or task.done()


def test_a_watcher_that_cannot_start_leaves_no_listener_open(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import socket

    import mockforge.watch
    from mockforge.config import load_config
    from mockforge.server import Server

    def broken(server: object) -> None:
        raise RuntimeError("no watcher today")

    monkeypatch.setattr(mockforge.watch, "start_watching", broken)

    async def start() -> int:
        server = Server(load_config(str(project / "mockforge.yaml"), overrides={"http.port": 0}))
        with pytest.raises(RuntimeError, match="no watcher today"):
            await server.start()
        return server.ports["http"]

    port = asyncio.run(start())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
