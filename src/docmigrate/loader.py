"""Turning a family folder into a :class:`~docmigrate.family.Family`, refusing broken ones.

A family folder holds ``family.toml``, one ``<version>.schema.json`` per version and, when
there is more than one version, a ``steps.py`` with the tagged step functions. Every check
that can fail is made here, once, so that a loaded family is known to be sound: anything
malformed is a :class:`FamilyError` naming the file (and, in a schema, the JSON Pointer of
the place), never another exception.

Schema references resolve inside a schema file, in the family's schema resources
(``[resources]`` in family.toml, see :mod:`docmigrate.resources`) and in the drafts'
metaschemas; a reference that none of these answers is refused, since nothing is fetched.

Importing ``steps.py`` runs the family author's code. If it calls ``sys.exit`` or raises any
other exception (``BaseException`` included), the family is refused with a FamilyError. A
``KeyboardInterrupt`` is the one exception let through, unchanged: it is taken for a real
Ctrl-C, which must stop the whole run (the command line then exits 2, "aborted").
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any
from urllib.parse import quote, urldefrag

from docmigrate import jsonio
from docmigrate.evolution.lock import check_lock
from docmigrate.exceptions import FamilyError, JSONReadError, RemoteReferenceError
from docmigrate.family import Collection, DetectRules, Family, ImportMode, Step
from docmigrate.pointers import format_pointer, parse_pointer
from docmigrate.resources import Resource, metaschemas, reach, read_resources
from docmigrate.schema_walk import (
    Documents,
    iter_references,
    iter_subschemas,
    non_local_references,
    schema_at,
)
from docmigrate.steps import STEP_ATTRIBUTE, StepSpec, describe_exit, spec_problem
from docmigrate.validation import (
    DRAFTS,
    Draft,
    compile_reference,
    compile_schema,
    draft_of,
    errors_under,
    find_draft,
    metaschema_errors,
    schema_registry,
)

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_SUFFIX = ".schema.json"
_TOML_KEYS = {
    "name",
    "description",
    "version_pointer",
    "default_version",
    "detect",
    "records",
    "mode",
    "newest_by",
    "resources",
}
_DETECT_KEYS = {"required", "equals", "absent"}
_RECORDS_KEYS = {"pointer", "key"}
_MODES = ("merge", "snapshot")


def is_family_folder(folder: Path) -> bool:
    """Tell whether ``folder`` is a family folder (it has a ``family.toml``)."""
    return (folder / "family.toml").is_file()


def load_family(folder: str | Path) -> Family:
    """Load and check the family in ``folder``; raise :class:`FamilyError` if it is broken.

    A ``KeyboardInterrupt`` raised while ``steps.py`` is imported propagates unchanged. A
    ``docmigrate.lock`` beside the schemas is checked: a released version whose schema or
    step changed raises :class:`~docmigrate.evolution.lock.LockError` (a ConfigurationError).
    """
    folder = Path(folder)
    toml = folder / "family.toml"
    settings = _read_settings(folder)
    name = settings["name"]
    declared = read_resources(folder, name, settings.get("resources", {}))
    schemas, uris, validators, resources = _read_schemas(folder, name, declared)
    steps = _read_steps(folder, name)
    steps_file = folder / "steps.py"
    versions = _check_graph(name, schemas, steps, steps_file if steps_file.is_file() else folder)
    version_pointer = _pointer(
        name, toml, settings.get("version_pointer", "/version"), "version_pointer"
    )
    default_version = settings.get("default_version")
    if default_version is not None and default_version not in schemas:
        raise FamilyError(
            name, f"{toml}: default_version {default_version!r} has no schema file", file=str(toml)
        )
    collections = _collections(name, toml, settings)
    current = Documents(uris[versions[-1]], resources)
    for collection in collections:
        _check_collection(name, toml, collection, schemas[versions[-1]], versions[-1], current)
    newest_by = settings.get("newest_by")
    family = Family(
        name=name,
        location=str(folder),
        description=str(settings.get("description", "")),
        version_pointer=version_pointer,
        default_version=default_version,
        detect=_detect_rules(name, toml, settings.get("detect", {})),
        collections=collections,
        mode=_mode(name, toml, settings.get("mode", "merge")),
        newest_by=None if newest_by is None else _pointer(name, toml, newest_by, "newest_by"),
        schemas=MappingProxyType(schemas),
        schema_uris=MappingProxyType(uris),
        resources=MappingProxyType(resources),
        steps=tuple(sorted(steps, key=lambda s: (versions.index(s.source), s.target))),
        versions=versions,
        _validators=validators,
    )
    check_lock(family)  # a released version that changed in place is refused here, once
    return family


def _read_settings(folder: Path) -> dict[str, Any]:
    path = folder / "family.toml"
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FamilyError(str(folder), "no family.toml in this folder", file=str(folder)) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise FamilyError(str(folder), f"{path}: {error}", file=str(path)) from None
    name = settings.get("name")
    if not isinstance(name, str) or not name:
        raise FamilyError(str(folder), f"{path}: 'name' must be a non-empty string", file=str(path))
    unknown = set(settings) - _TOML_KEYS
    if unknown:
        raise FamilyError(
            name, f"{path}: unknown key(s) {', '.join(sorted(unknown))}", file=str(path)
        )
    for key in ("version_pointer", "default_version", "description", "mode", "newest_by"):
        if key in settings and not isinstance(settings[key], str):
            raise FamilyError(name, f"{path}: {key!r} must be a string", file=str(path))
    return settings


def _pointer(family: str, toml: Path, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise FamilyError(
            family,
            f"{toml}: {where}: a JSON Pointer string is expected, not {value!r}",
            file=str(toml),
        )
    try:
        return parse_pointer(value)
    except ValueError as error:
        raise FamilyError(family, f"{toml}: {where}: {error}", file=str(toml)) from None


def _detect_rules(family: str, toml: Path, table: Any) -> DetectRules:
    if not isinstance(table, Mapping) or set(table) - _DETECT_KEYS:
        raise FamilyError(
            family, f"{toml}: [detect] accepts only {sorted(_DETECT_KEYS)}", file=str(toml)
        )
    required = table.get("required", [])
    equals = table.get("equals", {})
    absent = table.get("absent", [])
    if not (
        isinstance(required, list) and isinstance(absent, list) and isinstance(equals, Mapping)
    ):
        raise FamilyError(
            family,
            f"{toml}: [detect] required and absent are lists of pointers, equals a table",
            file=str(toml),
        )
    return DetectRules(
        required=tuple(_pointer(family, toml, p, "[detect] required") for p in required),
        equals=tuple((_pointer(family, toml, p, "[detect] equals"), v) for p, v in equals.items()),
        absent=tuple(_pointer(family, toml, p, "[detect] absent") for p in absent),
    )


def _mode(family: str, toml: Path, value: str) -> ImportMode:
    if value == "merge":
        return "merge"
    if value == "snapshot":
        return "snapshot"
    raise FamilyError(
        family, f"{toml}: mode must be one of {', '.join(_MODES)}, not {value!r}", file=str(toml)
    )


def _collections(family: str, toml: Path, settings: Mapping[str, Any]) -> tuple[Collection, ...]:
    """Read ``[records]`` (one collection) or ``[records.NAME]`` tables (one each)."""
    table = settings.get("records", {})
    if not isinstance(table, Mapping):
        raise FamilyError(
            family, f"{toml}: [records] accepts only {sorted(_RECORDS_KEYS)}", file=str(toml)
        )
    if not table:
        return ()
    if all(isinstance(value, Mapping) for value in table.values()):
        found = [_collection(family, toml, f"[records.{n}]", n, t) for n, t in table.items()]
    elif not any(isinstance(value, Mapping) for value in table.values()):
        # The single form: its name is the array's own (the pointer's last token).
        found = [_collection(family, toml, "[records]", None, table)]
    else:
        raise FamilyError(
            family,
            f"{toml}: [records] holds either pointer/key or [records.NAME] tables, not both",
            file=str(toml),
        )
    _refuse_overlapping(family, toml, found)
    return tuple(found)


def _collection(
    family: str, toml: Path, where: str, name: str | None, table: Mapping[str, Any]
) -> Collection:
    if set(table) - _RECORDS_KEYS:
        raise FamilyError(
            family, f"{toml}: {where} accepts only {sorted(_RECORDS_KEYS)}", file=str(toml)
        )
    key = table.get("key")
    if key is not None and not isinstance(key, str):
        raise FamilyError(family, f"{toml}: {where} key must be a string", file=str(toml))
    if "pointer" not in table:
        raise FamilyError(family, f"{toml}: {where} needs a pointer", file=str(toml))
    pointer = _pointer(family, toml, table["pointer"], f"{where} pointer")
    if not pointer:
        raise FamilyError(
            family,
            f"{toml}: {where} pointer is the whole document; it must name an array inside it",
            file=str(toml),
        )
    return Collection(name=name if name is not None else pointer[-1], pointer=pointer, key=key)


def _refuse_overlapping(family: str, toml: Path, found: list[Collection]) -> None:
    """Two collections may not share an array, nor may one lie inside the other."""
    for first in found:
        for second in found:
            if first is not second and second.pointer[: len(first.pointer)] == first.pointer:
                raise FamilyError(
                    family,
                    f"{toml}: collections {first.name!r} ({first.pointer_text}) and "
                    f"{second.name!r} ({second.pointer_text}) overlap; each array of records "
                    "belongs to one collection",
                    file=str(toml),
                )


def _check_collection(
    family: str,
    toml: Path,
    collection: Collection,
    schema: Mapping[str, Any],
    version: str,
    documents: Documents,
) -> None:
    """Refuse a records pointer that the current schema shows cannot lead to an array."""
    problem = collection_problem(schema, collection.pointer, documents)
    if problem:
        raise FamilyError(
            family,
            f"{toml}: records pointer {collection.pointer_text!r} of collection "
            f"{collection.name!r}: {problem} in the current version's schema ({version})",
            file=str(toml),
        )


def collection_problem(
    schema: Mapping[str, Any], pointer: tuple[str, ...], documents: Documents | None = None
) -> str | None:
    """Say why ``schema`` rules out an array at ``pointer``, or None when it may hold one.

    Only what the schema states is judged: a place it does not describe passes here and is
    checked in each document the store writes. ``documents`` lets ``$ref``s into the
    family's schema resources be followed.
    """
    for depth, token in enumerate(pointer):
        parent = schema_at(schema, format_pointer(pointer[:depth]), documents)
        if parent is None:
            return None
        if _is_array_schema(parent):
            return f"goes through an array at {format_pointer(pointer[:depth]) or '/'}"
        child = schema_at(schema, format_pointer(pointer[: depth + 1]), documents)
        if child is None:
            closed = parent.get("additionalProperties") is False and not parent.get(
                "patternProperties"
            )
            if closed:
                where = format_pointer(pointer[:depth]) or "/"
                return f"the schema allows no member {token!r} at {where}"
            return None
    target = schema_at(schema, format_pointer(pointer), documents)
    kinds = None if target is None else target.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if isinstance(kinds, list) and "array" not in kinds:
        return f"the schema makes it {' or '.join(map(str, kinds))}, not an array"
    return None


def _is_array_schema(schema: Mapping[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds == "array" or (isinstance(kinds, list) and kinds == ["array"]):
        return True
    return "type" not in schema and ("items" in schema or "prefixItems" in schema)


def _read_schemas(
    folder: Path, family: str, declared: Mapping[str, Resource]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any], dict[str, Any]]:
    """Read and check each schema file; return schemas, URIs and validators by version.

    The fourth result holds the resources (``declared`` ones and metaschemas) that some
    version reaches, by retrieval URI.
    """
    schemas: dict[str, Any] = {}
    uris: dict[str, str] = {}
    validators: dict[str, Any] = {}
    reached: dict[str, Any] = {}
    for path in sorted(folder.glob(f"*{SCHEMA_SUFFIX}")):
        version = path.name[: -len(SCHEMA_SUFFIX)]
        if not version:
            raise FamilyError(family, f"{path}: no version before {SCHEMA_SUFFIX}", file=str(path))
        schema = _read_schema_file(path, family)
        uri, validators[version], resources = _check_schema(path, family, schema, version, declared)
        schemas[version], uris[version] = schema, uri
        reached.update(resources)
    if not schemas:
        raise FamilyError(
            family, f"no <version>{SCHEMA_SUFFIX} files in {folder}", file=str(folder)
        )
    return schemas, uris, validators, reached


def _read_schema_file(path: Path, family: str) -> dict[str, Any]:
    try:
        schema = jsonio.loads(path.read_bytes(), source=str(path))
    except (OSError, JSONReadError) as error:
        raise FamilyError(family, f"cannot read schema: {error}", file=str(path)) from None
    if not isinstance(schema, dict):
        # A boolean schema is valid JSON Schema, but cannot be a version: nothing to detect.
        raise FamilyError(
            family,
            f"{path}: a schema file must hold a JSON object, not {_json(schema)}",
            file=str(path),
            pointer="",
        )
    return schema


def _check_schema(
    path: Path,
    family: str,
    schema: dict[str, Any],
    version: str,
    declared: Mapping[str, Resource],
) -> tuple[str, Any, dict[str, Any]]:
    """Check one version's schema; return its URI, its validator and the resources it reaches."""
    _check_draft(path, family, schema)
    problems = metaschema_errors(schema)
    if problems:
        where = problems[0].pointer
        raise FamilyError(
            family,
            f"{path}: not a valid JSON Schema at '{where}': {problems[0].message}",
            file=str(path),
            pointer=where,
        )
    uri = _schema_uri(schema, family, version)
    resources = _reached_resources(path, family, schema, uri, declared)
    validator = _compile(path, family, schema, uri, resources)
    _check_defaults(path, family, schema, uri, resources)
    return uri, validator, resources


def _reached_resources(
    path: Path,
    family: str,
    schema: Mapping[str, Any],
    uri: str,
    declared: Mapping[str, Resource],
) -> dict[str, Any]:
    """Return the resources ``schema`` reaches, following references from resource to resource.

    A reference that leaves its document and names no resource (nor a metaschema) is a
    :class:`RemoteReferenceError` naming the file it is written in.
    """
    draft_4 = draft_of(schema).name == "4"
    if not non_local_references(schema, uri, draft_4=draft_4):
        return {}  # it reaches nothing: no need to read the shipped metaschemas
    available = {**metaschemas(), **declared}
    reached, dangling = reach(schema, uri, available, draft_4)
    if dangling is not None:
        source, reference, target = dangling
        raise RemoteReferenceError(
            family,
            f"{source or path}: {reference.keyword} {reference.value!r} at "
            f"'{reference.pointer}' names {target!r}, which is neither in the schema nor "
            "one of the family's schema resources; docmigrate never fetches a schema: "
            'declare the document in family.toml [resources] ("<URI>" = "<file>", or '
            '"<URI prefix>/" = "<folder>/")',
            file=source or str(path),
            pointer=reference.pointer,
        )
    for owner, resource in reached.items():
        if owner not in metaschemas() or resource is not metaschemas()[owner]:
            _check_resource(family, resource, draft_of(schema))
    return {owner: resource.document for owner, resource in reached.items()}


def _check_resource(family: str, resource: Resource, referrer: Draft) -> None:
    """A resource must be a valid schema of its draft (the referring schema's when unsaid)."""
    document = resource.document
    declared = document.get("$schema", referrer.uri)
    if find_draft(declared) is None:
        raise FamilyError(
            family,
            f"{resource.source}: $schema at '/$schema' must name a draft docmigrate knows, "
            f"not {_json(declared)}",
            file=resource.source,
            pointer="/$schema",
        )
    problems = metaschema_errors({**document, "$schema": declared})
    if problems:
        where = problems[0].pointer
        raise FamilyError(
            family,
            f"{resource.source}: not a valid JSON Schema at '{where}': {problems[0].message}",
            file=resource.source,
            pointer=where,
        )


def _check_draft(path: Path, family: str, schema: Mapping[str, Any]) -> None:
    """A declared ``$schema`` must name a draft docmigrate validates (2020-12 when absent)."""
    declared = schema.get("$schema", DRAFT_2020_12)
    if find_draft(declared) is None:
        known = ", ".join(repr(d.uri) for d in DRAFTS)
        raise FamilyError(
            family,
            f"{path}: $schema at '/$schema' must be one of {known}, not {_json(declared)}",
            file=str(path),
            pointer="/$schema",
        )


def _schema_uri(schema: Mapping[str, Any], family: str, version: str) -> str:
    """The URI a schema is known by: its ``$id`` (without the empty fragment) or a URN."""
    declared = schema.get("id" if draft_of(schema).name == "4" else "$id")
    if isinstance(declared, str) and urldefrag(declared)[0]:
        return urldefrag(declared)[0]
    return f"urn:docmigrate:{quote(family)}:{quote(version)}"


def _compile(
    path: Path, family: str, schema: Mapping[str, Any], uri: str, resources: Mapping[str, Any]
) -> Any:
    """Build the schema's validator now, so that a loaded family always validates."""
    try:
        return compile_schema(schema, uri, resources)
    except Exception as error:  # jsonschema_rs raises ValueError kinds; any failure is the schema's
        where, why = _locate_build_failure(schema, uri, resources, error)
        raise FamilyError(
            family,
            f"{path}: no validator can be built from the schema at '{where}': {why}",
            file=str(path),
            pointer=where,
        ) from None


def _locate_build_failure(
    schema: Mapping[str, Any], uri: str, resources: Mapping[str, Any], error: Exception
) -> tuple[str, str]:
    """Return the JSON Pointer where a validator could not be built, and why.

    jsonschema_rs names the place of most problems, but not of a reference that resolves
    nowhere: each reference is then built on its own to find the one at fault. When the
    schema's ``$id``s cannot even be registered, the ``$id`` the message quotes is the place.
    """
    path = getattr(error, "instance_path", None)
    if path:
        return format_pointer(path), error_message(error)
    try:
        registry = schema_registry(schema, uri, resources)
    except Exception:
        return _identifier_quoted_in(error_message(error), schema), error_message(error)
    for reference in iter_references(schema, uri):
        if reference.target is None:
            continue
        try:
            compile_reference(reference.target, registry)
        except Exception as failure:
            how = f"{reference.keyword} {reference.value!r} resolves nowhere"
            return reference.pointer, f"{how}: {error_message(failure)}"
    return "", error_message(error)


def _identifier_quoted_in(message: str, schema: Mapping[str, Any]) -> str:
    """Return the pointer of the first ``$id`` whose value ``message`` quotes, or the root."""
    for sub in iter_subschemas(schema):
        declared = sub.schema.get("$id")
        if isinstance(declared, str) and f"'{declared}'" in message:
            return f"{sub.pointer}/$id"
    return ""


def _check_defaults(
    path: Path, family: str, schema: Mapping[str, Any], uri: str, resources: Mapping[str, Any]
) -> None:
    """Check each ``default`` against the subschema declaring it, as the schema sees it."""
    registry = schema_registry(schema, uri, resources)
    for sub in iter_subschemas(schema, uri):
        if "default" not in sub.schema:
            continue
        where = f"{sub.pointer}/default"
        try:
            checker = compile_reference(f"{uri}#{quote(sub.pointer, safe='/~$')}", registry)
            problems = errors_under(checker, sub.schema["default"])
        except Exception as error:  # the place cannot be addressed, or the value not checked
            raise FamilyError(
                family,
                f"{path}: the default at '{where}' cannot be checked: {error_message(error)}",
                file=str(path),
                pointer=where,
            ) from None
        if problems:
            raise FamilyError(
                family,
                f"{path}: the default at '{where}' is rejected by its own schema: "
                f"{problems[0].message}",
                file=str(path),
                pointer=where,
            )


def error_message(error: Exception) -> str:
    """A library error's own message (jsonschema_rs's ``str()`` adds lines of context)."""
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error) or type(error).__name__


def _json(value: Any, limit: int = 60) -> str:
    """Show a value read from a JSON file as JSON (``null``, not ``None``), cut to ``limit``."""
    try:
        text = jsonio.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_steps(folder: Path, family: str) -> list[Step]:
    path = folder / "steps.py"
    if not path.is_file():
        return []
    module = _import_steps(path, family)
    steps = []
    for value in vars(module).values():
        spec = _step_spec(value)
        if spec is None:
            continue
        step = Step(function=value, spec=spec)
        problem = spec_problem(spec)
        if problem:
            raise FamilyError(family, f"{path}: step {step.name}: {problem}", file=str(path))
        steps.append(step)
    return steps


def _step_spec(value: Any) -> StepSpec | None:
    """Return the spec a step decorator left on ``value``, or None if it is not a step."""
    try:
        spec = getattr(value, STEP_ATTRIBUTE, None)
    except Exception:  # a lazy proxy (e.g. an unbound context object) refusing attributes
        return None
    return spec if isinstance(spec, StepSpec) and callable(value) else None


def forget_steps(folder: str | Path) -> None:
    """Drop the imported ``steps.py`` of ``folder``, so that a load after an edit reads it anew."""
    sys.modules.pop(_steps_module_name(Path(folder) / "steps.py"), None)


def _steps_module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return f"docmigrate_family_{digest}_steps"


def _import_steps(path: Path, family: str) -> ModuleType:
    """Import ``steps.py`` once per path; see the module docstring for what it may raise."""
    module_name = _steps_module_name(path)
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FamilyError(family, f"{path}: cannot be imported", file=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        sys.modules.pop(module_name, None)
        if isinstance(error, KeyboardInterrupt):
            raise  # a real Ctrl-C stops the whole run
        raise FamilyError(family, _import_failure(path, error), file=str(path)) from error
    return module


def _import_failure(path: Path, error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"{path} called {describe_exit(error)} while being imported"
    return f"{path}: importing it raised {error!r}"


def _check_graph(
    family: str, schemas: Mapping[str, Any], steps: list[Step], where: Path
) -> tuple[str, ...]:
    """Check the version graph and return the versions, oldest first, current last.

    ``where`` is the ``steps.py`` (or, without one, the folder) that errors name.
    """

    def broken(message: str) -> FamilyError:
        return FamilyError(family, f"{where}: {message}", file=str(where))

    edges: dict[tuple[str, str], Step] = {}
    for step in steps:
        for version in (step.source, step.target):
            if version not in schemas:
                raise broken(
                    f"step {step.name} names version {version!r}, which has no schema file "
                    f"(known: {', '.join(schemas)})",
                )
        if step.source == step.target:
            raise broken(f"step {step.name} goes from {step.source} to itself")
        if (step.source, step.target) in edges:
            raise broken(
                f"two steps for {step.source} -> {step.target}: "
                f"{edges[(step.source, step.target)].name} and {step.name}",
            )
        edges[(step.source, step.target)] = step
    upgrades: dict[str, list[str]] = {v: [] for v in schemas}
    for step in steps:
        if step.spec.direction == "upgrade":
            upgrades[step.source].append(step.target)
    cycle = _find_cycle(upgrades)
    if cycle:
        raise broken(f"the upgrades form a cycle: {' -> '.join(cycle)}")
    reached = {t for targets in upgrades.values() for t in targets}
    heads = [v for v in schemas if not upgrades[v] and (v in reached or len(schemas) == 1)]
    if len(heads) > 1:
        raise broken(f"more than one head (current version): {', '.join(heads)}")
    if not heads:
        raise broken("no version is reached by an upgrade, so none is current")
    current = heads[0]
    distance = _distances_to(current, upgrades)
    stranded = [v for v in schemas if v not in distance]
    if stranded:
        raise broken(
            f"version(s) {', '.join(stranded)} cannot be upgraded to current {current}: "
            "add the missing upgrade step",
        )
    for step in steps:
        if step.spec.direction == "downgrade" and distance[step.target] <= distance[step.source]:
            raise broken(f"downgrade {step.name} goes from {step.source} to a newer version")
    return tuple(sorted(schemas, key=lambda v: (-distance[v], v)))


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str]:
    """Return one cycle of ``graph`` as a list of versions (first repeated last), or []."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            targets = graph[node]
            if index < len(targets):
                stack.append((node, index + 1))
                nxt = targets[index]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return []


def _distances_to(current: str, upgrades: Mapping[str, list[str]]) -> dict[str, int]:
    """Return, for each version that can reach ``current``, the length of its shortest way."""
    distance = {current: 0}
    changed = True
    while changed:
        changed = False
        for version, targets in upgrades.items():
            best = min((distance[t] + 1 for t in targets if t in distance), default=None)
            if best is not None and distance.get(version, best + 1) > best:
                distance[version] = best
                changed = True
    return distance
