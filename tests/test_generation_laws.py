"""Laws count what they exercised and fail when they exercised nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FamilyMaker, simple_schema

from docmigrate import load_family
from docmigrate.cli import main
from docmigrate.testing import (
    VacuousLawError,
    downgrades_invert_upgrades,
    family_tests,
    steps_produce_valid_output,
)

STEPS = """
@upgrade("1", "2", each="/items")
def touch(item):
    return item
"""


def _empty_items_family(make_family: FamilyMaker) -> Path:
    """A family whose record array can only ever be empty (maxItems 0)."""
    schemas = {}
    for version in ("1", "2"):
        schema = simple_schema(version)
        schema["properties"]["items"]["maxItems"] = 0
        schemas[version] = schema
    return make_family(
        schemas, STEPS, toml='version_pointer = "/v"\n[records]\npointer = "/items"\n'
    )


def test_a_step_never_called_on_a_record_fails_the_law(make_family: FamilyMaker) -> None:
    """Every drawn record array empty: the steps law fails as vacuous instead of passing."""
    family = load_family(_empty_items_family(make_family))
    with pytest.raises(VacuousLawError, match="never called on a document with records"):
        steps_produce_valid_output(family, examples=10)


def test_the_steps_law_counts_records_and_calls(make_family: FamilyMaker) -> None:
    """On a sound family the law reports documents, records and calls on records."""
    family = load_family(make_family({"1": simple_schema("1"), "2": simple_schema("2")}, STEPS))
    exercise = steps_produce_valid_output(family, examples=30)
    assert exercise.counts["step calls"] == 30
    assert exercise.counts["records"] > 0
    assert exercise.counts["calls of 1->2 on records"] > 0


def test_no_downgrades_is_said_not_passed(make_family: FamilyMaker) -> None:
    """The downgrade law on a family without downgrades says so and counts nothing."""
    family = load_family(make_family({"1": simple_schema("1"), "2": simple_schema("2")}, STEPS))
    exercise = downgrades_invert_upgrades(family, examples=5)
    assert exercise.note == "no downgrades"
    assert not exercise.counts


def test_family_tests_leave_out_the_downgrade_law_without_downgrades(
    make_family: FamilyMaker,
) -> None:
    """family_tests does not parametrize a law that has nothing to check."""
    folder = make_family({"1": simple_schema("1"), "2": simple_schema("2")}, STEPS)
    test = family_tests(folder)
    marks = test.pytestmark  # type: ignore[attr-defined]
    laws = next(mark.args[1] for mark in marks if mark.name == "parametrize")
    assert "downgrades invert upgrades" not in laws
    assert "steps produce valid output" in laws


def test_check_prints_counts_and_fails_a_vacuous_law(
    make_family: FamilyMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` shows what each law exercised, fails a vacuous one, and says "no downgrades"."""
    folder = _empty_items_family(make_family)
    with pytest.raises(SystemExit) as done:
        main(["check", "--family-path", str(folder), "--examples", "10", "--no-store"])
    out = capsys.readouterr().out
    assert done.value.code == 1
    assert "FAIL  steps produce valid output: exercised nothing" in out
    assert "--    downgrades invert upgrades: no downgrades" in out
    assert "records at '/items'" in out or "no record at '/items'" in out
