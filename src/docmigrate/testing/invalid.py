"""Documents that break exactly one rule of a schema, each tagged with the rule it breaks.

A valid document is drawn from the schema, then one place in it is chosen and changed so that
one keyword fails there: an ``enum`` value no one allowed, a ``required`` key removed, a key
that ``additionalProperties: false`` forbids, a value of the wrong ``type`` (a number where a
decimal string belongs, among others). Places under ``anyOf``/``oneOf``/``not`` and the
family's version label are left alone, so that exactly the tagged rule fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.family import Family
from docmigrate.pointers import Path, json_path, parse_pointer, resolve
from docmigrate.testing.strategies import documents

Rule = Literal["enum", "required", "additionalProperties", "type"]


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
    family: Family, version: str | None = None
) -> st.SearchStrategy[InvalidDocument]:
    """Return a strategy of documents of ``version`` (default current) that break one rule."""
    version = family.current if version is None else version
    root = family.schema(version)
    protected = tuple(family.version_pointer)

    @st.composite
    def build(draw: st.DrawFn) -> InvalidDocument:
        document = draw(documents(family, version))
        breaks = [
            b
            for place in _places(document, root, root, ())
            for b in _breaks(place, document, protected)
        ]
        if not breaks:
            # A schema with nothing to break in this document: draw another one.
            draw(st.nothing())
        rule, path, description, change = draw(st.sampled_from(breaks))
        broken = jsonio.clone(document)
        change(_at(broken, path))
        return InvalidDocument(broken, rule, path, description)

    return build()


def _places(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: Path
) -> Iterator[_Place]:
    """Walk ``value`` with its schema, yielding each place and the (merged) schema there."""
    schema = _merged(schema, root)
    if any(k in schema for k in ("anyOf", "oneOf", "not", "if")):
        return
    yield _Place(path, schema)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value and isinstance(sub, Mapping):
                yield from _places(value[name], sub, root, (*path, name))
    elif (
        isinstance(value, list)
        and isinstance(schema.get("items"), Mapping)
        and not schema.get("prefixItems")
    ):
        for index, item in enumerate(value):
            yield from _places(item, schema["items"], root, (*path, index))


_Break = tuple[Rule, Path, str, Any]


def _breaks(place: _Place, document: Any, protected: tuple[str, ...]) -> Iterator[_Break]:
    """Yield the ways one rule can be broken at ``place`` (each with the change to make)."""
    schema, path = place.schema, place.path
    if tuple(str(p) for p in path) == protected:
        return
    parent_path, key = path[:-1], path[-1] if path else None
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
        description, value = wrong
        yield ("type", path, description, _set(key, value))
    del parent_path, document


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
