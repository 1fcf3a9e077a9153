"""The docmigrate pytest plugin (entry point ``pytest11``, installed with ``docmigrate[testing]``).

It stays light to import: nothing but pytest is imported until a fixture is used. It gives:

* ``docmigrate_registry`` — the families found from the test's working directory;
* ``docmigrate_family`` — a factory: ``docmigrate_family("name")`` or ``docmigrate_family(path)``;
* ``docmigrate_store_url`` — a SQLite database in the test's temporary folder;
* the Hypothesis profiles ``dev`` and ``ci``, loaded from ``DOCMIGRATE_PROFILE``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docmigrate.family import Family
    from docmigrate.registry import Registry


def pytest_configure(config: pytest.Config) -> None:
    """Load the Hypothesis profile named by ``DOCMIGRATE_PROFILE``, if any."""
    if os.environ.get("DOCMIGRATE_PROFILE"):
        from docmigrate.testing.profiles import load_profile

        load_profile()


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which docmigrate profile is active."""
    profile = os.environ.get("DOCMIGRATE_PROFILE")
    return f"docmigrate: Hypothesis profile {profile!r}" if profile else None


@pytest.fixture
def docmigrate_registry() -> Registry:
    """The families found from the working directory (built-in, pyproject, entry points)."""
    from docmigrate.registry import Registry

    return Registry.discover()


@pytest.fixture
def docmigrate_family(docmigrate_registry: Registry) -> Callable[[str | Path], Family]:
    """Return a loader: a family by name, or the family folder at a path."""
    from docmigrate.loader import load_family

    def get(name_or_folder: str | Path) -> Family:
        if isinstance(name_or_folder, Path) or os.sep in str(name_or_folder):
            return load_family(name_or_folder)
        return docmigrate_registry.get(str(name_or_folder))

    return get


@pytest.fixture
def docmigrate_store_url(tmp_path: Path) -> str:
    """A SQLite database URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'docmigrate-store.db'}"
