"""The one-call Python API: read any version of a document and get it at the version you need.

An application's importer calls :func:`load` on whatever file a user hands it (an export of
any older release) and works with the current version only::

    document = docmigrate.load("backup.json", family="families/full_backup")
    document.value["ingredients"]        # at the family's current version
    document.source_version, document.steps, document.position(("ingredients", 3))

Errors are the typed exceptions of :mod:`docmigrate.exceptions` (all :class:`DocmigrateError`);
a file that cannot be read raises the ``OSError`` Python gives.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.family import Family
from docmigrate.loader import is_family_folder, load_family
from docmigrate.registry import Registry

FamilyLike = Family | str | os.PathLike[str]
"""A family object, the folder of a family (a path), or the name of a known family."""


@dataclass(frozen=True)
class Document:
    """A document read by :func:`load`: its value at ``version`` and where it came from."""

    value: Any
    """The document at ``version`` (exact JSON: ``int`` and ``Decimal`` numbers, no float)."""
    family: Family
    source_version: str
    """The version the input was at."""
    version: str
    """The version ``value`` is at (the family's current one unless ``to`` said otherwise)."""
    steps: tuple[str, ...]
    """The steps applied, as ``function (source -> target)``; empty when none were needed."""
    source: str
    """The file the document was read from, or ``<bytes>``."""
    _loaded: jsonio.LoadedDocument

    @property
    def changed(self) -> bool:
        """Tell whether any step ran."""
        return bool(self.steps)

    @property
    def original(self) -> Any:
        """The document as it was read, before any step."""
        return self._loaded.value

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Return the 1-based (line, column) of ``path`` in the input text (as read)."""
        return self._loaded.position(path)


def load(
    path_or_bytes: str | os.PathLike[str] | bytes,
    family: FamilyLike | None = None,
    to: str | None = None,
    *,
    registry: Registry | None = None,
    step_timeout: float | None = None,
) -> Document:
    """Read, detect, validate and upgrade one document; return it at ``to`` (default current).

    ``path_or_bytes`` is a file path (``str`` or path object) or the document's bytes.
    ``family`` is a :class:`Family`, a family folder or a family name; without it the family is
    detected among ``registry`` (default: :meth:`Registry.discover`, i.e. the built-in
    families, ``[tool.docmigrate]`` of ``./pyproject.toml`` and installed entry points).

    Raises :class:`~docmigrate.exceptions.JSONReadError`,
    :class:`~docmigrate.exceptions.DetectionError` (unknown family or version),
    :class:`~docmigrate.exceptions.DocumentInvalidError` (the input fails its own version's
    schema), :class:`~docmigrate.exceptions.MigrationError` (a step failed or produced an
    invalid document), :class:`~docmigrate.exceptions.FamilyError` for a broken family
    folder, and ``OSError`` for a file that cannot be read.
    """
    if isinstance(path_or_bytes, bytes | bytearray):
        loaded = jsonio.load_bytes(bytes(path_or_bytes), source="<bytes>")
    else:
        loaded = jsonio.load_path(path_or_bytes)
    if family is None:
        chosen = (registry or Registry.discover()).detect(loaded.value)
    else:
        chosen = resolve_family(family, registry=registry)
    from docmigrate.migrator import migrate  # loaded on first use (validate never needs it)

    result = migrate(loaded.value, chosen, to=to, step_timeout=step_timeout)
    return Document(
        value=result.document,
        family=chosen,
        source_version=result.source,
        version=result.target,
        steps=tuple(str(step.info) for step in result.plan),
        source=loaded.source,
        _loaded=loaded,
    )


def resolve_family(family: FamilyLike, *, registry: Registry | None = None) -> Family:
    """Return the family that ``family`` names: itself, the one in a folder, or one by name.

    A path (or a string naming an existing folder with a ``family.toml``) is loaded with
    :func:`~docmigrate.loader.load_family`; any other string is looked up by name in
    ``registry`` (default: :meth:`Registry.discover`), whose error lists the known names.
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, os.PathLike) or is_family_folder(Path(family)):
        return load_family(Path(family))
    return (registry or Registry.discover()).get(family)
