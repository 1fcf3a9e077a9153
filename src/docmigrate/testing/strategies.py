"""Hypothesis strategies that draw documents from a family's schemas.

:func:`documents` builds, once per family and version, a strategy that constructs documents
valid under the version's schema (see :mod:`docmigrate.testing.generation` for how each
keyword is honoured), whatever draft the schema declares (4, 6, 7, 2019-09 or 2020-12). The
family's real validator then filters what is drawn, as a safety net: a document it refuses
is never handed to a law.

hypothesis-jsonschema is not used: its last release (0.23.1) fails with current Hypothesis
(≥ 6.170.10) and knows neither Draft 2020-12 nor the ``uuid`` format.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from docmigrate.api import FamilyLike, resolve_family
from docmigrate.family import Family
from docmigrate.resources import metaschemas, reach
from docmigrate.testing.generation import MAX_ITEMS, Generator, JSONStrategy
from docmigrate.testing.normalize import resources_in_2020_12, to_2020_12
from docmigrate.validation import compile_schema, draft_of, is_valid

_BUILT: weakref.WeakKeyDictionary[Family, dict[str, JSONStrategy]] = weakref.WeakKeyDictionary()
_SCHEMA_URI = "urn:docmigrate:drawn"


def documents(family: FamilyLike, version: str | None = None) -> JSONStrategy:
    """Return a strategy of documents valid under ``family``'s schema for ``version``.

    ``family`` is a :class:`Family`, a family folder or a family name (see
    :func:`docmigrate.resolve_family`). ``version`` defaults to the current version. Objects
    keep the schema's property order, as files written by an application usually do. The
    strategy is built once per family and version and shared by every caller.
    """
    family = resolve_family(family)
    version = family.current if version is None else version
    built = _BUILT.setdefault(family, {})
    if version not in built:
        schema = family.schema(version)
        draft = draft_of(schema).name
        generator = Generator(
            to_2020_12(schema, draft),
            family.schema_uris[version],
            resources=resources_in_2020_12(family.resources, draft),
        )
        built[version] = generator.strategy().filter(
            lambda document: is_valid(document, family, version)
        )
    return built[version]


def from_schema(schema: Mapping[str, Any] | bool) -> JSONStrategy:
    """Return a strategy of values valid under ``schema`` (any draft, references inside it).

    References may also name a draft's metaschema. Like :func:`documents`, every drawn value
    passes a validator built from ``schema``.
    """
    if isinstance(schema, bool):
        return Generator(schema, _SCHEMA_URI).strategy()
    draft = draft_of(schema).name
    reached, _ = reach(schema, _SCHEMA_URI, metaschemas(), draft == "4")
    resources = {uri: resource.document for uri, resource in reached.items()}
    validator = compile_schema(schema, _SCHEMA_URI, resources)
    generator = Generator(
        to_2020_12(dict(schema), draft),
        _SCHEMA_URI,
        resources=resources_in_2020_12(resources, draft),
    )
    return generator.strategy().filter(lambda value: bool(validator.is_valid(value)))


__all__ = ["MAX_ITEMS", "documents", "from_schema"]
