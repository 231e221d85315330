"""JSON Schema -> a realistic value that validates: the walker, seedable, compiled once per schema.

Hand-written rather than built on Faker, mimesis or hypothesis: the reference measured Faker at
16 to 53 MB resident and ten times slower per object, and a mock only needs a few word lists plus
format-aware strings (``formats.py``). The walker reads the schema dialect of ``openapi/model.py``
(JSON Schema 2020-12, every ``$ref`` is ``#/$defs/NAME``, plus ``discriminator``, ``readOnly``,
``writeOnly``, ``example`` and ``format``).

``compile`` turns a schema into nested ``Node`` closures once (``node.py``), so serving a request
is one call. Every value is checked with jsonschema-rs (about a microsecond per object,
``validate.py``) and regenerated a few times when a combination of constraints defeated the walker;
if it still fails the schema's ``example`` or ``default`` is returned and the schema is listed in
``problems``.

    gen = DataGenerator(model.defs, seed=7)
    make = gen.compile({"$ref": "#/$defs/Pet"})
    make(random.Random(1))      # {"id": 4127, "name": "Bella", "status": "active"}

Here: the walker, composition (``oneOf``/``anyOf``/``not``/``enum``), arrays and objects. Scalars
are built by ``scalars.py``, ``allOf`` is merged by ``allof.py``, ``pattern`` strings come from
``patterns.py``. Recursion is bounded by ``max_depth`` (optional parts left out past it) and a
hard bound 12 levels deeper (the attempt is abandoned).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from mockforge.core.regex import try_user_regex
from mockforge.schema.allof import PREFERRED, merge
from mockforge.schema.defs import ref_name, resolve, target
from mockforge.schema.domain import singular
from mockforge.schema.formats import WORDS, join_hint, split_hint
from mockforge.schema.node import HEAVY, Gen, Node, Unsat, clone, constant, unsat
from mockforge.schema.patterns import pattern_generator
from mockforge.schema.scalars import integer_node, min_opt, number_node, string_node
from mockforge.schema.validate import Validators

log = logging.getLogger("mockforge.datagen")

#: Keywords that describe a value without constraining it (ignored when a ``$ref`` has siblings).
_ANNOTATIONS = frozenset(
    {"title", "description", "example", "examples", "default", "deprecated", "readOnly", "writeOnly",
     "xml", "externalDocs", "$comment", "discriminator", "$id", "$schema", "$anchor", "contentMediaType",
     "contentEncoding"}
)
#: Values of distinct types, to make a value fail one ``oneOf`` alternative (``_separate``).
_SPOILERS: tuple[Any, ...] = (True, "x", 0.5, [], {}, None)


class DataGenerator:
    """Generates values for the schemas of one ``defs`` mapping.

    ``for_response`` leaves optional ``writeOnly`` properties out (responses) or, when false,
    optional ``readOnly`` ones (request bodies). Required ones stay, so a value validates against
    the schema as written. ``problems`` lists schemas no valid value could be found for.
    """

    def __init__(self, defs: dict[str, dict[str, Any]], *, seed: int | None = None, max_depth: int = 5,
                 for_response: bool = True, attempts: int = 8) -> None:
        self.defs = defs
        self.seed = seed
        self.max_depth = max_depth
        self.for_response = for_response
        self.attempts = attempts
        self.problems: list[str] = []
        self._hard_depth = max_depth + 12
        self._rng = random.Random(seed)
        self._refs: dict[tuple[str, bool], Node] = {}
        self._building: set[tuple[str, bool]] = set()
        self._compiled: dict[int, tuple[Any, Gen]] = {}
        self._checks = Validators(defs)
        #: Why the schema being compiled admits no value, when the walker can tell (a required
        #: property ``additionalProperties: false`` forbids); added to the problem line.
        self._why: list[str] = []

    # ---- lookups and validation (shared with the response checks)


    @contextmanager
    def kept_sequence(self) -> Iterator[None]:
        """Generate inside without moving the seeded sequence: what is generated after the block
        is what it would have been without it (the answer preview uses this)."""
        state = self._rng.getstate()
        try:
            yield
        finally:
            self._rng.setstate(state)

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` until a schema without one (siblings of a ``$ref`` are dropped)."""
        return resolve(self.defs, schema)

    def reachable_defs(self, schema: Any) -> dict[str, Any]:
        """The part of ``defs`` a schema can reach (validators are built from it, not all defs)."""
        return self._checks.reachable_defs(schema)

    def validator(self, schema: Any) -> Any:
        """A jsonschema-rs validator of ``schema`` (formats checked), cached per schema object;
        ``None`` when jsonschema-rs rejects the schema itself."""
        return self._checks.validator(schema)

    def is_valid(self, schema: Any, value: Any) -> bool:
        return self._checks.is_valid(schema, value)

    def first_error(self, schema: Any, value: Any) -> str | None:
        """The first validation error as ``"<instance path>: <message>"``, or ``None`` if valid."""
        return self._checks.first_error(schema, value)

    def flatten(self, schema: Any) -> dict[str, Any]:
        """``schema`` with its ``$ref`` and ``allOf`` folded into one schema (examples dropped), e.g.
        to list the properties of a composed object."""
        return merge(self.defs, [schema])

    # ---- public entry points

    def compile(self, schema: Any) -> Gen:
        """Prepare a generator for ``schema`` once; calling it with an rng gives a valid value."""
        hit = self._compiled.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        self._why = []
        try:
            node: Node | None = self._node(schema)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            self._report(schema, f"cannot be walked ({type(exc).__name__}: {exc})")
            node = None
        validator = self.validator(schema)
        fallback: list[Any] = []
        try:
            places = [schema, self.resolve(schema)]
        except KeyError:
            places = [schema]
        for place in places:
            if isinstance(place, dict):
                fallback += [place[k] for k in ("example", "default") if k in place]
                if isinstance(place.get("examples"), list) and place["examples"]:
                    fallback.append(place["examples"][0])
        attempts = self.attempts
        reported = False
        why = f" ({'; '.join(dict.fromkeys(self._why))})" if self._why else ""

        def run(rng: random.Random) -> Any:
            nonlocal reported
            value: Any = None
            if node is not None:
                for _ in range(attempts):
                    try:
                        value = node.gen(rng, 0)
                    except (Unsat, RecursionError):
                        continue
                    if validator is None or validator.is_valid(value):
                        return value
            if not reported:
                reported = True
                self._report(schema, "no generated value validates" + why)
            return clone(fallback[0]) if fallback else value

        self._compiled[id(schema)] = (schema, run)
        return run

    def generate(self, schema: Any, rng: random.Random | None = None) -> Any:
        return self.compile(schema)(rng or self._rng)

    def _report(self, schema: Any, why: str) -> None:
        text = orjson.dumps(schema, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
        if len(text) > 200:
            text = text[:197] + "..."
        line = f"schema {text}: {why}"
        self.problems.append(line)
        log.warning("%s", line)

    # ---- the walker: schema -> Node

    def _node(self, schema: Any, *, name: str | None = None, hint: str | None = None,
              prefer: bool = True) -> Node:
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            return Node(unsat, 0)
        if prefer:
            preferred = self._preferred(schema)
            if preferred is not None:
                return preferred
        ref = schema.get("$ref")
        if ref is not None:
            rest = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
            if rest:
                merged = merge(self.defs, [{"$ref": ref}, rest])
                return self._node(merged, name=ref_name(ref), hint=hint, prefer=prefer)
            return self._ref(ref, prefer)
        if "allOf" in schema:
            merged = merge(self.defs, [schema])
            return self._node(merged, name=name, hint=hint, prefer=prefer)
        for kw in ("oneOf", "anyOf"):
            if kw in schema:
                return self._choice(schema, kw, name, hint, prefer)
        if "not" in schema:
            return self._not(schema, name, hint, prefer)
        if "const" in schema:
            const = schema["const"]
            return constant(const)
        if "enum" in schema:
            return self._enum(schema)
        if "if" in schema and isinstance(schema.get("then"), dict):
            # best effort: satisfy "if" and "then" together
            base = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
            return self._node(merge(self.defs, [base, schema["if"], schema["then"]]), name=name, hint=hint,
                              prefer=prefer)
        types = types_of(schema)
        if not types:
            return Node(unsat, 0)
        if len(types) == 1:
            return self._typed(schema, types[0], name, hint, prefer)
        nodes = [self._typed(schema, t, name, hint, prefer) for t in types]
        real = [n for n, t in zip(nodes, types, strict=True) if t != "null"] or nodes
        lightest = min(nodes, key=lambda n: n.weight)
        max_depth = self.max_depth

        def gen(rng: random.Random, d: int) -> Any:
            if d >= max_depth:
                return lightest.gen(rng, d)
            return rng.choice(real).gen(rng, d)

        return Node(gen, lightest.weight)

    def _preferred(self, schema: dict[str, Any]) -> Node | None:
        candidates: list[Any] = []
        if "example" in schema:
            candidates.append(schema["example"])
        if isinstance(schema.get("examples"), list):
            candidates.extend(schema["examples"])
        if "default" in schema:
            candidates.append(schema["default"])
        if not candidates:
            return None
        valid = [c for c in candidates if self.is_valid(schema, c)]
        if not valid:
            return None
        if len(valid) == 1:
            only = valid[0]
            return constant(only)
        return Node(lambda rng, d: clone(rng.choice(valid)), 1)

    def _ref(self, ref: str, prefer: bool) -> Node:
        name = ref_name(ref)
        key = (ref, prefer)
        node = self._refs.get(key)
        if node is not None:
            return node
        if key in self._building:
            refs = self._refs
            return Node(lambda rng, d: refs[key].gen(rng, d), HEAVY)
        self._building.add(key)
        try:
            node = self._node(target(self.defs, ref), name=name, prefer=prefer)
        finally:
            self._building.discard(key)
        self._refs[key] = node
        return node

    # ---- combinators

    def _choice(self, schema: dict[str, Any], kw: str, name: str | None, hint: str | None,
                prefer: bool) -> Node:
        alts = list(schema[kw])
        disc = schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        rest = {k: v for k, v in schema.items() if k != kw and k not in PREFERRED and k != "discriminator"}
        constrained = any(k not in _ANNOTATIONS for k in rest)
        nodes: list[Node] = []
        keys: list[str | None] = []
        reverse: dict[str, str] = {}
        if disc:
            for key, target in (disc.get("mapping") or {}).items():
                reverse.setdefault(str(target), str(key))
        for alt in alts:
            alt_ref = alt.get("$ref") if isinstance(alt, dict) else None
            alt_name = ref_name(alt_ref) if isinstance(alt_ref, str) else None
            sub = merge(self.defs, [rest, alt]) if constrained else alt
            nodes.append(self._node(sub, name=alt_name or name, hint=hint, prefer=prefer))
            keys.append(reverse.get(alt_ref, alt_name) if alt_ref else None)
        if not nodes:
            return Node(unsat, 0)
        prop = str(disc["propertyName"]) if disc and disc.get("propertyName") else None
        exclusive = kw == "oneOf" and len(alts) > 1
        validators: list[Any] = []
        max_depth = self.max_depth
        by_weight = sorted(range(len(nodes)), key=lambda i: nodes[i].weight)

        def gen(rng: random.Random, d: int) -> Any:
            if (exclusive or prop) and not validators:
                validators.extend(self.validator(a) for a in alts)
            order = by_weight if d >= max_depth else rng.sample(range(len(nodes)), len(nodes))
            for i in (order * 2)[: max(4, len(order))]:
                try:
                    value = nodes[i].gen(rng, d)
                except Unsat:
                    continue
                if prop and keys[i] is not None and isinstance(value, dict):
                    # a mapping that points elsewhere (or a def name the property's enum lacks)
                    # must not make the value invalid for its own alternative
                    tagged = {**value, prop: keys[i]}
                    check = validators[i]
                    if check is None or check.is_valid(tagged) or not check.is_valid(value):
                        value = tagged
                if not exclusive:
                    return value
                matches = [j for j, v in enumerate(validators) if v is None or v.is_valid(value)]
                if len(matches) > 1 and i in matches and isinstance(value, dict):
                    value = self._separate(value, i, alts, validators)
                    matches = [j for j, v in enumerate(validators) if v is None or v.is_valid(value)]
                if len(matches) == 1:
                    return value
            # no value matched exactly one alternative: an optional property is left out
            raise Unsat(kw)

        return Node(gen, nodes[by_weight[0]].weight)

    def _separate(self, value: dict[str, Any], i: int, alts: list[Any], validators: list[Any]) -> dict[str, Any]:
        """``value`` (valid for ``alts[i]``) made invalid for the other alternatives it also
        matches: a property another alternative declares, and ``alts[i]`` does not, gets a value of
        a type that alternative rejects (JSON Schema's ``oneOf`` ignores ``discriminator``)."""
        try:
            mine = self.flatten(alts[i]).get("properties") or {}
        except (KeyError, TypeError):
            return value
        own = validators[i]
        for j, other in enumerate(validators):
            if j == i or other is None or not other.is_valid(value):
                continue
            try:
                theirs = self.flatten(alts[j]).get("properties") or {}
            except (KeyError, TypeError):
                continue
            done = False
            for key, sub in theirs.items():
                if key in mine or key in value:
                    continue
                for spoiler in _SPOILERS:
                    if self.is_valid(sub, spoiler):
                        continue
                    trial = {**value, key: spoiler}
                    if (own is None or own.is_valid(trial)) and not other.is_valid(trial):
                        value, done = trial, True
                        break
                if done:
                    break
        return value

    def _not(self, schema: dict[str, Any], name: str | None, hint: str | None, prefer: bool) -> Node:
        negated = schema["not"]
        rest = {k: v for k, v in schema.items() if k != "not"}
        banned_keys = _banned_keys(negated, rest)
        if banned_keys:
            # ``not: {required: [...]}`` (or an ``anyOf`` of such): leave those properties out
            props = rest.get("properties") or {}
            rest["properties"] = {k: v for k, v in props.items() if k not in banned_keys}
            rest["propertyNames"] = {"not": {"enum": sorted(banned_keys)}}
        if "type" not in rest and isinstance(negated, dict) and "type" in negated:
            banned = types_of(negated)
            kinds = ("string", "integer", "boolean", "object", "array", "null")
            rest["type"] = next((t for t in kinds if t not in banned), "null")
        inner = self._node(rest, name=name, hint=hint, prefer=prefer)
        check: list[Any] = []

        def gen(rng: random.Random, d: int) -> Any:
            if not check:
                check.append(self.validator(negated))
            for _ in range(6):
                value = inner.gen(rng, d)
                if check[0] is not None and not check[0].is_valid(value):
                    return value
            raise Unsat("not")

        return Node(gen, inner.weight)

    def _enum(self, schema: dict[str, Any]) -> Node:
        values = list(schema["enum"])
        valid = [v for v in values if self.is_valid(schema, v)] or values
        if not valid:
            return Node(unsat, 0)
        return Node(lambda rng, d: clone(rng.choice(valid)), 1)

    # ---- typed values

    def _typed(self, schema: dict[str, Any], t: str, name: str | None, hint: str | None,
               prefer: bool) -> Node:
        if t == "object":
            return self._object(schema, name, prefer, context=name or split_hint(hint)[1])
        if t == "array":
            return self._array(schema, hint, prefer)
        if t == "string":
            return string_node(schema, hint)
        if t == "integer":
            return integer_node(schema, hint)
        if t == "number":
            return number_node(schema, hint)
        if t == "boolean":
            return Node(lambda rng, d: rng.random() < 0.5, 1)
        if t == "null":
            return Node(lambda rng, d: None, 0)
        return Node(unsat, 0)

    def _array(self, schema: dict[str, Any], hint: str | None, prefer: bool) -> Node:
        mn = int(schema.get("minItems", 0))
        mx_raw = schema.get("maxItems")
        mx = int(mx_raw) if mx_raw is not None else None
        prefix = [self._node(p, hint=_singular(hint), prefer=prefer) for p in schema.get("prefixItems", [])]
        items = schema.get("items", True)
        closed = items is False
        unique = bool(schema.get("uniqueItems"))
        item = None if closed else self._node(items, hint=_singular(hint), prefer=prefer and not unique)
        contains = schema.get("contains")
        has_contains = isinstance(contains, dict) and contains != {}
        c_node = None
        c_min = 0
        if has_contains:
            c_node = self._node(merge(self.defs, [items if isinstance(items, dict) else {}, contains]),
                                hint=_singular(hint), prefer=prefer)
            c_min = int(schema.get("minContains", 1))
            mn = max(mn, c_min)
        if closed:
            mx = min_opt(mx, len(prefix))
        if mx is not None and mn > mx:
            return Node(unsat, HEAVY)
        max_depth, hard = self.max_depth, self._hard_depth
        weight = 1 if mn == 0 else 2 + mn * (item.weight if item else 1)

        def gen(rng: random.Random, d: int) -> list[Any]:
            if d > hard:
                raise Unsat("depth")
            if d >= max_depth:
                n = mn
            else:
                top = max(mn, 1) + 2
                n = rng.randint(max(mn, 1), top if mx is None else min(mx, top)) if mx != 0 else 0
            out: list[Any] = []
            keys: set[bytes] = set()
            for i in range(n):
                node = c_node if c_node is not None and i < c_min else prefix[i] if i < len(prefix) else item
                if node is None:
                    break
                value = node.gen(rng, d + 1)
                if unique:
                    key = _ukey(value)
                    tries = 0
                    while key in keys and tries < 10:
                        value = node.gen(rng, d + 1)
                        key = _ukey(value)
                        tries += 1
                    if key in keys:
                        if len(out) >= mn:
                            break
                        raise Unsat("uniqueItems")
                    keys.add(key)
                out.append(value)
            return out

        return Node(gen, weight)

    def _object(self, schema: dict[str, Any], name: str | None, prefer: bool, *, context: str | None) -> Node:
        props: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = [str(r) for r in schema.get("required") or []]
        skip_flag = "writeOnly" if self.for_response else "readOnly"
        nodes: dict[str, Node] = {}
        optional: list[str] = []
        for key, sub in props.items():
            if sub is False or _never(sub):
                continue
            if key not in required:
                target = self.resolve(sub)
                if (isinstance(sub, dict) and sub.get(skip_flag)) or (isinstance(target, dict)
                                                                       and target.get(skip_flag)):
                    continue
                optional.append(key)
            nodes[key] = self._node(sub, hint=join_hint(context, key), prefer=prefer)
        patterns = [(rx, p, self._node(s, prefer=prefer))
                    for p, s in (schema.get("patternProperties") or {}).items()
                    if (rx := try_user_regex(p)) is not None]
        ap = schema.get("additionalProperties", True)
        ap_node = self._node(ap if isinstance(ap, dict) else {}, prefer=prefer) if ap is not False else None
        names_schema = schema.get("propertyNames")
        key_node = self._node(names_schema, prefer=False) if isinstance(names_schema, dict) else None
        key_ok = self.validator(names_schema) if isinstance(names_schema, dict) else None
        for key in required:
            if key not in nodes:
                match = next((n for rx, _, n in patterns if rx.test(key)), None)
                if match is None and ap_node is None:
                    self._why.append(f"required property {key!r} is forbidden by additionalProperties: false")
                nodes[key] = match or ap_node or Node(unsat, HEAVY)
        mn = int(schema.get("minProperties", 0))
        mx_raw = schema.get("maxProperties")
        mx = int(mx_raw) if mx_raw is not None else None
        if mx is not None and len(required) > mx:
            return Node(unsat, HEAVY)
        opt_budget = None if mx is None else mx - len(required)
        order = [k for k in nodes if k in required or k in optional]
        order += [k for k in required if k not in order]
        req = set(required)
        is_map = not props and ap is not False and (isinstance(ap, dict) or bool(patterns))
        pattern_gens = [(p, pattern_generator(src), n) for p, src, n in patterns]

        disc = schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        disc_prop: str | None = None
        disc_value: str | None = None
        if disc and name and disc.get("propertyName"):
            disc_prop = str(disc["propertyName"])
            disc_value = name
            for key, target in (disc.get("mapping") or {}).items():
                if isinstance(target, str) and ref_name(target) == name:
                    disc_value = str(key)
                    break
            prop_schema = props.get(disc_prop)
            if prop_schema is not None and not self.is_valid(prop_schema, disc_value):
                disc_prop = None

        max_depth, hard = self.max_depth, self._hard_depth
        weight = 2 + sum(min(nodes[k].weight, HEAVY) for k in required)

        def fresh_key(rng: random.Random, out: dict[str, Any]) -> tuple[str, Node] | None:
            for _ in range(6):
                if pattern_gens and rng.random() < 0.7:
                    rx, pg, node = rng.choice(pattern_gens)
                    if pg is None:
                        continue
                    key = pg(rng, 3)
                    if not rx.test(key):
                        continue
                elif ap_node is not None:
                    key = str(key_node.gen(rng, max_depth)) if key_node is not None else \
                        f"{rng.choice(WORDS)}_{rng.randint(1, 99)}"
                    node = ap_node
                    if any(rx.test(key) for rx, _, _ in patterns):
                        continue
                else:
                    return None
                if key in out or key in props or (key_ok is not None and not key_ok.is_valid(key)):
                    continue
                return key, node
            return None

        def gen(rng: random.Random, d: int) -> dict[str, Any]:
            if d > hard:
                raise Unsat("depth")
            bound = d >= max_depth
            out: dict[str, Any] = {}
            taken = 0
            for key in order:
                if key in req:
                    out[key] = nodes[key].gen(rng, d + 1)
                elif not bound and (opt_budget is None or taken < opt_budget):
                    try:
                        out[key] = nodes[key].gen(rng, d + 1)
                    except Unsat:  # an optional property no value satisfies is left out
                        continue
                    taken += 1
            extra = mn - len(out)
            if is_map and not bound:
                extra = max(extra, rng.randint(1, 2))
            if mx is not None:
                extra = min(extra, mx - len(out))
            for _ in range(max(extra, 0)):
                picked = fresh_key(rng, out)
                if picked is None:
                    break
                out[picked[0]] = picked[1].gen(rng, d + 1)
            if disc_prop is not None:
                out[disc_prop] = disc_value
            return out

        return Node(gen, weight)


# --------------------------------------------------------------------------- small helpers


def _never(schema: Any) -> bool:
    """A schema no value satisfies, written as ``not: {}`` (or ``not: true``)."""
    if not isinstance(schema, dict) or "not" not in schema:
        return False
    negated = schema["not"]
    return negated is True or (isinstance(negated, dict) and not any(k not in _ANNOTATIONS for k in negated))


def _banned_keys(negated: Any, outer: dict[str, Any]) -> set[str]:
    """Properties to leave out so an object satisfies ``not: negated``, when ``negated`` only
    lists required properties (``{required: [a, b]}``: one of them goes; ``{anyOf: [{required:
    [a]}, {required: [b]}]}``: one of each). Empty when ``negated`` says anything else."""
    if not isinstance(negated, dict):
        return set()
    needed = set(outer.get("required") or [])
    groups: list[list[str]] = []
    if set(negated) - _ANNOTATIONS == {"required"} and isinstance(negated["required"], list):
        groups.append([str(k) for k in negated["required"]])
    else:
        alts = negated.get("anyOf", negated.get("oneOf"))
        if set(negated) - _ANNOTATIONS not in ({"anyOf"}, {"oneOf"}) or not isinstance(alts, list):
            return set()
        for alt in alts:
            if not isinstance(alt, dict) or set(alt) - _ANNOTATIONS != {"required"}:
                return set()
            groups.append([str(k) for k in alt["required"]])
    banned: set[str] = set()
    for group in groups:
        pick = next((k for k in group if k not in needed), None)
        if pick is None:
            return set()
        banned.add(pick)
    return banned


def _singular(name: str | None) -> str | None:
    return singular(name) if name else name


def _ukey(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def types_of(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [str(x) for x in t]
    if any(k in schema for k in ("properties", "required", "additionalProperties", "patternProperties",
                                 "minProperties", "maxProperties", "propertyNames")):
        return ["object"]
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")):
        return ["array"]
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return ["number"]
    return ["string"]
