"""Validating documents against a family's schemas (JSON Schema Draft 4, 6, 7, 2019-09, 2020-12).

Two tiers, as in jsonschema: :func:`iter_errors` yields every problem as a
:class:`SchemaError`; :func:`validate` raises :class:`DocumentInvalidError` carrying them all,
best first. Formats are asserted, regular expressions follow ECMA-262 (a ``$`` does not match
before a trailing newline), and ``$ref`` resolves only inside the schema and the family's
schema resources (:mod:`docmigrate.resources`): the validator is built offline, so no
network access is ever attempted. A schema's ``$schema`` names its draft
(:data:`DRAFTS`); without one it is read as Draft 2020-12.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from docmigrate.exceptions import DocumentInvalidError
from docmigrate.pointers import Path, format_pointer, json_path

if TYPE_CHECKING:
    from docmigrate.family import Family


@dataclass(frozen=True)
class Draft:
    """One JSON Schema draft docmigrate validates: its name, metaschema URI and validator."""

    name: str
    uri: str
    validator: Any = field(repr=False)
    registry_draft: Any = field(repr=False)


DRAFTS: tuple[Draft, ...] = (
    Draft(
        "4",
        "http://json-schema.org/draft-04/schema#",
        jsonschema_rs.Draft4Validator,
        jsonschema_rs.Draft4,
    ),
    Draft(
        "6",
        "http://json-schema.org/draft-06/schema#",
        jsonschema_rs.Draft6Validator,
        jsonschema_rs.Draft6,
    ),
    Draft(
        "7",
        "http://json-schema.org/draft-07/schema#",
        jsonschema_rs.Draft7Validator,
        jsonschema_rs.Draft7,
    ),
    Draft(
        "2019-09",
        "https://json-schema.org/draft/2019-09/schema",
        jsonschema_rs.Draft201909Validator,
        jsonschema_rs.Draft201909,
    ),
    Draft(
        "2020-12",
        "https://json-schema.org/draft/2020-12/schema",
        jsonschema_rs.Draft202012Validator,
        jsonschema_rs.Draft202012,
    ),
)
"""The drafts a family schema may declare with ``$schema``, oldest first."""
DEFAULT_DRAFT = DRAFTS[-1]


def find_draft(declared: Any) -> Draft | None:
    """Return the draft a ``$schema`` value names (with or without its empty fragment), or None."""
    if not isinstance(declared, str):
        return None
    wanted = declared.rstrip("#")
    return next((d for d in DRAFTS if d.uri.rstrip("#") == wanted), None)


def draft_of(schema: Any) -> Draft:
    """Return the draft of a (loaded, so valid) schema: its ``$schema``, else 2020-12."""
    if not isinstance(schema, Mapping) or "$schema" not in schema:
        return DEFAULT_DRAFT
    return find_draft(schema["$schema"]) or DEFAULT_DRAFT


# Errors under these keywords are guesses about which branch was meant: less helpful.
_WEAK_KEYWORDS = frozenset({"anyOf", "oneOf", "not", "if", "then", "else"})


@dataclass(frozen=True)
class SchemaError:
    """One way a document fails a schema."""

    path: Path
    """Where in the document (keys and indexes from the root)."""
    schema_path: tuple[str | int, ...]
    """Where in the schema: the keyword that failed is the last element."""
    message: str

    @property
    def json_path(self) -> str:
        """The document location as ``$.a[0].b``."""
        return json_path(self.path)

    @property
    def pointer(self) -> str:
        """The document location as a JSON Pointer."""
        return format_pointer(self.path)

    @property
    def keyword(self) -> str:
        """The schema keyword that failed (e.g. ``enum``, ``required``)."""
        for part in reversed(self.schema_path):
            if isinstance(part, str) and not part.isdigit():
                return part
        return ""


def compile_schema(
    schema: Mapping[str, Any], uri: str, resources: Mapping[str, Mapping[str, Any]] | None = None
) -> Any:
    """Build an offline, format-asserting validator for ``schema`` known as ``uri``.

    ``resources`` are the other schema documents its references may reach, by retrieval URI.
    Raises whatever jsonschema_rs raises when it cannot build one (a ``ValueError``: an
    invalid regular expression, a ``$ref`` that resolves nowhere, ...); the family loader
    builds every validator once, so a loaded family never fails here.
    """
    draft = draft_of(schema)
    registry = schema_registry(schema, uri, resources)
    return _build(dict(schema), registry, base=uri, draft=draft)


def schema_registry(
    schema: Mapping[str, Any], uri: str, resources: Mapping[str, Mapping[str, Any]] | None = None
) -> Any:
    """Return a jsonschema_rs registry that knows ``schema`` and ``resources`` (by URI).

    Their embedded ``$id``s are known too. A resource without ``$schema`` is read as the
    draft of ``schema``, the one referring to it.
    """
    documents = [(uri, dict(schema))]
    documents += [(u, dict(d)) for u, d in (resources or {}).items() if u != uri]
    return jsonschema_rs.Registry(documents, draft=draft_of(schema).registry_draft)


def compile_reference(target: str, registry: Any, draft: Draft = DEFAULT_DRAFT) -> Any:
    """Build a validator for the schema at the absolute URI ``target`` (``uri#/pointer``).

    It validates against that part of a registered schema as the rest of the schema sees it.
    """
    # No base URI: the one-keyword wrapper must not shadow the schema registered under it.
    # The wrapper is read as 2020-12 (a $ref beside nothing means the same in every draft);
    # the schema it points into keeps the draft it was registered with.
    return _build({"$ref": target}, registry, base=None, draft=DEFAULT_DRAFT)


def _build(schema: dict[str, Any], registry: Any, *, base: str | None, draft: Draft) -> Any:
    options: dict[str, Any] = {} if base is None else {"base_uri": base}
    return draft.validator(
        schema,
        validate_formats=True,
        ignore_unknown_formats=True,
        registry=registry,
        offline=True,
        **options,
    )


@functools.cache
def _metaschema(draft: Draft) -> Any:
    # Formats asserted, so that a $ref or $id that is not a URI reference, or a pattern that
    # is not a regular expression, is found with its place (building the validator would
    # also refuse them, without saying where).
    return draft.validator({"$ref": draft.uri}, validate_formats=True, offline=True)


def metaschema_errors(schema: Any) -> list[SchemaError]:
    """Return how ``schema`` fails its draft's metaschema (formats asserted), or []."""
    return [_to_schema_error(error) for error in _metaschema(draft_of(schema)).iter_errors(schema)]


def errors_under(validator: Any, instance: Any) -> list[SchemaError]:
    """Return every error of ``instance`` under a compiled ``validator``, best first."""
    return sort_errors(_to_schema_error(error) for error in validator.iter_errors(instance))


def _to_schema_error(error: Any) -> SchemaError:
    return SchemaError(
        path=tuple(error.instance_path),
        schema_path=tuple(error.schema_path),
        message=error_message(error),
    )


def error_message(error: Any) -> str:
    """The validator's message, with every allowed value spelled out for ``enum``."""
    options = getattr(error.kind, "options", None)
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Enum) and isinstance(options, list):
        allowed = ", ".join(_show(option) for option in options)
        return f"{_show(error.instance)} is not one of {allowed}"
    return str(error.message)


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def iter_errors(document: Any, family: Family, version: str) -> Iterator[SchemaError]:
    """Yield every error of ``document`` against ``family``'s schema for ``version``."""
    validator = family.validator(version)
    for error in validator.iter_errors(document):
        yield _to_schema_error(error)


def is_valid(document: Any, family: Family, version: str) -> bool:
    """Tell whether ``document`` is valid under ``family``'s schema for ``version``."""
    return bool(family.validator(version).is_valid(document))


def relevance(error: SchemaError) -> tuple[bool, int]:
    """Sort key, best first: strong keywords before weak ones, shallow before deep."""
    weak = any(part in _WEAK_KEYWORDS for part in error.schema_path)
    return (weak, len(error.path))


def sort_errors(errors: Iterable[SchemaError]) -> list[SchemaError]:
    """Order errors best first, keeping document order among equally relevant ones."""
    return sorted(errors, key=relevance)


def best_match(errors: Iterable[SchemaError]) -> SchemaError | None:
    """Return the most relevant error, or None when there is none."""
    ordered = sort_errors(errors)
    return ordered[0] if ordered else None


def validate(document: Any, family: Family, version: str) -> None:
    """Raise :class:`DocumentInvalidError` (all errors, best first) if ``document`` is invalid."""
    if is_valid(document, family, version):
        return
    raise DocumentInvalidError(
        family.name, version, sort_errors(iter_errors(document, family, version))
    )
