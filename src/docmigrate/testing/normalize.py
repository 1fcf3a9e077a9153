"""Rewriting a schema of an older draft into Draft 2020-12 keywords, for the generator.

The generator knows one vocabulary. A Draft 4, 6, 7 or 2019-09 schema is rewritten into an
equivalent 2020-12 one: ``id`` becomes ``$id`` (a fragment-only id an ``$anchor``), Draft 4's
boolean ``exclusiveMinimum``/``exclusiveMaximum`` their numeric form, the array form of
``items`` ``prefixItems`` (and ``additionalItems`` then ``items``), ``dependencies``
``dependentRequired``/``dependentSchemas``; before 2019-09 a ``$ref`` hides its siblings;
2019-09's ``$recursiveRef``/``$recursiveAnchor`` become ``$dynamicRef``/``$dynamicAnchor``.
The validator still checks drawn documents against the schema as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docmigrate.schema_walk import SUBSCHEMA_KEYWORDS
from docmigrate.validation import draft_of

RECURSIVE_ANCHOR = "docmigrate-recursive"
"""The ``$dynamicAnchor`` name a ``$recursiveAnchor: true`` becomes."""

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
IGNORED_BESIDE_REF = "docmigrate-ignored-beside-ref"
_OLD = ("4", "6", "7")
_KEEP_BESIDE_REF = ("definitions", "$defs", "$id", "id", "$schema")


def to_2020_12(schema: Any, draft: str) -> Any:
    """Return ``schema``, written for ``draft`` (``4``, ``6``, ``7``, ``2019-09``), in 2020-12."""
    if draft == "2020-12":
        return schema
    return _node(schema, draft, resource_recursive=_recursive_root(schema))


def resources_in_2020_12(resources: Mapping[str, Any], draft: str) -> dict[str, Any]:
    """The schema resources rewritten for the generator; ``draft`` is the referring schema's.

    A resource declaring ``$schema`` keeps its own draft; one without is read as ``draft``.
    """
    return {
        uri: to_2020_12(document, _declared(document, draft)) for uri, document in resources.items()
    }


def _declared(document: Any, fallback: str) -> str:
    """The draft a resource declares with ``$schema`` (its own), else ``fallback``."""
    return draft_of(document).name if "$schema" in document else fallback


def _recursive_root(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("$recursiveAnchor") is True


def _node(schema: Any, draft: str, *, resource_recursive: bool) -> Any:
    if not isinstance(schema, dict):
        return schema
    if draft in _OLD and "$ref" in schema:
        # Before 2019-09 a $ref replaces the whole schema; definitions stay addressable.
        # Ignored siblings still hold $ids a reference may name: keep them addressable.
        kept = {k: v for k, v in schema.items() if k in ("$ref", "definitions", "$defs")}
        ignored = {k: v for k, v in schema.items() if k not in kept and k not in ("$id", "id")}
        if ignored:
            kept["$defs"] = {**kept.get("$defs", {}), IGNORED_BESIDE_REF: ignored}
        schema = kept
    out: dict[str, Any] = {}
    if "$id" in schema or "id" in schema:
        identifier = schema.get("$id" if draft != "4" else "id")
        if draft == "4":
            out.pop("id", None)
        if isinstance(identifier, str):
            base, _, fragment = identifier.partition("#")
            if base:
                out["$id"] = base
                resource_recursive = _recursive_root(schema)
            if fragment and not fragment.startswith("/") and draft in _OLD:
                out["$anchor"] = fragment
    for keyword, value in schema.items():
        if keyword in ("$id", "id") and (keyword == "$id" or draft == "4"):
            continue
        _rewrite(out, schema, keyword, value, draft, resource_recursive)
    return out


def _rewrite(
    out: dict[str, Any],
    schema: dict[str, Any],
    keyword: str,
    value: Any,
    draft: str,
    recursive: bool,
) -> None:
    def sub(child: Any) -> Any:
        return _node(child, draft, resource_recursive=recursive)

    if keyword == "items" and isinstance(value, list):
        out["prefixItems"] = [sub(v) for v in value]
        if "additionalItems" in schema:
            out["items"] = sub(schema["additionalItems"])
    elif keyword == "additionalItems":
        return  # only meaningful beside an array "items", handled there
    elif keyword == "dependencies" and isinstance(value, dict):
        for name, dependency in value.items():
            if isinstance(dependency, list):
                out.setdefault("dependentRequired", {})[name] = dependency
            else:
                out.setdefault("dependentSchemas", {})[name] = sub(dependency)
    elif keyword in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
        bound = "minimum" if keyword == "exclusiveMinimum" else "maximum"
        if value and bound in schema:
            out[keyword] = schema[bound]
            out.pop(bound, None)
    elif keyword in ("minimum", "maximum") and schema.get(f"exclusive{keyword.title()}") is True:
        return
    elif keyword == "$schema":
        # Validators built on the rewritten schema must read it as 2020-12 too.
        out[keyword] = DRAFT_2020_12
    elif keyword == "$recursiveAnchor":
        if value is True:
            out["$dynamicAnchor"] = RECURSIVE_ANCHOR
    elif keyword == "$recursiveRef":
        out["$dynamicRef" if recursive else "$ref"] = f"#{RECURSIVE_ANCHOR}" if recursive else value
    elif keyword in SUBSCHEMA_KEYWORDS and not _is_data(keyword, value):
        out[keyword] = _map_children(SUBSCHEMA_KEYWORDS[keyword], value, sub)
    else:
        out[keyword] = value


def _is_data(keyword: str, value: Any) -> bool:
    return keyword == "dependencies" and not isinstance(value, dict)


def _map_children(kind: str, value: Any, sub: Any) -> Any:
    if kind == "map" and isinstance(value, dict):
        return {name: sub(child) for name, child in value.items()}
    if kind in ("list", "schema-or-list") and isinstance(value, list):
        return [sub(child) for child in value]
    return sub(value)
