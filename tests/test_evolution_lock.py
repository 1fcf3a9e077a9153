"""The lock on released versions: fingerprints, refusal of in-place drift, lock file errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli import run

from docmigrate.evolution.lock import LOCK_NAME, LockError, schema_fingerprint
from docmigrate.loader import load_family
from docmigrate.registry import BUILTIN_FOLDER

HISTORY = BUILTIN_FOLDER / "production_history"
VALID_11 = (
    Path(__file__).parent / "data" / "production_history" / "1.1" / "valid" / "with-losses.json"
)


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A copy of the built-in family with its shipped lock (1.0 and 1.1 released)."""
    folder = tmp_path / "production_history"
    shutil.copytree(HISTORY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_builtin_family_ships_a_lock_that_holds() -> None:
    """The built-in family carries docmigrate.lock with both versions released, and loads."""
    text = (HISTORY / LOCK_NAME).read_text()
    assert text.count('status = "released"') == 2
    assert load_family(HISTORY).current == "1.1"


def test_canonical_form_ignores_key_order_number_spelling_and_def_names() -> None:
    """Reordered keys, 1.0 for 1 and a renamed $defs entry keep the fingerprint."""
    first = {
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/a"}},
        "$defs": {"a": {"maximum": 1}},
    }
    second = {
        "$defs": {"b": {"maximum": 1.0}},
        "properties": {"n": {"$ref": "#/$defs/b"}},
        "type": "object",
    }
    assert schema_fingerprint(first) == schema_fingerprint(second)
    assert schema_fingerprint(first) != schema_fingerprint(
        {**first, "$defs": {"a": {"maximum": 2}}}
    )


def test_annotations_count_unless_excluded() -> None:
    """A reworded description changes the fingerprint, unless annotations are excluded."""
    first, second = {"type": "string", "description": "a"}, {"type": "string", "description": "b"}
    assert schema_fingerprint(first) != schema_fingerprint(second)
    assert schema_fingerprint(first, exclude_annotations=True) == schema_fingerprint(
        second, exclude_annotations=True
    )


def test_origin_in_place_drift_of_released_1_1_is_caught(
    released: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing released 1.1 in place (2-decimal costs, as the origin did) is refused, exit 2."""
    path = released / "1.1.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["decimal"]["pattern"] = "^(0|[1-9][0-9]*)(\\.[0-9]{2})?$"
    path.write_text(json.dumps(schema, indent=2))
    with pytest.raises(
        LockError, match=r"version 1\.1 of production-history changed since it was locked"
    ):
        load_family(released)
    for command in (["validate", VALID_11], ["check", "production-history"]):
        code, _, err = run(capsys, *command, "--family-path", released)
        assert code == 2, command
        assert "add version 1.2 instead" in err and "Traceback" not in err


def test_changed_step_of_a_released_version_is_refused(released: Path) -> None:
    """A released version's upgrade step edited in place is named in the refusal."""
    steps = released / "steps.py"
    steps.write_text(steps.read_text().replace("run.setdefault(key, value)", "run[key] = value"))
    with pytest.raises(LockError, match=r"step upgrade 1\.0 -> 1\.1 changed"):
        load_family(released)


def test_draft_head_may_change_freely(released: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With 1.1 locked as draft, editing it is allowed; 1.0 stays protected."""
    (released / LOCK_NAME).unlink()
    toml = released / "family.toml"
    toml.write_text(toml.read_text().replace('"production-history"', '"history-copy"'))
    code, out, _ = run(capsys, "lock", "--family-path", released)
    assert code == 0 and "1.0 released, 1.1 draft" in out
    path = released / "1.1.schema.json"
    path.write_text(path.read_text().replace("adds loss tracking", "adds loss tracking!"))
    assert load_family(released).current == "1.1"
    old = released / "1.0.schema.json"
    old.write_text(old.read_text().replace('"maxLength": 40', '"maxLength": 41', 1))
    with pytest.raises(LockError, match=r"version 1\.0 of history-copy changed"):
        load_family(released)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace('status = "released"', 'status = "frozen"', 1),
            ":8: version '1.0': status",
        ),
        (
            lambda t: t.replace("lock_version = 1", "lock_version = 1\nbogus = 2"),
            ":5: unknown key 'bogus'",
        ),
        (
            lambda t: t.replace('schema = "sha256:', 'schema = "md5:', 1),
            ":8: version '1.0': schema",
        ),
        (lambda t: t + "[[[\n", "not valid TOML"),
    ],
    ids=["status", "unknown-key", "fingerprint", "toml"],
)
def test_hand_edited_lock_is_a_configuration_error_with_the_line(
    released: Path, capsys: pytest.CaptureFixture[str], edit: object, expected: str
) -> None:
    """A corrupt lock file exits 2 with its path and line, never a traceback."""
    lock = released / LOCK_NAME
    lock.write_text(edit(lock.read_text()))  # type: ignore[operator]
    code, _, err = run(capsys, "validate", VALID_11, "--family-path", released)
    assert code == 2 and expected in err and "Traceback" not in err
