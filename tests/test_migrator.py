"""The migrator: plans, per-record steps, validation after each step, losses, no mutation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from conftest import HISTORY_DATA, FamilyMaker, simple_schema

from docmigrate import (
    DataLossError,
    DocumentInvalidError,
    Family,
    NoPathError,
    StepFailedError,
    StepOutputInvalidError,
    UnknownVersionError,
    jsonio,
    load_family,
    migrate,
)

STEP_PAIRS = sorted((HISTORY_DATA / "steps" / "add_loss_tracking").glob("*.input.json"))


@pytest.mark.parametrize("source", STEP_PAIRS, ids=lambda p: p.name)
def test_upgrade_gives_expected_document_byte_for_byte(history: Family, source: Path) -> None:
    """Each input upgrades to its expected file, down to key order and decimal text."""
    expected = source.with_name(source.name.replace(".input.", ".expected."))
    result = migrate(jsonio.load_path(source).value, history)
    assert jsonio.dumps(result.document) + "\n" == expected.read_text(encoding="utf-8")
    assert [s.name for s in result.plan] == ["add_loss_tracking"]
    assert (result.source, result.target) == ("1.0", "1.1")


def test_upgrade_fills_defaults_declared_in_the_schema(history: Family) -> None:
    """The new run fields are the 1.1 schema's defaults (the schema is the source of truth)."""
    run_schema = history.schema("1.1")["$defs"]["run"]["properties"]
    document = jsonio.load_path(HISTORY_DATA / "1.0" / "valid" / "two-runs.json").value
    run = migrate(document, history).document["production_runs"][0]
    for key in ("production_status", "loss_quantity", "losses"):
        assert run[key] == run_schema[key]["default"]


def test_input_is_never_mutated(history: Family) -> None:
    """The caller's document is equal to a snapshot after an upgrade."""
    document = jsonio.load_path(HISTORY_DATA / "1.0" / "valid" / "two-runs.json").value
    snapshot = copy.deepcopy(document)
    result = migrate(document, history)
    assert document == snapshot
    assert result.document["production_runs"][0] is not document["production_runs"][0]


def test_document_at_target_gives_equal_copy_and_empty_plan(history: Family) -> None:
    """Upgrading a current document runs nothing and returns an equal document."""
    document = jsonio.load_path(HISTORY_DATA / "1.1" / "valid" / "with-losses.json").value
    result = migrate(document, history)
    assert result.plan == ()
    assert not result.changed
    assert result.document == document
    assert result.document is not document


def test_invalid_input_is_refused_before_any_step(history: Family) -> None:
    """The input must be valid under its own version first."""
    document = jsonio.load_path(HISTORY_DATA / "1.0" / "invalid" / "negative-yield.json").value
    with pytest.raises(DocumentInvalidError) as caught:
        migrate(document, history)
    assert caught.value.version == "1.0"


def test_unknown_target_version_lists_known_versions(history: Family) -> None:
    """--to 2.0 for a family without 2.0 names the known versions."""
    document = jsonio.load_path(HISTORY_DATA / "1.0" / "valid" / "empty.json").value
    with pytest.raises(UnknownVersionError, match=r"known: 1\.0, 1\.1"):
        migrate(document, history, to="2.0")


def test_downgrade_without_losses_inverts_the_upgrade(history: Family) -> None:
    """1.0 -> 1.1 -> 1.0 gives the labelled original back."""
    document = jsonio.load_path(HISTORY_DATA / "1.0" / "valid" / "two-runs.json").value
    upgraded = migrate(document, history).document
    down = migrate(upgraded, history, to="1.0")
    assert down.document == document
    assert [s.name for s in down.plan] == ["drop_loss_tracking"]


def test_downgrade_dropping_real_losses_is_refused_unless_allowed(history: Family) -> None:
    """Losses recorded in 1.1 would vanish in 1.0: refused, naming where, unless allowed."""
    document = jsonio.load_path(HISTORY_DATA / "1.1" / "valid" / "with-losses.json").value
    with pytest.raises(DataLossError) as caught:
        migrate(document, history, to="1.0")
    assert "$.production_runs[0].losses" in caught.value.json_paths
    assert "$.production_runs[0].production_status" in caught.value.json_paths
    assert "$.production_runs[1].losses" not in caught.value.json_paths
    allowed = migrate(document, history, to="1.0", allow_loss=True).document
    assert "losses" not in allowed["production_runs"][0]
    assert allowed["version"] == "1.0"


STEPS_CHAIN = """
@upgrade("1", "2", each="/items")
def add_size(item, context):
    item.update(context.defaults())
    return item

@upgrade("2", "3")
def rename(doc):
    doc["items"] = [dict(item, size=item["size"] * 2) for item in doc["items"]]
    return doc
"""


def _chain(make_family: FamilyMaker, steps: str = STEPS_CHAIN) -> Family:
    schemas = {
        "1": simple_schema("1"),
        "2": simple_schema("2", size={"type": "integer", "default": 1}),
        "3": simple_schema("3", size={"type": "integer", "minimum": 2}),
    }
    return load_family(make_family(schemas, steps))


def test_plan_chains_per_record_and_per_document_steps(make_family: FamilyMaker) -> None:
    """A per-record step then a per-document step, each validated, label set after each."""
    family = _chain(make_family)
    result = migrate({"v": "1", "items": [{"id": "a"}, {"id": "b"}]}, family)
    assert [s.name for s in result.plan] == ["add_size", "rename"]
    assert result.document == {"v": "3", "items": [{"id": "a", "size": 2}, {"id": "b", "size": 2}]}


def test_step_output_invalid_names_step_and_path(make_family: FamilyMaker) -> None:
    """A step whose output breaks its target schema is named with from -> to and JSON path."""
    broken = STEPS_CHAIN.replace("* 2", "* 0")
    family = _chain(make_family, broken)
    with pytest.raises(StepOutputInvalidError) as caught:
        migrate({"v": "1", "items": [{"id": "a"}]}, family)
    assert str(caught.value.step) == "rename (2 -> 3)"
    assert caught.value.json_path == "$.items[0].size"
    assert "rename (2 -> 3)" in str(caught.value)


def test_failing_step_names_function_and_record(make_family: FamilyMaker) -> None:
    """An exception in a per-record step says which step and which record."""
    failing = STEPS_CHAIN.replace(
        "item.update(context.defaults())",
        "item.update(context.defaults())\n    1 / (item['id'] != 'b')",
    )
    family = _chain(make_family, failing)
    with pytest.raises(StepFailedError) as caught:
        migrate({"v": "1", "items": [{"id": "a"}, {"id": "b"}]}, family)
    assert caught.value.json_path == "$.items[1]"
    assert caught.value.step.function == "add_size"
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_step_returning_none_is_reported(make_family: FamilyMaker) -> None:
    """Forgetting `return` is caught with a hint."""
    family = _chain(make_family, STEPS_CHAIN.replace("    return doc\n", "    pass\n"))
    with pytest.raises(StepFailedError, match="returned None"):
        migrate({"v": "1", "items": []}, family)


def test_no_path_between_versions_is_an_error(make_family: FamilyMaker) -> None:
    """Without a downgrade, going back is impossible and said so."""
    family = _chain(make_family)
    with pytest.raises(NoPathError, match="no steps lead from version 3 to 1"):
        migrate({"v": "3", "items": []}, family, to="1")


@pytest.mark.parametrize(
    ("stop", "said", "cause"),
    [
        ("sys.exit(0)", "the step called sys.exit(0)", SystemExit),
        ("sys.exit()", "the step called sys.exit()", SystemExit),
        ("raise GeneratorExit('odd')", "GeneratorExit: odd", GeneratorExit),
    ],
)
def test_step_stopping_the_interpreter_is_a_step_failure(
    make_family: FamilyMaker, stop: str, said: str, cause: type[BaseException]
) -> None:
    """sys.exit or another BaseException in a step is a StepFailedError for that record."""
    stopping = STEPS_CHAIN.replace(
        "item.update(context.defaults())",
        f"item.update(context.defaults())\n    if item['id'] == 'b':\n        {stop}",
    )
    family = _chain(make_family, "import sys\n" + stopping)
    with pytest.raises(StepFailedError) as caught:
        migrate({"v": "1", "items": [{"id": "a"}, {"id": "b"}]}, family)
    assert caught.value.json_path == "$.items[1]"
    assert said in str(caught.value)
    assert type(caught.value.__cause__) is cause


def test_ctrl_c_in_a_step_propagates(make_family: FamilyMaker) -> None:
    """A KeyboardInterrupt in a step is taken for Ctrl-C and stops everything, unchanged."""
    family = _chain(
        make_family, STEPS_CHAIN.replace("    return doc\n", "    raise KeyboardInterrupt\n")
    )
    with pytest.raises(KeyboardInterrupt):
        migrate({"v": "1", "items": [{"id": "a"}]}, family)
