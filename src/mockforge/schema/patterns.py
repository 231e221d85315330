"""Regex strings: generate a string that a schema's ``pattern`` matches.

A ``pattern`` is parsed once by Python's own regex parser (``re._parser``, which reads the
ECMA-262 subset OpenAPI documents use) into a small tree of (op, argument) tuples with character
classes pre-expanded; producing a string is then one walk of that tree with the caller's rng.
Written by hand because it is a short walk over the standard library's parser, while hypothesis'
``from_regex`` brings all of hypothesis and a small package would be one more dependency for the
same walk. Parsing is not matching: no user pattern is run over input on ``re`` here (a negated
class is only tried on single printable characters). Whether the output matches is decided by the
caller with ``mockforge.core.regex`` (RE2, linear time); a pattern RE2 refuses (lookaround,
backreferences) still gets strings, taken unchecked.

    gen = pattern_generator("^[A-Z]{2}-[0-9]{3}$")
    gen(random.Random(1), 3)      # e.g. "QX-417"; 3 bounds each unbounded repeat above its minimum

Cost: a repeat emits at most ``cap`` items above its minimum, so a string is bounded by the pattern
size times ``cap``; a construct we cannot produce makes ``pattern_generator`` return ``None``.
"""

from __future__ import annotations

import importlib
import random
import re
from collections.abc import Callable
from typing import Any

from mockforge.schema.node import Unsat

_sre: Any = importlib.import_module("re._parser")

_PRINTABLE = [chr(c) for c in range(32, 127)]
_BRACED_HEX = re.compile(r"(?<!\\)((?:\\\\)*)\\x\{([0-9a-fA-F]{1,6})\}")
_WORD_RANGES = ((97, 122), (65, 90), (48, 57), (95, 95))
_CATEGORIES: dict[str, tuple[tuple[int, int], ...]] = {
    "CATEGORY_DIGIT": ((48, 57),),
    "CATEGORY_NOT_DIGIT": ((97, 122), (65, 90)),
    "CATEGORY_SPACE": ((32, 32),),
    "CATEGORY_NOT_SPACE": ((97, 122), (48, 57)),
    "CATEGORY_WORD": _WORD_RANGES,
    "CATEGORY_NOT_WORD": ((45, 45), (46, 46), (32, 32)),
}


def _class_ranges(items: list[Any]) -> tuple[bool, list[tuple[int, int]]]:
    negate = False
    ranges: list[tuple[int, int]] = []
    for op, av in items:
        kind = op.name
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            ranges.append((av, av))
        elif kind == "RANGE":
            ranges.append((av[0], av[1]))
        elif kind == "CATEGORY":
            cat = av.name
            if negate or cat not in _CATEGORIES:
                raise Unsat(cat)
            ranges.extend(_CATEGORIES[cat])
        else:
            raise Unsat(kind)
    return negate, ranges


def _class_members(items: list[Any]) -> list[str] | list[tuple[int, int]]:
    """A positive class as ranges; a negated one as the printable characters it admits."""
    negate = bool(items) and items[0][0].name == "NEGATE"
    if not negate:
        return _class_ranges(items)[1]
    rx = re.compile("[^" + "".join(_class_source(op, av) for op, av in items[1:]) + "]")
    return [c for c in _PRINTABLE if rx.fullmatch(c)]


def _class_source(op: Any, av: Any) -> str:
    kind = op.name
    if kind == "LITERAL":
        return re.escape(chr(av))
    if kind == "RANGE":
        return f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}"
    if kind == "CATEGORY":
        return {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
                "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}[av.name]
    raise Unsat(kind)


def _prepare(items: Any) -> list[tuple[str, Any]]:
    """Turn a ``re._parser`` tree into plain (opname, argument) tuples, classes pre-expanded."""
    out: list[tuple[str, Any]] = []
    for op, av in items:
        kind = op.name
        if kind == "IN":
            out.append(("IN", _class_members(av)))
        elif kind == "NOT_LITERAL":
            out.append(("IN", [c for c in _PRINTABLE if ord(c) != av]))
        elif kind == "BRANCH":
            out.append(("BRANCH", [_prepare(alt) for alt in av[1]]))
        elif kind == "SUBPATTERN":
            out.append(("GROUP", (av[0], _prepare(av[3]))))
        elif kind == "ATOMIC_GROUP":
            out.append(("GROUP", (None, _prepare(av))))
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            hi = av[1] if av[1] is not _sre.MAXREPEAT else None
            out.append(("REPEAT", (av[0], hi, _prepare(av[2]))))
        elif kind == "GROUPREF_EXISTS":
            out.append(("IFGROUP", (av[0], _prepare(av[1]), _prepare(av[2]) if av[2] else [])))
        elif kind in ("LITERAL", "ANY", "GROUPREF"):
            out.append((kind, av))
        elif kind in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors add nothing; lookarounds are checked by the final match
        else:
            raise Unsat(kind)
    return out


def _emit(items: list[tuple[str, Any]], rng: random.Random, cap: int, groups: dict[int, str],
          out: list[str]) -> None:
    for kind, av in items:
        if kind == "LITERAL":
            out.append(chr(av))
        elif kind == "IN":
            if not av:
                raise Unsat("empty class")
            choice = rng.choice(av)
            out.append(choice if isinstance(choice, str) else chr(rng.randint(choice[0], choice[1])))
        elif kind == "ANY":
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif kind == "REPEAT":
            lo, hi, sub = av
            top = lo + cap if hi is None else min(hi, lo + cap)
            for _ in range(rng.randint(lo, top)):
                _emit(sub, rng, cap, groups, out)
        elif kind == "GROUP":
            start = len(out)
            _emit(av[1], rng, cap, groups, out)
            if av[0] is not None:
                groups[av[0]] = "".join(out[start:])
        elif kind == "BRANCH":
            _emit(rng.choice(av), rng, cap, groups, out)
        elif kind == "GROUPREF":
            out.append(groups.get(av, ""))
        elif kind == "IFGROUP":
            _emit(av[1] if av[0] in groups else av[2], rng, cap, groups, out)


#: Unicode property classes (RE2 and Rust run them, Python's parser does not) -> ASCII members
#: to generate from; the caller still checks the result on RE2.
_PROPERTIES = {"L": "a-zA-Z", "Lu": "A-Z", "Ll": "a-z", "N": "0-9", "Nd": "0-9", "Alpha": "a-zA-Z",
               "Letter": "a-zA-Z", "Digit": "0-9", "Latin": "a-zA-Z", "P": ".,!?", "Zs": " ", "S": "+$"}
_PROPERTY = re.compile(r"\\p\{([A-Za-z_]+)\}")


def _ascii_properties(pattern: str) -> str:
    """``\\p{L}`` -> ``[a-zA-Z]`` (``a-zA-Z`` inside a class), for generation only; an unknown or
    negated (``\\P``) property is left, and the parser refuses the pattern."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        m = _PROPERTY.match(pattern, i) if c == "\\" else None
        if m is not None and m.group(1) in _PROPERTIES:
            members = _PROPERTIES[m.group(1)]
            out.append(members if in_class else f"[{members}]")
            i = m.end()
            continue
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def pattern_generator(pattern: str) -> Callable[[random.Random, int], str] | None:
    """A function ``(rng, cap) -> str`` producing strings the regex matches (``cap`` bounds each
    unbounded repeat above its minimum), or ``None`` when the pattern uses a construct we cannot
    produce (Unicode property classes, negated categories inside a class, ...)."""
    if "\\p{" in pattern or "\\P{" in pattern:
        pattern = _ascii_properties(pattern)
    if "\\x{" in pattern:  # RE2's spelling of a code point (``schema/ecma.py``): Python's is \U
        pattern = _BRACED_HEX.sub(lambda m: m.group(1) + f"\\U{int(m.group(2), 16):08x}", pattern)
    try:
        tree = _prepare(_sre.parse(pattern))
    except (re.error, Unsat, ValueError, TypeError, OverflowError):
        return None

    def gen(rng: random.Random, cap: int) -> str:
        out: list[str] = []
        _emit(tree, rng, cap, {}, out)
        return "".join(out)

    return gen
