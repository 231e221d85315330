r"""ECMA-262 ``pattern``s (what JSON Schema and OpenAPI specify) spelled for our regex engines.

A spec's ``pattern`` is JavaScript syntax. The engines that run it here (RE2 for matching,
jsonschema-rs' ``regex`` for validation, Python's parser for generating strings) read a slightly
different dialect, so a few spellings JavaScript accepts would be refused and the pattern left
out, or reported as a spec error. ``translate`` rewrites them, once at load, into the spelling all
three accept with the same meaning:

* ``(?<name>...)`` -> ``(?P<name>...)`` (lookbehind ``(?<=``/``(?<!`` is left alone);
* a ``{`` or ``}`` that does not make a quantifier (``^{x}``, ``a{,3}``) -> ``\{``, ``\}``;
* ``-`` next to a class escape inside a class (``[\w-.]``) -> ``\-`` (JavaScript reads it as a
  literal; Python and Rust refuse the range);
* ``[^]`` (any character) -> ``[\s\S]``;
* ``\uXXXX`` and ``\u{X...}`` -> ``\x{X...}`` (RE2 has no ``\u``).

Written by hand: a single pass over the pattern, no parsing library covers ECMA-to-RE2. A pattern
with none of these is returned unchanged (the same object).

    translate(r"^[\w-.]+@(?<host>[a-z]+)$")     # '^[\\w\\-.]+@(?P<host>[a-z]+)$'
"""

from __future__ import annotations

import re

_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_CLASS_ESCAPES = frozenset("dDwWsS")
_HEX = frozenset("0123456789abcdefABCDEF")
_TRIGGERS = ("(?<", "{", "}", "-", "[^]", "\\u")


def translate(pattern: str) -> str:
    """``pattern`` (ECMA-262) in the dialect RE2, Rust ``regex`` and Python's parser share."""
    if not any(t in pattern for t in _TRIGGERS):
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = 0
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "u":
                hex_digits, width = _unicode_escape(pattern, i + 2)
                if hex_digits:
                    out.append("\\x{" + hex_digits + "}")
                    i += 2 + width
                    continue
            if nxt in "pPx" and pattern.startswith("{", i + 2):  # \p{L}, \x{e9}: braces belong to it
                end = pattern.find("}", i + 2)
                if end > 0:
                    out.append(pattern[i : end + 1])
                    i = end + 1
                    continue
            out.append(c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
                out.append(c)
            elif c == "-" and _next_to_class_escape(pattern, i, class_start):
                out.append("\\-")
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            if pattern.startswith("[^]", i):
                out.append("[\\s\\S]")
                i += 3
                continue
            in_class = True
            # a ``]`` right after ``[`` or ``[^`` is a literal in Python; JavaScript closes there
            class_start = i + (2 if pattern.startswith("[^", i) else 1)
            out.append(pattern[i:class_start])
            i = class_start
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if c == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if quantifier is not None and out:
                out.append(quantifier.group())
                i = quantifier.end()
                continue
            out.append("\\{")
            i += 1
            continue
        if c == "}":
            out.append("\\}")
            i += 1
            continue
        out.append(c)
        i += 1
    result = "".join(out)
    return pattern if result == pattern else result


def _unicode_escape(pattern: str, start: int) -> tuple[str, int]:
    """Hex digits of ``\\uXXXX`` or ``\\u{X...}`` starting at ``start``, and how many characters
    follow the ``\\u``; ``("", 0)`` when it is not one."""
    if pattern.startswith("{", start):
        end = pattern.find("}", start)
        digits = pattern[start + 1 : end] if end > 0 else ""
        if 1 <= len(digits) <= 6 and all(d in _HEX for d in digits):
            return digits, len(digits) + 2
        return "", 0
    digits = pattern[start : start + 4]
    if len(digits) == 4 and all(d in _HEX for d in digits):
        return digits, 4
    return "", 0


def _next_to_class_escape(pattern: str, i: int, class_start: int) -> bool:
    """Whether the ``-`` at ``i`` (inside a class) touches a class escape such as ``\\w``."""
    before = i - 2 >= class_start and pattern[i - 2] == "\\" and pattern[i - 1] in _CLASS_ESCAPES \
        and (i - 3 < 0 or pattern[i - 3] != "\\")
    after = i + 2 < len(pattern) and pattern[i + 1] == "\\" and pattern[i + 2] in _CLASS_ESCAPES
    return before or after
