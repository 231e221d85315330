"""Misses and Stubs in a real browser: a miss shows its near-miss report field by field, "Create
stub from this request" opens the editor pre-filled and saving it makes the next identical
request answer from the new stub (end to end); the stub list searches, counts hits, disables,
enables and deletes; the editor shows the server's validation messages; scenarios reset."""

from __future__ import annotations

import json

import httpx
from ui_harness import Console, wait_for


def _source(console: Console) -> dict[str, object]:
    return dict(json.loads(console.find("[data-test=edit-source]").get_attribute("value")))


def _set(console: Console, css: str, value: str) -> None:
    console.js("const el = document.querySelector(arguments[0]); el.value = arguments[1];"
               "el.dispatchEvent(new Event('input'))", css, value)


def test_create_stub_from_a_near_miss_answers_the_next_identical_request(
        console: Console, http: httpx.Client, admin: httpx.Client) -> None:
    admin.post("stubs", json={"id": "dog-7", "request": {"method": "GET", "path": "/pets/7", "query": {"kind": "dog"}},
                              "response": {"status": 200, "body": {"id": 7, "kind": "dog"}}})
    miss = http.get("/pets/7", params={"kind": "cat"}, headers={"x-tenant": "t1"})
    assert miss.status_code == 404
    console.open("misses")
    card = console.find("[data-test=miss]")
    assert console.text_of("[data-test=miss-request]") == "GET /pets/7?kind=cat"
    assert console.text_of("[data-test=near-stub]") == "dog-7"
    diffs = [d.text for d in console.find_all("[data-test=near-diff]")]
    assert any(d.startswith("query.kind") and "dog" in d and "cat" in d for d in diffs), diffs
    console.shot("misses", keep=True)
    assert card is not None
    console.find("[data-test=miss-create-stub]").click()
    console.wait_ready("stubs")
    draft = _source(console)
    assert draft["request"] == {"method": "GET", "path": "/pets/7", "query": {"kind": "cat"},
                                "headers": {"x-tenant": "t1"}}
    assert draft["response"] == {"status": 200, "body": {"id": 7, "kind": "dog"}}  # the closest stub's
    assert "closest stub" in console.text_of("[data-test=edit-note]")
    # edit through the form: the body the new stub gives
    _set(console, "[data-test=edit-body]", '{"id": 7, "kind": "cat"}')
    assert _source(console)["response"] == {"status": 200, "body": {"id": 7, "kind": "cat"}}
    console.shot("stub-editor", keep=True)
    console.find("[data-test=edit-save]").click()
    wait_for(lambda: console.text_of("[data-test=editor-title]").startswith("Stub "), "the saved stub")
    again = http.get("/pets/7", params={"kind": "cat"}, headers={"x-tenant": "t1"})
    assert again.status_code == 200 and again.json() == {"id": 7, "kind": "cat"}
    assert http.get("/pets/7", params={"kind": "cat"}).status_code == 404  # it matches the header too
    assert console.severe_logs() == []


def test_a_miss_with_no_close_stub_gets_a_template_response_and_a_body_matcher(
        console: Console, http: httpx.Client) -> None:
    assert http.post("/orders", json={"qty": 2}).status_code == 404
    console.open("misses")
    assert console.text_of("[data-test=no-near-miss]") == "No stub is close to this request."
    console.find("[data-test=miss-create-stub]").click()
    console.wait_ready("stubs")
    draft = _source(console)
    request = draft["request"]
    assert isinstance(request, dict)
    assert request["body"] == {"equals_json": {"qty": 2}}
    assert request["headers"] == {"content-type": {"contains": "application/json"}}
    assert "template" in console.text_of("[data-test=edit-note]")
    _set(console, "[data-test=edit-status]", "201")
    _set(console, "[data-test=edit-body]", '{"order": 1}')
    console.find("[data-test=edit-save]").click()
    wait_for(lambda: console.text_of("[data-test=editor-title]").startswith("Stub "), "the saved stub")
    created = http.post("/orders", json={"qty": 2})
    assert created.status_code == 201 and created.json() == {"order": 1}
    assert http.post("/orders", json={"qty": 3}).status_code == 404


def test_stub_list_search_hits_toggle_delete(console: Console, http: httpx.Client, admin: httpx.Client) -> None:
    for name in ("alpha", "beta"):
        admin.post("stubs", json={"id": name, "request": {"method": "GET", "path": f"/{name}"},
                                  "response": {"body": {"name": name}}})
    for _ in range(3):
        http.get("/alpha")
    console.open("stubs")
    wait_for(lambda: len(console.find_all("[data-test=stub-row]")) == 2, "two stubs")
    alpha = '[data-test=stub-row][data-id="alpha"]'
    assert console.text_of(f"{alpha} [data-test=stub-hits]") == "3"
    console.shot("stubs", keep=True)
    console.find("[data-test=stub-search]").send_keys("bet")
    wait_for(lambda: [r.get_attribute("data-id") for r in console.find_all("[data-test=stub-row]")] == ["beta"],
             "the search")
    _set(console, "[data-test=stub-search]", "")
    console.find(f"{alpha} [data-test=stub-enabled]").click()
    wait_for(lambda: "disabled" in console.text_of("[data-test=stubs-message]"), "the stub disabled")
    assert admin.get("stubs/alpha").json()["enabled"] is False
    assert http.get("/alpha").status_code == 404
    console.find(f"{alpha} [data-test=stub-enabled]").click()
    wait_for(lambda: "enabled" in console.text_of("[data-test=stubs-message]"), "the stub enabled")
    assert http.get("/alpha").json() == {"name": "alpha"}
    console.js("window.confirm = () => true")
    console.find('[data-test=stub-row][data-id="beta"] [data-test=stub-delete]').click()
    wait_for(lambda: [r.get_attribute("data-id") for r in console.find_all("[data-test=stub-row]")] == ["alpha"],
             "beta deleted")
    assert admin.get("stubs/beta").status_code == 404


def test_editor_shows_the_servers_validation_messages_and_edits(console: Console, http: httpx.Client,
                                                                admin: httpx.Client) -> None:
    admin.post("stubs", json={"id": "e1", "request": {"method": "GET", "path": "/e1"}, "response": {"status": 200}})
    console.open("stubs/edit/e1")
    _set(console, "[data-test=edit-source]", json.dumps(
        {"id": "e1", "request": {"method": "GET", "path": "/e1", "query": {"q": {"matches": "("}}},
         "response": {"status": 200}}))
    console.find("[data-test=edit-save]").click()
    message = wait_for(lambda: console.find("[data-test=edit-error-message]").text, "the server's message")
    assert message.startswith("400")
    assert "request.query.q" in message or any("request.query.q" in d.text
                                               for d in console.find_all("[data-test=edit-error-detail]"))
    assert http.get("/e1").status_code == 200  # nothing stored
    # YAML is sent as YAML; the server's answer decides
    _set(console, "[data-test=edit-source]", "request: {method: GET, path: /e1}\nresponse: {status: 202}\n")
    assert "YAML" in console.text_of("[data-test=edit-sync]")
    console.find("[data-test=edit-save]").click()
    wait_for(lambda: http.get("/e1").status_code == 202, "the YAML edit to apply")


def test_scenarios_show_state_and_reset(console: Console, http: httpx.Client, admin: httpx.Client) -> None:
    admin.post("stubs", json=[
        {"id": "s1", "request": {"method": "POST", "path": "/flow"}, "response": {"status": 200, "body": {"step": 1}},
         "scenario": {"name": "flow", "required_state": "Started", "new_state": "second"}},
        {"id": "s2", "request": {"method": "POST", "path": "/flow"}, "response": {"status": 200, "body": {"step": 2}},
         "scenario": {"name": "flow", "required_state": "second"}},
    ])
    assert http.post("/flow").json() == {"step": 1}
    console.open("stubs")
    wait_for(lambda: console.text_of("[data-test=scenario-state]") == "second", "the scenario state")
    console.find("[data-test=scenario-reset]").click()
    wait_for(lambda: console.text_of("[data-test=scenario-state]") == "Started", "the reset")
    assert http.post("/flow").json() == {"step": 1}


def test_new_stub_from_the_form(console: Console, http: httpx.Client, admin: httpx.Client) -> None:
    console.open("stubs")
    console.find("[data-test=stub-new]").click()
    console.wait_ready("stubs")
    assert console.text_of("[data-test=editor-title]") == "New stub"
    _set(console, "[data-test=edit-id]", "made-here")
    console.js("const m = document.querySelector('[data-test=edit-method]'); m.value = 'PUT';"
               "m.dispatchEvent(new Event('input'))")
    _set(console, "[data-test=edit-path]", "/made/{id}")
    _set(console, "[data-test=edit-status]", "202")
    _set(console, "[data-test=edit-priority]", "1")
    _set(console, "[data-test=edit-headers]", "x-made: yes")
    _set(console, "[data-test=edit-body]", "plain text answer")
    assert _source(console) == {"id": "made-here", "request": {"method": "PUT", "path": "/made/{id}"},
                                "response": {"status": 202, "headers": {"x-made": "yes"},
                                             "body_text": "plain text answer"}, "priority": 1}
    console.find("[data-test=edit-save]").click()
    wait_for(lambda: console.text_of("[data-test=editor-title]") == "Stub made-here", "the saved stub")
    answer = http.put("/made/9")
    assert answer.status_code == 202 and answer.text == "plain text answer" and answer.headers["x-made"] == "yes"
    assert admin.get("stubs/made-here").json()["priority"] == 1
