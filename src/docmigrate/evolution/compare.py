"""Walking two versions of a schema side by side and listing what changed, with proofs.

Both schemas are read as Draft 2020-12 (older drafts are rewritten first) and walked together
from their roots, following ``$ref`` on each side (a pair of places met again on the way down
is a recursion already being compared). Each difference is a :class:`Change` at a schema
location and an instance path. A change carries what can be *proved* about it locally:

* ``widens``: every value the old subschema accepts, the new one accepts (old files still
  pass there: no reader breaks because of it);
* ``narrows``: every value the new subschema accepts, the old one accepts (new files still
  pass the old schema there: no writer breaks).

``None`` means "not proved", never "false": the verdict then comes from a counterexample
search (:mod:`docmigrate.evolution.search`) or stays undecided. A proof only counts where the
place is reached monotonically (not under ``not``, ``oneOf``, an ``if`` condition, or beside
``unevaluated*``); there the change is left to the search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from docmigrate.evolution.canonical import canonical_text, same
from docmigrate.pointers import json_path
from docmigrate.testing.generation import TYPE_KINDS
from docmigrate.testing.schema_index import SchemaIndex

OLD_URI = "urn:docmigrate:diff:old"
NEW_URI = "urn:docmigrate:diff:new"

Polarity = Literal["+", "-", "?"]
RouteStep = tuple[str, Any]
"""How the instance is reached: ``("prop", name)``, ``("index", i)``, ``("item", None)``,
``("other", names_to_avoid)``, or ``("loose", None)`` where no single value can be forced."""

ANNOTATIONS = frozenset(
    {
        "title", "description", "$comment", "examples", "deprecated", "readOnly",
        "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$defs",
        "definitions", "$id", "$anchor", "$dynamicAnchor", "$schema", "$vocabulary", "default",
    }
)  # fmt: skip
_COUNTS = {
    "minLength": "min", "maxLength": "max", "minItems": "min", "maxItems": "max",
    "minProperties": "min", "maxProperties": "max", "minContains": "min", "maxContains": "max",
}  # fmt: skip
_HANDLED = frozenset(
    {
        "type", "enum", "const", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
        "multipleOf", "pattern", "format", "required", "dependentRequired", "uniqueItems",
        "properties", "patternProperties", "additionalProperties", "prefixItems", "items",
        "contains", "propertyNames", "dependentSchemas", "allOf", "anyOf", "oneOf", "not",
        "if", "then", "else", "unevaluatedProperties", "unevaluatedItems", "$ref", *_COUNTS,
    }
)  # fmt: skip
_ALL_KINDS = frozenset().union(*TYPE_KINDS.values())


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new schema, and what is proved about it."""

    kind: str
    """What changed: ``property-added``, ``type``, ``enum``, ``maximum``, ``pattern``..."""
    summary: str
    """The change in words."""
    old_location: str
    """JSON Pointer (``#/...``) of the place in the old schema."""
    new_location: str
    instance_path: str
    """Where in a document it applies (``$.runs[*].cost``)."""
    widens: bool | None
    """Proved: everything the old place accepted, the new one accepts (None: not proved)."""
    narrows: bool | None
    """Proved: everything the new place accepts, the old one accepted."""
    route: tuple[RouteStep, ...] = field(default=(), repr=False, compare=False)
    old_at: Any = field(default=True, repr=False, compare=False)
    """The old subschema at the instance location (a ``$ref`` to it, or a literal)."""
    new_at: Any = field(default=True, repr=False, compare=False)
    reader_hint: Any = field(default=None, repr=False, compare=False)
    """A constraint that old-valid, new-invalid values at the location tend to satisfy."""
    writer_hint: Any = field(default=None, repr=False, compare=False)
    polarity: Polarity = "+"
    details: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class _Where:
    """The state of the walk at one pair of subschemas."""

    old_pointer: str
    new_pointer: str
    path: tuple[str | int, ...]
    """Instance path for display; ``-1`` is "any item", ``"*"`` any other property."""
    route: tuple[RouteStep, ...]
    old_at: Any
    new_at: Any
    polarity: Polarity
    pairs: frozenset[tuple[str, str]] = frozenset()


class Comparison:
    """The side-by-side walk of two (2020-12) schemas; :meth:`changes` lists what differs."""

    def __init__(
        self,
        old: Any,
        new: Any,
        old_resources: Mapping[str, Any] | None = None,
        new_resources: Mapping[str, Any] | None = None,
    ) -> None:
        """Prepare to compare ``old`` and ``new``, each with the (2020-12) resources it reads."""
        self.old_index = SchemaIndex.build(old, OLD_URI, old_resources)
        self.new_index = SchemaIndex.build(new, NEW_URI, new_resources)
        self.old, self.new = old, new
        self._changes: list[Change] = []
        self._seen: dict[tuple[str, str, Polarity], list[int]] = {}

    def changes(self) -> list[Change]:
        """Every change, in walk order (each schema place once)."""
        if not self._changes:
            start = _Where(
                f"{OLD_URI}#",
                f"{NEW_URI}#",
                (),
                (),
                {"$ref": f"{OLD_URI}#"},
                {"$ref": f"{NEW_URI}#"},
                "+",
            )
            self._compare(self.old, self.new, start)
        return list(self._changes)

    # -- the walk ---------------------------------------------------------------------------

    def _add(self, where: _Where, kind: str, summary: str, **facts: Any) -> None:
        keyword = facts.pop("keyword", None)
        suffix = f"/{keyword}" if keyword else ""
        self._changes.append(
            Change(
                kind=kind,
                summary=summary,
                old_location=_short(where.old_pointer) + suffix,
                new_location=_short(where.new_pointer) + suffix,
                instance_path=_display(where.path),
                widens=facts.pop("widens", None),
                narrows=facts.pop("narrows", None),
                route=where.route,
                old_at=where.old_at,
                new_at=where.new_at,
                polarity=where.polarity,
                **facts,
            )
        )

    def _resolve(self, node: Any, pointer: str, index: SchemaIndex) -> tuple[Any, str, str | None]:
        """Follow ``$ref``s that stand alone; return the node, its place and any problem."""
        hops = 0
        while isinstance(node, dict) and "$ref" in node:
            assertive = [k for k in node if k not in ANNOTATIONS and k != "$ref"]
            if assertive:
                return node, pointer, None  # compared keyword by keyword, $ref included
            base = index.place_of(node, pointer).base
            found = index.resolve(base, node["$ref"])
            if found is None:
                return (
                    node,
                    pointer,
                    f"$ref {node['$ref']!r} resolves nowhere (schema or resources)",
                )
            node, place = found
            pointer = place.where
            hops += 1
            if hops > 100:
                return node, pointer, "$ref chain does not end"
        return node, pointer, None

    def _compare(self, old: Any, new: Any, where: _Where) -> None:
        old, old_pointer, old_problem = self._resolve(old, where.old_pointer, self.old_index)
        new, new_pointer, new_problem = self._resolve(new, where.new_pointer, self.new_index)
        where = replace(where, old_pointer=old_pointer, new_pointer=new_pointer)
        if old_problem or new_problem:
            self._add(where, "ref", f"cannot compare: {old_problem or new_problem}")
            return
        pair = (old_pointer, new_pointer)
        if pair in where.pairs:
            return  # recursion: this pair is already being compared further up
        key = (old_pointer, new_pointer, where.polarity)
        if key in self._seen:
            return  # the same places reached again (a shared $defs entry): reported once
        first = len(self._changes)
        where = replace(where, pairs=where.pairs | {pair})
        if _plainly_same(old, new):
            self._seen[key] = []
            return
        self._compare_nodes(old, new, where)
        self._seen[key] = list(range(first, len(self._changes)))

    def _compare_nodes(self, old: Any, new: Any, where: _Where) -> None:
        if isinstance(old, bool) or isinstance(new, bool):
            self._booleans(old, new, where)
            return
        if not isinstance(old, dict) or not isinstance(new, dict):
            self._add(where, "keyword", "a subschema is not an object or a boolean")
            return
        if any(k in s for s in (old, new) for k in ("unevaluatedProperties", "unevaluatedItems")):
            where = replace(where, polarity="?")  # what is "evaluated" depends on everything
        self._refs(old, new, where)
        self._types(old, new, where)
        self._values(old, new, where)
        self._bounds(old, new, where)
        for keyword in _COUNTS:
            self._count(old, new, where, keyword)
        self._multiple_of(old, new, where)
        for keyword in ("pattern", "format"):
            self._string_rule(old, new, where, keyword)
        self._unique_items(old, new, where)
        self._properties(old, new, where)
        self._items(old, new, where)
        self._applicators(old, new, where)
        self._others(old, new, where)

    # -- booleans, references, unknown keywords -----------------------------------------------

    def _booleans(self, old: Any, new: Any, where: _Where) -> None:
        def words(schema: Any) -> str:
            if schema is True or schema == {}:
                return "anything"
            if schema is False:
                return "nothing"
            return "the values its schema describes"

        self._add(
            where,
            "boolean",
            f"accepted {words(old)}, now accepts {words(new)}",
            widens=True if (new is True or old is False) else None,
            narrows=True if (old is True or new is False) else None,
            reader_hint=None,
        )

    def _refs(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        if "$ref" not in old and "$ref" not in new:
            return
        old_target = self._target(old, where.old_pointer, self.old_index)
        new_target = self._target(new, where.new_pointer, self.new_index)
        if old_target is None or new_target is None:
            if "$ref" in old and "$ref" in new:
                self._compare(
                    {"$ref": old["$ref"]},
                    {"$ref": new["$ref"]},
                    replace(where, old_pointer=where.old_pointer, new_pointer=where.new_pointer),
                )
                return
            self._add(
                where,
                "ref",
                "a $ref beside other keywords was added or removed",
                keyword="$ref",
                widens=True if "$ref" not in new else None,
                narrows=True if "$ref" not in old else None,
            )
            return
        self._compare({"$ref": old["$ref"]}, {"$ref": new["$ref"]}, where)

    @staticmethod
    def _target(node: dict[str, Any], pointer: str, index: SchemaIndex) -> Any:
        if "$ref" not in node:
            return None
        return index.resolve(index.place_of(node, pointer).base, node["$ref"])

    def _others(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        for keyword in sorted(set(old) | set(new)):
            if keyword in _HANDLED:
                continue
            if keyword == "default":
                if not same(old.get(keyword), new.get(keyword)):
                    self._add(
                        where,
                        "default",
                        _default_words(old, new),
                        keyword=keyword,
                        widens=True,
                        narrows=True,
                    )
                continue
            if keyword in ANNOTATIONS:
                continue
            if not same(old.get(keyword), new.get(keyword)):
                self._add(
                    where,
                    "keyword",
                    f"keyword {keyword!r} changed: docmigrate does not compare it",
                    keyword=keyword,
                )

    # -- assertions on values -------------------------------------------------------------------

    def _types(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        if same(old.get("type"), new.get("type")):
            return
        old_kinds, new_kinds = _kinds(old.get("type")), _kinds(new.get("type"))
        gone, gained = old_kinds - new_kinds, new_kinds - old_kinds
        if not gone and not gained:
            return
        self._add(
            where,
            "type",
            f"type {_type_words(old.get('type'))} became {_type_words(new.get('type'))}",
            keyword="type",
            widens=not gone or None,
            narrows=not gained or None,
            reader_hint=_type_hint(gone),
            writer_hint=_type_hint(gained),
        )

    def _values(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_values, new_values = _allowed(old), _allowed(new)
        if old_values is None and new_values is None:
            return
        keyword = "const" if "const" in old or "const" in new else "enum"
        if old_values is not None and new_values is not None:
            gone = [v for v in old_values if not any(same(v, w) for w in new_values)]
            gained = [v for v in new_values if not any(same(v, w) for w in old_values)]
            if not gone and not gained:
                return
            words = []
            if gained:
                words.append(f"now also allows {_values_words(gained)}")
            if gone:
                words.append(f"no longer allows {_values_words(gone)}")
            self._add(
                where,
                keyword,
                f"{keyword} " + " and ".join(words),
                keyword=keyword,
                widens=not gone or None,
                narrows=not gained or None,
                reader_hint={"enum": gone} if gone else None,
                writer_hint={"enum": gained} if gained else None,
            )
        elif old_values is None:
            self._add(
                where,
                keyword,
                f"{keyword} added: only {_values_words(new_values or [])} allowed now",
                keyword=keyword,
                narrows=True,
                reader_hint={"not": {"enum": new_values}},
            )
        else:
            self._add(
                where,
                keyword,
                f"{keyword} removed: other values than {_values_words(old_values)} allowed now",
                keyword=keyword,
                widens=True,
                writer_hint={"not": {"enum": old_values}},
            )

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        for side in ("minimum", "maximum"):
            old_bound, new_bound = _bound(old, side), _bound(new, side)
            if old_bound == new_bound:
                continue
            lower = side == "minimum"
            self._add(
                where,
                side,
                f"{'lower' if lower else 'upper'} bound {_bound_words(old_bound, lower)} became "
                f"{_bound_words(new_bound, lower)}",
                keyword=_bound_keyword(new, old, side),
                widens=_looser(new_bound, old_bound, lower) or None,
                narrows=_looser(old_bound, new_bound, lower) or None,
                reader_hint=_beyond(new_bound, lower),
                writer_hint=_beyond(old_bound, lower),
            )

    def _count(self, old: dict[str, Any], new: dict[str, Any], where: _Where, keyword: str) -> None:
        old_value, new_value = old.get(keyword), new.get(keyword)
        if same(old_value, new_value):
            return
        is_min = _COUNTS[keyword] == "min"
        none = 0 if is_min else None

        def looser(first: Any, second: Any) -> bool:
            first = none if first is None else first
            second = none if second is None else second
            if is_min:
                return bool(first <= second)
            return first is None or (second is not None and first >= second)

        self._add(
            where,
            keyword,
            f"{keyword} {_show(old_value)} became {_show(new_value)}",
            keyword=keyword,
            widens=looser(new_value, old_value) or None,
            narrows=looser(old_value, new_value) or None,
            reader_hint=_outside_count(keyword, new_value),
            writer_hint=_outside_count(keyword, old_value),
        )

    def _multiple_of(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_value, new_value = old.get("multipleOf"), new.get("multipleOf")
        if same(old_value, new_value):
            return
        self._add(
            where,
            "multipleOf",
            f"multipleOf {_show(old_value)} became {_show(new_value)}",
            keyword="multipleOf",
            widens=_divides(new_value, old_value) or None,
            narrows=_divides(old_value, new_value) or None,
            reader_hint={"not": {"multipleOf": new_value}} if new_value is not None else None,
            writer_hint={"not": {"multipleOf": old_value}} if old_value is not None else None,
        )

    def _string_rule(
        self, old: dict[str, Any], new: dict[str, Any], where: _Where, keyword: str
    ) -> None:
        old_value, new_value = old.get(keyword), new.get(keyword)
        if old_value == new_value:
            return
        if old_value is None:
            words = f"{keyword} {new_value!r} added"
        elif new_value is None:
            words = f"{keyword} {old_value!r} removed"
        else:
            words = f"{keyword} {old_value!r} became {new_value!r}"
        self._add(
            where,
            keyword,
            words,
            keyword=keyword,
            widens=True if new_value is None else None,
            narrows=True if old_value is None else None,
            reader_hint={"not": {keyword: new_value}} if new_value is not None else None,
            writer_hint={"not": {keyword: old_value}} if old_value is not None else None,
        )

    def _unique_items(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_value, new_value = old.get("uniqueItems", False), new.get("uniqueItems", False)
        if old_value == new_value:
            return
        self._add(
            where,
            "uniqueItems",
            "items must now be unique" if new_value else "items may now repeat",
            keyword="uniqueItems",
            widens=True if not new_value else None,
            narrows=True if not old_value else None,
            reader_hint={"minItems": 2} if new_value else None,
            writer_hint={"minItems": 2} if old_value else None,
        )

    # -- objects ----------------------------------------------------------------------------------

    def _properties(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in [*old_props, *(n for n in new_props if n not in old_props)]:
            self._property(old, new, name, where)
        handled = set(old_props) | set(new_props)
        added = sorted((new_required - old_required) - handled)
        removed = sorted((old_required - new_required) - handled)
        if added or removed:
            words = []
            if added:
                words.append(f"{_names(added)} now required")
            if removed:
                words.append(f"{_names(removed)} no longer required")
            self._add(
                where,
                "required",
                "; ".join(words),
                keyword="required",
                widens=not added or None,
                narrows=not removed or None,
                reader_hint={"not": {"required": added[:1]}} if added else None,
                writer_hint={"not": {"required": removed[:1]}} if removed else None,
            )
        self._dependent_required(old, new, where)
        self._pattern_properties(old, new, where)
        old_other = old.get("additionalProperties", True)
        new_other = new.get("additionalProperties", True)
        if not _plainly_same(old_other, new_other):
            other = replace(
                where,
                old_pointer=f"{where.old_pointer}/additionalProperties",
                new_pointer=f"{where.new_pointer}/additionalProperties",
                path=(*where.path, "*"),
                route=(*where.route, ("other", tuple(sorted(handled)))),
                old_at=_at(old_other, where.old_pointer, "additionalProperties"),
                new_at=_at(new_other, where.new_pointer, "additionalProperties"),
            )
            self._compare(old_other, new_other, other)

    def _property(self, old: dict[str, Any], new: dict[str, Any], name: str, where: _Where) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        was_required = name in old.get("required", [])
        is_required = name in new.get("required", [])
        child = replace(
            where,
            path=(*where.path, name),
            route=(*where.route, ("prop", name)),
        )
        if name in old_props and name in new_props:
            child = replace(
                child,
                old_pointer=f"{where.old_pointer}/properties/{_escape(name)}",
                new_pointer=f"{where.new_pointer}/properties/{_escape(name)}",
                old_at=_at(old_props[name], where.old_pointer, "properties", name),
                new_at=_at(new_props[name], where.new_pointer, "properties", name),
            )
            if was_required != is_required:
                self._add(
                    where,
                    "required",
                    f"property {name!r} " + ("now required" if is_required else "now optional"),
                    keyword="required",
                    widens=not is_required or None,
                    narrows=not was_required or None,
                    reader_hint={"not": {"required": [name]}} if is_required else None,
                    writer_hint={"not": {"required": [name]}} if was_required else None,
                )
            self._compare(old_props[name], new_props[name], child)
            return
        old_schema = old_props.get(name, self._elsewhere(old, name))
        new_schema = new_props.get(name, self._elsewhere(new, name))
        if name in new_props:
            kind, required = "property-added", is_required
            default = _default_of(new_schema, self.new_index, where.new_pointer)
        else:
            kind, required = "property-removed", was_required
            default = _default_of(old_schema, self.old_index, where.old_pointer)
        subsumed_old = self.subsumes(old_schema, new_schema, where)
        subsumed_new = self.subsumes(new_schema, old_schema, where)
        widens = not (is_required and not was_required) and subsumed_old
        narrows = not (was_required and not is_required) and subsumed_new
        self._add(
            where,
            kind,
            _property_words(kind, name, required, default, old_schema, new_schema),
            keyword="properties",
            widens=widens or None,
            narrows=narrows or None,
            reader_hint=_presence_hint(name, is_required and not was_required),
            writer_hint=_presence_hint(name, was_required and not is_required),
            details={
                "name": name,
                "required": required,
                "default": default,
                "has_default": default is not _NO_DEFAULT,
            },
        )

    def _elsewhere(self, schema: dict[str, Any], name: str) -> Any:
        """What a property not listed in ``properties`` is validated by."""
        matching = [s for p, s in schema.get("patternProperties", {}).items() if _search(p, name)]
        if matching:
            return {"allOf": matching}
        return schema.get("additionalProperties", True)

    def subsumes(self, first: Any, second: Any, where: _Where) -> bool:
        """Prove that every value ``first`` (old side) accepts, ``second`` (new side) accepts."""
        if second is True or second == {} or first is False:
            return True
        probe = Comparison.__new__(Comparison)
        probe.old_index, probe.new_index = self.old_index, self.new_index
        probe.old, probe.new = self.old, self.new
        probe._changes, probe._seen = [], {}
        try:
            probe._compare(first, second, replace(where, polarity="+", pairs=frozenset()))
        except RecursionError:
            return False
        return all(change.widens for change in probe._changes)

    def _dependent_required(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_value, new_value = old.get("dependentRequired", {}), new.get("dependentRequired", {})
        if same(old_value, new_value):
            return
        widens = all(set(new_value.get(k, [])) <= set(v) for k, v in old_value.items()) and all(
            not v or k in old_value for k, v in new_value.items()
        )
        narrows = all(set(old_value.get(k, [])) <= set(v) for k, v in new_value.items()) and all(
            not v or k in new_value for k, v in old_value.items()
        )
        self._add(
            where,
            "dependentRequired",
            f"dependentRequired {_show(old_value)} became {_show(new_value)}",
            keyword="dependentRequired",
            widens=widens or None,
            narrows=narrows or None,
        )

    def _pattern_properties(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_value, new_value = old.get("patternProperties", {}), new.get("patternProperties", {})
        for pattern in [*old_value, *(p for p in new_value if p not in old_value)]:
            if pattern in old_value and pattern in new_value:
                child = replace(
                    where,
                    old_pointer=f"{where.old_pointer}/patternProperties/{_escape(pattern)}",
                    new_pointer=f"{where.new_pointer}/patternProperties/{_escape(pattern)}",
                    path=(*where.path, f"/{pattern}/"),
                    route=(*where.route, ("loose", None)),
                )
                self._compare(old_value[pattern], new_value[pattern], child)
            else:
                self._add(
                    where,
                    "patternProperties",
                    f"patternProperties {pattern!r} "
                    + ("added" if pattern in new_value else "removed"),
                    keyword="patternProperties",
                )

    # -- arrays --------------------------------------------------------------------------------

    def _items(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        old_rest, new_rest = old.get("items", True), new.get("items", True)
        longest = max(len(old_prefix), len(new_prefix))
        for index in range(longest):
            old_item, old_pointer = _nth(old_prefix, old_rest, index, where.old_pointer)
            new_item, new_pointer = _nth(new_prefix, new_rest, index, where.new_pointer)
            child = replace(
                where,
                old_pointer=old_pointer,
                new_pointer=new_pointer,
                path=(*where.path, index),
                route=(*where.route, ("index", index)),
                old_at=_ref_or(old_item, old_pointer),
                new_at=_ref_or(new_item, new_pointer),
            )
            self._compare(old_item, new_item, child)
        if not _plainly_same(old_rest, new_rest):
            tail = replace(
                where,
                old_pointer=f"{where.old_pointer}/items",
                new_pointer=f"{where.new_pointer}/items",
                path=(*where.path, -1),
                route=(*where.route, ("index", longest) if longest else ("item", None)),
                old_at=_at(old_rest, where.old_pointer, "items"),
                new_at=_at(new_rest, where.new_pointer, "items"),
            )
            self._compare(old_rest, new_rest, tail)

    # -- applicators ------------------------------------------------------------------------------

    def _applicators(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        self._schema_keyword(old, new, where, "contains", ("item", None), "+")
        self._schema_keyword(old, new, where, "propertyNames", ("loose", None), "+")
        self._schema_keyword(old, new, where, "not", None, "-")
        self._schema_keyword(old, new, where, "unevaluatedProperties", ("loose", None), "?")
        self._schema_keyword(old, new, where, "unevaluatedItems", ("loose", None), "?")
        self._conditional(old, new, where)
        self._dependent_schemas(old, new, where)
        branches: tuple[tuple[str, Polarity], ...] = (
            ("allOf", "+"),
            ("anyOf", "+"),
            ("oneOf", "?"),
        )
        for keyword, polarity in branches:
            self._branches(old, new, where, keyword, polarity)

    def _schema_keyword(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        where: _Where,
        keyword: str,
        step: RouteStep | None,
        polarity: Polarity,
    ) -> None:
        if keyword not in old and keyword not in new:
            return
        if keyword in old and keyword in new:
            child = replace(
                where,
                old_pointer=f"{where.old_pointer}/{keyword}",
                new_pointer=f"{where.new_pointer}/{keyword}",
                polarity=_combine(where.polarity, polarity),
            )
            if step is not None:
                child = replace(
                    child,
                    path=(*where.path, -1 if step[0] == "item" else f"<{keyword}>"),
                    route=(*where.route, step),
                    old_at=_at(old[keyword], where.old_pointer, keyword),
                    new_at=_at(new[keyword], where.new_pointer, keyword),
                )
            self._compare(old[keyword], new[keyword], child)
            return
        added = keyword in new
        self._add(
            where,
            keyword,
            f"{keyword} {'added' if added else 'removed'}",
            keyword=keyword,
            widens=True if not added and polarity != "?" else None,
            narrows=True if added and polarity != "?" else None,
        )

    def _conditional(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        if not any(k in s for s in (old, new) for k in ("if", "then", "else")):
            return
        if not _plainly_same(old.get("if"), new.get("if")):
            self._add(where, "if", "the if condition changed", keyword="if")
            return
        for keyword in ("then", "else"):
            self._schema_keyword(old, new, where, keyword, None, "+")

    def _dependent_schemas(self, old: dict[str, Any], new: dict[str, Any], where: _Where) -> None:
        old_value, new_value = old.get("dependentSchemas", {}), new.get("dependentSchemas", {})
        for name in [*old_value, *(n for n in new_value if n not in old_value)]:
            if name in old_value and name in new_value:
                child = replace(
                    where,
                    old_pointer=f"{where.old_pointer}/dependentSchemas/{_escape(name)}",
                    new_pointer=f"{where.new_pointer}/dependentSchemas/{_escape(name)}",
                )
                self._compare(old_value[name], new_value[name], child)
            else:
                added = name in new_value
                self._add(
                    where,
                    "dependentSchemas",
                    f"dependentSchemas for {name!r} {'added' if added else 'removed'}",
                    keyword="dependentSchemas",
                    widens=True if not added else None,
                    narrows=True if added else None,
                    reader_hint={"required": [name]} if added else None,
                    writer_hint={"required": [name]} if not added else None,
                )

    def _branches(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        where: _Where,
        keyword: str,
        polarity: Polarity,
    ) -> None:
        old_list, new_list = old.get(keyword), new.get(keyword)
        if old_list is None and new_list is None:
            return
        if old_list is not None and new_list is not None and len(old_list) == len(new_list):
            for index, (first, second) in enumerate(zip(old_list, new_list, strict=True)):
                child = replace(
                    where,
                    old_pointer=f"{where.old_pointer}/{keyword}/{index}",
                    new_pointer=f"{where.new_pointer}/{keyword}/{index}",
                    polarity=_combine(where.polarity, polarity),
                )
                self._compare(first, second, child)
            return
        old_list, new_list = old_list or [], new_list or []
        gained = [b for b in new_list if not any(_plainly_same(b, o) for o in old_list)]
        gone = [b for b in old_list if not any(_plainly_same(b, n) for n in new_list)]
        conjunction = keyword == "allOf"
        widens = narrows = None
        if polarity != "?" and where.polarity == "+" and (not gained or not gone):
            if keyword == "anyOf" and (not old_list or not new_list):
                widens, narrows = (True, None) if not new_list else (None, True)
            elif conjunction:
                widens, narrows = (True, None) if not gained else (None, True)
            else:
                widens, narrows = (True, None) if not gone else (None, True)
        self._add(
            where,
            keyword,
            f"{keyword}: {len(gained)} branch(es) added, {len(gone)} removed",
            keyword=keyword,
            widens=widens,
            narrows=narrows,
        )


# -- helpers -------------------------------------------------------------------------------------

_NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "<no default>"})()


def _plainly_same(old: Any, new: Any) -> bool:
    """Equal text is equal meaning only without references (their targets may differ)."""
    text = canonical_text(old)
    return text == canonical_text(new) and '"$ref"' not in text and '"$dynamicRef"' not in text


def _combine(outer: Polarity, inner: Polarity) -> Polarity:
    if "?" in (outer, inner):
        return "?"
    return "+" if outer == inner else "-"


def _short(where: str) -> str:
    for uri in (OLD_URI, NEW_URI):
        if where.startswith(uri):
            return where[len(uri) :] or "#"
    return where


def _display(path: tuple[str | int, ...]) -> str:
    parts = ["$"]
    for part in path:
        if part == -1:
            parts.append("[*]")
        elif part == "*":
            parts.append(".*")
        elif isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(json_path([part])[1:])
    return "".join(parts)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(value: Any, pointer: str, *tokens: str) -> Any:
    """The subschema at ``pointer``/tokens as something to embed: a ``$ref``, or a boolean."""
    if isinstance(value, bool):
        return value
    return {"$ref": pointer + "".join(f"/{_escape(t)}" for t in tokens)}


def _ref_or(value: Any, pointer: str) -> Any:
    return value if isinstance(value, bool) else {"$ref": pointer}


def _nth(prefix: list[Any], rest: Any, index: int, pointer: str) -> tuple[Any, str]:
    if index < len(prefix):
        return prefix[index], f"{pointer}/prefixItems/{index}"
    return rest, f"{pointer}/items"


def _kinds(declared: Any) -> frozenset[str]:
    if declared is None:
        return _ALL_KINDS
    names = [declared] if isinstance(declared, str) else declared
    return (
        frozenset().union(*(TYPE_KINDS.get(n, frozenset()) for n in names))
        if names
        else frozenset()
    )


def _type_words(declared: Any) -> str:
    if declared is None:
        return "(any)"
    names = [declared] if isinstance(declared, str) else declared
    return "|".join(names)


def _type_hint(kinds: frozenset[str]) -> Any:
    if not kinds:
        return None
    names = sorted({"number" if k == "fraction" else k for k in kinds})
    hint: dict[str, Any] = {"type": names}
    if "fraction" in kinds and "integer" not in kinds:
        hint["not"] = {"type": "integer"}
    return hint


def _allowed(schema: dict[str, Any]) -> list[Any] | None:
    values: list[Any] | None = None
    if "enum" in schema and isinstance(schema["enum"], list):
        values = list(schema["enum"])
    if "const" in schema:
        const = schema["const"]
        values = [const] if values is None else [v for v in values if same(v, const)]
    return values


def _values_words(values: list[Any]) -> str:
    shown = ", ".join(canonical_text(v) for v in values[:6])
    return shown + (f" (+{len(values) - 6} more)" if len(values) > 6 else "")


Bound = tuple[Decimal, bool] | None


def _bound(schema: dict[str, Any], side: str) -> Bound:
    inclusive, exclusive = schema.get(side), schema.get(f"exclusive{side.title()}")
    found: list[tuple[Decimal, bool]] = []
    if _is_number(inclusive):
        found.append((Decimal(str(inclusive)), False))
    if _is_number(exclusive):
        found.append((Decimal(str(exclusive)), True))
    if not found:
        return None
    if side == "minimum":
        return max(found, key=lambda b: (b[0], b[1]))
    return min(found, key=lambda b: (b[0], not b[1]))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _looser(first: Bound, second: Bound, lower: bool) -> bool:
    """Tell whether bound ``first`` lets through everything ``second`` does."""
    if first is None:
        return True
    if second is None:
        return False
    if first[0] == second[0]:
        return not first[1] or second[1]
    return first[0] < second[0] if lower else first[0] > second[0]


def _beyond(bound: Bound, lower: bool) -> Any:
    """A constraint satisfied exactly by numbers that break ``bound``."""
    if bound is None:
        return None
    value, exclusive = bound
    if lower:
        return {"type": "number", ("maximum" if exclusive else "exclusiveMaximum"): value}
    return {"type": "number", ("minimum" if exclusive else "exclusiveMinimum"): value}


def _bound_words(bound: Bound, lower: bool) -> str:
    if bound is None:
        return "(none)"
    sign = (">" if lower else "<") + ("" if bound[1] else "=")
    return f"{sign} {bound[0]}"


def _bound_keyword(new: dict[str, Any], old: dict[str, Any], side: str) -> str:
    exclusive = f"exclusive{side.title()}"
    return exclusive if exclusive in new or (exclusive in old and side not in new) else side


def _outside_count(keyword: str, value: Any) -> Any:
    if value is None:
        return None
    counterpart = {
        "minLength": ("maxLength", -1), "maxLength": ("minLength", 1),
        "minItems": ("maxItems", -1), "maxItems": ("minItems", 1),
        "minProperties": ("maxProperties", -1), "maxProperties": ("minProperties", 1),
    }.get(keyword)  # fmt: skip
    if counterpart is None or value + counterpart[1] < 0:
        return None
    return {counterpart[0]: value + counterpart[1]}


def _divides(divisor: Any, multiple: Any) -> bool:
    """Tell whether every multiple of ``multiple`` is a multiple of ``divisor``."""
    if divisor is None:
        return True
    if multiple is None:
        return False
    quotient = Decimal(str(multiple)) / Decimal(str(divisor))
    return quotient == quotient.to_integral_value()


def _show(value: Any) -> str:
    return "(none)" if value is None else canonical_text(value)


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _search(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def _presence_hint(name: str, forbid: bool) -> Any:
    return {"not": {"required": [name]}} if forbid else {"required": [name]}


def _default_of(schema: Any, index: SchemaIndex, pointer: str) -> Any:
    seen = 0
    while isinstance(schema, dict) and "default" not in schema and "$ref" in schema and seen < 50:
        found = index.resolve(index.place_of(schema, pointer).base, schema["$ref"])
        if found is None:
            break
        schema = found[0]
        seen += 1
    if isinstance(schema, dict) and "default" in schema:
        return schema["default"]
    return _NO_DEFAULT


def _default_words(old: dict[str, Any], new: dict[str, Any]) -> str:
    if "default" not in old:
        return f"default {canonical_text(new['default'])} added (validation unchanged)"
    if "default" not in new:
        return f"default {canonical_text(old['default'])} removed (validation unchanged)"
    return (
        f"default {canonical_text(old['default'])} became {canonical_text(new['default'])} "
        "(validation unchanged; steps that read defaults change)"
    )


def _property_words(kind: str, name: str, required: bool, default: Any, old: Any, new: Any) -> str:
    presence = "required" if required else "optional"
    with_default = (
        f", default {canonical_text(default)}" if default is not _NO_DEFAULT else ", no default"
    )
    if kind == "property-added":
        where = "old files never had it" if old is False else "old files may carry it unchecked"
        return f"property {name!r} added ({presence}{with_default}); {where}"
    if new is False:
        return f"property {name!r} removed ({presence}); it is now refused"
    return f"property {name!r} removed ({presence}); other values are now let through"


def iter_hints(change: Change, role: str) -> Iterator[Any]:
    """The local constraints worth trying first for a counterexample in ``role``."""
    hint = change.reader_hint if role == "reader" else change.writer_hint
    if hint is not None and change.polarity == "+":
        yield hint
