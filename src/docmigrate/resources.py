"""Schema resources: the extra schema documents a family's versions may ``$ref``.

A family may bring schema documents that its versions refer to, declared in ``family.toml``::

    [resources]
    "https://example.com/schemas/" = "shared/"        # URI prefix -> folder (every *.json)
    "https://example.com/money.json" = "money.json"   # one URI -> one file

Each document is known by its *retrieval URI* (the prefix plus its path inside the folder, or
the URI given), as if it had been fetched from there, and by every ``$id`` it embeds. The
metaschemas of every supported draft (and their vocabularies) are known too, from a copy
shipped with docmigrate. Nothing is ever fetched: a ``$ref`` that none of these answers is a
load error.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, Protocol, cast
from urllib.parse import urldefrag, urlsplit

from docmigrate import jsonio
from docmigrate.exceptions import FamilyError, JSONReadError
from docmigrate.schema_walk import Reference, iter_subschemas, non_local_references

RESOURCE_SUFFIX = ".json"


@dataclass(frozen=True)
class Resource:
    """One schema document a family may refer to, and where it was read from."""

    uri: str
    """The retrieval URI: references inside the document resolve against it."""
    document: Mapping[str, Any]
    source: str
    """The file it was read from (the metaschema's URI for a shipped metaschema)."""


@functools.cache
def metaschemas() -> Mapping[str, Resource]:
    """The metaschemas (and vocabularies) of drafts 4, 6, 7, 2019-09 and 2020-12, by URI."""
    text = package_data("docmigrate.metaschemas", "metaschemas.json").decode("utf-8")
    documents: dict[str, Any] = json.loads(text)
    return MappingProxyType({uri: Resource(uri, doc, uri) for uri, doc in documents.items()})


class _DataLoader(Protocol):
    def get_data(self, path: str) -> bytes: ...


def package_data(package: str, name: str) -> bytes:
    """The bytes of the data file ``name`` shipped in ``package``, read through its loader.

    As :func:`pkgutil.get_data` does (a folder or a zip alike), without importing
    :mod:`importlib.resources`, which would cost a small validate more than it reads.
    """
    module = importlib.import_module(package)
    if module.__spec__ is None or module.__file__ is None:
        raise FileNotFoundError(f"package {package} has no loader that reads files")
    loader = cast(_DataLoader, module.__spec__.loader)
    return loader.get_data(os.path.join(os.path.dirname(module.__file__), name))


def read_resources(folder: Path, family: str, table: Any) -> dict[str, Resource]:
    """Read the ``[resources]`` table of ``folder/family.toml``; return the documents by URI.

    Raises :class:`FamilyError` naming family.toml or the resource file for a URI that is not
    absolute, a path outside the family folder, a prefix whose path is not a folder, a URI
    whose path is not a file, a file that is not JSON or whose JSON is not an object, and two
    declarations that give one URI.
    """
    toml = folder / "family.toml"
    if not isinstance(table, Mapping):
        raise _toml_error(family, toml, '[resources] maps URIs to paths ("<URI>" = "<path>")')
    found: dict[str, Resource] = {}
    for uri, relative in table.items():
        for resource_uri, path in _declared_files(folder, family, uri, relative):
            if resource_uri in found:
                raise _toml_error(
                    family,
                    toml,
                    f"[resources]: {resource_uri!r} is given twice "
                    f"({found[resource_uri].source} and {path})",
                )
            found[resource_uri] = Resource(resource_uri, _read_document(path, family), str(path))
    return found


def _declared_files(
    folder: Path, family: str, uri: str, relative: Any
) -> Iterator[tuple[str, Path]]:
    """Yield (retrieval URI, file) for one ``[resources]`` entry, after checking its form."""
    toml = folder / "family.toml"
    where = f"[resources] {uri!r}"
    parts = urlsplit(uri)
    if not parts.scheme or "#" in uri:
        raise _toml_error(family, toml, f"{where}: a resource URI must be absolute, without #")
    if not isinstance(relative, str) or not relative:
        raise _toml_error(family, toml, f"{where}: the value must be a path (a string)")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise _toml_error(
            family, toml, f"{where}: {relative!r} must be a path inside the family folder"
        )
    path = folder / pure
    if uri.endswith("/"):
        if not path.is_dir():
            raise _toml_error(
                family,
                toml,
                f"{where}: a URI prefix (ending in /) needs a folder; {path} is not one",
            )
        files = sorted(p for p in path.rglob(f"*{RESOURCE_SUFFIX}") if p.is_file())
        if not files:
            raise _toml_error(family, toml, f"{where}: {path} holds no *{RESOURCE_SUFFIX} file")
        for file in files:
            yield uri + file.relative_to(path).as_posix(), file
    elif not path.is_file():
        raise _toml_error(
            family,
            toml,
            f"{where}: {path} is not a file (a URI ending in / maps a whole folder)",
        )
    else:
        yield uri, path


def _read_document(path: Path, family: str) -> dict[str, Any]:
    try:
        document = jsonio.loads(path.read_bytes(), source=str(path))
    except (OSError, JSONReadError) as error:
        raise FamilyError(family, f"cannot read schema resource: {error}", file=str(path)) from None
    if not isinstance(document, dict):
        kind = type(document).__name__ if not isinstance(document, bool) else "a boolean"
        raise FamilyError(
            family,
            f"{path}: a schema resource must hold a JSON object, not {kind}",
            file=str(path),
            pointer="",
        )
    return document


def _toml_error(family: str, toml: Path, message: str) -> FamilyError:
    return FamilyError(family, f"{toml}: {message}", file=str(toml))


def known_uris(resources: Mapping[str, Resource], draft_4: bool) -> dict[str, str]:
    """Every URI a resource answers to (its retrieval URI and embedded ``$id``s) -> retrieval URI.

    ``draft_4`` says how a resource without ``$schema`` writes its identifiers (``id``).
    """
    found: dict[str, str] = {}
    for uri, resource in resources.items():
        found.setdefault(uri, uri)
        for sub in iter_subschemas(resource.document, uri, draft_4=draft_4):
            found.setdefault(urldefrag(sub.base)[0], uri)
    for uri in resources:
        found[uri] = uri  # a retrieval URI is never shadowed by another document's $id
    return found


Dangling = tuple[str, Reference, str]
"""A reference no document answers: the file it is written in ("" for the schema itself),
the reference and the URI it names."""


def reach(
    schema: Mapping[str, Any], uri: str, available: Mapping[str, Resource], draft_4: bool
) -> tuple[dict[str, Resource], Dangling | None]:
    """Return the resources ``schema`` (known as ``uri``) reaches, following them in turn.

    The second result is the first reference that leaves its document and that none of
    ``available`` answers, or None when every one resolves.
    """
    owners: dict[str, str] | None = None  # indexed at the first reference that needs it
    reached: dict[str, Resource] = {}
    pending: list[tuple[str, Mapping[str, Any], str]] = [("", schema, uri)]
    while pending:
        source, document, base = pending.pop()
        for reference in non_local_references(document, base, draft_4=draft_4):
            target = urldefrag(reference.target or "")[0]
            if owners is None:
                owners = known_uris(available, draft_4)
            owner = owners.get(target)
            if owner is None:
                return reached, (source, reference, target)
            if owner not in reached and owner != uri:
                reached[owner] = available[owner]
                pending.append((available[owner].source, available[owner].document, owner))
    return reached, None


def family_reach(
    schema: Mapping[str, Any], uri: str, resources: Mapping[str, Mapping[str, Any]], draft_4: bool
) -> dict[str, Mapping[str, Any]]:
    """The documents of a loaded family's ``resources`` that ``schema`` reaches, by URI."""
    available = {u: Resource(u, document, u) for u, document in resources.items()}
    reached, _ = reach(schema, uri, available, draft_4)
    return {owner: resource.document for owner, resource in reached.items()}
