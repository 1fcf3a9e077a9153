"""Where every subschema of a schema document lives, and how references reach them.

The generator follows ``$ref`` itself, so it needs what a validator's registry knows: each
schema resource (the document and every embedded ``$id``) by URI, each ``$anchor`` and
``$dynamicAnchor``, and for every subschema its absolute location (``uri#/json/pointer``)
and the base URI in effect there. References resolve inside the document and the other
schema documents given with it (a family's schema resources, by retrieval URI): the loader
refuses a family whose references lead anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from docmigrate.pointers import format_pointer, parse_pointer
from docmigrate.schema_walk import SUBSCHEMA_KEYWORDS


@dataclass(frozen=True)
class Place:
    """A subschema's absolute location and the base URI in effect inside it."""

    where: str
    """``resource-uri#/pointer/inside/it`` (unique per subschema)."""
    base: str


@dataclass
class SchemaIndex:
    """Resources, anchors and places of one (2020-12) schema document and those it refers to."""

    root: Any
    uri: str
    resources: dict[str, Any] = field(default_factory=dict)
    anchors: dict[tuple[str, str], Any] = field(default_factory=dict)
    dynamic_anchors: dict[tuple[str, str], Any] = field(default_factory=dict)
    places: dict[int, Place] = field(default_factory=dict)
    _keep: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, root: Any, uri: str, documents: Mapping[str, Any] | None = None) -> SchemaIndex:
        """Index ``root``, known as ``uri``, and ``documents`` (2020-12 too) by retrieval URI."""
        index = cls(root, uri)
        for document_uri, document in [*(documents or {}).items(), (uri, root)]:
            index._add(document, document_uri)
        return index

    def _add(self, root: Any, uri: str) -> None:
        """Index one document, known as ``uri`` (the URI it was loaded under)."""
        index = self
        index.resources[uri] = root
        for node, place, resource in _walk(root, uri):
            index._keep.append(node)
            index.places[id(node)] = place
            if place.where.endswith("#"):
                index.resources.setdefault(resource, node)
            for keyword, table in (
                ("$anchor", index.anchors),
                ("$dynamicAnchor", index.dynamic_anchors),
            ):
                name = node.get(keyword)
                if isinstance(name, str):
                    table.setdefault((resource, name), node)
                    if keyword == "$dynamicAnchor":
                        index.anchors.setdefault((resource, name), node)

    def place_of(self, node: Any, fallback: str) -> Place:
        """The place of an indexed subschema (``fallback`` for one reached oddly)."""
        found = self.places.get(id(node))
        return found if found is not None else Place(fallback, urldefrag(fallback)[0])

    def resolve(self, base: str, reference: str) -> tuple[Any, Place] | None:
        """Resolve ``reference`` against ``base``; None when it leads nowhere in the document."""
        target = _join(base, reference)
        uri, fragment = urldefrag(target)
        resource = self.resources.get(uri)
        if resource is None:
            return None
        if not fragment:
            return resource, self.place_of(resource, f"{uri}#")
        if fragment.startswith("/"):
            node = resource
            try:
                for token in parse_pointer(unquote(fragment)):
                    node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                return None
            return node, self.place_of(node, f"{uri}#{unquote(fragment)}")
        anchored = self.anchors.get((uri, fragment))
        if anchored is None:
            return None
        return anchored, self.place_of(anchored, f"{uri}#{fragment}")

    def dynamic(self, name: str, scope: tuple[str, ...]) -> tuple[Any, Place] | None:
        """The outermost resource in ``scope`` with ``$dynamicAnchor: name``, if any."""
        for resource in scope:
            node = self.dynamic_anchors.get((resource, name))
            if node is not None:
                return node, self.place_of(node, f"{resource}#{name}")
        return None


def _join(base: str, reference: str) -> str:
    if reference.startswith("#"):  # urljoin ignores fragments against a URN base
        return urldefrag(base)[0] + reference
    return urljoin(base, reference)


def _walk(root: Any, uri: str) -> Iterator[tuple[dict[str, Any], Place, str]]:
    """Yield each object subschema with its place and the URI of its resource."""
    stack: list[tuple[Any, str, tuple[str, ...]]] = [(root, uri, ())]
    while stack:
        node, resource, pointer = stack.pop()
        if not isinstance(node, dict):
            continue
        identifier = node.get("$id")
        if isinstance(identifier, str) and urldefrag(identifier)[0]:
            resource, pointer = urldefrag(_join(resource, identifier))[0], ()
        yield node, Place(f"{resource}#{format_pointer(pointer)}", resource), resource
        for keyword, value in node.items():
            kind = SUBSCHEMA_KEYWORDS.get(keyword)
            if kind == "map" and isinstance(value, dict):
                stack.extend((v, resource, (*pointer, keyword, k)) for k, v in value.items())
            elif kind in ("list", "schema-or-list") and isinstance(value, list):
                stack.extend(
                    (v, resource, (*pointer, keyword, str(i))) for i, v in enumerate(value)
                )
            elif kind is not None:
                stack.append((value, resource, (*pointer, keyword)))
