"""The property-testing toolkit: strategies, invalid documents, laws, plugin and profiles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker, simple_schema
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from docmigrate import Family, Registry, is_valid, iter_errors, load_family
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.testing import (
    InvalidDocument,
    chain_lands_valid_at_current,
    documents,
    downgrades_invert_upgrades,
    family_tests,
    invalid_documents,
    steps_produce_valid_output,
)
from docmigrate.testing.invalid import RULES

ROOT = Path(__file__).parent.parent
RECIPE_BOOK = ROOT / "examples" / "families" / "recipe_book"
HISTORY = Registry.discover(builtin=True, entry_points=False, cwd=BUILTIN_FOLDER).get(
    "production-history"
)
BOOK = load_family(RECIPE_BOOK)

# Dogfooding: the built-in family and the README's example family pass every law.
test_production_history_laws = family_tests(HISTORY, store_url="sqlite:///:memory:")
test_recipe_book_laws = family_tests(RECIPE_BOOK, store_url="sqlite:///:memory:")


@given(
    st.sampled_from(
        [(HISTORY, v) for v in HISTORY.versions] + [(BOOK, v) for v in BOOK.versions]
    ).flatmap(lambda fv: documents(*fv).map(lambda d: (fv, d)))
)
def test_every_drawn_document_is_valid(drawn: tuple[tuple[Family, str], Any]) -> None:
    """documents(family, version) draws only documents that version's schema accepts."""
    (family, version), document = drawn
    assert is_valid(document, family, version)


@given(
    st.sampled_from(HISTORY.versions).flatmap(
        lambda v: invalid_documents(HISTORY, v).map(lambda d: (v, d))
    )
)
def test_invalid_documents_break_the_rule_they_name(drawn: tuple[str, InvalidDocument]) -> None:
    """Each invalid document fails, and among its errors is the tagged rule at the tagged place."""
    version, broken = drawn
    errors = list(iter_errors(broken.document, HISTORY, version))
    assert (broken.path, broken.rule) in {(e.path, e.keyword) for e in errors}
    assert broken.rule in RULES


def test_invalid_documents_include_a_decimal_written_as_a_number() -> None:
    """The repertoire includes the seed app's float-for-decimal mistake, reported as `type`."""
    broken = find(
        invalid_documents(HISTORY, "1.1"),
        lambda b: b.description == "a number where a decimal string belongs",
        # Any such document will do: shrinking it to a minimal one took up to minutes.
        settings=settings(max_examples=500, database=None, phases=[Phase.generate]),
    )
    assert broken.rule == "type"
    assert "type" in {e.keyword for e in iter_errors(broken.document, HISTORY, "1.1")}


def test_drawn_documents_cover_runs_with_losses() -> None:
    """Fifty drawn 1.1 documents include runs with losses (the strategy reaches nested arrays)."""
    drawn = []

    @settings(max_examples=50, database=None)
    @given(documents(HISTORY))
    def collect(document: Any) -> None:
        drawn.append(document)

    collect()
    assert any(run.get("losses") for d in drawn for run in d["production_runs"])


BROKEN_STEP = """
@upgrade("1", "2", each="/items")
def add_size(item, context):
    item["size"] = 1 if item["id"] else 0
    return item
"""


def _two_versions(make_family: FamilyMaker, steps: str) -> Family:
    schemas = {
        "1": simple_schema("1"),
        "2": simple_schema("2", size={"type": "integer", "minimum": 1, "default": 1}),
    }
    return load_family(make_family(schemas, steps))


def test_step_law_fails_with_the_step_and_a_minimal_example(make_family: FamilyMaker) -> None:
    """A step whose output is sometimes invalid is caught, named, and shrunk to one record."""
    family = _two_versions(make_family, BROKEN_STEP)
    with pytest.raises(AssertionError, match=r"step add_size \(1 -> 2\) broke") as caught:
        steps_produce_valid_output(family, examples=200)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert re.search(r"Falsifying example|Failing test case", notes)
    assert "'id': ''" in notes  # shrunk to the failing record


def test_chain_law_fails_when_a_version_cannot_land(make_family: FamilyMaker) -> None:
    """The chain law reports which version failed to reach current."""
    family = _two_versions(make_family, BROKEN_STEP)
    with pytest.raises(AssertionError, match=r"upgrading a valid 1 document failed"):
        chain_lands_valid_at_current(family, examples=200)


def test_downgrade_law_catches_undeclared_loss(make_family: FamilyMaker) -> None:
    """A downgrade that drops more than it declares breaks the inversion law."""
    steps = """
@upgrade("1", "2", each="/items")
def add_size(item, context):
    item.update(context.defaults())
    return item

@downgrade("2", "1", each="/items", drops=["/size"])
def drop_size(item):
    item.pop("size", None)
    item["id"] = item["id"].upper()
    return item
"""
    family = _two_versions(make_family, steps)
    with pytest.raises(AssertionError, match=r"did not give the document back"):
        downgrades_invert_upgrades(family, examples=200)


README_TEST = re.search(
    r"## Test your own family.*?```python\n(.*?)```",
    (ROOT / "README.md").read_text(encoding="utf-8"),
    re.S,
)


def test_readme_example_test_file_runs_against_the_example_family(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's test file, dropped into a project with the example family, passes."""
    assert README_TEST is not None
    source = README_TEST.group(1)
    assert len(source.strip().splitlines()) <= 15
    shutil.copytree(RECIPE_BOOK, pytester.path / "families" / "recipe_book")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_recipe_book.py").write_text(source)
    monkeypatch.setenv("DOCMIGRATE_PROFILE", "dev")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["docmigrate: Hypothesis profile 'dev'"])


def test_plugin_fixtures_are_available(pytester: pytest.Pytester) -> None:
    """The pytest11 plugin provides the registry, family and store fixtures."""
    pytester.makepyfile(
        """
        def test_fixtures(docmigrate_registry, docmigrate_family, docmigrate_store_url):
            family = docmigrate_family("production-history")
            assert family is docmigrate_registry.get("production-history")
            assert docmigrate_store_url.startswith("sqlite:///")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ci_profile_runs_many_examples(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOCMIGRATE_PROFILE=ci selects the thorough profile (200 examples, no deadline)."""
    pytester.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            assert settings.default.max_examples == 200
            assert settings.default.deadline is None
        """
    )
    monkeypatch.setenv("DOCMIGRATE_PROFILE", "ci")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
