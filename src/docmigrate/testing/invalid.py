"""Documents that break a rule of a schema, each tagged with the rule it breaks.

A valid document is drawn from the schema, then one place in it is chosen and changed so that
one keyword fails there: an ``enum`` value no one allowed, a ``required`` key removed, a key
that ``additionalProperties: false`` forbids, a value of the wrong ``type`` (a number where a
decimal string belongs, among others), a number past ``minimum``/``maximum`` (exclusive ones
too) or off its ``multipleOf``, a string too short or too long, not matching its ``pattern``
or its ``format``, a value other than the ``const``, an array with too few or too many items
or a repeated one (``uniqueItems``), a key that ``dependentRequired`` asks for removed, an
object with too few or too many properties. The change may break other rules as well (a
shorter string may also miss its pattern); the tagged one is always among them. Places under
``anyOf``/``oneOf``/``not``/``if`` and the family's version label are left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import Any, Literal, TypeGuard, get_args

import jsonschema_rs
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.api import FamilyLike, resolve_family
from docmigrate.pointers import Path, json_path
from docmigrate.schema_walk import Documents, follow_reference
from docmigrate.testing.strategies import documents

Rule = Literal[
    "enum",
    "required",
    "additionalProperties",
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "const",
    "minItems",
    "maxItems",
    "uniqueItems",
    "dependentRequired",
    "minProperties",
    "maxProperties",
]
RULES: tuple[Rule, ...] = get_args(Rule)
"""Every kind of rule :func:`invalid_documents` can break."""


@dataclass(frozen=True)
class InvalidDocument:
    """A document that breaks one rule: which keyword, where, and how."""

    document: Any
    rule: Rule
    path: Path
    """Where the failing keyword applies (for ``required``/``additionalProperties``: the object)."""
    description: str

    @property
    def json_path(self) -> str:
        """The place of the broken rule as ``$.a[0]``."""
        return json_path(self.path)


@dataclass(frozen=True)
class _Place:
    path: Path
    schema: Mapping[str, Any]


def invalid_documents(
    family: FamilyLike, version: str | None = None, *, rules: Collection[Rule] | None = None
) -> st.SearchStrategy[InvalidDocument]:
    """Return a strategy of documents of ``version`` (default current) that break one rule.

    ``family`` is a :class:`Family`, a family folder or a family name. ``rules`` limits the
    kinds of rule broken (default: every kind in :data:`RULES`); a drawn valid document that
    offers none of them is discarded.
    """
    family = resolve_family(family)
    version = family.current if version is None else version
    wanted = frozenset(RULES if rules is None else rules)
    unknown = wanted - set(RULES)
    if unknown:
        raise ValueError(f"unknown rule kind(s): {', '.join(sorted(unknown))}")
    root = family.schema(version)
    where = Documents(family.schema_uris[version], family.resources)
    protected = tuple(family.version_pointer)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidDocument:
        document = draw(documents(family, version))
        breaks = [
            b
            for place in _places(document, root, (root, where.base), where, ())
            for b in _breaks(place, document, protected)
            if b[0] in wanted
        ]
        if not breaks:
            # A schema with nothing to break in this document: draw another one.
            draw(st.nothing())
        rule, path, description, change = draw(st.sampled_from(breaks))
        broken = jsonio.clone(document)
        change(_at(broken, path))
        return InvalidDocument(broken, rule, path, description)

    return build()


_Scope = tuple[Mapping[str, Any], str]
"""The schema document a subschema is written in, and that document's URI."""


def _places(
    value: Any, schema: Mapping[str, Any], scope: _Scope, documents: Documents, path: Path
) -> Iterator[_Place]:
    """Walk ``value`` with its schema, yielding each place and the (merged) schema there."""
    schema, scope = _merged(schema, scope, documents)
    if any(k in schema for k in ("anyOf", "oneOf", "not", "if")):
        return
    yield _Place(path, schema)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value and isinstance(sub, Mapping):
                yield from _places(value[name], sub, scope, documents, (*path, name))
    elif (
        isinstance(value, list)
        and isinstance(schema.get("items"), Mapping)
        and not schema.get("prefixItems")
    ):
        for index, item in enumerate(value):
            yield from _places(item, schema["items"], scope, documents, (*path, index))


_Break = tuple[Rule, Path, str, Any]


def _breaks(place: _Place, document: Any, protected: tuple[str, ...]) -> Iterator[_Break]:
    """Yield the ways one rule can be broken at ``place`` (each with the change to make)."""
    schema, path = place.schema, place.path
    if tuple(str(p) for p in path) == protected:
        return
    value = _at(document, path)[1]
    key = path[-1] if path else None
    if "enum" in schema and key is not None and all(isinstance(v, str) for v in schema["enum"]):
        yield ("enum", path, "a value the enum does not list", _set(key, "not-one-of-the-enum"))
    if schema.get("type") == "object":
        for name in schema.get("required", []):
            if tuple(map(str, (*path, name))) != protected:
                yield ("required", path, f"required key {name!r} removed", _delete(name))
        if schema.get("additionalProperties") is False:
            yield (
                "additionalProperties",
                path,
                "a key the schema does not allow",
                _add("unexpected_key"),
            )
    wrong = _wrong_type(schema)
    if wrong is not None and key is not None:
        description, new = wrong
        yield ("type", path, description, _set(key, new))
    if key is not None:
        for rule, description, new in _replacements(schema, value):
            yield (rule, path, description, _set(key, new))
    for rule, description, change in _container_changes(schema, value, path, protected):
        yield (rule, path, description, change)


def _replacements(schema: Mapping[str, Any], value: Any) -> Iterator[tuple[Rule, str, Any]]:
    """Values to put in place of ``value`` that break one keyword of ``schema`` each."""
    if _is_number(value):
        yield from _number_breaks(schema, value)
    if type(value) is str:
        yield from _string_breaks(schema)
    if "const" in schema:
        yield "const", "a value other than the const", _other_than(schema["const"])


def _number_breaks(
    schema: Mapping[str, Any], value: int | Decimal
) -> Iterator[tuple[Rule, str, Any]]:
    whole = type(value) is int  # keep an integer an integer, so that only the bound fails
    bounds: list[tuple[Rule, bool]] = [
        ("minimum", False),
        ("exclusiveMinimum", False),
        ("maximum", True),
        ("exclusiveMaximum", True),
    ]
    for rule, above in bounds:
        bound = schema.get(rule)
        if not _is_number(bound):
            continue  # draft-4 booleans and absent bounds
        edge = Decimal(bound)
        if whole:
            edge = edge.to_integral_value(rounding=ROUND_CEILING if above else ROUND_FLOOR)
        step = 0 if rule.startswith("exclusive") else 1
        broken = edge + step if above else edge - step
        yield rule, f"a number {'above' if above else 'below'} the {rule}", _number(broken, whole)
    divisor = schema.get("multipleOf")
    if _is_number(divisor) and divisor > 0:
        off = _off_multiple(Decimal(divisor), whole)
        if off is not None:
            yield "multipleOf", f"a number that is not a multiple of {divisor}", _number(off, whole)


def _is_number(value: object) -> TypeGuard[int | Decimal]:
    return type(value) is int or type(value) is Decimal


def _number(value: Decimal, whole: bool) -> int | Decimal:
    return int(value) if whole or value == value.to_integral_value() else value


def _off_multiple(divisor: Decimal, whole: bool) -> Decimal | None:
    """A number that ``divisor`` does not divide (an integer if ``whole``), or None."""
    if not whole:
        return divisor * Decimal("1.5")
    if Decimal(1) % divisor != 0:
        return Decimal(1)
    if divisor == divisor.to_integral_value() and divisor >= 2:
        return divisor + 1
    return None  # every integer is a multiple of 1 or of 1/n


def _string_breaks(schema: Mapping[str, Any]) -> Iterator[tuple[Rule, str, Any]]:
    shortest = schema.get("minLength")
    if type(shortest) is int and shortest >= 1:
        yield "minLength", f"a string shorter than {shortest}", "a" * (shortest - 1)
    longest = schema.get("maxLength")
    if type(longest) is int and longest < 100_000:
        yield "maxLength", f"a string longer than {longest}", "a" * (longest + 1)
    for rule in ("pattern", "format"):
        if isinstance(schema.get(rule), str):
            failing = _failing_string(rule, schema[rule])
            if failing is not None:
                yield rule, f"a string that is not a {schema[rule]!r} ({rule})", failing


_CANDIDATES = ("", "~", " ", "0", "a", "-1", "\n", "~ not this ~", "9999-99-99T99:99:99")


@lru_cache(maxsize=512)
def _failing_string(rule: str, argument: str) -> str | None:
    """A string the validator refuses under ``{rule: argument}`` alone, or None if none is found.

    The validator decides (ECMA-262 regular expressions, asserted formats), not Python.
    """
    validator = jsonschema_rs.validator_for({rule: argument}, validate_formats=True)
    return next((c for c in _CANDIDATES if not validator.is_valid(c)), None)


def _other_than(const: Any) -> Any:
    if isinstance(const, bool):
        return not const
    if type(const) in (int, Decimal):
        return const + 1
    if isinstance(const, str):
        return const + "x"
    return "not the const" if const is not None else 0


def _container_changes(
    schema: Mapping[str, Any], value: Any, path: Path, protected: tuple[str, ...]
) -> Iterator[tuple[Rule, str, Any]]:
    """Changes made inside an array or object (in place) that break one keyword each."""
    if type(value) is list:
        fewest, most = schema.get("minItems"), schema.get("maxItems")
        if type(fewest) is int and 1 <= fewest <= len(value):
            yield "minItems", f"fewer than {fewest} items", _truncate(fewest - 1)
        if type(most) is int and len(value) >= 1 and most < 10_000:
            yield "maxItems", f"more than {most} items", _repeat_last(most + 1 - len(value))
        if schema.get("uniqueItems") is True and value:
            yield "uniqueItems", "an item repeated", _repeat_last(1)
    if type(value) is dict:
        yield from _object_changes(schema, value, path, protected)


def _object_changes(
    schema: Mapping[str, Any], value: dict[str, Any], path: Path, protected: tuple[str, ...]
) -> Iterator[tuple[Rule, str, Any]]:
    def keeps_label(name: str) -> bool:
        return tuple(map(str, (*path, name))) != protected

    dependent = schema.get("dependentRequired")
    if isinstance(dependent, Mapping):
        for trigger, needed in dependent.items():
            if trigger in value and isinstance(needed, list):
                for name in needed:
                    if name in value and keeps_label(name):
                        description = f"{name!r}, which {trigger!r} requires, removed"
                        yield "dependentRequired", description, _delete(name)
    fewest, most = schema.get("minProperties"), schema.get("maxProperties")
    if type(fewest) is int and 1 <= fewest <= len(value):
        required = set(schema.get("required", []))
        # Optional keys go first, so that "required" fails only when nothing else can go.
        order = sorted(value, key=lambda name: name in required)
        removable = [name for name in order if keeps_label(name)][: len(value) - fewest + 1]
        if len(value) - len(removable) < fewest:
            yield "minProperties", f"fewer than {fewest} properties", _delete_all(removable)
    if type(most) is int and most < 10_000:
        yield "maxProperties", f"more than {most} properties", _add_many(most + 1 - len(value))


def _wrong_type(schema: Mapping[str, Any]) -> tuple[str, Any] | None:
    kind = schema.get("type")
    if kind == "string":
        if (
            "pattern" in schema
            and any(c.isdigit() for c in schema["pattern"])
            and "\\." in schema["pattern"]
        ):
            return "a number where a decimal string belongs", Decimal("1.5")
        return "a number where a string belongs", 12345
    if kind == "integer":
        return "a string where an integer belongs", "12"
    if kind == "array":
        return "an object where an array belongs", {}
    if kind == "object":
        return "an array where an object belongs", []
    if kind == "boolean":
        return "a string where a boolean belongs", "true"
    return None


def _at(document: Any, path: Path) -> tuple[Any, Any]:
    """Return (parent, the value at path) — the root's parent is None."""
    parent, value = None, document
    for part in path:
        parent, value = value, value[part]
    return parent, value


def _set(key: str | int, new: Any) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        parent, _ = where
        parent[key] = new

    return change


def _delete(name: str) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        del where[1][name]

    return change


def _add(name: str) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        where[1][name] = "surprise"

    return change


def _truncate(length: int) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        del where[1][length:]

    return change


def _repeat_last(times: int) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        items = where[1]
        items.extend(jsonio.clone(items[-1]) for _ in range(times))

    return change


def _delete_all(names: list[str]) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        for name in names:
            del where[1][name]

    return change


def _add_many(count: int) -> Any:
    def change(where: tuple[Any, Any]) -> None:
        added = 0
        while added < count:
            name = f"extra_{added}_{len(where[1])}"
            if name not in where[1]:
                where[1][name] = None
                added += 1

    return change


def _merged(
    schema: Mapping[str, Any], scope: _Scope, documents: Documents
) -> tuple[dict[str, Any], _Scope]:
    """Inline ``$ref`` and ``allOf`` so that one schema describes the value.

    A ``$ref`` into another document (a schema resource) is inlined only when it stands
    alone: its keywords then read their own ``$ref``s in that document (the scope returned).
    """
    merged = dict(schema)
    root, base = scope
    for _ in range(50):
        reference = merged.pop("$ref", None)
        if not isinstance(reference, str):
            break
        found = follow_reference(root, base, reference, documents)
        if found is None or (found[1] is not root and merged):
            break
        target, root, base = found
        merged = {**target, **merged}
    scope = (root, base)
    for part in merged.pop("allOf", []):
        part, part_scope = _merged(part, scope, documents)
        if part_scope[0] is not root:
            continue  # its keywords belong to another document: its rules are left unbroken
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged, scope
