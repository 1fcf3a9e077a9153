"""``docmigrate.lock``: fingerprints of a family's released versions, checked at every load.

The lock (TOML, in the family folder, meant to be committed) holds per version the sha256 of
its schema in a canonical form and of each step's source that leads into or out of it from
an older version. A version marked ``released`` must never change again: loading a family
whose released schema or step no longer matches refuses it (a :class:`LockError`, exit 2).
A version marked ``draft`` (the unreleased head) may change freely; a version missing from
the lock is new. The canonical form sorts keys, normalises numbers (``1.0`` is ``1``) and
inlines local ``$ref``s, so renaming a ``$defs`` entry is not a change; with
``exclude_annotations = true`` titles, descriptions, ``$comment`` and ``examples`` are left
out too, so that rewording them is not a change either.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from docmigrate.evolution.canonical import canonical_text
from docmigrate.exceptions import ConfigurationError
from docmigrate.family import Family, Step
from docmigrate.pointers import parse_pointer
from docmigrate.resources import family_reach, metaschemas
from docmigrate.validation import draft_of

LOCK_NAME = "docmigrate.lock"
LOCK_FORMAT = 1
Status = Literal["released", "draft"]
_ANNOTATIONS = ("title", "description", "$comment", "examples")
_TOP_KEYS = {"lock_version", "family", "exclude_annotations", "versions"}
_VERSION_KEYS = {"status", "schema", "steps"}


class LockError(ConfigurationError):
    """A lock file that is unreadable, or a released version that changed since it was locked."""


@dataclass(frozen=True)
class VersionLock:
    """What the lock records for one version."""

    status: Status
    schema: str
    steps: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lock:
    """A family's lock file."""

    family: str
    versions: Mapping[str, VersionLock]
    exclude_annotations: bool = False


def schema_fingerprint(
    schema: Any,
    *,
    exclude_annotations: bool = False,
    resources: Mapping[str, Any] | None = None,
) -> str:
    """The sha256 of ``schema`` in canonical form (local ``$ref``s inlined).

    ``resources`` are the family's schema documents the schema reaches (by URI): a change
    in one of them changes the fingerprint too. Without any, the fingerprint is the
    schema's alone (as for a family without ``[resources]``).
    """
    canonical = _inline(schema, schema, (), exclude_annotations)
    if resources:
        canonical = {
            "schema": canonical,
            "resources": {
                uri: _inline(document, document, (), exclude_annotations)
                for uri, document in sorted(resources.items())
            },
        }
    return "sha256:" + hashlib.sha256(canonical_text(canonical).encode()).hexdigest()


def step_fingerprint(step: Step) -> str:
    """The sha256 of a step function's source text (its decorator line included)."""
    try:
        source = function_source(step.function)
    except (OSError, TypeError):
        source = repr(step.spec)
    return "sha256:" + hashlib.sha256(source.encode()).hexdigest()


def function_source(function: Any) -> str:
    """Exactly ``inspect.getsource(function)``, read off the syntax tree where that is cheaper.

    inspect finds where a function ends with the pure-Python tokenizer, whose patterns cost
    more to compile than loading the rest of a family. The syntax tree gives the same last
    line whenever :func:`definition_end` can tell; otherwise inspect decides.
    """
    function = inspect.unwrap(function)
    lines, start = inspect.findsource(function)
    end = definition_end(lines, start, function)
    if end is None:
        return inspect.getsource(function)
    return "".join(lines[start:end])


def definition_end(lines: list[str], start: int, function: Any) -> int | None:
    """Where inspect's block for the function defined at ``lines[start]`` ends, or None.

    inspect ends the block at its last statement, or at a later comment indented at least
    as deep as the body. So the answer is the definition's end in the syntax tree when
    only blank lines and comments at column 0 follow it, up to code at column 0 or the end
    of the file; None (ask inspect) for anything else: indented comments or code (nested
    definitions), a backslash at the end, lambdas and whatever the tree does not show.
    """
    name = getattr(getattr(function, "__code__", None), "co_name", "<lambda>")
    found = _definitions("".join(lines)).get(start + 1)
    if found is None or found[0] != name:
        return None
    end = found[1]
    if not lines[end - 1].endswith("\n") or lines[end - 1].rstrip("\r\n").endswith("\\"):
        return None
    for line in lines[end:]:
        text = line.lstrip(" \t\f")
        if text[:1] in ("\r", "\n") or line.startswith("#"):
            continue  # a blank line, or a comment inspect leaves out (column 0)
        at_column_0 = len(text) == len(line)
        return end if at_column_0 and not text.startswith("\\") else None
    return end


@functools.lru_cache(maxsize=8)
def _definitions(source: str) -> dict[int, tuple[str, int] | None]:
    """Each function definition in ``source`` by its first line: its name and last line.

    The first line is the first decorator's, as for ``co_firstlineno``; a line where two
    definitions would start maps to None.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # inspect will decide
        return {}
    found: dict[int, tuple[str, int] | None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found[first] = None if first in found else (node.name, node.end_lineno)
    return found


def step_key(step: Step) -> str:
    """How a step is named in the lock: ``upgrade 1.0 -> 1.1``."""
    return f"{step.spec.direction} {step.source} -> {step.target}"


def _inline(node: Any, root: Any, stack: tuple[str, ...], bare: bool) -> Any:
    if isinstance(node, list):
        return [_inline(item, root, stack, bare) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$defs", "definitions") and _all_local(root):
            continue  # their content counts where it is used
        if bare and key in _ANNOTATIONS and not isinstance(value, dict | list):
            continue
        if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
            out[key] = _target(value, root, stack, bare)
        else:
            out[key] = _inline(value, root, stack, bare)
    return out


def _target(reference: str, root: Any, stack: tuple[str, ...], bare: bool) -> Any:
    if reference in stack:
        return {"recursion": len(stack) - stack.index(reference)}
    try:
        target = root
        for token in parse_pointer(reference[1:]):
            target = target[int(token)] if isinstance(target, list) else target[token]
    except (KeyError, IndexError, ValueError, TypeError):
        return reference
    return _inline(target, root, (*stack, reference), bare)


def _all_local(root: Any) -> bool:
    """Tell whether every ``$ref`` in ``root`` is a JSON Pointer inside it (so inlinable)."""
    found = _reference_strings(root)
    if found is None:  # not plain JSON data: read the references off its canonical text
        found = _reference_strings_in_text(root)
    return all(ref.startswith("#/") for ref in found)


def _reference_strings(root: Any) -> list[str] | None:
    """The string values of ``$ref`` keys anywhere in ``root``; None if it is not plain JSON.

    The same references :func:`_reference_strings_in_text` finds (and so its quirk: a key
    ending in ``"$ref`` counts too), without writing the whole schema out as text.
    """
    found: list[str] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return None
                if isinstance(value, str) and (key == "$ref" or key.endswith('"$ref')):
                    found.append(value)
                else:
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
        elif not (node is None or isinstance(node, str | int | float | Decimal)):
            return None
    return found


def _reference_strings_in_text(root: Any) -> list[str]:
    """The ``$ref`` strings as they appear in the canonical text of ``root`` (escaped)."""
    return re.findall(r'"\$ref":\s*"([^"]*)"', canonical_text(root))


# -- reading and writing -------------------------------------------------------------------------


def read_lock(folder: str | Path) -> Lock | None:
    """Read the lock of the family in ``folder`` (None without one); LockError names the line."""
    path = Path(folder) / LOCK_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise LockError(f"{path}: cannot be read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LockError(f"{path}: not valid TOML: {error}") from None
    return _parse(path, text, data)


def _parse(path: Path, text: str, data: Mapping[str, Any]) -> Lock:
    def broken(message: str, needle: str) -> LockError:
        return LockError(f"{path}:{_line_of(text, needle)}: {message}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise broken(f"unknown key {unknown[0]!r}", unknown[0])
    if data.get("lock_version") != LOCK_FORMAT:
        raise broken(f"lock_version must be {LOCK_FORMAT}", "lock_version")
    family = data.get("family")
    if not isinstance(family, str):
        raise broken("'family' must be the family's name", "family")
    exclude = data.get("exclude_annotations", False)
    if not isinstance(exclude, bool):
        raise broken("'exclude_annotations' must be true or false", "exclude_annotations")
    table = data.get("versions", {})
    if not isinstance(table, dict):
        raise broken("[versions] must be a table", "versions")
    versions = {}
    for version, entry in table.items():
        needle = f'versions."{version}"'
        if not isinstance(entry, dict) or set(entry) - _VERSION_KEYS:
            raise broken(f"version {version!r}: only {sorted(_VERSION_KEYS)} are allowed", needle)
        status, schema, steps = entry.get("status"), entry.get("schema"), entry.get("steps", {})
        if status not in ("released", "draft"):
            raise broken(f"version {version!r}: status must be 'released' or 'draft'", needle)
        if not isinstance(schema, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", schema):
            raise broken(f"version {version!r}: schema must be 'sha256:' and 64 hex digits", needle)
        if not isinstance(steps, dict) or not all(isinstance(v, str) for v in steps.values()):
            raise broken(f"version {version!r}: steps must map step names to fingerprints", needle)
        versions[version] = VersionLock(status, schema, dict(steps))
    return Lock(family, versions, exclude)


def _line_of(text: str, needle: str) -> int:
    """The line where ``needle`` (a key) first appears, for messages (1 when not found)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def write_lock(folder: str | Path, lock: Lock) -> Path:
    """Write ``lock`` into ``folder`` (versions in the given order); return its path."""
    lines = [
        "# docmigrate.lock: fingerprints of released versions. Commit this file.",
        "# A released version must never change: add a new version instead.",
        "# Written by `docmigrate lock`; `docmigrate new` marks the previous head released.",
        f"lock_version = {LOCK_FORMAT}",
        f"family = {_quote(lock.family)}",
        f"exclude_annotations = {'true' if lock.exclude_annotations else 'false'}",
    ]
    for version, entry in lock.versions.items():
        lines += ["", f"[versions.{_quote(version)}]", f"status = {_quote(entry.status)}"]
        lines.append(f"schema = {_quote(entry.schema)}")
        if entry.steps:
            lines.append(f"[versions.{_quote(version)}.steps]")
            lines += [f"{_quote(k)} = {_quote(v)}" for k, v in sorted(entry.steps.items())]
    path = Path(folder) / LOCK_NAME
    from docmigrate.files import write_atomic

    write_atomic(path, ("\n".join(lines) + "\n").encode())
    return path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- building and checking ------------------------------------------------------------------------


def fingerprint_version(family: Family, version: str, status: Status, *, bare: bool) -> VersionLock:
    """Fingerprint ``version`` of ``family``: its schema and the steps between it and older ones."""
    steps = {step_key(s): step_fingerprint(s) for s in _steps_of(family, version)}
    schema = family.schema(version)
    fingerprint = schema_fingerprint(
        schema, exclude_annotations=bare, resources=_own_resources(family, version)
    )
    return VersionLock(status, fingerprint, steps)


def _own_resources(family: Family, version: str) -> dict[str, Any]:
    """The family's resources ``version`` reaches, less the metaschemas docmigrate ships.

    A shipped metaschema is docmigrate's, not the family's: a newer copy of it must not make
    a released version look changed.
    """
    schema = family.schema(version)
    reached = family_reach(
        schema, family.schema_uris[version], family.resources, draft_of(schema).name == "4"
    )
    if not reached:  # the usual case: no need to read the shipped metaschemas
        return {}
    shipped = metaschemas()
    return {
        uri: document
        for uri, document in reached.items()
        if uri not in shipped or shipped[uri].document != document
    }


def _steps_of(family: Family, version: str) -> list[Step]:
    """The steps a version brings: upgrades into it and downgrades out of it."""
    return [
        s
        for s in family.steps
        if (s.spec.direction == "upgrade" and s.target == version)
        or (s.spec.direction == "downgrade" and s.source == version)
    ]


def locked_family(
    family: Family,
    previous: Lock | None,
    *,
    release: tuple[str, ...] = (),
    exclude_annotations: bool | None = None,
) -> Lock:
    """The lock for ``family`` now: older versions released, the head draft unless released.

    A version already released in ``previous`` keeps its entry (loading already checked it).
    """
    bare = (
        exclude_annotations
        if exclude_annotations is not None
        else bool(previous and previous.exclude_annotations)
    )
    versions: dict[str, VersionLock] = {}
    for version in family.versions:
        before = previous.versions.get(version) if previous else None
        if (
            before is not None
            and before.status == "released"
            and previous is not None
            and bare == previous.exclude_annotations
        ):
            versions[version] = before
            continue
        status: Status = (
            "draft" if version == family.current and version not in release else "released"
        )
        if (
            before is not None
            and before.status == "draft"
            and version not in release
            and version == family.current
        ):
            status = "draft"
        versions[version] = fingerprint_version(family, version, status, bare=bare)
    return Lock(family.name, versions, bare)


def check_lock(family: Family) -> None:
    """Refuse ``family`` if a released version's schema or step changed since it was locked."""
    lock = read_lock(family.location)
    if lock is None:
        return
    where = Path(family.location) / LOCK_NAME
    if lock.family != family.name:
        raise LockError(f"{where}: locks family {lock.family!r}, not {family.name!r}")
    for version, entry in lock.versions.items():
        if entry.status != "released":
            continue
        if version not in family.schemas:
            raise LockError(
                f"version {version} of {family.name} is locked as released but its schema file "
                f"is gone ({where})"
            )
        problems = _drift(family, version, entry, bare=lock.exclude_annotations)
        if problems:
            raise LockError(
                f"version {version} of {family.name} changed since it was locked: "
                f"{'; '.join(problems)}; add version {_next(family)} instead ({where})"
            )


def _drift(family: Family, version: str, entry: VersionLock, *, bare: bool) -> list[str]:
    now = fingerprint_version(family, version, entry.status, bare=bare)
    problems = []
    if now.schema != entry.schema:
        problems.append(
            f"its schema {version}.schema.json (was {entry.schema[:19]}, now {now.schema[:19]})"
        )
    for name in sorted(set(entry.steps) | set(now.steps)):
        if entry.steps.get(name) != now.steps.get(name):
            state = (
                "removed"
                if name not in now.steps
                else "added"
                if name not in entry.steps
                else "changed"
            )
            problems.append(f"step {name} {state}")
    return problems


def _next(family: Family) -> str:
    """A suggestion for the next version label: the current one with its last number raised."""
    match = re.fullmatch(r"(.*?)(\d+)", family.current)
    if match is None:
        return f"{family.current}.1"
    return f"{match[1]}{int(match[2]) + 1}"
