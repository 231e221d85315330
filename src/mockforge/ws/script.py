"""Scripted WebSocket sessions: a JSONL file read and checked once at start, then replayed per
connection.

Hand-written because no library plays this format: it is the original MockForge's replay file,
with what its docs promised and its code did not do (``ts`` as an offset from connection start,
regex and JSONPath ``waitFor``, ``close``, ``binary``, timeouts and repeats). One JSON object per
line, blank lines skipped:

    {"ts": 0, "dir": "out", "text": "welcome {{request.query.user}}"}
    {"dir": "in", "waitFor": "$.type == 'join'", "timeout_ms": 2000, "on_timeout": "close"}
    {"ts": 100, "dir": "out", "text": "joined {{message.room}}"}
    {"ts": 200, "dir": "out", "text": "tick {{now}}"}
    {"repeat": {"from_line": 4, "times": 3, "interval_ms": 500}}
    {"close": {"code": 1000, "reason": "bye"}}

- ``ts``: for ``out`` lines, milliseconds from connection start; a line whose time has passed
  (the client was slow to answer an ``in`` line) is sent at once.
- ``dir``: ``out`` (default) sends ``text`` (templated) or ``binary`` (base64); ``in`` (default
  when the line has ``waitFor`` and nothing to send) waits for a client message. Messages that do
  not match ``waitFor`` are skipped; ``text`` on an ``in`` line only documents what is expected.
- ``timeout_ms`` (line, else the route's ``timeout_ms``, else none) and ``on_timeout``:
  ``close`` (default: close 1011 with a reason) or ``continue``.
- ``close``: ``{code, reason}``, after the line's message if it has one.
- ``repeat``: after the line's action, go back to ``from_line`` (a file line number at or before
  this one); the block runs ``times`` times in all (0 = forever), ``interval_ms`` apart. ``ts`` in
  a repeated block counts from the start of the pass, less the ``ts`` of its first line.
- ``{{message}}``, ``{{message.a.b}}``: the last message an ``in`` line accepted (JSON parsed).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from mockforge.core.templating import Template, TemplateContext, compile_template, has_tokens
from mockforge.errors import ConfigError
from mockforge.ws.matchers import Matcher, MatcherError, compile_matcher
from mockforge.ws.model import CloseCode, Message, valid_close_code

if TYPE_CHECKING:
    from mockforge.ws.session import Session

_KEYS = frozenset({"ts", "dir", "text", "binary", "waitFor", "timeout_ms", "on_timeout", "close", "repeat"})
_MAX_REASON = 123


@dataclass(slots=True, frozen=True)
class Repeat:
    to_index: int
    times: int
    interval_ms: int


@dataclass(slots=True, frozen=True)
class Step:
    """One script line, checked; ``line`` is its number in the file."""

    line: int
    direction: Literal["in", "out"]
    ts_ms: float | None = None
    text: str | Template | None = None
    binary: bytes | None = None
    wait_for: Matcher | None = None
    wait_for_text: str = ""
    timeout_ms: int | None = None
    on_timeout: Literal["close", "continue"] = "close"
    close: tuple[int, str] | None = None
    repeat: Repeat | None = None


@dataclass(slots=True, frozen=True)
class Script:
    file: str
    steps: tuple[Step, ...]


def _non_negative_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{key}` must be a whole number >= 0, got {value!r}")
    return value


def _step(obj: Any, line: int, index_of_line: dict[int, int], index: int) -> Step:
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError("`text` must be a string")
    binary: bytes | None = None
    if "binary" in obj:
        if text is not None:
            raise ValueError("give `text` or `binary`, not both")
        if not isinstance(obj["binary"], str):
            raise ValueError("`binary` must be base64 text")
        try:
            binary = base64.b64decode(obj["binary"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"`binary` is not valid base64: {exc}") from None
    wait_text = obj.get("waitFor")
    wait_for = compile_matcher(wait_text) if wait_text is not None else None
    sends = text is not None or binary is not None
    direction = obj.get("dir", "in" if wait_for is not None and not sends else "out")
    if direction not in ("in", "out"):
        raise ValueError(f"`dir` must be 'in' or 'out', got {direction!r}")
    if direction == "out" and wait_for is not None:
        raise ValueError("`waitFor` belongs on a `dir: in` line")
    ts = obj.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float) or ts < 0):
        raise ValueError(f"`ts` must be a number of milliseconds >= 0, got {ts!r}")
    timeout = obj.get("timeout_ms")
    if timeout is not None:
        timeout = _non_negative_int(timeout, "timeout_ms")
    on_timeout = obj.get("on_timeout", "close")
    if on_timeout not in ("close", "continue"):
        raise ValueError(f"`on_timeout` must be 'close' or 'continue', got {on_timeout!r}")
    close = _close(obj["close"]) if "close" in obj else None
    repeat = _repeat(obj["repeat"], line, index_of_line, index) if "repeat" in obj else None
    if direction == "out" and not sends and close is None and repeat is None:
        raise ValueError("an `out` line needs `text`, `binary`, `close` or `repeat`")
    compiled: str | Template | None = text
    if text is not None and direction == "out" and has_tokens(text):
        compiled = compile_template(text)
    return Step(
        line=line,
        direction=direction,
        ts_ms=float(ts) if ts is not None else None,
        text=compiled if direction == "out" else None,
        binary=binary if direction == "out" else None,
        wait_for=wait_for,
        wait_for_text=wait_text or "",
        timeout_ms=timeout,
        on_timeout=on_timeout,
        close=close,
        repeat=repeat,
    )


def _close(value: Any) -> tuple[int, str]:
    if not isinstance(value, dict) or set(value) - {"code", "reason"}:
        raise ValueError("`close` must be {code, reason}")
    code = value.get("code", 1000)
    if isinstance(code, bool) or not isinstance(code, int) or not valid_close_code(code):
        raise ValueError(f"`close.code` {code!r} is not a code a server may send (1000-1014, 3000-4999)")
    reason = value.get("reason", "")
    if not isinstance(reason, str) or len(reason.encode()) > _MAX_REASON:
        raise ValueError(f"`close.reason` must be text of at most {_MAX_REASON} bytes")
    return code, reason


def _repeat(value: Any, line: int, index_of_line: dict[int, int], index: int) -> Repeat:
    if not isinstance(value, dict) or set(value) - {"from_line", "times", "interval_ms"}:
        raise ValueError("`repeat` must be {from_line, times, interval_ms}")
    from_line = value.get("from_line")
    if isinstance(from_line, bool) or not isinstance(from_line, int):
        raise ValueError("`repeat.from_line` must be a line number of this file")
    if from_line == line:
        to_index = index
    elif from_line in index_of_line and from_line < line:
        to_index = index_of_line[from_line]
    else:
        raise ValueError(f"`repeat.from_line` {from_line} is not a script line at or before line {line}")
    times = _non_negative_int(value.get("times", 0), "repeat.times")
    interval = _non_negative_int(value.get("interval_ms", 0), "repeat.interval_ms")
    return Repeat(to_index, times, interval)


def parse_script(text: str, file: str) -> Script:
    """Check every line; the first bad one raises ``ConfigError`` naming the file and line."""
    steps: list[Step] = []
    index_of_line: dict[int, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}", file=file, where=f"line {number}") from None
        try:
            step = _step(obj, number, index_of_line, len(steps))
        except (ValueError, MatcherError) as exc:
            raise ConfigError(str(exc), file=file, where=f"line {number}") from None
        index_of_line[number] = len(steps)
        steps.append(step)
    return Script(file, tuple(steps))


def load_script(path: str) -> Script:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError("script file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read script file: {exc}", file=path) from None
    return parse_script(text, path)


# --------------------------------------------------------------------------- replay


def _truncate_reason(reason: str) -> str:
    data = reason.encode()
    return reason if len(data) <= _MAX_REASON else data[:_MAX_REASON].decode("utf-8", "ignore")


async def run_script(session: Session, script: Script, default_timeout_ms: int | None) -> None:
    """Play ``script`` on one connection; returns when it ends or the connection closes."""
    loop = asyncio.get_running_loop()
    base = session.started
    last: Message | None = None
    passes: dict[int, int] = {}
    steps = script.steps
    i = 0
    while i < len(steps) and session.is_open:
        step = steps[i]
        if step.direction == "in":
            timeout = step.timeout_ms if step.timeout_ms is not None else default_timeout_ms
            got = await session.wait_for_message(step.wait_for, None if timeout is None else timeout / 1000)
            if got is None:
                if not session.is_open:
                    return
                if step.on_timeout == "close":
                    what = f" for {step.wait_for_text}" if step.wait_for_text else ""
                    reason = f"script line {step.line}: timed out after {timeout} ms waiting{what}"
                    session.close(CloseCode.INTERNAL_ERROR, _truncate_reason(reason))
                    return
            else:
                last = got
        else:
            if step.ts_ms is not None:
                delay = base + step.ts_ms / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if not session.is_open:
                        return
            if step.binary is not None:
                session.send(Message.binary_message(step.binary))
            elif step.text is not None:
                text = step.text
                if not isinstance(text, str):
                    message_value = last.template_value() if last is not None else ""
                    ctx = TemplateContext(session.request, extra={"message": message_value})
                    text = text.render(ctx)
                session.send(Message.text_message(text))
        if step.close is not None:
            code, reason = step.close
            session.close(code, reason)
            return
        rep = step.repeat
        if rep is not None:
            done = passes.get(i, 0) + 1
            if rep.times == 0 or done < rep.times:
                passes[i] = done
                for inner in range(rep.to_index, i):
                    passes.pop(inner, None)  # nested repeats start afresh on each outer pass
                if rep.interval_ms:
                    await asyncio.sleep(rep.interval_ms / 1000)
                first_ts = steps[rep.to_index].ts_ms or 0.0
                base = loop.time() - first_ts / 1000
                i = rep.to_index
                continue
            passes.pop(i, None)
        i += 1
