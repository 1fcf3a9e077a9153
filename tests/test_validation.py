"""Validation against a version's schema: data-driven valid/invalid documents and the API."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import HISTORY_DATA, FamilyMaker, simple_schema

from docmigrate import (
    DocumentInvalidError,
    Family,
    best_match,
    iter_errors,
    jsonio,
    load_family,
    validate,
)

VERSIONS = ("1.0", "1.1")


def _cases(kind: str) -> list[tuple[str, Path]]:
    return [(v, p) for v in VERSIONS for p in sorted((HISTORY_DATA / v / kind).glob("*.json"))]


def _expected(version: str) -> dict[str, dict[str, str]]:
    return tomllib.loads((HISTORY_DATA / version / "invalid" / "cases.toml").read_text())


@pytest.mark.parametrize(("version", "path"), _cases("valid"), ids=lambda x: str(x))
def test_valid_examples_pass_their_version(history: Family, version: str, path: Path) -> None:
    """Every file under <version>/valid is valid under that version's schema."""
    document = jsonio.load_path(path).value
    assert list(iter_errors(document, history, version)) == []
    assert history.version_of(document) == version


@pytest.mark.parametrize(("version", "path"), _cases("invalid"), ids=lambda x: str(x))
def test_invalid_examples_fail_with_the_expected_error(
    history: Family, version: str, path: Path
) -> None:
    """Every file under <version>/invalid fails at the path and keyword cases.toml names."""
    expected = _expected(version)[path.stem]
    document = jsonio.load_path(path).value
    with pytest.raises(DocumentInvalidError) as caught:
        validate(document, history, version)
    found = {(e.json_path, e.keyword) for e in caught.value.errors}
    assert (expected["path"], expected["keyword"]) in found


def test_every_invalid_example_has_an_expectation() -> None:
    """cases.toml and the invalid folder list the same documents."""
    for version in VERSIONS:
        files = {p.stem for p in (HISTORY_DATA / version / "invalid").glob("*.json")}
        assert files == set(_expected(version))


def test_errors_carry_path_schema_path_and_message(history: Family) -> None:
    """Each error says where in the document, where in the schema, and what."""
    document = jsonio.loads(
        (HISTORY_DATA / "1.1" / "invalid" / "unknown-loss-category.json").read_bytes()
    )
    [error] = list(iter_errors(document, history, "1.1"))
    assert error.path == ("production_runs", 0, "losses", 0, "loss_category")
    assert error.json_path == "$.production_runs[0].losses[0].loss_category"
    assert error.pointer == "/production_runs/0/losses/0/loss_category"
    assert error.schema_path[-1] == "enum"
    assert "melted" in error.message


def test_validate_raises_best_error_first(history: Family) -> None:
    """The best error is a shallow, definite one rather than a deep one."""
    document = jsonio.loads(
        '{"version": "1.1", "exported_at": "2025-12-21T12:00:00", "production_runs": '
        '[{"uuid": "x"}], "extra": 1}'
    )
    with pytest.raises(DocumentInvalidError) as caught:
        validate(document, history, "1.1")
    assert caught.value.errors[0].json_path == "$"
    assert len(caught.value.errors) >= 2
    assert best_match(iter_errors(document, history, "1.1")) == caught.value.errors[0]


def test_unknown_enum_is_refused(history: Family) -> None:
    """The seed app accepted "melted": docmigrate does not."""
    document = jsonio.load_path(HISTORY_DATA / "1.1" / "valid" / "with-losses.json").value
    assert isinstance(document, dict)
    document["production_runs"][0]["production_status"] = "melted"
    assert [e.keyword for e in iter_errors(document, history, "1.1")] == ["enum"]


def test_formats_are_asserted(make_family: FamilyMaker) -> None:
    """Format is a check, not an annotation (date and email here)."""
    schema = simple_schema(
        "1", day={"type": "string", "format": "date"}, mail={"type": "string", "format": "email"}
    )
    family = load_family(make_family({"1": schema}))
    good = {"v": "1", "items": [{"id": "a", "day": "2025-02-28", "mail": "a@b.example"}]}
    bad = {"v": "1", "items": [{"id": "a", "day": "2025-02-30", "mail": "not-mail"}]}
    assert list(iter_errors(good, family, "1")) == []
    assert {e.keyword for e in iter_errors(bad, family, "1")} == {"format"}
    assert len(list(iter_errors(bad, family, "1"))) == 2


def test_decimal_numbers_are_checked_as_numbers(make_family: FamilyMaker) -> None:
    """Exact Decimal values validate like JSON numbers (2.0 counts as an integer)."""
    schema = simple_schema(
        "1", n={"type": "integer", "minimum": 1}, x={"type": "number", "maximum": 1}
    )
    family = load_family(make_family({"1": schema}))
    document = jsonio.loads(
        '{"v": "1", "items": [{"id": "a", "n": 2.0, "x": 1.0000000000000000001}]}'
    )
    assert [e.json_path for e in iter_errors(document, family, "1")] == ["$.items[0].x"]
