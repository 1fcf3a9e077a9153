"""Constructive generation: a Hypothesis strategy for the values a schema accepts.

A value is described by the *subschemas applying to it in place* (the schema, what its
``$ref``/``$dynamicRef`` and ``allOf`` lead to, the branches chosen so far) and by those it must
*not* satisfy (the other ``oneOf`` branches, ``not``, a failed ``if``). Choices are made by
drawing: one ``anyOf``/``oneOf`` branch, ``if`` true (``if`` + ``then``) or false (not ``if``
+ ``else``), each ``dependentSchemas``/``dependentRequired`` trigger present or absent. What
remains are assertions, merged exactly: types intersected, numeric bounds tightened
(exclusive ones kept exclusive, ``multipleOf`` drawn as multiples of the least common
multiple, as Decimals), lengths, patterns (translated from ECMA-262), formats, properties with
their ``patternProperties``/``additionalProperties``/``unevaluatedProperties``/``propertyNames``
and counts, items with ``prefixItems``/``contains``/``unevaluatedItems``/``uniqueItems``.
Only ``not`` of a compound schema, a second ``contains`` and the other ``oneOf`` branches
are checked by rejection, with the real validator, where they apply.

Strategies are built lazily and cached per set of subschemas and depth, so a recursive
schema gives a finite graph of strategies; past a depth budget arrays stay at their minimum
length and objects hold only their required properties, so drawing terminates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any
from urllib.parse import quote

import jsonschema_rs
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import GenerationError
from docmigrate.pointers import format_pointer
from docmigrate.testing import ecma_regex
from docmigrate.testing.formats import FORMATS
from docmigrate.testing.schema_index import Place, SchemaIndex

JSONStrategy = st.SearchStrategy[Any]
MAX_ITEMS = 4
"""Arrays hold at most this many items beyond their minimum: laws need variety, not volume."""
MAX_EXTRA_PROPERTIES = 2
DEPTH_BUDGET = 6
"""Nesting beyond which only what the schema requires is drawn."""
OPTIONAL_BUDGET = 8
"""Optional properties an object holds on average at the top, one fewer per level down."""
_KINDS = ("object", "array", "string", "integer", "fraction", "boolean", "null")
TYPE_KINDS: dict[str, frozenset[str]] = {
    "object": frozenset({"object"}),
    "array": frozenset({"array"}),
    "string": frozenset({"string"}),
    "integer": frozenset({"integer"}),
    "number": frozenset({"integer", "fraction"}),
    "boolean": frozenset({"boolean"}),
    "null": frozenset({"null"}),
}
"""The kinds of JSON value (integer and fraction apart) each JSON Schema type admits."""
_CHOICE_KEYWORDS = ("anyOf", "oneOf", "if", "dependentSchemas", "dependentRequired")
_RETRIES = 8


@dataclass(frozen=True)
class Node:
    """One subschema applying in place, with where it is and how it was reached."""

    schema: Any = field(compare=False, hash=False)
    place: Place
    scope: tuple[str, ...]
    """The dynamic scope: resource URIs entered, outermost first (for ``$dynamicRef``)."""
    origin: tuple[str, ...] = ()
    """The in-place ancestors (places) whose ``unevaluated*`` this node's keywords inform."""
    dropped: frozenset[str] = frozenset()
    """Keywords already taken care of (a choice made)."""
    synthetic: bool = False

    def get(self, keyword: str, default: Any = None) -> Any:
        """The keyword's value, unless it was dropped or the schema is boolean."""
        if keyword in self.dropped or not isinstance(self.schema, dict):
            return default
        return self.schema.get(keyword, default)

    def has(self, keyword: str) -> bool:
        """Tell whether the (not dropped) keyword is present."""
        return (
            isinstance(self.schema, dict) and keyword in self.schema and keyword not in self.dropped
        )

    def evaluates_for(self, other: Node) -> bool:
        """Tell whether this node's annotations count for ``other``'s ``unevaluated*``."""
        return self.place == other.place or other.place.where in self.origin


Key = tuple[tuple[Node, ...], tuple[Node, ...], int]


class Generator:
    """Builds (once) and caches the strategies for one schema document."""

    def __init__(
        self,
        schema: Any,
        uri: str,
        *,
        biased_arrays: bool = True,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare for ``schema`` (2020-12) known as ``uri``.

        ``resources`` are the other (2020-12) schema documents its references reach, by
        retrieval URI.
        """
        self.resources = dict(resources or {})
        self.index = SchemaIndex.build(schema, uri, self.resources)
        self._schema, self._uri = schema, uri
        self._registry: Any = None
        place = self.index.place_of(schema, f"{uri}#")
        self.root = Node(schema, place, tuple(dict.fromkeys((uri, place.base))))
        self.biased_arrays = biased_arrays
        self._cache: dict[Key, JSONStrategy] = {}
        self._validators: dict[Node, Any] = {}

    def strategy(self) -> JSONStrategy:
        """The strategy for the whole document."""
        return self._strategy((self.root,), (), 0)

    # -- the graph of strategies ---------------------------------------------------------

    def _strategy(
        self, nodes: Iterable[Node], negatives: Iterable[Node], depth: int
    ) -> JSONStrategy:
        key = (
            tuple(dict.fromkeys(nodes)),
            tuple(dict.fromkeys(negatives)),
            min(depth, DEPTH_BUDGET),
        )
        found = self._cache.get(key)
        if found is None:
            found = st.deferred(lambda: self._build(key))
            self._cache[key] = found
        return found

    def _build(self, key: Key) -> JSONStrategy:
        positives, negatives, depth = key
        expanded = self._expand(positives)
        if expanded is None:
            return st.nothing()
        members, new_negatives, choice = expanded
        negatives = (*negatives, *new_negatives)
        if choice is not None:
            holder, keyword = choice
            return st.one_of(
                [
                    self._strategy(
                        [*alternative, *_without(members, holder, keyword)],
                        [*negatives, *excluded],
                        depth,
                    )
                    for alternative, excluded in self._alternatives(holder, keyword)
                ]
            )
        return self._assertions(list(members), list(negatives), depth)

    def _expand(
        self, start: Iterable[Node]
    ) -> tuple[list[Node], list[Node], tuple[Node, str] | None] | None:
        """Follow references and ``allOf`` in place; None when ``false`` applies."""
        pending = list(start)
        members: list[Node] = []
        negatives: list[Node] = []
        # A subschema reached again in place (``$ref: "#"`` inside itself) adds nothing new,
        # and a choice made for a subschema holds wherever it is reached again.
        made: dict[Place, frozenset[str]] = {}
        for node in pending:
            made[node.place] = made.get(node.place, frozenset()) | node.dropped
        seen: set[Place] = set()
        choice: tuple[Node, str] | None = None
        while pending:
            node = pending.pop(0)
            if node.place in seen or node.schema is True:
                continue
            if node.schema is False:
                return None
            seen.add(node.place)
            if made.get(node.place, node.dropped) != node.dropped:
                node = replace(node, dropped=made[node.place])
            members.append(node)
            pending.extend(self._references(node))
            pending.extend(self._children(node, "allOf", in_place=True))
            if node.has("not"):
                negated = self._child(node, node.get("not"), "not")
                negatives.append(replace(negated, origin=()))
            if choice is None:
                for keyword in _CHOICE_KEYWORDS:
                    # "if": false is a choice too (always the "else" branch).
                    if node.has(keyword) and (keyword == "if" or node.get(keyword)):
                        choice = (node, keyword)
                        break
        return members, negatives, choice

    def _alternatives(self, node: Node, keyword: str) -> list[tuple[list[Node], list[Node]]]:
        """Each way to satisfy ``keyword`` of ``node``: (nodes to add, nodes to exclude)."""
        if keyword in ("anyOf", "oneOf"):
            branches = self._children(node, keyword, in_place=True)
            return [
                ([branch], [b for b in branches if b is not branch] if keyword == "oneOf" else [])
                for branch in branches
            ]
        if keyword == "if":
            condition = self._in_place(node, node.get("if"), "if")
            then = [self._in_place(node, node.get("then"), "then")] if node.has("then") else []
            otherwise = [self._in_place(node, node.get("else"), "else")] if node.has("else") else []
            return [([condition, *then], []), (otherwise, [replace(condition, origin=())])]
        # dependentSchemas / dependentRequired: the trigger is present (and the dependency
        # applies) or the trigger is absent.
        trigger, dependency = next(iter(node.get(keyword).items()))
        rest = {k: v for k, v in node.get(keyword).items() if k != trigger}
        remaining = (
            self._synthetic(node, {keyword: rest}, f"{keyword}-rest-{trigger}") if rest else None
        )
        present: list[Node] = [
            self._synthetic(node, {"required": [trigger]}, f"{keyword}-{trigger}-present")
        ]
        if keyword == "dependentRequired":
            present.append(
                self._synthetic(node, {"required": list(dependency)}, f"{keyword}-{trigger}")
            )
        else:
            present.append(self._in_place(node, dependency, keyword, trigger))
        absent = [
            self._synthetic(node, {"properties": {trigger: False}}, f"{keyword}-{trigger}-absent")
        ]
        extra = [remaining] if remaining is not None else []
        return [([*present, *extra], []), ([*absent, *extra], [])]

    # -- nodes ----------------------------------------------------------------------------

    def _child(self, parent: Node, schema: Any, *tokens: str) -> Node:
        fallback = parent.place.where + format_pointer(tokens)
        indexed = isinstance(schema, dict) and id(schema) in self.index.places
        place = (
            self.index.place_of(schema, fallback) if indexed else Place(fallback, parent.place.base)
        )
        scope = parent.scope if place.base in parent.scope else (*parent.scope, place.base)
        # A subschema not in the document (inside a synthetic one) is validated on its own.
        return Node(schema, place, scope, synthetic=not indexed and isinstance(schema, dict))

    def _in_place(self, parent: Node, schema: Any, *tokens: str) -> Node:
        child = self._child(parent, schema, *tokens)
        return replace(child, origin=(*parent.origin, parent.place.where))

    def _children(self, node: Node, keyword: str, *, in_place: bool) -> list[Node]:
        value = node.get(keyword)
        if not isinstance(value, list):
            return []
        make = self._in_place if in_place else self._child
        return [make(node, sub, keyword, str(i)) for i, sub in enumerate(value)]

    def _synthetic(self, parent: Node, schema: dict[str, Any], label: str) -> Node:
        place = Place(f"{parent.place.where}?{label}", parent.place.base)
        return Node(
            schema, place, parent.scope, (*parent.origin, parent.place.where), synthetic=True
        )

    def _references(self, node: Node) -> list[Node]:
        found = []
        for keyword in ("$ref", "$dynamicRef"):
            reference = node.get(keyword)
            if not isinstance(reference, str):
                continue
            resolved = self.index.resolve(node.place.base, reference)
            if resolved is None:
                raise GenerationError(
                    f"{keyword} {reference!r} at {node.place.where} resolves nowhere in the schema"
                )
            target, place = resolved
            if keyword == "$dynamicRef" and "#" in reference:
                name = reference.split("#", 1)[1]
                if isinstance(target, dict) and target.get("$dynamicAnchor") == name:
                    target, place = self.index.dynamic(name, node.scope) or (target, place)
            scope = node.scope if place.base in node.scope else (*node.scope, place.base)
            found.append(Node(target, place, scope, (*node.origin, node.place.where)))
        return found

    # -- assertions -----------------------------------------------------------------------

    def _assertions(self, members: list[Node], negatives: list[Node], depth: int) -> JSONStrategy:
        kinds = set(_KINDS)
        for node in members:
            declared = node.get("type")
            if declared is not None:
                names = [declared] if isinstance(declared, str) else declared
                kinds &= set().union(*(TYPE_KINDS.get(n, set()) for n in names)) if names else set()
        remaining = []
        for negative in negatives:
            if _only_type(negative):
                declared = negative.schema["type"]
                names = [declared] if isinstance(declared, str) else declared
                for name in names:
                    kinds -= TYPE_KINDS.get(name, set())
                if "number" in names or "integer" in names:
                    kinds.discard("integer")
            elif _forbids_one_property(negative):
                name = negative.schema["required"][0]
                members = [
                    *members,
                    self._synthetic(negative, {"properties": {name: False}}, "absent"),
                ]
            elif negative.schema is not False and negative.schema != {"not": True}:
                if negative.schema is True or negative.schema == {}:
                    return st.nothing()
                remaining.append(negative)
        enumerated = self._enumerated(members, remaining)
        if enumerated is not None:
            return enumerated
        builders: dict[str, Callable[[], JSONStrategy]] = {
            "object": lambda: self._object(members, depth),
            "array": lambda: self._array(members, depth),
            "string": lambda: _string(members),
            "integer": lambda: _number(members, integer=True),
            "fraction": lambda: _number(members, integer=False),
            "boolean": st.booleans,
            "null": st.none,
        }
        order = sorted(kinds, key=lambda k: (not _implied(k, members), _KINDS.index(k)))
        strategy = st.one_of([builders[k]() for k in order])
        if remaining:
            strategy = strategy.filter(
                lambda value: not any(self._accepts(n, value) for n in remaining)
            )
        return strategy

    def _enumerated(self, members: list[Node], negatives: list[Node]) -> JSONStrategy | None:
        """For ``const``/``enum``: the listed values every subschema accepts, or None."""
        candidates: list[Any] | None = None
        for node in members:
            values = [node.get("const")] if node.has("const") else node.get("enum")
            if values is None:
                continue
            candidates = (
                list(values) if candidates is None else [v for v in candidates if _in(v, values)]
            )
        if candidates is None:
            return None
        allowed = [
            v
            for v in candidates
            if all(self._accepts(n, v, unknown=True) for n in members)
            and not any(self._accepts(n, v) for n in negatives)
        ]
        return st.sampled_from(allowed) if allowed else st.nothing()

    def _accepts(self, node: Node, value: Any, *, unknown: bool = False) -> bool:
        """Tell whether the real validator accepts ``value`` under ``node``.

        When no validator can be built for the place (the rewritten schema of an older
        draft may not register), answer ``unknown``: the final filter decides.
        """
        if node not in self._validators:
            try:
                self._validators[node] = self._validator(node)
            except ValueError:
                self._validators[node] = None
        validator = self._validators[node]
        return unknown if validator is None else bool(validator.is_valid(value))

    def _validator(self, node: Node) -> Any:
        if (
            node.synthetic
            or not isinstance(node.schema, dict)
            or not isinstance(self._schema, dict)
        ):
            return _standalone(node.schema)
        if self._registry is None:
            others = [(u, d) for u, d in self.resources.items() if u != self._uri]
            self._registry = jsonschema_rs.Registry([(self._uri, self._schema), *others])
        uri, _, pointer = node.place.where.partition("#")
        target = (
            f"{uri}#{quote(pointer, safe='/~$')}" if pointer.startswith("/") else node.place.where
        )
        return jsonschema_rs.Draft202012Validator(
            {"$ref": target}, registry=self._registry, validate_formats=True, offline=True
        )

    # -- objects --------------------------------------------------------------------------

    def _object(self, members: list[Node], depth: int) -> JSONStrategy:
        names: dict[str, None] = {}
        required: dict[str, None] = {}
        for node in members:
            names.update(dict.fromkeys(node.get("properties") or {}))
            required.update(dict.fromkeys(node.get("required") or []))
        names.update(required)
        low = max([_count(node, "minProperties", 0) for node in members], default=0)
        highs = [_count(node, "maxProperties") for node in members if node.has("maxProperties")]
        high = min(highs) if highs else None
        deep = depth >= DEPTH_BUDGET
        values: dict[str, JSONStrategy] = {}
        for name in names:
            nodes = self._property_nodes(members, name)
            if nodes is None or not self._name_allowed(members, name):
                if name in required:
                    return st.nothing()
                continue
            values[name] = self._strategy(nodes, (), depth + 1)
        if len(required) > (high if high is not None else len(required)):
            return st.nothing()
        extra_names = self._extra_names(members)
        odds = _optional_odds(sum(n not in required for n in values), depth)

        @st.composite
        def draw_object(draw: st.DrawFn) -> dict[str, Any]:
            chosen = [
                n
                for n in values
                if n in required
                # Drawn so that the simplest choice (shrinking towards 1) leaves it out.
                or (
                    not deep
                    and draw(st.integers(1, odds.denominator)) > odds.denominator - odds.numerator
                )
            ]
            optional = [n for n in chosen if n not in required]
            if high is not None and len(chosen) > high:
                keep = set(optional[: high - len(required)])
                chosen = [n for n in chosen if n in required or n in keep]
            document = {name: draw(values[name]) for name in chosen}
            wanted = max(0, low - len(document))
            room = (
                high if high is not None else len(document) + wanted + MAX_EXTRA_PROPERTIES
            ) - len(document)
            if extra_names is not None and not deep:
                wanted = draw(
                    st.integers(wanted, max(wanted, min(room, wanted + MAX_EXTRA_PROPERTIES)))
                )
            for _ in range(wanted * _RETRIES if extra_names is not None else 0):
                if wanted <= 0:
                    break
                assert extra_names is not None
                name = draw(extra_names)
                if name in document or name in names:
                    continue
                nodes = self._property_nodes(members, name)
                if nodes is None or not self._name_allowed(members, name):
                    continue
                document[name] = draw(self._strategy(nodes, (), depth + 1))
                wanted -= 1
            if len(document) < low:
                draw(st.nothing())
            return document

        return draw_object()

    def _property_nodes(self, members: list[Node], name: str) -> list[Node] | None:
        """The subschemas a property called ``name`` must satisfy; None when none may exist."""
        nodes: list[Node] = []
        evaluators: list[Node] = []
        for node in members:
            evaluated = False
            properties = node.get("properties") or {}
            if name in properties:
                nodes.append(self._child(node, properties[name], "properties", name))
                evaluated = True
            for pattern, sub in (node.get("patternProperties") or {}).items():
                if ecma_regex.search(pattern, name):
                    nodes.append(self._child(node, sub, "patternProperties", pattern))
                    evaluated = True
            if not evaluated and node.has("additionalProperties"):
                nodes.append(
                    self._child(node, node.get("additionalProperties"), "additionalProperties")
                )
                evaluated = True
            if evaluated:
                evaluators.append(node)
        for node in members:
            if node.has("unevaluatedProperties") and not any(
                e.evaluates_for(node) for e in evaluators
            ):
                nodes.append(
                    self._child(node, node.get("unevaluatedProperties"), "unevaluatedProperties")
                )
        if any(n.schema is False for n in nodes):
            return None
        return nodes

    def _name_allowed(self, members: list[Node], name: str) -> bool:
        return all(
            self._accepts(self._child(node, node.get("propertyNames"), "propertyNames"), name)
            for node in members
            if node.has("propertyNames")
        )

    def _extra_names(self, members: list[Node]) -> JSONStrategy | None:
        """Names for properties the schema does not list, or None when none are possible."""
        sources: list[JSONStrategy] = []
        for node in members:
            for pattern in node.get("patternProperties") or {}:
                sources.append(_pattern_strategy(pattern))
            if node.has("propertyNames"):
                child = self._child(node, node.get("propertyNames"), "propertyNames")
                sources.append(
                    self._strategy([child], (), DEPTH_BUDGET).filter(lambda v: isinstance(v, str))
                )
        sources.append(st.text(min_size=1, max_size=8))
        return st.one_of(sources)

    # -- arrays ---------------------------------------------------------------------------

    def _array(self, members: list[Node], depth: int) -> JSONStrategy:
        low = max([_count(node, "minItems", 0) for node in members], default=0)
        highs = [_count(node, "maxItems") for node in members if node.has("maxItems")]
        unique = any(node.get("uniqueItems") is True for node in members)
        containing = [node for node in members if node.has("contains")]
        first = containing[0] if containing else None
        min_contains = max(0, _count(first, "minContains", 1)) if first is not None else 0
        max_contains = _count(first, "maxContains") if first is not None else None
        if max_contains is not None and min_contains > max_contains:
            return st.nothing()
        cap = low + MAX_ITEMS if depth < DEPTH_BUDGET else max(low, min_contains)
        high = min([*highs, max(cap, min_contains)]) if highs else max(cap, min_contains)
        forbidden_from = self._first_forbidden(members, high)
        high = min(high, forbidden_from)
        if low > high or min_contains > high:
            return st.nothing()
        others = [self._child(n, n.get("contains"), "contains") for n in containing[1:]]
        contains = (
            self._child(first, first.get("contains"), "contains") if first is not None else None
        )

        @st.composite
        def draw_array(draw: st.DrawFn) -> list[Any]:
            length = draw(_length(low, high, biased=self.biased_arrays))
            length = max(length, min_contains)
            slots = set()
            if contains is not None:
                upper = min(length, max_contains if max_contains is not None else length)
                count = draw(st.integers(min_contains, max(min_contains, upper)))
                slots = set(draw(st.permutations(range(length)))[:count])
            items: list[Any] = []
            seen: set[Any] = set()
            for position in range(length):
                in_slot = position in slots
                nodes = self._item_nodes(members, position, matched=first if in_slot else None)
                if nodes is None:
                    draw(st.nothing())
                assert nodes is not None
                excluded: list[Node] = []
                if contains is not None:
                    if in_slot:
                        nodes = [*nodes, contains]
                    elif max_contains is not None:
                        excluded = [contains]
                strategy = self._strategy(nodes, excluded, depth + 1)
                for _ in range(_RETRIES if unique else 1):
                    item = draw(strategy)
                    if not unique or _json_key(item) not in seen:
                        break
                else:
                    draw(st.nothing())
                seen.add(_json_key(item))
                items.append(item)
            for other in others:
                if not any(self._accepts(other, item) for item in items):
                    draw(st.nothing())
            return items

        return draw_array()

    def _first_forbidden(self, members: list[Node], high: int) -> int:
        """The first position no item may take (``items: false`` after a prefix)."""
        for position in range(high + 1):
            if self._item_nodes(members, position, matched=None) is None:
                return position
        return high

    def _item_nodes(
        self, members: list[Node], position: int, matched: Node | None
    ) -> list[Node] | None:
        nodes: list[Node] = []
        evaluators: list[Node] = [matched] if matched is not None else []
        for node in members:
            prefix = node.get("prefixItems") or []
            if position < len(prefix):
                nodes.append(self._child(node, prefix[position], "prefixItems", str(position)))
                evaluators.append(node)
            elif node.has("items"):
                nodes.append(self._child(node, node.get("items"), "items"))
                evaluators.append(node)
        for node in members:
            if node.has("unevaluatedItems") and not any(e.evaluates_for(node) for e in evaluators):
                nodes.append(self._child(node, node.get("unevaluatedItems"), "unevaluatedItems"))
        if any(n.schema is False for n in nodes):
            return None
        return nodes


def _count(node: Node, keyword: str, default: int | None = None) -> Any:
    """A count keyword as an int (a schema may write ``2.0``)."""
    value = node.get(keyword)
    return default if value is None else int(value)


def _without(members: list[Node], holder: Node, keyword: str) -> list[Node]:
    """``members`` with ``keyword`` of ``holder`` marked as taken care of."""
    return [replace(m, dropped=m.dropped | {keyword}) if m == holder else m for m in members]


def _forbids_one_property(node: Node) -> bool:
    """``not: {required: [name]}``: the property is absent (for objects)."""
    schema = node.schema
    return isinstance(schema, dict) and set(schema) == {"required"} and len(schema["required"]) == 1


def _optional_odds(optional: int, depth: int) -> Fraction:
    """The chance of drawing each of ``optional`` properties of an object at ``depth``.

    Three in four, but no more than :data:`OPTIONAL_BUDGET` (less one per level) expected:
    a schema of many optional subschemas, like a metaschema, would otherwise draw documents
    whose size grows as a power of their depth.
    """
    budget = max(1, OPTIONAL_BUDGET - depth)
    return min(Fraction(3, 4), Fraction(budget, max(optional, 1)))


def _only_type(node: Node) -> bool:
    return isinstance(node.schema, dict) and set(node.schema) == {"type"}


def _in(value: Any, values: Iterable[Any]) -> bool:
    key = _json_key(value)
    return any(_json_key(v) == key for v in values)


def _json_key(value: Any) -> Any:
    """A hashable key under which values equal in JSON (``1`` and ``1.0``, not ``true``) meet."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float | Decimal):
        return ("number", Fraction(str(value)) if not isinstance(value, int) else Fraction(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_json_key(v) for v in value))
    return ("object", frozenset((k, _json_key(v)) for k, v in value.items()))


def _implied(kind: str, members: list[Node]) -> bool:
    """Tell whether some keyword present speaks about values of ``kind``."""
    hints = {
        "object": ("properties", "required", "additionalProperties", "patternProperties"),
        "array": ("items", "prefixItems", "contains", "minItems"),
        "string": ("pattern", "format", "minLength", "maxLength"),
        "integer": ("minimum", "maximum", "multipleOf", "exclusiveMinimum", "exclusiveMaximum"),
        "fraction": ("minimum", "maximum", "multipleOf", "exclusiveMinimum", "exclusiveMaximum"),
    }
    return any(node.has(k) for node in members for k in hints.get(kind, ()))


@functools.cache
def _standalone_cached(text: str) -> Any:
    schema: Any = jsonio.loads(text.encode())
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, offline=True)


def _standalone(schema: Any) -> Any:
    """A validator for a schema built by the generator (no references leave it)."""
    return _standalone_cached(jsonio.dumps(schema))


def _length(low: int, high: int, *, biased: bool) -> JSONStrategy:
    """Array lengths from ``low`` to ``high``, rarely the minimum when that minimum is 0."""
    if not biased or low > 0 or high == low:
        return st.integers(low, high)
    # One draw in six is empty; the rest spread over 1..high.
    return st.sampled_from([low, *range(low + 1, high + 1), *range(low + 1, min(high, 2) + 1)])


# -- strings -----------------------------------------------------------------------------


def _pattern_strategy(pattern: str) -> JSONStrategy:
    translated = ecma_regex.translate(pattern, for_drawing=True)
    return st.from_regex(translated, fullmatch=True) | st.from_regex(translated)


def _string(members: list[Node]) -> JSONStrategy:
    low = max([_count(node, "minLength", 0) for node in members], default=0)
    highs = [_count(node, "maxLength") for node in members if node.has("maxLength")]
    high = min(highs) if highs else None
    if high is not None and low > high:
        return st.nothing()
    patterns = [node.get("pattern") for node in members if isinstance(node.get("pattern"), str)]
    formats = [node.get("format") for node in members if node.get("format") in FORMATS]
    if formats:
        base = FORMATS[formats[0]]
    elif patterns:
        base = _pattern_strategy(patterns[0])
    else:
        return st.text(min_size=low, max_size=high if high is not None else low + 12)

    def fits(text: Any) -> bool:
        return (
            isinstance(text, str)
            and low <= len(text)
            and (high is None or len(text) <= high)
            and all(ecma_regex.search(p, text) for p in patterns)
        )

    return base.filter(fits)


# -- numbers -----------------------------------------------------------------------------


@dataclass
class _Bounds:
    low: Fraction | None = None
    low_open: bool = False
    high: Fraction | None = None
    high_open: bool = False

    def tighten(self, node: Node) -> None:
        for keyword, is_low, is_open in (
            ("minimum", True, False),
            ("exclusiveMinimum", True, True),
            ("maximum", False, False),
            ("exclusiveMaximum", False, True),
        ):
            value = node.get(keyword)
            if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
                continue
            bound = Fraction(str(value)) if not isinstance(value, int) else Fraction(value)
            if is_low and (self.low is None or bound > self.low or (bound == self.low and is_open)):
                self.low, self.low_open = bound, is_open
            if not is_low and (
                self.high is None or bound < self.high or (bound == self.high and is_open)
            ):
                self.high, self.high_open = bound, is_open

    def admits(self, value: Fraction) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )


def _number(members: list[Node], *, integer: bool) -> JSONStrategy:
    bounds = _Bounds()
    steps: list[Fraction] = []
    for node in members:
        bounds.tighten(node)
        step = node.get("multipleOf")
        if isinstance(step, int | float | Decimal) and not isinstance(step, bool) and step > 0:
            steps.append(Fraction(str(step)) if not isinstance(step, int) else Fraction(step))
    if integer:
        steps.append(Fraction(1))
    if steps:
        return _multiples(_lcm(steps), bounds, integer=integer)
    return _decimals(bounds)


def _lcm(steps: list[Fraction]) -> Fraction:
    numerator = functools.reduce(math.lcm, (s.numerator for s in steps))
    denominator = functools.reduce(math.gcd, (s.denominator for s in steps))
    return Fraction(numerator, denominator)


def _multiples(step: Fraction, bounds: _Bounds, *, integer: bool) -> JSONStrategy:
    """Values ``k * step`` inside the bounds (the exact multiples, open bounds excluded)."""
    low = None if bounds.low is None else math.ceil(bounds.low / step)
    high = None if bounds.high is None else math.floor(bounds.high / step)
    if low is not None and bounds.low_open and low * step == bounds.low:
        low += 1
    if high is not None and bounds.high_open and high * step == bounds.high:
        high -= 1
    if low is not None and high is not None and low > high:
        return st.nothing()

    def value(k: int) -> Any:
        exact = k * step
        if exact.denominator == 1:
            return int(exact)
        return _decimal(exact)

    strategy = st.integers(min_value=low, max_value=high).map(value)
    if not integer:
        # A "number" that must be a non-integer: only the multiples that are not whole.
        strategy = (
            strategy.filter(lambda v: not isinstance(v, int))
            if step.denominator > 1
            else st.nothing()
        )
    return strategy


def _decimal(exact: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 200
        return Decimal(exact.numerator) / Decimal(exact.denominator)


def _places(value: Fraction | None) -> int:
    """How many decimal places ``value`` needs (at most 40)."""
    if value is None:
        return 0
    return next((p for p in range(41) if (value * 10**p).denominator == 1), 40)


def _decimals(bounds: _Bounds) -> JSONStrategy:
    """Non-integer numbers inside the bounds, as Decimals, with enough places to fit."""
    places = max(3, _places(bounds.low) + 1, _places(bounds.high) + 1)
    low = None if bounds.low is None else _decimal(bounds.low)
    high = None if bounds.high is None else _decimal(bounds.high)
    if low is not None and high is not None and low > high:
        return st.nothing()
    strategy = st.decimals(
        min_value=low, max_value=high, allow_nan=False, allow_infinity=False, places=places
    )
    return strategy.filter(lambda d: d != d.to_integral_value() and bounds.admits(Fraction(d)))
