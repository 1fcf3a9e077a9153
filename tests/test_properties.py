"""Laws of the migrator, checked on documents drawn from each version's schema."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from docmigrate import Family, Registry, is_valid, migrate
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.testing import documents

HISTORY = Registry.discover(builtin=True, entry_points=False, cwd=BUILTIN_FOLDER).get(
    "production-history"
)


def _labelled(document: dict[str, Any], version: str) -> dict[str, Any]:
    return {"version": version, **{k: v for k, v in document.items() if k != "version"}}


@given(st.sampled_from(HISTORY.versions).flatmap(lambda v: documents(HISTORY, v)))
def test_documents_of_every_version_upgrade_to_valid_current(document: dict[str, Any]) -> None:
    """Whatever version a valid document is at, the chain lands valid at current."""
    result = migrate(document, HISTORY)
    assert result.target == HISTORY.current
    assert is_valid(result.document, HISTORY, HISTORY.current)
    assert result.document["version"] == HISTORY.current


@given(st.sampled_from(HISTORY.versions).flatmap(lambda v: documents(HISTORY, v)))
def test_upgrade_never_mutates_its_input(document: dict[str, Any]) -> None:
    """The caller's document is unchanged, however the steps work."""
    snapshot = copy.deepcopy(document)
    migrate(document, HISTORY)
    assert document == snapshot


@given(documents(HISTORY, HISTORY.current))
def test_upgrade_at_current_is_the_identity(document: dict[str, Any]) -> None:
    """A current document comes back equal, with an empty plan."""
    result = migrate(document, HISTORY)
    assert result.plan == ()
    assert result.document == document


@given(documents(HISTORY, "1.0"))
def test_decimal_text_and_key_order_survive_the_upgrade(document: dict[str, Any]) -> None:
    """Every key keeps its place and every decimal string its exact text; new keys come last."""
    upgraded = migrate(document, HISTORY).document
    assert [k for k in upgraded if k != "version"] == [k for k in document if k != "version"]
    for old, new in zip(document["production_runs"], upgraded["production_runs"], strict=True):
        assert list(new.items())[: len(old)] == list(old.items())
        assert list(new)[len(old) :] == ["production_status", "loss_quantity", "losses"]


@given(documents(HISTORY, "1.0"))
def test_downgrade_inverts_upgrade_for_1_0_documents(document: dict[str, Any]) -> None:
    """downgrade(upgrade(x)) == x; a 1.0 document without a label comes back labelled 1.0."""
    upgraded = migrate(document, HISTORY).document
    downgraded = migrate(upgraded, HISTORY, to="1.0").document
    assert downgraded == _labelled(document, "1.0")


@given(
    st.sampled_from(HISTORY.versions).flatmap(lambda v: documents(HISTORY, v).map(lambda d: (v, d)))
)
def test_drawn_documents_are_valid_under_their_schema(drawn: tuple[str, dict[str, Any]]) -> None:
    """The strategy draws documents its own schema accepts (guards the other laws)."""
    version, document = drawn
    family: Family = HISTORY
    assert is_valid(document, family, version)
    assert family.version_of(document) == version
