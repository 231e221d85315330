"""The stub model's ``enabled`` flag and hit counts, through the admin API over real sockets (the
console's Stubs page toggles and lists them)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mockforge.testing.server import MockServer

STUB = {"id": "pet", "request": {"method": "GET", "path": "/pet"}, "response": {"status": 200, "body": {"n": 1}}}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        c.post(mock.admin_url + "/reset")
        c.delete(mock.admin_url + "/stubs")
        yield c


def test_hits_count_the_answers_of_each_stub_and_survive_an_edit(mock: MockServer, client: httpx.Client) -> None:
    assert client.post(mock.admin_url + "/stubs", json=STUB).status_code == 201
    [listed] = client.get(mock.admin_url + "/stubs").json()["stubs"]
    assert listed["hits"] == 0 and listed["enabled"] is True
    for _ in range(3):
        assert client.get(mock.url + "/pet").json() == {"n": 1}
    assert client.get(mock.admin_url + "/stubs/pet").json()["hits"] == 3
    edited = {**STUB, "response": {"status": 200, "body": {"n": 2}}}
    assert client.put(mock.admin_url + "/stubs/pet", json=edited).status_code == 200
    assert client.get(mock.url + "/pet").json() == {"n": 2}
    assert client.get(mock.admin_url + "/stubs/pet").json()["hits"] == 4


def test_a_disabled_stub_is_listed_answers_nothing_and_its_near_miss_says_why(
        mock: MockServer, client: httpx.Client) -> None:
    client.post(mock.admin_url + "/stubs", json={**STUB, "enabled": False})
    [listed] = client.get(mock.admin_url + "/stubs").json()["stubs"]
    assert listed["enabled"] is False and listed["id"] == "pet"
    miss = client.get(mock.url + "/pet")
    assert miss.status_code == 404
    [report] = client.get(mock.admin_url + "/near-misses").json()["near_misses"]
    assert report["near_misses"][0]["stub"] == "pet"
    assert "enabled: the stub is disabled" in report["near_misses"][0]["diffs"]
    # enabling it again (a PUT of the whole definition, all or nothing) makes it answer
    assert client.put(mock.admin_url + "/stubs/pet", json={**STUB, "enabled": True}).status_code == 200
    assert client.get(mock.url + "/pet").json() == {"n": 1}


@pytest.mark.parametrize("value", ["no", 0, None, [True]])
def test_enabled_must_be_a_boolean(mock: MockServer, client: httpx.Client, value: object) -> None:
    resp = client.post(mock.admin_url + "/stubs", json={**STUB, "enabled": value})
    assert resp.status_code == 400
    assert "enabled" in resp.text
    assert client.get(mock.admin_url + "/stubs").json() == {"stubs": []}
