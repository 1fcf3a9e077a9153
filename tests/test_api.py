"""The one-call Python API, family resolution, and what authors are told (issue 10 items 6-8)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, FamilyMaker, simple_schema

import docmigrate
from docmigrate import (
    Family,
    FamilyError,
    Registry,
    StepFailedError,
    StepOutputInvalidError,
    UnknownFamilyError,
    load_family,
)
from docmigrate.api import resolve_family
from docmigrate.cli import main

ROOT = Path(__file__).parent.parent
FULL_BACKUP = ROOT / "examples" / "families" / "full_backup"
BACKUPS = DATA / "bake-tracker-backups"
DEC_27 = BACKUPS / "3.5" / "bake-tracker-backup-2025-12-27.json"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    return README[start : README.find("\n## ", start + 1)]


def test_load_reads_an_old_backup_at_the_current_version() -> None:
    """load(path, family=folder): the 3.5 backup comes back at 3.6 with its steps and positions."""
    document = docmigrate.load(DEC_27, family=FULL_BACKUP)
    assert (document.source_version, document.version) == ("3.5", "3.6")
    assert document.steps == ("ingredients_become_leaves (3.5 -> 3.6)",)
    assert document.value["ingredients"][0]["hierarchy_level"] == 2
    assert document.original["ingredients"][0].get("hierarchy_level") is None
    assert document.position(("ingredients", 0)) == (80, 5)  # line 79 opens the array
    assert isinstance(document.value["products"][0]["package_unit_quantity"], Decimal)


def test_load_takes_bytes_a_family_object_or_a_name() -> None:
    """Bytes and a Family object or a name (among a registry) give the same document."""
    family = load_family(FULL_BACKUP)
    registry = Registry.from_paths(FULL_BACKUP, builtin=True)
    from_bytes = docmigrate.load(DEC_27.read_bytes(), family=family)
    by_name = docmigrate.load(str(DEC_27), family="full-backup", registry=registry)
    detected = docmigrate.load(DEC_27, registry=registry)
    assert from_bytes.source == "<bytes>"
    assert from_bytes.value == by_name.value == detected.value
    assert detected.family.name == "full-backup"


def test_load_at_current_runs_no_step_and_to_stops_early(registry: Registry) -> None:
    """A current document comes back unchanged; to= names the version wanted."""
    current = b'{"version": "1.1", "exported_at": "2025-12-21T12:00:00", "production_runs": []}'
    document = docmigrate.load(current, family="production-history", registry=registry)
    assert (document.changed, document.version) == (False, "1.1")
    older = b'{"exported_at": "2025-12-21T12:00:00Z", "production_runs": []}'
    assert docmigrate.load(older, registry=registry, to="1.0").steps == ()


def test_resolve_family_refuses_unknown_names_and_folders(tmp_path: Path) -> None:
    """A name no registry knows, or a folder without family.toml: typed errors."""
    registry = Registry.from_paths(FULL_BACKUP)
    assert resolve_family("full-backup", registry=registry).name == "full-backup"
    assert isinstance(resolve_family(str(FULL_BACKUP)), Family)
    with pytest.raises(UnknownFamilyError, match=r"no family named 'nope' \(known: full-backup\)"):
        resolve_family("nope", registry=registry)
    with pytest.raises(FamilyError, match=r"no family\.toml"):
        resolve_family(tmp_path)


def test_registry_from_paths_takes_folders_of_families() -> None:
    """from_paths loads a family folder or a folder of them, built-in ones only when asked."""
    assert sorted(f.name for f in Registry.from_paths(ROOT / "examples" / "families")) == [
        "full-backup",
        "recipe-book",
    ]
    with_builtin = Registry.from_paths(FULL_BACKUP, builtin=True)
    assert sorted(with_builtin.families) == ["full-backup", "production-history"]


def test_readme_python_api_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's docmigrate.load example runs as written from the repository root."""
    block = re.search(r"```python\n(import docmigrate\n.*?)```", _section("Python API"), re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    exec(compile(block.group(1), "README.md", "exec"), {})


def test_readme_decimal_step_computes_in_decimal() -> None:
    """The README's whole-document step divides Decimals under its own context, rounds to cents."""
    block = re.search(
        r"```python\n(from decimal import.*?)```", _section("Write your own family"), re.S
    )
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    doc = {
        "purchases": [
            {"unit_price": "10.00", "quantity_purchased": 3},
            {"unit_price": None, "quantity_purchased": 1},
            {"unit_price": "5", "quantity_purchased": Decimal("0.0")},
        ]
    }
    result = namespace["price_per_unit"](doc)["purchases"]
    assert [p.get("price_per_unit") for p in result] == ["3.33", None, None]


def test_readme_collections_toml_matches_the_example_family() -> None:
    """The [records.NAME] tables the README shows are those of examples/families/full_backup."""
    block = re.search(r"```toml\n(mode = .*?)```", _section("Write your own family"), re.S)
    assert block is not None
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    shipped = (FULL_BACKUP / "family.toml").read_text(encoding="utf-8")
    for line in filter(None, lines):
        assert line in shipped


def test_unknown_version_of_a_detected_shape_names_every_family_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 3.4 full backup is not said to "look like" production-history: each refusal is given."""
    backup = BACKUPS / "3.4" / "bake-tracker-backup-2025-12-20.json"
    with pytest.raises(SystemExit):
        main(["validate", str(backup), "--family-path", str(FULL_BACKUP)])
    out = capsys.readouterr().out
    assert "looks like" not in out
    assert (
        "no family accepts the document (production-history: its [detect] rules hold, but "
        "version '3.4' is not a known version (known: 1.0, 1.1); full-backup: its [detect] "
        "rules hold, but version '3.4' is not a known version (known: 3.5, 3.6))"
    ) in out


def test_no_family_at_all_says_which_rule_each_one_broke() -> None:
    """A document no family's rules accept: each family and its first broken rule."""
    registry = Registry.from_paths(FULL_BACKUP, builtin=True)
    with pytest.raises(UnknownFamilyError) as caught:
        registry.detect({"ingredients": [], "recipes": [], "application": "other"})
    assert str(caught.value).endswith(
        "production-history: [detect] requires /production_runs, which the document lacks; "
        "full-backup: [detect] requires /application = 'bake-tracker', the document has 'other'"
    )


STEPS = """
@upgrade("1", "2", each="/items")
def broken(item):
    total = 0
    return helper(item)  # the line the author should see is the helper's


def helper(item):
    return {"id": item["id"], "n": 1 / 0}
"""


def test_failing_step_names_its_steps_py_line(make_family: FamilyMaker) -> None:
    """A step that raises is reported at its own steps.py file and line."""
    folder = make_family({"1": simple_schema("1"), "2": simple_schema("2")}, STEPS)
    family = load_family(folder)
    with pytest.raises(StepFailedError) as caught:
        docmigrate.migrate({"v": "1", "items": [{"id": "a"}]}, family)
    steps_file = folder / "steps.py"
    line = steps_file.read_text().splitlines().index('    return {"id": item["id"], "n": 1 / 0}')
    assert f"ZeroDivisionError: division by zero (at {steps_file}:{line + 1})" in str(caught.value)


def test_invalid_step_output_lists_the_first_ten_errors_and_how_many_more(
    make_family: FamilyMaker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Twelve bad records: the error lists ten of them and says "and 2 more"."""
    steps = '@upgrade("1", "2", each="/items")\ndef bad(item):\n    return {"id": 5}\n'
    folder = make_family({"1": simple_schema("1"), "2": simple_schema("2")}, steps)
    document = {"v": "1", "items": [{"id": str(n)} for n in range(12)]}
    with pytest.raises(StepOutputInvalidError) as caught:
        docmigrate.migrate(document, load_family(folder))
    message = str(caught.value)
    assert "(12 error(s))" in message and message.endswith("; and 2 more")
    assert all(f"$.items[{n}].id" in message for n in range(10))
    assert "$.items[10].id" not in message
    source = tmp_path / "twelve.json"
    source.write_text(json.dumps(document))
    with pytest.raises(SystemExit):
        main(["upgrade", str(source), "--dry-run", "--in-place", "--family-path", str(folder)])
    out = capsys.readouterr().out
    assert out.count("produced an invalid document") == 11
    assert "and 2 more error(s)" in out
