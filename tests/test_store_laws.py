"""Round-trip laws of the store, on documents drawn from the schemas."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from conftest import by_profile
from hypothesis import given, settings

from docmigrate import Registry, migrate
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.store import Provenance, SQLStore
from docmigrate.store.production_history import utc_sort_key
from docmigrate.testing import documents

HISTORY = Registry.discover(builtin=True, entry_points=False, cwd=BUILTIN_FOLDER).get(
    "production-history"
)
STAMP = "2026-01-01T00:00:00+00:00"


def as_the_app_writes(document: dict[str, Any]) -> dict[str, Any]:
    """Give every record a distinct uuid and order runs newest first, as real exports are."""
    runs = document["production_runs"]
    for i, run in enumerate(runs):
        run["uuid"] = f"run-{i}"
        for kind in ("consumptions", "losses"):
            for j, child in enumerate(run.get(kind, [])):
                child["uuid"] = f"run-{i}-{kind}-{j}"
    runs.sort(key=lambda run: utc_sort_key(run["produced_at"]), reverse=True)
    return document


def _round_trip(document: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        with SQLStore(str(Path(folder) / "store.db")) as store:
            store.write(document, HISTORY, Provenance("drawn.json", "0" * 64, "1.1"))
            first: dict[str, Any] = store.read(HISTORY, exported_at=STAMP)
        with SQLStore(str(Path(folder) / "second.db")) as store:
            store.write(first, HISTORY, Provenance("export.json", "0" * 64, "1.1"))
            second: dict[str, Any] = store.read(HISTORY, exported_at=STAMP)
    assert second == first
    return first


@settings(max_examples=by_profile(dev=20, ci=40))
@given(documents(HISTORY, "1.1").map(as_the_app_writes))
def test_export_import_export_is_identical_for_1_1(document: dict[str, Any]) -> None:
    """Import then export gives the document back (apart from exported_at), and again."""
    assert _round_trip(document) == {**document, "exported_at": STAMP}


@settings(max_examples=by_profile(dev=20, ci=40))
@given(documents(HISTORY, "1.0").map(as_the_app_writes))
def test_1_0_documents_upgraded_on_the_way_in_round_trip(document: dict[str, Any]) -> None:
    """A 1.0 document, upgraded, stores and exports as its 1.1 form."""
    upgraded = migrate(document, HISTORY).document
    assert _round_trip(upgraded) == {**upgraded, "exported_at": STAMP}
