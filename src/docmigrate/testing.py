"""Hypothesis strategies that draw documents from a family's schemas.

:func:`documents` reads the schema of a version and builds a strategy for documents valid
under it, covering the keywords families use: ``type``, ``const``, ``enum``, ``properties``
/ ``required`` / ``additionalProperties``, ``items`` / ``minItems`` / ``maxItems``,
``pattern``, ``minLength`` / ``maxLength``, ``minimum`` / ``maximum``, same-document ``$ref``
and ``anyOf`` / ``oneOf``. Anything else is left to a final filter through the real
validator, so every drawn document is valid. Requires ``hypothesis`` (``docmigrate[test]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from docmigrate.family import Family
from docmigrate.pointers import parse_pointer, resolve
from docmigrate.validation import is_valid

JSONStrategy = st.SearchStrategy[Any]
_MAX_ITEMS = 4


def documents(family: Family, version: str | None = None) -> JSONStrategy:
    """Return a strategy of documents valid under ``family``'s schema for ``version``.

    ``version`` defaults to the current version.
    """
    version = family.current if version is None else version
    root = family.schema(version)
    return _from_schema(root, root, depth=0).filter(lambda doc: is_valid(doc, family, version))


def _from_schema(schema: Any, root: Mapping[str, Any], depth: int) -> JSONStrategy:
    if schema is True or schema == {}:
        return _any_json(depth)
    if schema is False:
        return st.nothing()
    if "$ref" in schema:
        target = resolve(root, parse_pointer(schema["$ref"].lstrip("#")))
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _from_schema({**target, **rest}, root, depth)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            rest = {k: v for k, v in schema.items() if k != keyword}
            return st.one_of(
                [_from_schema({**rest, **sub}, root, depth) for sub in schema[keyword]]
            )
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of([_from_schema({**schema, "type": t}, root, depth) for t in types])
    return _by_type(types, schema, root, depth)


def _by_type(
    kind: str | None, schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> JSONStrategy:
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, root, depth)
    if kind == "array":
        items = _from_schema(schema.get("items", True), root, depth + 1)
        return st.lists(
            items,
            min_size=schema.get("minItems", 0),
            max_size=schema.get("maxItems", schema.get("minItems", 0) + _MAX_ITEMS),
        )
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.decimals(
            min_value=schema.get("minimum"),
            max_value=schema.get("maximum"),
            allow_nan=False,
            allow_infinity=False,
            places=4,
        ).map(Decimal)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _any_json(depth)


def _string(schema: Mapping[str, Any]) -> JSONStrategy:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True)
        return strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))
    return st.text(min_size=low, max_size=high if high is not None else low + 20)


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> JSONStrategy:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = [name for name in properties if name in schema.get("required", [])]
    optional = [name for name in properties if name not in required]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        present = set(required) | {n for n in optional if draw(st.booleans())}
        # Keep the schema's property order, as real files follow it.
        return {
            name: draw(_from_schema(properties[name], root, depth + 1))
            for name in properties
            if name in present
        }

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
