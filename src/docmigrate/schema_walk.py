"""Walking JSON Schema documents: subschemas, ``default`` values, ``$ref`` targets.

Subschemas are found through a table of the keywords that hold them and of how they hold
them (one schema, a map of schemas, a list of schemas): every such keyword of the Draft
2020-12 metaschema, including the legacy ``definitions`` and ``dependencies`` it still
describes, and the older ``additionalItems`` and array form of ``items``. So a ``$ref`` is
found wherever a validator could follow it, and a property that happens to be *named*
``default`` or ``$ref`` is never mistaken for the keyword.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import unquote, urldefrag, urljoin

from docmigrate.pointers import format_pointer, parse_pointer, resolve

SubschemaKind = Literal["schema", "map", "list", "schema-or-list"]

SUBSCHEMA_KEYWORDS: Mapping[str, SubschemaKind] = MappingProxyType(
    {
        # core vocabulary
        "$defs": "map",
        # applicator vocabulary
        "prefixItems": "list",
        "items": "schema-or-list",  # the list form is the pre-2020-12 tuple form
        "contains": "schema",
        "additionalProperties": "schema",
        "properties": "map",
        "patternProperties": "map",
        "dependentSchemas": "map",
        "propertyNames": "schema",
        "if": "schema",
        "then": "schema",
        "else": "schema",
        "allOf": "list",
        "anyOf": "list",
        "oneOf": "list",
        "not": "schema",
        # unevaluated vocabulary
        "unevaluatedItems": "schema",
        "unevaluatedProperties": "schema",
        # content vocabulary
        "contentSchema": "schema",
        # legacy keywords the 2020-12 metaschema still describes
        "definitions": "map",
        "dependencies": "map",  # a value may also be a list of property names: not a schema
        # before 2020-12
        "additionalItems": "schema",
    }
)
"""Each keyword that holds subschemas, and how it holds them."""

REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
DRAFT_4 = "http://json-schema.org/draft-04/schema"

_Child = tuple[tuple[str, ...], Any, str]


@dataclass(frozen=True)
class Subschema:
    """One subschema found in a schema document, with its location and base URI."""

    pointer: str
    schema: Mapping[str, Any]
    base: str


@dataclass(frozen=True)
class Reference:
    """A ``$ref`` (or ``$dynamicRef``, ``$recursiveRef``) and the subschema that holds it."""

    pointer: str
    """The JSON Pointer of the subschema holding the keyword."""
    keyword: str
    value: str
    base: str
    """The base URI the reference is resolved against."""

    @property
    def target(self) -> str | None:
        """The absolute URI referred to; None when it is not a URI reference."""
        if self.value.startswith("#"):  # urljoin ignores fragments against a URN base
            return urldefrag(self.base)[0] + self.value
        return join_uri(self.base, self.value)


def join_uri(base: str, reference: str) -> str | None:
    """Resolve ``reference`` against ``base``; None when either is not a URI reference."""
    try:
        return urljoin(base, reference)
    except ValueError:  # e.g. "http://[bad": urllib refuses it
        return None


def _children(path: tuple[str, ...], keyword: str, value: Any, base: str) -> list[_Child]:
    """The subschemas that ``keyword`` holds in ``value``, by the kind of keyword it is."""
    kind = SUBSCHEMA_KEYWORDS.get(keyword)
    if kind == "map" and isinstance(value, Mapping):
        return [((*path, keyword, name), sub, base) for name, sub in value.items()]
    if kind in ("list", "schema-or-list") and isinstance(value, list):
        return [((*path, keyword, str(i)), sub, base) for i, sub in enumerate(value)]
    if kind in ("schema", "schema-or-list"):
        return [((*path, keyword), value, base)]
    return []


def iter_subschemas(
    root: Mapping[str, Any], base: str = "", *, draft_4: bool = False
) -> Iterator[Subschema]:
    """Yield every subschema of ``root`` (itself included), depth first.

    Boolean subschemas are skipped: they hold no keyword. A ``$id`` (``id`` in Draft 4) that
    is not a URI reference leaves the base as it was (the metaschema check reports it).
    ``draft_4`` says whether a root without ``$schema`` is Draft 4 (a resource read as the
    draft of the schema referring to it).
    """
    declared = root.get("$schema")
    if isinstance(declared, str):
        draft_4 = declared.rstrip("#") == DRAFT_4
    identifier = "id" if draft_4 else "$id"
    stack: list[_Child] = [((), root, base)]
    while stack:
        path, node, node_base = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get(identifier), str):
            node_base = join_uri(node_base, node[identifier]) or node_base
        yield Subschema(format_pointer(path), node, node_base)
        children: list[_Child] = []
        for keyword, value in node.items():
            children += _children(path, keyword, value, node_base)
        stack.extend(reversed(children))


def iter_references(
    root: Mapping[str, Any], base: str = "", *, draft_4: bool = False
) -> Iterator[Reference]:
    """Yield every string ``$ref``, ``$dynamicRef`` and ``$recursiveRef`` of ``root``."""
    return _references_in(iter_subschemas(root, base, draft_4=draft_4))


def _references_in(subschemas: Iterable[Subschema]) -> Iterator[Reference]:
    for sub in subschemas:
        for keyword in REFERENCE_KEYWORDS:
            value = sub.schema.get(keyword)
            if isinstance(value, str):
                yield Reference(sub.pointer, keyword, value, sub.base)


def non_local_references(
    root: Mapping[str, Any], base: str, *, draft_4: bool = False
) -> list[Reference]:
    """Return each reference that leaves the document.

    A reference is local when it is a fragment (``#/$defs/x``) or names an ``$id`` embedded
    in the same schema document. One that is not a URI reference at all is not returned
    (it cannot be fetched; the metaschema check reports it).
    """
    subschemas = list(iter_subschemas(root, base, draft_4=draft_4))
    known = {urldefrag(s.base)[0] for s in subschemas} | {urldefrag(base)[0]}
    found = []
    for reference in _references_in(subschemas):  # one walk of the schema, not two
        target = reference.target
        if target is not None and urldefrag(target)[0] not in known:
            found.append(reference)
    return found


@dataclass(frozen=True)
class Documents:
    """Where ``$ref`` chains may lead: the schema document and the resources beside it."""

    base: str = ""
    """The URI the schema document is known by (references resolve against it)."""
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The family's schema resources, by retrieval URI."""


_Located = tuple[Mapping[str, Any], Mapping[str, Any], str]
"""A subschema, the document holding it and that document's URI."""


def _follow_ref(
    root: Mapping[str, Any], schema: Mapping[str, Any], base: str, documents: Documents
) -> _Located:
    """Follow ``$ref`` chains (JSON Pointer fragments, into resources too) to read properties.

    A chain stops at a reference it cannot follow (an anchor, an unknown URI): what is read
    there is then only what the schema states in place.
    """
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < 50:
        found = follow_reference(root, base, schema["$ref"], documents)
        if found is None:
            break
        (schema, root, base), seen = found, seen + 1
    return schema, root, base


def follow_reference(
    root: Mapping[str, Any], base: str, reference: str, documents: Documents
) -> _Located | None:
    """Resolve one ``$ref`` met in ``root`` (known as ``base``) to a JSON Pointer's target.

    Returns the target object, the document holding it and that document's URI; None for a
    reference it cannot follow (an anchor, an unknown URI, a pointer leading nowhere).
    """
    if reference.startswith("#"):
        fragment = reference[1:]
    else:
        uri, fragment = urldefrag(join_uri(base, reference) or "")
        if uri not in documents.resources:
            return None
        root, base = documents.resources[uri], uri
    if fragment and not fragment.startswith("/"):
        return None
    try:
        target = resolve(root, parse_pointer(unquote(fragment)), default=None)
    except ValueError:  # not a JSON Pointer
        return None
    return (target, root, base) if isinstance(target, Mapping) else None


def schema_at(
    root: Mapping[str, Any], document_pointer: str, documents: Documents | None = None
) -> Mapping[str, Any] | None:
    """Return the schema that applies to the value at ``document_pointer`` (``-`` = any item).

    Follows ``properties``, ``items``/``prefixItems`` and ``$ref`` (inside ``root``, and
    into the ``documents``' resources); returns None when the place is not described by a
    plain object/array schema.
    """
    found = _located_at(root, document_pointer, documents or Documents())
    return None if found is None else found[0]


def _located_at(
    root: Mapping[str, Any], document_pointer: str, documents: Documents
) -> _Located | None:
    schema, root, base = _follow_ref(root, root, documents.base, documents)
    for token in parse_pointer(document_pointer):
        if token == "-" or token.isdigit():
            nxt = schema.get("items")
        else:
            nxt = schema.get("properties", {}).get(token)
        if not isinstance(nxt, Mapping):
            return None
        schema, root, base = _follow_ref(root, nxt, base, documents)
    return schema, root, base


def property_defaults(
    root: Mapping[str, Any], document_pointer: str, documents: Documents | None = None
) -> dict[str, Any]:
    """Return ``{name: default}`` for the properties that declare one at ``document_pointer``."""
    documents = documents or Documents()
    found = _located_at(root, document_pointer, documents)
    if found is None:
        return {}
    schema, root, base = found
    defaults = {}
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, Mapping):
            sub = _follow_ref(root, sub, base, documents)[0]
            if "default" in sub:
                defaults[name] = sub["default"]
    return defaults
