"""WebSocket rules and waitFor patterns translate into the core matcher model."""

from __future__ import annotations

import pytest

from mockforge.core.matching import RequestPattern
from mockforge.core.stub_model import Stub
from mockforge.ws.matchers import MatcherError, compile_matcher, frame_subject
from mockforge.ws.model import Message
from mockforge.ws.rules import WsReply, compile_rule


def text(data: str) -> Message:
    return Message.text_message(data)


@pytest.mark.parametrize(
    ("pattern", "data", "expected"),
    [
        ("^hel+o", "hello there", True),
        ("^hel+o", "say hello", False),
        ("$.user.id", '{"user": {"id": 7}}', True),
        ("$.user.id", '{"user": {}}', False),
        ("$.user.id", "not json", False),
        ("$.type == 'ping'", '{"type": "ping"}', True),
        ("$.type == 'ping'", '{"type": "pong"}', False),
        ("$.n == 2", '{"n": 2.0}', True),
        ("$.n == 2", '{"n": "2"}', False),
        ("$.type != 'ping'", '{"type": "pong"}', True),
        ("$.type != 'ping'", '{"type": "ping"}', False),
        ("$.type != 'ping'", "not json", False),
        ("$.type != 'ping'", "null", True),
        ("$.items[?(@.n > 2)]", '{"items": [{"n": 3}]}', True),
        ("$.items[?(@.n > 2)]", '{"items": [{"n": "x"}]}', False),  # jsonpath-ng raises: no match
    ],
)
def test_patterns_keep_their_meaning_on_the_core_matchers(pattern: str, data: str, expected: bool) -> None:
    assert compile_matcher(pattern)(text(data)) is expected


def test_binary_frames_match_on_their_text() -> None:
    assert compile_matcher("^ab")(Message.binary_message(b"abc"))
    assert compile_matcher("$.a == 1")(Message.binary_message(b'{"a": 1}'))


def test_a_frame_subject_exposes_the_frame_as_body() -> None:
    subject = frame_subject(text('{"a": [1]}'))
    assert subject.text == '{"a": [1]}' and subject.json() == {"a": [1]}


def test_a_rule_is_a_core_stub_with_a_core_request_pattern() -> None:
    rule = compile_rule({"match": {"json_path": "$.type == 'join'"}, "reply": ["hi"], "delay_ms": 5}, "r1")
    assert isinstance(rule, Stub) and isinstance(rule.request, RequestPattern)
    assert rule.id == "r1" and rule.response == WsReply(("hi",), 5, False)
    assert rule.request.matches(frame_subject(text('{"type": "join"}')))
    assert not rule.request.matches(frame_subject(text('{"type": "leave"}')))
    catch_all = compile_rule({"reply": "x"})
    assert catch_all.request.matches(frame_subject(text("anything")))


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(?=a)", "lookahead and lookbehind"), ("$.[", "invalid JSONPath"), ("$.a == nope", "cannot read")],
)
def test_bad_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=reason.replace("[", r"\[")):
        compile_matcher(pattern)
