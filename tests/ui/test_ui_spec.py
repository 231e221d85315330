"""The Spec page in a real browser: the operations with their answer source and validation
mode, and the answer preview with Prefer choices, run against a real server; the preview leaves
no trace (the request log and the stub's ``times`` are as before), and values from the spec and
the answers are shown as text (an ``<img onerror>`` example runs nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.support.ui import Select
from ui_harness import Console, start_server, wait_for

from mockforge.testing.server import MockServer

PAYLOAD = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>"

SPEC = f"""
openapi: 3.0.3
info: {{title: spec-page, version: "1"}}
paths:
  /greetings:
    get:
      operationId: greet
      tags: [hello]
      responses:
        "200":
          description: ok
          content:
            application/json:
              examples:
                hello: {{value: {{text: hello}}}}
                bye: {{value: {{text: bye}}}}
                hostile: {{value: {{text: {PAYLOAD!r}}}}}
        "404": {{description: missing, content: {{application/json: {{example: {{error: missing}}}}}}}}
  /numbers:
    get:
      operationId: numbers
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {{type: array, items: {{type: integer}}, minItems: 3, maxItems: 3}}
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {{type: object, required: [qty], properties: {{qty: {{type: integer, minimum: 1}}}}}}
      responses: {{"201": {{description: created, content: {{application/json: {{example: {{ok: true}}}}}}}}}}
"""



@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[MockServer]:
    (tmp_path / "spec.yaml").write_text(SPEC)
    stubs = [{"id": "once", "times": 1, "request": {"method": "GET", "path": "/numbers"},
              "response": {"body": [7, 7, 7]}}]
    server = start_server(tmp_path, {"http": {"specs": [str(tmp_path / "spec.yaml")]}}, stubs=stubs, spec=False)
    try:
        yield server
    finally:
        server.stop()


def preview_result(console: Console) -> str:
    return str(wait_for(lambda: console.find('[data-test="preview-status"]').text, "the preview answer"))


def run_preview(console: Console) -> None:
    console.js("const r = document.querySelector('[data-test=\"preview-result\"]');"
               "while (r.firstChild) r.firstChild.remove();")
    console.test_id("preview-run").click()


def test_operations_and_answer_preview_with_prefer_choices(console: Console, http: httpx.Client,
                                                           admin: httpx.Client) -> None:
    assert http.get("/greetings").json() == {"text": "hello"}
    logged = len(admin.get("logs").json()["entries"])
    console.open("spec")
    rows = {r.get_attribute("data-key"): r for r in console.find_all('[data-test="spec-row"]')}
    assert set(rows) == {"GET /greetings", "GET /numbers", "POST /orders"}
    answers = {k: r.find_element("css selector", '[data-test="spec-answer"]').text for k, r in rows.items()}
    assert answers == {"GET /greetings": "example", "GET /numbers": "stub", "POST /orders": "example"}
    assert all(r.find_element("css selector", '[data-test="spec-validation"]').text == "enforce" for r in rows.values())

    rows["GET /greetings"].click()
    run_preview(console)
    assert preview_result(console) == "200"
    assert console.text_of('[data-test="preview-source"]') == "spec"
    assert '"hello"' in console.text_of('[data-test="preview-response-body"]')
    Select(console.test_id("preview-example")).select_by_value("bye")
    run_preview(console)
    preview_result(console)
    assert '"bye"' in console.text_of('[data-test="preview-response-body"]')
    console.driver.set_window_size(1400, 1250)  # the form and its answer in one picture
    try:
        console.shot("spec-preview", keep=True)
    finally:
        console.driver.set_window_size(1400, 900)
    Select(console.test_id("preview-example")).select_by_value("hostile")
    run_preview(console)
    preview_result(console)
    assert PAYLOAD.replace('"', '\\"') in console.text_of('[data-test="preview-response-body"]')
    assert console.js("return window.__xss === undefined && document.querySelectorAll('main img, main script').length")\
        == 0
    Select(console.test_id("preview-code")).select_by_value("404")
    run_preview(console)
    assert preview_result(console) == "404"
    assert '"missing"' in console.text_of('[data-test="preview-response-body"]')

    # the stub with times: 1 answers the preview and is still there for the real request
    console.find('[data-test="spec-row"][data-key="GET /numbers"]').click()
    run_preview(console)
    preview_result(console)
    assert console.text_of('[data-test="preview-source"]') == "stub"
    assert console.text_of('[data-test="preview-answered-by"]') == "stub:once"
    assert http.get("/numbers").json() == [7, 7, 7]
    assert len(admin.get("logs").json()["entries"]) == logged + 1  # the real request only


def test_preview_shows_validation_problems_and_the_refusal(console: Console) -> None:
    console.open("spec")
    console.find('[data-test="spec-row"][data-key="POST /orders"]').click()
    console.test_id("preview-body-input").send_keys('{"qty": 0}')
    run_preview(console)
    assert preview_result(console) == "400"
    problems = console.text_of('[data-test="preview-problems"]')
    assert "body.qty" in problems
    console.test_id("preview-body-input").clear()
    console.test_id("preview-body-input").send_keys('{"qty": 2}')
    run_preview(console)
    assert preview_result(console) == "201"
    assert console.text_of('[data-test="preview-problems"]') == "no problems"
    assert console.severe_logs() == []


def test_a_hash_opens_one_operation(console: Console) -> None:
    console.open("spec/POST%20%2Forders")
    assert console.find('[data-test="spec-row"].selected').get_attribute("data-key") == "POST /orders"
    assert console.test_id("preview-path").get_attribute("value") == "/orders"


def test_filter_narrows_the_operation_list(console: Console) -> None:
    console.open("spec")
    console.test_id("spec-filter").send_keys("order")
    wait_for(lambda: len(console.find_all('[data-test="spec-row"]')) == 1, "the filter to apply")
    assert console.text_of('[data-test="spec-count"]') == "1 of 3 operations"
