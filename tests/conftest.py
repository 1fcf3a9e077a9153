"""Shared fixtures: the built-in family, the data folders and a family-folder builder."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docmigrate import Family, Registry
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.testing import load_profile
from docmigrate.testing.profiles import active_profile

DATA = Path(__file__).parent / "data"
HISTORY_DATA = DATA / "production_history"

# The project's own suite uses the toolkit's profiles: dev by default, ci in .ci/run.
PROFILE = active_profile()
load_profile(PROFILE)
pytest_plugins = ["pytester"]


def by_profile(*, dev: int, ci: int) -> int:
    """How many examples or trials a heavy test runs: ``dev`` by default, ``ci`` in CI."""
    return ci if PROFILE == "ci" else dev


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The built-in families only."""
    return Registry.discover(builtin=True, entry_points=False, cwd=BUILTIN_FOLDER)


@pytest.fixture(scope="session")
def history(registry: Registry) -> Family:
    """The built-in production-history family."""
    return registry.get("production-history")


FamilyMaker = Callable[..., Path]


@pytest.fixture
def make_family(tmp_path: Path) -> FamilyMaker:
    """Write a family folder from schemas (version -> dict) and steps source; return its path."""

    def make(
        schemas: dict[str, Any],
        steps: str = "",
        *,
        name: str = "demo",
        toml: str = 'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n',
        folder: Path | None = None,
    ) -> Path:
        target = folder or tmp_path / name
        target.mkdir(parents=True, exist_ok=True)
        (target / "family.toml").write_text(f'name = "{name}"\n{toml}', encoding="utf-8")
        for version, schema in schemas.items():
            (target / f"{version}.schema.json").write_text(json.dumps(schema), encoding="utf-8")
        if steps:
            source = "from docmigrate import upgrade, downgrade\n" + textwrap.dedent(steps)
            (target / "steps.py").write_text(source, encoding="utf-8")
        return target

    return make


ITEMS_SCHEMA = {"type": "object", "properties": {"v": {}, "items": {"type": "array"}}}
"""A version of the "items" families: a label at /v, records at /items."""

ITEMS_TOML = (
    'version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n[records]\npointer = "/items"\n'
)


def items_family(
    make_family: FamilyMaker,
    steps: str | None = None,
    schema: dict[str, Any] = ITEMS_SCHEMA,
    versions: tuple[str, ...] = ("1", "2"),
) -> Path:
    """A family of ``{"v": LABEL, "items": [...]}`` documents, records at ``/items``."""
    schemas = {version: schema for version in versions}
    if steps is None:
        return make_family(schemas, toml=ITEMS_TOML)
    return make_family(schemas, steps, toml=ITEMS_TOML)


def sleeping_family(make_family: FamilyMaker, marker: Path, at: int) -> Path:
    """A family whose per-record step sleeps a minute at record ``at``, after touching ``marker``.

    The step (1 -> 2, each record of ``/items``) gives a fault test its moment to kill.
    """
    steps = f"""
        import time
        from pathlib import Path

        @upgrade("1", "2", each="/items")
        def slow(item):
            if item == {at}:
                Path({str(marker)!r}).touch()
                time.sleep(60)
            return item
    """
    return items_family(make_family, steps)


def simple_schema(version: str, **extra_item_properties: Any) -> dict[str, Any]:
    """A small schema for demo families: {"v": version, "items": [{"id": str, ...}]}."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["v", "items"],
        "properties": {
            "v": {"const": version},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}, **extra_item_properties},
                    "additionalProperties": False,
                },
            },
        },
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, then a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    from backends import fresh_postgres_database, postgres_server_url

    with fresh_postgres_database(postgres_server_url()) as url:
        yield url


def wait_for_marker(
    marker: Path, timeout: float, process: subprocess.Popen[Any] | None = None
) -> bool:
    """Wait until ``marker`` exists (a step wrote it: the work is under way).

    False when ``timeout`` seconds pass first, or ``process`` ends before writing it: a fault
    injected then would not land mid-work, so the caller asserts on the answer.
    """
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if time.monotonic() > deadline or (process is not None and process.poll() is not None):
            return False
        time.sleep(0.005)
    return True
