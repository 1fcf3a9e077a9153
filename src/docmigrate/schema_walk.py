"""Walking JSON Schema documents: subschemas, ``default`` values, ``$ref`` targets.

Only the keywords of Draft 2020-12 that hold subschemas are followed, so a property that
happens to be *named* ``default`` or ``$ref`` is never mistaken for the keyword.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin

from docmigrate.pointers import format_pointer, parse_pointer, resolve

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)


@dataclass(frozen=True)
class Subschema:
    """One subschema found in a schema document, with its location and base URI."""

    pointer: str
    schema: Mapping[str, Any]
    base: str


def iter_subschemas(root: Mapping[str, Any], base: str = "") -> Iterator[Subschema]:
    """Yield every subschema of ``root`` (itself included), depth first."""
    stack: list[tuple[tuple[str, ...], Any, str]] = [((), root, base)]
    while stack:
        path, node, node_base = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get("$id"), str):
            node_base = urljoin(node_base, node["$id"])
        yield Subschema(format_pointer(path), node, node_base)
        children: list[tuple[tuple[str, ...], Any, str]] = []
        for keyword, value in node.items():
            if keyword in _SCHEMA_MAPS and isinstance(value, Mapping):
                children += [
                    ((*path, keyword, name), sub, node_base) for name, sub in value.items()
                ]
            elif keyword in _SCHEMA_LISTS and isinstance(value, list):
                children += [
                    ((*path, keyword, str(i)), sub, node_base) for i, sub in enumerate(value)
                ]
            elif keyword in _SCHEMA_VALUES:
                children.append(((*path, keyword), value, node_base))
        stack.extend(reversed(children))


def non_local_references(root: Mapping[str, Any], base: str) -> list[tuple[str, str]]:
    """Return ``(schema pointer, reference)`` for each ``$ref`` that leaves the document.

    A reference is local when it is a fragment (``#/$defs/x``) or names an ``$id`` embedded
    in the same schema document.
    """
    subschemas = list(iter_subschemas(root, base))
    known = {urldefrag(s.base)[0] for s in subschemas} | {urldefrag(base)[0]}
    found = []
    for sub in subschemas:
        for keyword in ("$ref", "$dynamicRef"):
            reference = sub.schema.get(keyword)
            if not isinstance(reference, str) or reference.startswith("#"):
                continue
            if urldefrag(urljoin(sub.base, reference))[0] not in known:
                found.append((sub.pointer, reference))
    return found


def _follow_ref(root: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow same-document ``$ref`` chains (``#/...``) so properties can be read."""
    seen = 0
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#") and seen < 50:
        target = resolve(root, parse_pointer(schema["$ref"][1:]), default=None)
        if not isinstance(target, Mapping):
            break
        schema, seen = target, seen + 1
    return schema


def schema_at(root: Mapping[str, Any], document_pointer: str) -> Mapping[str, Any] | None:
    """Return the schema that applies to the value at ``document_pointer`` (``-`` = any item).

    Follows ``properties``, ``items``/``prefixItems`` and same-document ``$ref``; returns None
    when the place is not described by a plain object/array schema.
    """
    schema: Mapping[str, Any] = _follow_ref(root, root)
    for token in parse_pointer(document_pointer):
        if token == "-" or token.isdigit():
            nxt = schema.get("items")
        else:
            nxt = schema.get("properties", {}).get(token)
        if not isinstance(nxt, Mapping):
            return None
        schema = _follow_ref(root, nxt)
    return schema


def property_defaults(root: Mapping[str, Any], document_pointer: str) -> dict[str, Any]:
    """Return ``{name: default}`` for the properties that declare one at ``document_pointer``."""
    schema = schema_at(root, document_pointer)
    if schema is None:
        return {}
    defaults = {}
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, Mapping):
            sub = _follow_ref(root, sub)
            if "default" in sub:
                defaults[name] = sub["default"]
    return defaults
