"""``mode: rules``: answer each client message with the first rule that matches it.

    rules:
      - match: {json_path: "$.type == 'join'"}
        reply: ['{"type": "joined", "user": "{{message.user}}"}']
        broadcast: true          # every client on this path gets the reply (a chat room)
      - match: {regex: "^ping$"}
        reply: [pong]
        delay_ms: 50
      - reply: ["unknown: {{message}}"]   # no match: catches everything left

Replies are templates (the core tokens plus ``{{message}}`` / ``{{message.a.b}}``), compiled once.
A message no rule matches gets no answer. A rule is a core ``Stub`` (``core/stub_model.py``):
its ``match`` becomes the body check of a core ``RequestPattern`` (``matchers.py`` translates the
syntax) and its replies a ``WsReply``, so rules use the same matcher model as HTTP and gRPC stubs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockforge.core.matching import BodyMatcher, RequestPattern
from mockforge.core.stub_model import Stub
from mockforge.core.templating import Template, TemplateContext, compile_template, has_tokens
from mockforge.ws.matchers import MatcherError, compile_json_check, compile_regex_check, frame_subject
from mockforge.ws.model import Message

if TYPE_CHECKING:
    from mockforge.ws.session import Session

_KEYS = frozenset({"match", "reply", "delay_ms", "broadcast"})


@dataclass(slots=True, frozen=True)
class WsReply:
    """What a rule answers: texts or templates, after ``delay_ms``, to the sender or (``broadcast``)
    every client on the path."""

    replies: tuple[str | Template, ...]
    delay_ms: int = 0
    broadcast: bool = False


#: A rule: a core stub whose response is a ``WsReply``.
Rule = Stub[WsReply]


def compile_rule(raw: Any, rule_id: str = "rule") -> Rule:
    """Check one rule from config; raises ``ValueError`` with the reason."""
    if not isinstance(raw, dict):
        raise ValueError("a rule must be a mapping {match, reply, delay_ms, broadcast}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    check: BodyMatcher | None = None
    match = raw.get("match")
    if match is not None:
        if not isinstance(match, dict) or len(match) != 1 or next(iter(match)) not in ("regex", "json_path"):
            raise ValueError("`match` must be {regex: ...} or {json_path: ...}")
        kind, pattern = next(iter(match.items()))
        try:
            if kind == "regex":
                check = compile_regex_check(pattern) if isinstance(pattern, str) else None
            else:
                if not isinstance(pattern, str) or not pattern.lstrip().startswith("$"):
                    raise ValueError("`match.json_path` must start with $")
                check = compile_json_check(pattern.strip())
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        if check is None:
            raise ValueError(f"`match.{kind}` must be a string")
    reply = raw.get("reply", [])
    if isinstance(reply, str):
        reply = [reply]
    if not isinstance(reply, list) or not all(isinstance(r, str) for r in reply):
        raise ValueError("`reply` must be a list of texts")
    delay = raw.get("delay_ms", 0)
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise ValueError(f"`delay_ms` must be a whole number >= 0, got {delay!r}")
    broadcast = raw.get("broadcast", False)
    if not isinstance(broadcast, bool):
        raise ValueError("`broadcast` must be true or false")
    replies = tuple(compile_template(r) if has_tokens(r) else r for r in reply)
    request = RequestPattern(match or {}, None, None, [], [], check)
    return Stub(id=rule_id, request=request, response=WsReply(replies, delay, broadcast), spec=raw)


def apply_rules(rules: tuple[Rule, ...], session: Session, message: Message) -> None:
    subject = frame_subject(message)
    for rule in rules:
        if rule.request.matches(subject):
            break
    else:
        return
    reply = rule.response
    ctx: TemplateContext | None = None
    texts: list[str] = []
    for text in reply.replies:
        if isinstance(text, str):
            texts.append(text)
        else:
            if ctx is None:
                ctx = TemplateContext(session.request, extra={"message": message.template_value()})
            texts.append(text.render(ctx))
    if not texts:
        return

    def deliver() -> None:
        targets = session.hub.sessions_on(session.path) if reply.broadcast else [session]
        for target in targets:
            for text in texts:
                target.send(Message.text_message(text))

    if reply.delay_ms:
        session.call_later(reply.delay_ms / 1000, deliver)
    else:
        deliver()
