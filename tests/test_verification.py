from __future__ import annotations

import pytest

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.verification import parse_count, verify, verify_sequence
from mockforge.errors import StubError


def log_of(*requests: tuple[str, str, bytes], max_entries: int = 100, max_body: int = 256) -> RequestLog:
    log = RequestLog(max_entries, max_body_bytes=max_body)
    for method, path, body in requests:
        request = Request(
            protocol="http",
            method=method,
            path=path,
            headers=Headers([("content-type", "application/json")]),
            body=body,
        )
        log.append(log.entry_for(request, Response(status=200), 1.0))
    return log


TRAFFIC = (
    ("POST", "/login", b'{"user": "ada"}'),
    ("GET", "/pets", b""),
    ("POST", "/orders", b'{"qty": 1}'),
    ("POST", "/orders", b'{"qty": 2}'),
    ("GET", "/pets/7", b""),
)


def test_default_is_at_least_once() -> None:
    result = verify(log_of(*TRAFFIC), {"method": "POST", "path": "/orders"})
    assert result == {
        "ok": True,
        "count": 2,
        "expected": {"at_least": 1},
        "matched": ["3", "4"],
        "evicted": 0,
    }


@pytest.mark.parametrize(
    ("count", "ok"),
    [
        ({"exactly": 2}, True),
        ({"exactly": 1}, False),
        ({"at_least": 3}, False),
        ({"at_most": 2}, True),
        ({"at_most": 1}, False),
        ({"never": True}, False),
    ],
)
def test_count_kinds(count: dict[str, object], ok: bool) -> None:
    result = verify(log_of(*TRAFFIC), {"method": "POST", "path": "/orders"}, count)
    assert (result["ok"], result["count"], result["expected"]) == (ok, 2, count)


def test_never_passes_when_nothing_matched_and_bodies_are_matched() -> None:
    log = log_of(*TRAFFIC)
    assert verify(log, {"path": "/admin"}, {"never": True})["ok"]
    body = {"path": "/orders", "body": {"json_path": {"$.qty": "2"}}}
    assert verify(log, body, {"exactly": 1})["matched"] == ["4"]


def test_too_few_lists_the_closest_logged_requests() -> None:
    result = verify(log_of(*TRAFFIC), {"method": "POST", "path": "/order"}, {"exactly": 1})
    assert not result["ok"]
    assert result["near_misses"][0] == {
        "entry": "4",
        "method": "POST",
        "path": "/orders",
        "distance": result["near_misses"][0]["distance"],
        "diffs": ['path: expected "/order", got "/orders"'],
    }
    assert [m["entry"] for m in result["near_misses"]] == ["4", "3", "1"]


def test_truncated_bodies_never_count_and_the_answer_says_so() -> None:
    log = log_of(("POST", "/orders", b'{"qty": 2, "note": "' + b"x" * 100 + b'"}'), max_body=16)
    entry = log.snapshot()[0]
    assert entry.body_truncated
    result = verify(log, {"path": "/orders", "body": {"contains": "qty"}})
    assert not result["ok"] and result["count"] == 0
    assert result["truncated_skipped"] == 1
    assert "their logged body was truncated" in result["note"]
    assert verify(log, {"path": "/orders"})["count"] == 1  # without a body matcher it counts


def test_evicted_entries_are_reported() -> None:
    log = log_of(*TRAFFIC, max_entries=2)
    result = verify(log, {"path": "/login"}, {"never": True})
    assert result["ok"] and result["evicted"] == 3
    assert result["note"] == "the log has evicted 3 entries (core.max_request_logs): counts may be low"


def test_matched_ids_are_capped_at_100() -> None:
    log = log_of(*[("GET", "/p", b"")] * 150, max_entries=200)
    result = verify(log, {"path": "/p"})
    assert result["count"] == 150 and len(result["matched"]) == 100


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"exactly": -1}, "count.exactly"),
        ({"sometimes": 1}, "count.sometimes"),
        ({"never": 1}, "count.never"),
    ],
)
def test_bad_count_names_the_field(spec: object, where: str) -> None:
    with pytest.raises(StubError) as err:
        parse_count(spec)
    assert err.value.where == where


def test_sequence_in_order_with_gaps() -> None:
    result = verify_sequence(log_of(*TRAFFIC), [{"path": "/login"}, {"path": "/orders"}, {"path": "/pets/7"}])
    assert result == {"ok": True, "steps": 3, "matched": ["1", "3", "5"], "evicted": 0}


def test_sequence_out_of_order_says_which_step_failed() -> None:
    result = verify_sequence(log_of(*TRAFFIC), [{"path": "/pets/7"}, {"path": "/login"}])
    assert not result["ok"]
    assert result["failed_step"] == 1
    assert result["matched"] == ["5"]
    assert result["message"] == "step 1 (ANY /login) was not found after entry 5"


def test_sequence_needs_steps() -> None:
    with pytest.raises(StubError):
        verify_sequence(log_of(), [])
