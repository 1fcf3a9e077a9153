"""Every draft: families declaring draft 4, 6, 7, 2019-09 or 2020-12 load, validate and draw.

The JSON-Schema-Test-Suite groups of each draft are swept: the default profile takes a
sample, ``DOCMIGRATE_PROFILE=ci`` every group.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from conftest import FamilyMaker
from hypothesis import given, settings
from json_schema_suite import DRAFTS, attempt, groups

from docmigrate import is_valid, jsonio, load_family
from docmigrate.exceptions import FamilyError
from docmigrate.testing import documents, invalid_documents

FULL = os.environ.get("DOCMIGRATE_PROFILE") == "ci"
SAMPLE_EVERY = 1 if FULL else 9
EXAMPLES = 20 if FULL else 5


def _tuple_schema(draft: str) -> dict[str, Any]:
    """A draft-specific schema: array-form items, dependencies, definitions, boolean exclusive."""
    schema: dict[str, Any] = {
        "$schema": DRAFTS[draft],
        "type": "object",
        "required": ["v", "pair"],
        "properties": {
            "v": {"enum": ["1"]},
            "pair": {
                "type": "array",
                "items": [{"$ref": "#/definitions/small"}, {"type": "string"}],
            },
            "a": {"type": "integer"},
        },
        "dependencies": {"a": ["b"]},
        "definitions": {"small": {"type": "integer", "minimum": 0, "maximum": 3}},
    }
    if draft == "draft4":
        schema["definitions"]["small"].update(exclusiveMaximum=True)
    return schema


@pytest.mark.parametrize("draft", ["draft4", "draft6", "draft7", "draft2019-09"])
def test_a_family_of_an_older_draft_loads_validates_and_draws(
    draft: str, make_family: FamilyMaker
) -> None:
    """Loading, validation and generation follow the declared draft's rules."""
    family = load_family(make_family({"1": _tuple_schema(draft)}, toml='version_pointer = "/v"\n'))
    assert is_valid({"v": "1", "pair": [2, "x"]}, family, "1")
    assert not is_valid({"v": "1", "pair": ["x", 2]}, family, "1")
    assert not is_valid({"v": "1", "pair": [1, "x"], "a": 1}, family, "1")
    assert is_valid({"v": "1", "pair": [3, "x"]}, family, "1") is (draft != "draft4")

    @settings(max_examples=30, database=None, deadline=None)
    @given(documents(family, "1"))
    def draw(document: Any) -> None:
        assert is_valid(document, family, "1")
        if "a" in document:
            assert "b" in document

    draw()

    @settings(max_examples=10, database=None, deadline=None)
    @given(invalid_documents(family, "1"))
    def break_one(broken: Any) -> None:
        assert not is_valid(broken.document, family, "1")

    break_one()


def test_an_unknown_draft_is_refused(make_family: FamilyMaker) -> None:
    """A $schema naming no supported draft is a FamilyError at /$schema listing the drafts."""
    schema = {"$schema": "http://json-schema.org/draft-03/schema#", "type": "object"}
    with pytest.raises(FamilyError, match="draft-07") as raised:
        load_family(make_family({"1": schema}))
    assert raised.value.pointer == "/$schema"


@pytest.mark.parametrize("draft", list(DRAFTS))
def test_the_suite_groups_of_each_draft_draw_only_valid_documents(draft: str) -> None:
    """Every built group of the suite (a sample by default) draws documents, all valid."""
    sample = list(groups(draft))[::SAMPLE_EVERY]
    outcomes = [attempt(group, EXAMPLES) for group in sample]
    built = [o for o in outcomes if o.built]
    assert built
    invalid = [f"{o.group.name}: {o.invalid[0]}" for o in built if o.invalid]
    assert not invalid
    empty = [f"{o.group.name}: {o.why}" for o in built if not o.drawn]
    assert len(empty) <= len(built) // 50, empty
    refused = [f"{o.group.name}: {o.why}" for o in outcomes if not o.built]
    assert all(_deliberate(why) for why in refused), refused


DELIBERATE = (
    "is rejected by its own schema",  # a default its own subschema refuses
    "a schema file must hold a JSON object",  # a boolean root schema: nothing to detect
    "$schema at '/$schema' must be one of",  # a custom metaschema (vocabulary groups)
)
"""Why the loader refuses a suite group on purpose; any other refusal is a defect."""


@pytest.mark.parametrize("draft", list(DRAFTS))
def test_the_suite_groups_using_remotes_build_and_draw_valid_documents(draft: str) -> None:
    """Each group naming the suite's remotes (refRemote, $dynamicRef...) loads and draws."""
    remote = [g for g in groups(draft) if "localhost:1234" in jsonio.dumps(g.schema)]
    outcomes = [attempt(group, EXAMPLES) for group in remote]
    failed = [
        f"{o.group.name}: {o.invalid[:1] or o.why}"
        for o in outcomes
        if (o.built and (not o.drawn or o.invalid)) or (not o.built and not _deliberate(o.why))
    ]
    assert not failed
    assert sum(o.drawn > 0 for o in outcomes) >= 9


def _deliberate(why: str) -> bool:
    return any(reason in why for reason in DELIBERATE)
