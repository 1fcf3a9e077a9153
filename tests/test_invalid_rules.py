"""invalid_documents breaks every kind of rule a schema states, and the law checks each kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker
from hypothesis import HealthCheck, given, settings

from docmigrate import DocumentInvalidError, Family, iter_errors, load_family, migrate
from docmigrate.testing import invalid_documents, invalid_documents_are_refused
from docmigrate.testing.invalid import RULES, InvalidDocument

ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "count"],
    "additionalProperties": False,
    "minProperties": 2,
    "maxProperties": 7,
    "dependentRequired": {"count": ["id"], "ratio": ["id"]},
    "properties": {
        "id": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9, "multipleOf": 3},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "day": {"type": "string", "format": "date"},
        "flag": {"const": True},
        "tags": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
        },
    },
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["v", "items"],
    "properties": {"v": {"const": "1"}, "items": {"type": "array", "items": ITEM}},
}


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Family:
    """A family whose records state one of every kind of rule."""
    folder: Path = tmp_path_factory.mktemp("kitchen")
    (folder / "family.toml").write_text(
        'name = "kitchen"\nversion_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
    )
    (folder / "1.schema.json").write_text(json.dumps(SCHEMA))
    return load_family(folder)


@pytest.mark.parametrize("rule", RULES)
def test_every_kind_of_rule_is_broken_and_reported_where_tagged(kitchen: Family, rule: str) -> None:
    """For each rule kind, a drawn document breaks it; the validator reports it at the path."""
    drawn = []

    @settings(max_examples=10, suppress_health_check=list(HealthCheck), database=None)
    @given(invalid_documents(kitchen, "1", rules=[rule]))
    def reported_where_tagged(broken: InvalidDocument) -> None:
        assert broken.rule == rule
        reported = {(e.path, e.keyword) for e in iter_errors(broken.document, kitchen, "1")}
        assert (broken.path, rule) in reported, (broken.description, reported)
        with pytest.raises(DocumentInvalidError):
            migrate(broken.document, kitchen)
        drawn.append(broken)

    reported_where_tagged()
    assert drawn, f"no document breaking {rule} was drawn"


def test_the_law_checks_many_kinds_of_rule(kitchen: Family) -> None:
    """invalid_documents_are_refused passes and says which kinds of rule it broke."""
    exercise = invalid_documents_are_refused(kitchen, examples=200)

    kinds = {name.removeprefix("rule ") for name in exercise.counts if name.startswith("rule ")}
    assert len(kinds) >= 8, exercise.counts
    assert kinds <= set(RULES)


def test_a_rule_that_cannot_be_broken_is_not_claimed(make_family: FamilyMaker) -> None:
    """MultipleOf 1 on integers cannot fail, and no document claims to break it."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["v", "items"],
        "properties": {
            "v": {"const": "1"},
            "items": {"type": "array", "items": {"type": "integer", "multipleOf": 1}},
        },
    }
    family = load_family(make_family({"1": schema}, name="whole"))

    @settings(max_examples=100, suppress_health_check=list(HealthCheck))
    def never_multiple_of(document: InvalidDocument) -> None:
        assert document.rule != "multipleOf"

    given(invalid_documents(family, "1"))(never_multiple_of)()


def test_unknown_rule_kinds_are_refused(kitchen: Family) -> None:
    """A misspelt rule kind is a ValueError, not a strategy that never draws."""
    with pytest.raises(ValueError, match="unknown rule kind"):
        invalid_documents(kitchen, "1", rules=["minimun"])  # type: ignore[list-item]


def test_strategies_and_laws_take_a_folder_or_a_name(kitchen: Family) -> None:
    """documents(), invalid_documents() and the laws accept a family folder or a name."""
    from docmigrate.testing import documents, upgrade_at_current_is_identity

    folder = Path(kitchen.location)
    seen = []

    @settings(max_examples=5, database=None)
    @given(documents(folder), invalid_documents(str(folder), rules=["const"]))
    def drawn(document: Any, broken: InvalidDocument) -> None:
        seen.append((document["v"], broken.rule))

    drawn()
    assert seen and all(pair == ("1", "const") for pair in seen)
    assert upgrade_at_current_is_identity("production-history", examples=5).counts["documents"]
