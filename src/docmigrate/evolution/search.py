"""Counterexample search: a concrete document that one schema accepts and the other refuses.

The project's own generator (:mod:`docmigrate.testing.generation`) draws from a *focus*
schema built for one change: the whole source schema, plus a route that forces the changed
place to exist (a required property, an item), plus, at that place, the source subschema and
a hint that leans towards what the target refuses (a value past the new bound, a missing
newly required property), then the plain negation of the target subschema, then the whole
target negated. Every candidate is confirmed by the real validators (jsonschema-rs, built
from the schemas as written); Hypothesis shrinks a confirmed one to a small document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from docmigrate.evolution.compare import NEW_URI, OLD_URI, Change, RouteStep, iter_hints
from docmigrate.exceptions import DocmigrateError
from docmigrate.testing.normalize import DRAFT_2020_12, resources_in_2020_12, to_2020_12
from docmigrate.validation import compile_schema, find_draft

FOCUS_URI = "urn:docmigrate:diff:focus"
NOT_FOUND: Any = type("NotFound", (), {"__repr__": lambda self: "<not found>"})()
"""What :func:`find_counterexample` returns when no counterexample was found."""


class IncomparableError(DocmigrateError):
    """Two schemas that cannot be compared (an unknown draft, a reference left unresolved)."""


@dataclass(frozen=True)
class Sides:
    """Both schemas prepared for a search: validators as written, 2020-12 forms to draw from."""

    old_validator: Any
    new_validator: Any
    old: Any
    """The old schema in 2020-12, known as :data:`OLD_URI`."""
    new: Any
    old_resources: Mapping[str, Any] = field(default_factory=dict)
    """The schema resources as the old schema reads them, in 2020-12, by retrieval URI."""
    new_resources: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        old: Mapping[str, Any] | bool,
        new: Mapping[str, Any] | bool,
        resources: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Sides:
        """Prepare ``old`` and ``new``; :class:`IncomparableError` says why it cannot be done.

        ``resources`` are the schema documents (a family's) their references may reach.
        """
        resources = resources or {}
        return cls(
            _validator(old, OLD_URI, "old", resources),
            _validator(new, NEW_URI, "new", resources),
            _normalised(old, OLD_URI, "old"),
            _normalised(new, NEW_URI, "new"),
            resources_in_2020_12(resources, _declared_draft(old, "old")),
            resources_in_2020_12(resources, _declared_draft(new, "new")),
        )

    def resources_of(self, role: str) -> Mapping[str, Any]:
        """The resources as the source schema of ``role`` (reader: old, writer: new) reads them."""
        return self.old_resources if role == "reader" else self.new_resources

    def breaks(self, value: Any, role: str) -> bool:
        """Tell whether ``value`` is a counterexample for ``role`` (reader or writer)."""
        source, target = self._validators(role)
        return bool(source.is_valid(value)) and not bool(target.is_valid(value))

    def _validators(self, role: str) -> tuple[Any, Any]:
        if role == "reader":
            return self.old_validator, self.new_validator
        return self.new_validator, self.old_validator


def _declared_draft(schema: Any, side: str) -> str:
    if not isinstance(schema, Mapping) or "$schema" not in schema:
        return "2020-12"
    draft = find_draft(schema["$schema"])
    if draft is None:
        raise IncomparableError(
            f"the {side} schema declares an unknown draft {schema['$schema']!r}"
        )
    return draft.name


def _validator(schema: Any, uri: str, side: str, resources: Mapping[str, Any]) -> Any:
    _declared_draft(schema, side)
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    try:
        return compile_schema(schema, uri, resources)
    except Exception as error:  # jsonschema_rs refuses: a remote or broken $ref, a bad pattern
        message = getattr(error, "message", None) or str(error).splitlines()[0]
        raise IncomparableError(
            f"the {side} schema cannot be compiled offline: {message}"
        ) from None


def _normalised(schema: Any, uri: str, side: str) -> Any:
    if isinstance(schema, bool):
        return schema
    rewritten = dict(to_2020_12(dict(schema), _declared_draft(schema, side)))
    rewritten["$id"] = uri
    rewritten["$schema"] = DRAFT_2020_12
    return rewritten


def focus_schema(sides: Sides, change: Change | None, role: str, leaf: Any) -> dict[str, Any]:
    """The schema to draw from: the source schema, and ``leaf`` at the change's place."""
    source_uri = OLD_URI if role == "reader" else NEW_URI
    parts: list[Any] = [{"$ref": source_uri}]
    if change is not None:
        parts.append(_route(change.route, leaf))
    else:
        parts.append(leaf)
    return {
        "$schema": DRAFT_2020_12,
        "$defs": {"old": sides.old, "new": sides.new},
        "allOf": parts,
    }


def _route(route: tuple[RouteStep, ...], leaf: Any) -> Any:
    """Wrap ``leaf`` so that the value at the end of ``route`` exists and satisfies it."""
    schema = leaf
    for kind, argument in reversed(route):
        if kind == "prop":
            schema = {"type": "object", "required": [argument], "properties": {argument: schema}}
        elif kind == "other":
            name = _fresh_name(argument)
            schema = {"type": "object", "required": [name], "properties": {name: schema}}
        elif kind == "index":
            schema = {
                "type": "array",
                "minItems": argument + 1,
                "prefixItems": [True] * argument + [schema],
            }
        elif kind == "item":
            schema = {"type": "array", "contains": schema}
        else:
            return True  # a place no single value can be forced to: draw freely
    return schema


def _fresh_name(taken: tuple[str, ...]) -> str:
    name, counter = "extra", 0
    while name in taken:
        counter += 1
        name = f"extra{counter}"
    return name


def candidate_leaves(change: Change, role: str) -> list[Any]:
    """The constraints tried at the change's place, most promising first."""
    same_side, other_side = (
        (change.old_at, change.new_at) if role == "reader" else (change.new_at, change.old_at)
    )
    leaves = [{"allOf": [same_side, hint]} for hint in iter_hints(change, role)]
    if change.polarity == "+":
        leaves.append({"allOf": [same_side], "not": other_side})
    return leaves


def find_counterexample(sides: Sides, change: Change | None, role: str, *, examples: int) -> Any:
    """Return a shrunk counterexample for ``role`` at ``change`` (None: anywhere), or NOT_FOUND."""
    if change is None:
        other = NEW_URI if role == "reader" else OLD_URI
        schemas = [focus_schema(sides, None, role, {"not": {"$ref": other}})]
    else:
        schemas = [
            focus_schema(sides, change, role, leaf) for leaf in candidate_leaves(change, role)
        ]
    for schema in schemas:
        found = _draw(sides, schema, role, examples)
        if found is not NOT_FOUND:
            return found
    return NOT_FOUND


def _draw(sides: Sides, schema: dict[str, Any], role: str, examples: int) -> Any:
    from hypothesis import HealthCheck, Phase, Verbosity, find, settings
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    from docmigrate.testing.generation import Generator

    try:
        strategy = Generator(schema, FOCUS_URI, resources=sides.resources_of(role)).strategy()
        return find(
            strategy,
            lambda value: sides.breaks(value, role),
            settings=settings(
                max_examples=examples,
                database=None,
                deadline=None,
                verbosity=Verbosity.quiet,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            ),
        )
    except (NoSuchExample, Unsatisfiable):
        return NOT_FOUND
    except (DocmigrateError, ValueError, RecursionError):
        return NOT_FOUND  # a pattern that cannot be drawn, a place that cannot be built
