"""Scalar values: strings (format, name hint, ``pattern``, length), integers and numbers.

Each builder reads its schema once and returns a ``Node`` whose closure only draws from the rng:
bounds, ``multipleOf`` steps and format widths are worked out here, at compile time. A string that
must match ``pattern`` is tested with ``mockforge.core.regex`` (RE2, linear in the string), never
with ``re``. Values are realistic where the schema leaves room (``price`` 1 to 500 with two
decimals, ``age`` 18 to 90) and exact where it does not (every bound, ``multipleOf`` and format is
met, or the attempt raises ``Unsat``).

    string_node({"type": "string", "format": "email", "maxLength": 12}, "contact").gen(rng, 0)
    integer_node({"type": "integer", "minimum": 5, "multipleOf": 5}, "count").gen(rng, 0)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from mockforge.core.regex import try_user_regex
from mockforge.schema.formats import FORMATS, STRICT_FORMATS, NumberHint, number_hint, pad_format, string_hint, words
from mockforge.schema.node import Node, Unsat, unsat
from mockforge.schema.patterns import pattern_generator

_INT_FORMATS = ("int32", "int64", "uint32", "uint64", "int8", "uint8", "int16", "uint16")


def max_opt(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def min_opt(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def window(lo: Any, hi: Any, hint: NumberHint | None) -> tuple[Any, Any]:
    """A realistic window inside [lo, hi]: the name hint when it fits, else up to 1000 wide."""
    if hint is not None:
        a, b = max_opt(lo, hint[0]), min_opt(hi, hint[1])
        if a <= b:
            return a, b
    if lo is None and hi is None:
        return 1, 1000
    if lo is None:
        return (1, hi) if hi >= 1000 else (hi - 1000, hi)
    if hi is None:
        return lo, lo + 1000
    anchor = min(max(lo, 1), hi)
    return anchor, min(hi, anchor + 1000)


def string_node(schema: dict[str, Any], hint: str | None) -> Node:
    lo = int(schema.get("minLength", 0))
    hi_raw = schema.get("maxLength")
    hi = int(hi_raw) if hi_raw is not None else None
    fmt = schema.get("format")
    pattern = schema.get("pattern")
    if hi is not None and lo > hi:
        return Node(unsat, 1)
    sources: list[Callable[[random.Random], str]] = []
    if isinstance(fmt, str) and fmt in FORMATS:
        sources.append(FORMATS[fmt])
    strict = fmt in STRICT_FORMATS
    named = string_hint(hint)
    if named is not None and not strict:
        sources.append(named)
    # A spec pattern is a user regex: checked on RE2 (linear). One RE2 cannot run (backreference,
    # lookaround) is never run on ``re``: the generator's output is taken unchecked.
    rx = try_user_regex(pattern)
    pgen = pattern_generator(pattern) if isinstance(pattern, str) else None
    if rx is None and pgen is not None:
        sources = []

    def fits(v: str) -> bool:
        return lo <= len(v) and (hi is None or len(v) <= hi) and (rx is None or rx.test(v))

    def gen(rng: random.Random, d: int) -> str:
        for source in sources:
            for _ in range(2 if strict else 1):
                v = source(rng)
                if fits(v):
                    return v
                if strict:
                    padded = pad_format(v, fmt, lo, hi, rng)
                    if padded is not None and fits(padded):
                        return padded
        if pgen is not None:
            for attempt in range(12):
                cap = 2 << (attempt // 2) if lo <= 8 else max(lo, 8) << (attempt // 3)
                v = pgen(rng, cap)
                if fits(v):
                    return v
                if len(v) < lo:
                    pad = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(lo - len(v)))
                    for cand in (v + pad, pad + v):
                        if fits(cand):
                            return cand
            raise Unsat("pattern")
        if strict:
            raise Unsat(str(fmt))
        return words(rng, lo, hi)

    return Node(gen, 1)

def integer_node(schema: dict[str, Any], hint: str | None) -> Node:
    lo = hi = None
    if "minimum" in schema:
        lo = math.ceil(schema["minimum"])
    if "exclusiveMinimum" in schema:
        lo = max_opt(lo, math.floor(schema["exclusiveMinimum"]) + 1)
    if "maximum" in schema:
        hi = math.floor(schema["maximum"])
    if "exclusiveMaximum" in schema:
        hi = min_opt(hi, math.ceil(schema["exclusiveMaximum"]) - 1)
    fmt = schema.get("format")
    if fmt in _INT_FORMATS:
        bits = int(fmt.lstrip("uint") or 64)
        if fmt.startswith("u"):
            lo, hi = max_opt(lo, 0), min_opt(hi, 2**bits - 1)
        else:
            lo, hi = max_opt(lo, -(2 ** (bits - 1))), min_opt(hi, 2 ** (bits - 1) - 1)
    step = 1
    if "multipleOf" in schema:
        step = Fraction(str(schema["multipleOf"])).numerator
    a, b = window(lo, hi, number_hint(hint))
    k_lo, k_hi = -(-a // step), b // step
    if k_lo > k_hi:
        # the window was narrowed for realism; widen back to the full constraint
        a, b = (lo if lo is not None else b - 1000 * step), (hi if hi is not None else a + 1000 * step)
        k_lo, k_hi = -(-a // step), b // step
    if k_lo > k_hi:
        return Node(unsat, 1)
    return Node(lambda rng, d: step * rng.randint(k_lo, k_hi), 1)

def number_node(schema: dict[str, Any], hint: str | None) -> Node:
    lo = float(schema["minimum"]) if "minimum" in schema else None
    hi = float(schema["maximum"]) if "maximum" in schema else None
    xlo = float(schema["exclusiveMinimum"]) if "exclusiveMinimum" in schema else None
    xhi = float(schema["exclusiveMaximum"]) if "exclusiveMaximum" in schema else None
    if schema.get("format") == "float":
        lo, hi = max_opt(lo, -3.4e38), min_opt(hi, 3.4e38)
    low = max_opt(lo, xlo)
    high = min_opt(hi, xhi)
    nh = number_hint(hint)
    decimals = nh[2] if nh is not None and nh[2] is not None else 2

    def ok(v: float) -> bool:
        return ((lo is None or v >= lo) and (hi is None or v <= hi) and (xlo is None or v > xlo)
                and (xhi is None or v < xhi))

    a, b = window(low, high, nh)
    if "multipleOf" in schema:
        m = Fraction(str(schema["multipleOf"]))
        fa, fb = Fraction(a), Fraction(b)
        k_lo, k_hi = math.ceil(fa / m), math.floor(fb / m)
        if k_lo > k_hi and (low is not None or high is not None):
            fa = Fraction(low) if low is not None else Fraction(b) - 1000 * m
            fb = Fraction(high) if high is not None else Fraction(a) + 1000 * m
            k_lo, k_hi = math.ceil(fa / m), math.floor(fb / m)

        def gen_multiple(rng: random.Random, d: int) -> float:
            for _ in range(8):
                v = float(rng.randint(k_lo, k_hi) * m) if k_lo <= k_hi else math.nan
                if ok(v):
                    return v
            raise Unsat("multipleOf")

        return Node(gen_multiple, 1)

    def gen(rng: random.Random, d: int) -> float:
        v = round(rng.uniform(a, b), decimals)
        if ok(v):
            return v
        for v in (rng.uniform(a, b), (a + b) / 2, math.nextafter(a, math.inf),
                  math.nextafter(b, -math.inf)):
            if ok(v):
                return v
        raise Unsat("number range")

    return Node(gen, 1)
