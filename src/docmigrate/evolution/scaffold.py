"""``docmigrate new``: start a version (schema copy, step stub, example folders, lock) or a family.

A new version's step is a stub that raises until written, so the laws fail until then. With
``from_diff`` the stub is replaced by a body generated from the edited schema when the only
changes are added properties with defaults and removed optional ones: the defaults are read
from the schema at run time (``context.defaults()``), so the schema stays the single source of
truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmigrate import jsonio
from docmigrate.evolution.lock import locked_family, read_lock, write_lock
from docmigrate.exceptions import UsageError
from docmigrate.family import Family
from docmigrate.loader import SCHEMA_SUFFIX, forget_steps, load_family
from docmigrate.pointers import format_pointer, json_path

STEPS_HEADER = '''"""Steps of the {name} family (docmigrate new started this file)."""

from typing import Any

from docmigrate import StepContext, upgrade
'''
_STUB = re.compile(r"# docmigrate-stub: (?P<edge>\S+ -> \S+)\n.*?# end of docmigrate-stub\n", re.S)


@dataclass(frozen=True)
class Created:
    """What ``new`` wrote, and what to edit next."""

    paths: tuple[Path, ...]
    next_steps: tuple[str, ...]


def new_version(family: Family, version: str) -> Created:
    """Start ``version`` after the current head of ``family``; never overwrite a version file."""
    folder, current = Path(family.location), family.current
    schema_path = folder / f"{version}{SCHEMA_SUFFIX}"
    if version in family.schemas or schema_path.exists():
        raise UsageError(f"{schema_path} already exists: new never overwrites a version file")
    schema: Any = jsonio.clone(dict(family.schema(current)))
    _relabel(schema, family, current, version)
    schema_path.write_text(jsonio.dumps(schema) + "\n", encoding="utf-8")
    steps_path = folder / "steps.py"
    if not steps_path.exists():
        steps_path.write_text(STEPS_HEADER.format(name=family.name), encoding="utf-8")
    with steps_path.open("a", encoding="utf-8") as steps:
        steps.write("\n\n" + _stub(family, current, version))
    examples = _example_folders(folder, version)
    forget_steps(folder)
    reloaded = load_family(folder)
    lock_path = write_lock(folder, locked_family(reloaded, read_lock(folder), release=(current,)))
    return Created(
        (schema_path, steps_path, *examples, lock_path),
        (
            f"edit {schema_path} (version {version}; {current} is now released and locked)",
            f"docmigrate diff {family.name} {current} {version}   # what changed, per role",
            f"write the step in {steps_path} (or: docmigrate new {family.name} {version} "
            "--from-diff, when it only adds properties with defaults or removes optional ones)",
            f"put example {version} documents under {examples[0].parent}",
            f"docmigrate check {family.name}   # laws and step coverage",
            f"docmigrate lock {family.name} --release {version}   # when {version} ships",
        ),
    )


def _relabel(schema: Any, family: Family, current: str, version: str) -> None:
    """Make the copied schema's version label (a ``const`` or ``enum``) name the new version."""
    node = schema
    for token in family.version_pointer:
        properties = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(properties, dict) or token not in properties:
            return
        node = properties[token]
    if isinstance(node, dict) and node.get("const") == current:
        node["const"] = version
    elif isinstance(node, dict) and isinstance(node.get("enum"), list):
        node["enum"] = [version]


def _function_name(source: str, target: str) -> str:
    return re.sub(r"\W", "_", f"upgrade_{source}_to_{target}")


def _stub(family: Family, source: str, target: str, body: str | None = None) -> str:
    each = f', each="{format_pointer(family.records_pointer)}"' if family.records_pointer else ""
    value = "record" if family.records_pointer else "document"
    docstring = f"Upgrade a {value} from {source} to {target}."
    if body is None:
        docstring = f"{docstring} TODO: say what changes."
        body = (
            f"    # TODO: write this step; until then every law that runs it fails.\n"
            f'    raise NotImplementedError("write the {source} -> {target} step in steps.py")\n'
        )
    return (
        f"# docmigrate-stub: {source} -> {target}\n"
        f'@upgrade("{source}", "{target}"{each})\n'
        f"def {_function_name(source, target)}(\n"
        f"    {value}: dict[str, Any], context: StepContext\n"
        f") -> dict[str, Any]:\n"
        f'    """{docstring}"""\n'
        f"{body}"
        f"# end of docmigrate-stub\n"
    )


def _example_folders(folder: Path, version: str) -> list[Path]:
    made = []
    for kind in ("valid", "invalid"):
        place = folder / "examples" / version / kind
        place.mkdir(parents=True, exist_ok=True)
        note = place / "README.md"
        if not note.exists():
            note.write_text(
                f"Put {kind} {version} documents here (one JSON file each).\n", encoding="utf-8"
            )
        made.append(place)
    return made


def step_from_diff(family: Family, version: str) -> Path:
    """Replace the stub of the step into ``version`` with a body generated from the schemas."""
    from docmigrate.evolution.compare import Comparison
    from docmigrate.evolution.search import Sides

    into = [s for s in family.upgrades if s.target == version]
    if not into:
        raise UsageError(f"no upgrade step leads to {version}: run docmigrate new first")
    source = into[0].source
    steps_path = Path(family.location) / "steps.py"
    text = steps_path.read_text(encoding="utf-8")
    stub = next((m for m in _STUB.finditer(text) if m["edge"] == f"{source} -> {version}"), None)
    if stub is None:
        raise UsageError(f"{steps_path}: no docmigrate-stub for {source} -> {version} to replace")
    sides = Sides.of(family.schema(source), family.schema(version), family.resources)
    level = json_path([*(family.records_pointer or ())]) + ("[*]" if family.records_pointer else "")
    added, removed, refused = [], [], []
    for change in Comparison(
        sides.old, sides.new, sides.old_resources, sides.new_resources
    ).changes():
        details = change.details
        if change.kind == "default" or (
            change.kind == "const" and change.old_location.endswith(_label_place(family))
        ):
            continue
        if (
            change.instance_path == level
            and change.kind == "property-added"
            and (details.get("has_default") or not details.get("required"))
        ):
            added.append(details["name"]) if details.get("has_default") else None
        elif (
            change.instance_path == level
            and change.kind == "property-removed"
            and not details.get("required")
        ):
            removed.append(details["name"])
        else:
            refused.append(f"{change.instance_path}: {change.summary}")
    if refused:
        raise UsageError(
            "--from-diff writes steps only for added properties with defaults and removed "
            "optional ones; write this step by hand: " + "; ".join(refused)
        )
    value = "record" if family.records_pointer else "document"
    lines = ["    defaults = context.defaults()  # from the schema: its single source of truth\n"]
    lines += [f"    {value}.setdefault({name!r}, defaults[{name!r}])\n" for name in added]
    lines += [f"    {value}.pop({name!r}, None)\n" for name in removed]
    lines.append(f"    return {value}\n")
    body = _stub(family, source, version, "".join(lines)).replace(
        f"{source} to {version}.", f"{source} to {version}: " + _summary(added, removed) + "."
    )
    steps_path.write_text(text[: stub.start()] + body + text[stub.end() :], encoding="utf-8")
    forget_steps(family.location)
    return steps_path


def _label_place(family: Family) -> str:
    return "".join(f"/properties/{t}" for t in family.version_pointer) + "/const"


def _summary(added: list[str], removed: list[str]) -> str:
    parts = []
    if added:
        parts.append("add " + ", ".join(added) + " with their schema defaults")
    if removed:
        parts.append("drop " + ", ".join(removed))
    return "; ".join(parts) or "nothing changes but the label"


def new_family(parent: Path, name: str) -> Created:
    """Create a family folder ``parent/<name>`` with version 1.0, ready to edit."""
    folder = parent / re.sub(r"\W", "_", name)
    if folder.exists():
        raise UsageError(f"{folder} already exists: new never overwrites a family")
    folder.mkdir(parents=True)
    (folder / "family.toml").write_text(
        f'name = "{name}"\ndescription = ""\nversion_pointer = "/version"\n\n'
        f'[detect]\nrequired = ["/version"]\n',
        encoding="utf-8",
    )
    schema: Any = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{name} 1.0",
        "type": "object",
        "required": ["version"],
        "properties": {"version": {"const": "1.0"}},
    }
    schema_path = folder / f"1.0{SCHEMA_SUFFIX}"
    schema_path.write_text(jsonio.dumps(schema) + "\n", encoding="utf-8")
    examples = _example_folders(folder, "1.0")
    lock_path = write_lock(folder, locked_family(load_family(folder), None))
    return Created(
        (folder / "family.toml", schema_path, *examples, lock_path),
        (
            f"edit {folder / 'family.toml'} ([detect] rules, [records])",
            f"edit {schema_path}",
            f"docmigrate check {name} --family-path {parent}",
        ),
    )
