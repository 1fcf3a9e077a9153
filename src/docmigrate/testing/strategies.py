"""Hypothesis strategies that draw documents from a family's schemas.

:func:`documents` reads the schema of a version and builds a strategy for documents valid
under it. It covers the keywords families use — ``type``, ``const``, ``enum``, ``properties``
/ ``required`` / ``additionalProperties``, ``items`` / ``prefixItems`` / ``minItems`` /
``maxItems``, ``pattern``, ``minLength`` / ``maxLength``, ``minimum`` / ``maximum`` /
``exclusiveMinimum`` / ``exclusiveMaximum``, ``format`` (``date-time``, ``date``, ``time``,
``email``, ``uuid``, ``uri``), same-document ``$ref``, ``allOf`` (merged), ``anyOf`` /
``oneOf`` — and leaves anything else to a final filter through the family's real validator,
so every drawn document is valid under its schema.

hypothesis-jsonschema is not used: its last release (0.23.1) fails with current Hypothesis
(≥ 6.170.10) and knows neither Draft 2020-12 nor the ``uuid`` format.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from docmigrate.family import Family
from docmigrate.pointers import parse_pointer, resolve
from docmigrate.validation import is_valid

JSONStrategy = st.SearchStrategy[Any]
MAX_ITEMS = 4
"""Arrays are kept short: laws need variety more than volume."""

_FORMATS: dict[str, JSONStrategy] = {
    "date-time": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "date": st.dates().map(lambda d: d.isoformat()),
    "time": st.times(timezones=st.just(UTC)).map(lambda t: t.isoformat()),
    "email": st.emails(),
    "uuid": st.uuids().map(str),
    "uri": st.from_regex(r"https://example\.com/[a-z0-9]{0,12}", fullmatch=True),
}


def documents(family: Family, version: str | None = None) -> JSONStrategy:
    """Return a strategy of documents valid under ``family``'s schema for ``version``.

    ``version`` defaults to the current version. Objects keep the schema's property order,
    as files written by an application usually do.
    """
    version = family.current if version is None else version
    root = family.schema(version)
    return from_schema(root).filter(lambda document: is_valid(document, family, version))


def from_schema(
    schema: Mapping[str, Any] | bool, root: Mapping[str, Any] | None = None
) -> JSONStrategy:
    """Return a strategy for values that (mostly) satisfy ``schema``; ``root`` resolves $ref."""
    if isinstance(schema, bool):
        return _any_json(0) if schema else st.nothing()
    return _from_schema(schema, schema if root is None else root, 0)


def _from_schema(schema: Any, root: Mapping[str, Any], depth: int) -> JSONStrategy:
    if schema is True or schema == {}:
        return _any_json(depth)
    if schema is False:
        return st.nothing()
    schema = _merged(schema, root)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            rest = {k: v for k, v in schema.items() if k != keyword}
            branches = [
                _from_schema({**rest, **_merged(sub, root)}, root, depth) for sub in schema[keyword]
            ]
            return st.one_of(branches)
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([_by_type(kind, schema, root, depth) for kind in kinds])
    if kinds is None:
        kinds = _implied_type(schema)
    return _by_type(kinds, schema, root, depth)


def _merged(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Inline same-document ``$ref`` and ``allOf`` so that one schema describes the value."""
    merged = dict(schema)
    for _ in range(50):
        reference = merged.pop("$ref", None)
        if not isinstance(reference, str) or not reference.startswith("#"):
            break
        target = resolve(root, parse_pointer(reference[1:]))
        merged = {**target, **merged}
    for part in merged.pop("allOf", []):
        part = _merged(part, root)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _implied_type(schema: Mapping[str, Any]) -> str | None:
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if "pattern" in schema or "format" in schema or "minLength" in schema:
        return "string"
    if "minimum" in schema or "maximum" in schema:
        return "number"
    return None


def _by_type(
    kind: str | None, schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> JSONStrategy:
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _integer(schema) | _decimal(schema)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _any_json(depth)


def _integer(schema: Mapping[str, Any]) -> JSONStrategy:
    low, high = schema.get("minimum"), schema.get("maximum")
    if "exclusiveMinimum" in schema:
        low = int(schema["exclusiveMinimum"]) + 1
    if "exclusiveMaximum" in schema:
        high = int(schema["exclusiveMaximum"]) - 1
    low = None if low is None else int(-(-Decimal(low) // 1))
    high = None if high is None else int(Decimal(high) // 1)
    return st.integers(min_value=low, max_value=high)


def _decimal(schema: Mapping[str, Any]) -> JSONStrategy:
    return st.decimals(
        min_value=schema.get("minimum", schema.get("exclusiveMinimum")),
        max_value=schema.get("maximum", schema.get("exclusiveMaximum")),
        allow_nan=False,
        allow_infinity=False,
        places=3,
    )


def _string(schema: Mapping[str, Any]) -> JSONStrategy:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True)
    elif schema.get("format") in _FORMATS:
        strategy = _FORMATS[schema["format"]]
    else:
        return st.text(min_size=low, max_size=high if high is not None else low + 20)
    return strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> JSONStrategy:
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", low + MAX_ITEMS)
    prefix = [_from_schema(sub, root, depth + 1) for sub in schema.get("prefixItems", [])]
    rest = schema.get("items", True)
    rest_strategy = _from_schema(rest, root, depth + 1)
    tail = st.lists(
        rest_strategy,
        min_size=max(0, low - len(prefix)),
        max_size=max(0, high - len(prefix)),
        unique_by=_json_key if schema.get("uniqueItems") else None,
    )
    if not prefix:
        return tail
    return st.tuples(*prefix, tail).map(lambda parts: [*parts[:-1], *parts[-1]])


def _json_key(value: Any) -> str:
    return repr(value)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> JSONStrategy:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    names = list(properties) + sorted(required - set(properties))

    values = {
        name: _from_schema(
            properties.get(name, extra if extra is not False else True), root, depth + 1
        )
        for name in names
    }
    open_ended = extra is not False and depth < 3
    open_ended = open_ended and schema.get("unevaluatedProperties", True) is not False
    more = st.dictionaries(
        st.text(min_size=1, max_size=8), _from_schema(extra, root, depth + 1), max_size=2
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        document = {
            name: draw(values[name]) for name in names if name in required or draw(st.booleans())
        }
        if open_ended:
            extras = draw(more)
            document.update(
                (k, v) for k, v in extras.items() if k not in document and k not in properties
            )
        return document

    return build()


def _any_json(depth: int) -> JSONStrategy:
    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    if depth > 3:
        return scalars
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=5,
    )
