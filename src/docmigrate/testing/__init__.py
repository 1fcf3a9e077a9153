"""Property-testing toolkit: documents drawn from schemas and ready-made laws.

>>> from docmigrate.testing import documents, invalid_documents, check_family
>>> from docmigrate.testing import family_tests
>>> test_my_family = family_tests("families/recipe_book")   # in a test module: one test per law

Requires ``hypothesis`` (install ``docmigrate[testing]``).
"""

from __future__ import annotations

from collections.abc import Callable

from docmigrate.api import FamilyLike, resolve_family
from docmigrate.testing.invalid import InvalidDocument, invalid_documents
from docmigrate.testing.laws import (
    LAWS,
    Exercise,
    VacuousLawError,
    chain_lands_valid_at_current,
    check_family,
    downgrades_invert_upgrades,
    invalid_documents_are_refused,
    steps_produce_valid_output,
    store_round_trip,
    upgrade_at_current_is_identity,
    upgrades_never_mutate_input,
)
from docmigrate.testing.profiles import load_profile, register_profiles
from docmigrate.testing.strategies import documents, from_schema

STORE_LAW = "store round trip"


def family_tests(
    family: FamilyLike, *, store_url: str | None = None, examples: int | None = None
) -> Callable[[str], None]:
    """Return a pytest test function, one test per law, for a family (or its folder).

    Assign it to a ``test_...`` name in a test module. With ``store_url`` the store round trip
    is checked too (the law empties that database's docmigrate tables). A law that exercised
    nothing fails (:class:`VacuousLawError`); the downgrade law is left out for a family
    without downgrades, so that "passed" never stands for "nothing to check".
    """
    import pytest

    loaded = resolve_family(family)
    names = [
        name
        for name in [*LAWS, *([STORE_LAW] if store_url is not None else [])]
        if name != "downgrades invert upgrades" or loaded.downgrades
    ]

    @pytest.mark.parametrize("law", names)
    def test_family_law(law: str) -> None:
        if law == STORE_LAW:
            assert store_url is not None
            store_round_trip(loaded, store_url, examples=examples)
        else:
            LAWS[law](loaded, examples=examples)

    return test_family_law


__all__ = [
    "LAWS",
    "STORE_LAW",
    "Exercise",
    "InvalidDocument",
    "VacuousLawError",
    "chain_lands_valid_at_current",
    "check_family",
    "documents",
    "downgrades_invert_upgrades",
    "family_tests",
    "from_schema",
    "invalid_documents",
    "invalid_documents_are_refused",
    "load_profile",
    "register_profiles",
    "steps_produce_valid_output",
    "store_round_trip",
    "upgrade_at_current_is_identity",
    "upgrades_never_mutate_input",
]
