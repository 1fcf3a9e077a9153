"""A large family for generation tests and timing, inferred from real bake-tracker backups.

:func:`write_big_family` infers one schema from the backups in ``data/bake-tracker-backups``
(every top-level array of records becomes a ``$defs`` entry reached by ``$ref``; strings
with few values become enums, slugs and timestamps patterns, numbers get bounds, absent keys
are optional, ``additionalProperties`` is false), then writes five versions of it: each
version adds one required property to every ingredient, and a per-record upgrade step sets
it. Run as a script to write the family to a folder::

    python tests/big_family.py /tmp/big-family
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BACKUPS = Path(__file__).parent / "data" / "bake-tracker-backups"
SOURCES = ("3.4", "3.5")
VERSIONS = ("1.0", "2.0", "3.0", "4.0", "5.0")
_SLUG = re.compile(r"^[a-z0-9_]+$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _records(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every record of every top-level array, by array name, over the backups in ``folder``."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for name, value in document.items():
            if isinstance(value, list):
                found.setdefault(name, []).extend(v for v in value if isinstance(v, dict))
    return found


def _infer(values: list[Any]) -> dict[str, Any]:
    """A schema accepting every value in ``values`` (not null), tight enough to be useful."""
    present = [v for v in values if v is not None]
    nullable = len(present) < len(values)
    schema = _infer_present(present)
    if nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def _infer_present(values: list[Any]) -> dict[str, Any]:
    if not values:
        return {"type": "string", "maxLength": 40}
    if all(isinstance(v, bool) for v in values):
        return {"type": "boolean"}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return {"type": "integer", "minimum": min(0, *values)}
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return {"type": "number", "minimum": min(0, *values)}
    if all(isinstance(v, str) for v in values):
        return _string(values)
    if all(isinstance(v, list) for v in values):
        items = [item for v in values for item in v]
        if items and all(isinstance(i, dict) for i in items):
            return {"type": "array", "items": _object(items), "maxItems": 12}
        return {"type": "array", "items": _infer(items) if items else {}}
    if all(isinstance(v, dict) for v in values):
        return _object(values)
    return {}


def _string(values: list[str]) -> dict[str, Any]:
    distinct = sorted(set(values))
    if len(distinct) <= 8 and len(values) >= 10:
        return {"type": "string", "enum": distinct}
    if all(_TIMESTAMP.match(v) for v in values):
        return {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"}
    if all(_SLUG.match(v) for v in values):
        return {"type": "string", "pattern": "^[a-z0-9_]+$", "maxLength": 80}
    return {"type": "string", "maxLength": max(map(len, values)) * 2}


def _object(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    records = list(records)
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    properties = {name: _infer([r[name] for r in records if name in r]) for name in names}
    required = [name for name in names if all(name in r for r in records)]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def base_schema() -> dict[str, Any]:
    """The schema inferred from the backups, with one ``$defs`` entry per record array."""
    records: dict[str, list[dict[str, Any]]] = {}
    for source in SOURCES:
        for name, found in _records(BACKUPS / source).items():
            records.setdefault(name, []).extend(found)
    definitions = {name: _object(found) for name, found in records.items() if found}
    properties: dict[str, Any] = {
        "version": {"type": "string"},
        "exported_at": {"type": "string", "format": "date-time"},
        "application": {"const": "bake-tracker"},
    }
    for name in records:
        item = {"$ref": f"#/$defs/{name}"} if name in definitions else {"type": "object"}
        properties[name] = {"type": "array", "items": item, "maxItems": 6}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": ["version", "application", "ingredients"],
        "additionalProperties": False,
        "$defs": definitions,
    }


def _version_schema(base: dict[str, Any], index: int) -> dict[str, Any]:
    schema = json.loads(json.dumps(base))
    schema["properties"]["version"] = {"const": VERSIONS[index]}
    ingredient = schema["$defs"]["ingredients"]
    for earlier in VERSIONS[1 : index + 1]:
        name = f"checked_in_{earlier.replace('.', '_')}"
        ingredient["properties"][name] = {"type": "boolean"}
        ingredient["required"].append(name)
    return schema


STEPS = """
from docmigrate import upgrade

def _adds(name):
    def step(record):
        record[name] = False
        return record
    return step
"""


def write_big_family(folder: Path) -> Path:
    """Write the five-version family to ``folder`` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    base = base_schema()
    (folder / "family.toml").write_text(
        'name = "big-bake-tracker"\nversion_pointer = "/version"\n'
        '[detect]\nrequired = ["/ingredients"]\nequals = { "/application" = "bake-tracker" }\n'
        '[records]\npointer = "/ingredients"\nkey = "slug"\n',
        encoding="utf-8",
    )
    steps = [STEPS]
    for index, version in enumerate(VERSIONS):
        schema = _version_schema(base, index)
        (folder / f"{version}.schema.json").write_text(
            json.dumps(schema, indent=1), encoding="utf-8"
        )
        if index:
            previous, tag = VERSIONS[index - 1], version.replace(".", "_")
            steps.append(
                f'up_to_{tag} = upgrade("{previous}", "{version}", each="/ingredients")'
                f'(_adds("checked_in_{tag}"))\n'
            )
    (folder / "steps.py").write_text("\n".join(steps), encoding="utf-8")
    return folder


if __name__ == "__main__":
    print(write_big_family(Path(sys.argv[1])))
