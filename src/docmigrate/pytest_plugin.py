"""The docmigrate pytest plugin (entry point ``pytest11``, installed with ``docmigrate[testing]``).

It stays light to import: nothing but pytest is imported until pytest configures the run
(then Hypothesis, if installed, for its profile) or a fixture is used. It gives:

* ``docmigrate_registry`` — the families found from the test's working directory;
* ``docmigrate_family`` — a factory: ``docmigrate_family("name")`` or ``docmigrate_family(path)``;
* ``docmigrate_store_url`` — a SQLite database in the test's temporary folder;
* the Hypothesis profiles ``dev`` and ``ci``: ``DOCMIGRATE_PROFILE`` chooses one, and ``dev``
  is loaded by default unless the project chose a profile itself (loaded in a conftest, or
  ``--hypothesis-profile``). The report header says which profile is active.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docmigrate.family import Family
    from docmigrate.registry import Registry

# Hypothesis' profile before the project's conftest files ran: one it chose by itself.
_PROFILE_BEFORE_CONFTESTS = pytest.StashKey[str]()
# What the report header says about the active profile.
_PROFILE_HEADER = pytest.StashKey[str]()


def _hypothesis_installed() -> bool:
    """Whether Hypothesis can be imported (the plugin is installed without it too)."""
    return importlib.util.find_spec("hypothesis") is not None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    """Note Hypothesis' own profile before the project's conftest files may load theirs."""
    if _hypothesis_installed():
        from docmigrate.testing.profiles import current_hypothesis_profile

        early_config.stash[_PROFILE_BEFORE_CONFTESTS] = current_hypothesis_profile()
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    """Load ``$DOCMIGRATE_PROFILE``, else ``dev`` unless the project chose a profile itself."""
    if not _hypothesis_installed():
        return
    config.stash[_PROFILE_HEADER] = _load_docmigrate_profile(config)


def _load_docmigrate_profile(config: pytest.Config) -> str:
    """Load the profile this run should use; return what the report header says about it."""
    from docmigrate.exceptions import ConfigurationError
    from docmigrate.testing.profiles import (
        DEFAULT_PROFILE,
        PROFILES,
        chosen_profile,
        current_hypothesis_profile,
        load_profile,
    )

    given = config.getoption("hypothesis_profile", None)
    if given:  # Hypothesis' own plugin loads it
        return f"{given!r} (from --hypothesis-profile)"
    try:
        chosen = chosen_profile()
    except ConfigurationError as error:
        raise pytest.UsageError(str(error)) from None
    if chosen:
        load_profile(chosen)
        return repr(chosen)
    current = current_hypothesis_profile()
    if current != config.stash.get(_PROFILE_BEFORE_CONFTESTS, "default"):
        return f"{current!r} (loaded by this project; DOCMIGRATE_PROFILE=dev|ci overrides it)"
    load_profile(DEFAULT_PROFILE)
    return (
        f"{DEFAULT_PROFILE!r} (the default: {PROFILES[DEFAULT_PROFILE]} examples, no deadline; "
        f"DOCMIGRATE_PROFILE=ci for {PROFILES['ci']})"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which Hypothesis profile is active and where it came from."""
    header = config.stash.get(_PROFILE_HEADER, None)
    return f"docmigrate: Hypothesis profile {header}" if header else None


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
