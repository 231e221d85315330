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
A message no rule matches gets no answer. Hand-written: it is a few lines over ``matchers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockforge.core.templating import Template, TemplateContext, compile_template, has_tokens
from mockforge.ws.matchers import Matcher, MatcherError, compile_matcher, compile_regex
from mockforge.ws.model import Message

if TYPE_CHECKING:
    from mockforge.ws.session import Session

_KEYS = frozenset({"match", "reply", "delay_ms", "broadcast"})


@dataclass(slots=True, frozen=True)
class Rule:
    matcher: Matcher | None
    replies: tuple[str | Template, ...]
    delay_ms: int = 0
    broadcast: bool = False


def compile_rule(raw: Any) -> Rule:
    """Check one rule from config; raises ``ValueError`` with the reason."""
    if not isinstance(raw, dict):
        raise ValueError("a rule must be a mapping {match, reply, delay_ms, broadcast}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    matcher: Matcher | None = None
    match = raw.get("match")
    if match is not None:
        if not isinstance(match, dict) or len(match) != 1 or next(iter(match)) not in ("regex", "json_path"):
            raise ValueError("`match` must be {regex: ...} or {json_path: ...}")
        kind, pattern = next(iter(match.items()))
        try:
            if kind == "regex":
                matcher = compile_regex(pattern) if isinstance(pattern, str) else None
            else:
                if not isinstance(pattern, str) or not pattern.lstrip().startswith("$"):
                    raise ValueError("`match.json_path` must start with $")
                matcher = compile_matcher(pattern)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        if matcher is None:
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
    return Rule(matcher, replies, delay, broadcast)


def apply_rules(rules: tuple[Rule, ...], session: Session, message: Message) -> None:
    for rule in rules:
        if rule.matcher is None or rule.matcher(message):
            break
    else:
        return
    ctx: TemplateContext | None = None
    texts: list[str] = []
    for reply in rule.replies:
        if isinstance(reply, str):
            texts.append(reply)
        else:
            if ctx is None:
                ctx = TemplateContext(session.request, extra={"message": message.template_value()})
            texts.append(reply.render(ctx))
    if not texts:
        return

    def deliver() -> None:
        targets = session.hub.sessions_on(session.path) if rule.broadcast else [session]
        for target in targets:
            for text in texts:
                target.send(Message.text_message(text))

    if rule.delay_ms:
        session.call_later(rule.delay_ms / 1000, deliver)
    else:
        deliver()
