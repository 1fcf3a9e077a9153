"""Turning a family folder into a :class:`~docmigrate.family.Family`, refusing broken ones.

A family folder holds ``family.toml``, one ``<version>.schema.json`` per version and, when
there is more than one version, a ``steps.py`` with the tagged step functions. Every check
that can fail is made here, once, so that a loaded family is known to be sound.
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
from urllib.parse import quote

import jsonschema_rs

from docmigrate import jsonio
from docmigrate.exceptions import FamilyError, JSONReadError, RemoteReferenceError
from docmigrate.family import DetectRules, Family, Step
from docmigrate.pointers import parse_pointer
from docmigrate.schema_walk import iter_subschemas, non_local_references
from docmigrate.steps import STEP_ATTRIBUTE, StepSpec

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_SUFFIX = ".schema.json"
_TOML_KEYS = {"name", "description", "version_pointer", "default_version", "detect", "records"}
_DETECT_KEYS = {"required", "equals"}
_RECORDS_KEYS = {"pointer", "key"}


def is_family_folder(folder: Path) -> bool:
    """Tell whether ``folder`` is a family folder (it has a ``family.toml``)."""
    return (folder / "family.toml").is_file()


def load_family(folder: str | Path) -> Family:
    """Load and check the family in ``folder``; raise :class:`FamilyError` if it is broken."""
    folder = Path(folder)
    settings = _read_settings(folder)
    name = settings["name"]
    schemas, uris = _read_schemas(folder, name)
    steps = _read_steps(folder, name)
    versions = _check_graph(name, schemas, steps)
    version_pointer = _pointer(name, settings.get("version_pointer", "/version"), "version_pointer")
    default_version = settings.get("default_version")
    if default_version is not None and default_version not in schemas:
        raise FamilyError(name, f"default_version {default_version!r} has no schema file")
    return Family(
        name=name,
        location=str(folder),
        description=str(settings.get("description", "")),
        version_pointer=version_pointer,
        default_version=default_version,
        detect=_detect_rules(name, settings.get("detect", {})),
        records_pointer=_records(name, settings)[0],
        records_key=_records(name, settings)[1],
        schemas=MappingProxyType(schemas),
        schema_uris=MappingProxyType(uris),
        steps=tuple(sorted(steps, key=lambda s: (versions.index(s.source), s.target))),
        versions=versions,
    )


def _read_settings(folder: Path) -> dict[str, Any]:
    path = folder / "family.toml"
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FamilyError(str(folder), "no family.toml in this folder") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise FamilyError(str(folder), f"{path}: {error}") from None
    name = settings.get("name")
    if not isinstance(name, str) or not name:
        raise FamilyError(str(folder), f"{path}: 'name' must be a non-empty string")
    unknown = set(settings) - _TOML_KEYS
    if unknown:
        raise FamilyError(name, f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("version_pointer", "default_version", "description"):
        if key in settings and not isinstance(settings[key], str):
            raise FamilyError(name, f"{path}: {key!r} must be a string")
    return settings


def _pointer(family: str, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise FamilyError(family, f"{where}: a JSON Pointer string is expected, not {value!r}")
    try:
        return parse_pointer(value)
    except ValueError as error:
        raise FamilyError(family, f"{where}: {error}") from None


def _detect_rules(family: str, table: Any) -> DetectRules:
    if not isinstance(table, Mapping) or set(table) - _DETECT_KEYS:
        raise FamilyError(family, f"[detect] accepts only {sorted(_DETECT_KEYS)}")
    required = table.get("required", [])
    equals = table.get("equals", {})
    if not isinstance(required, list) or not isinstance(equals, Mapping):
        raise FamilyError(family, "[detect] required is a list of pointers, equals a table")
    return DetectRules(
        required=tuple(_pointer(family, p, "[detect] required") for p in required),
        equals=tuple((_pointer(family, p, "[detect] equals"), v) for p, v in equals.items()),
    )


def _records(family: str, settings: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, str | None]:
    table = settings.get("records", {})
    if not isinstance(table, Mapping) or set(table) - _RECORDS_KEYS:
        raise FamilyError(family, f"[records] accepts only {sorted(_RECORDS_KEYS)}")
    pointer = table.get("pointer")
    key = table.get("key")
    if key is not None and not isinstance(key, str):
        raise FamilyError(family, "[records] key must be a string")
    return (None if pointer is None else _pointer(family, pointer, "[records] pointer")), key


def _read_schemas(folder: Path, family: str) -> tuple[dict[str, Any], dict[str, str]]:
    schemas: dict[str, Any] = {}
    uris: dict[str, str] = {}
    for path in sorted(folder.glob(f"*{SCHEMA_SUFFIX}")):
        version = path.name[: -len(SCHEMA_SUFFIX)]
        schema = _read_schema_file(path, family)
        uri = schema.get("$id") if isinstance(schema.get("$id"), str) else None
        uri = uri or f"urn:docmigrate:{quote(family)}:{quote(version)}"
        _check_schema(path, family, schema, uri)
        schemas[version], uris[version] = schema, uri
    if not schemas:
        raise FamilyError(family, f"no <version>{SCHEMA_SUFFIX} files in {folder}")
    return schemas, uris


def _read_schema_file(path: Path, family: str) -> dict[str, Any]:
    try:
        schema = jsonio.loads(path.read_bytes(), source=str(path))
    except (OSError, JSONReadError) as error:
        raise FamilyError(family, f"cannot read schema: {error}") from None
    if not isinstance(schema, dict):
        raise FamilyError(family, f"{path}: a schema file must hold a JSON object")
    return schema


def _check_schema(path: Path, family: str, schema: dict[str, Any], uri: str) -> None:
    declared = schema.get("$schema", DRAFT_2020_12)
    if declared.rstrip("#") != DRAFT_2020_12:
        raise FamilyError(family, f"{path}: $schema must be {DRAFT_2020_12!r}, not {declared!r}")
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as error:
        where = "/".join(str(p) for p in error.instance_path)
        raise FamilyError(
            family, f"{path}: not a valid JSON Schema at '/{where}': {error.message}"
        ) from None
    for pointer, reference in non_local_references(schema, uri):
        raise RemoteReferenceError(
            family,
            f"{path}: $ref {reference!r} at '{pointer}' leaves the schema; docmigrate resolves "
            "references only inside a schema file and never fetches one (use #/$defs/...)",
        )
    registry = jsonschema_rs.Registry([(uri, schema)])
    for sub in iter_subschemas(schema, uri):
        if "default" not in sub.schema:
            continue
        try:
            checker = jsonschema_rs.Draft202012Validator(
                {"$ref": f"{uri}#{quote(sub.pointer, safe='/~$')}"},
                registry=registry,
                validate_formats=True,
                offline=True,
            )
        except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as error:
            raise FamilyError(family, f"{path}: {error}") from None
        for problem in checker.iter_errors(sub.schema["default"]):
            raise FamilyError(
                family,
                f"{path}: the default at '{sub.pointer}/default' is rejected by its own "
                f"schema: {problem.message}",
            )


def _read_steps(folder: Path, family: str) -> list[Step]:
    path = folder / "steps.py"
    if not path.is_file():
        return []
    module = _import_steps(path, family)
    steps = []
    for value in vars(module).values():
        spec = getattr(value, STEP_ATTRIBUTE, None)
        if isinstance(spec, StepSpec) and callable(value):
            steps.append(Step(function=value, spec=spec))
    return steps


def _import_steps(path: Path, family: str) -> ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"docmigrate_family_{digest}_steps"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FamilyError(family, f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise FamilyError(family, f"{path}: importing it raised {error!r}") from error
    return module


def _check_graph(family: str, schemas: Mapping[str, Any], steps: list[Step]) -> tuple[str, ...]:
    """Check the version graph and return the versions, oldest first, current last."""
    edges: dict[tuple[str, str], Step] = {}
    for step in steps:
        for version in (step.source, step.target):
            if version not in schemas:
                raise FamilyError(
                    family,
                    f"step {step.name} names version {version!r}, which has no schema file "
                    f"(known: {', '.join(schemas)})",
                )
        if step.source == step.target:
            raise FamilyError(family, f"step {step.name} goes from {step.source} to itself")
        if (step.source, step.target) in edges:
            raise FamilyError(
                family,
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
        raise FamilyError(family, f"the upgrades form a cycle: {' -> '.join(cycle)}")
    reached = {t for targets in upgrades.values() for t in targets}
    heads = [v for v in schemas if not upgrades[v] and (v in reached or len(schemas) == 1)]
    if len(heads) > 1:
        raise FamilyError(family, f"more than one head (current version): {', '.join(heads)}")
    if not heads:
        raise FamilyError(family, "no version is reached by an upgrade, so none is current")
    current = heads[0]
    distance = _distances_to(current, upgrades)
    stranded = [v for v in schemas if v not in distance]
    if stranded:
        raise FamilyError(
            family,
            f"version(s) {', '.join(stranded)} cannot be upgraded to current {current}: "
            "add the missing upgrade step",
        )
    for step in steps:
        if step.spec.direction == "downgrade" and distance[step.target] <= distance[step.source]:
            raise FamilyError(
                family, f"downgrade {step.name} goes from {step.source} to a newer version"
            )
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
