"""Settings from ``[tool.docmigrate]`` in the working directory's ``pyproject.toml``.

Known keys (command-line flags override them):

- ``family-paths`` — folders of families (or family folders), relative to the pyproject;
- ``format`` — the default ``validate --format`` (text, json, github, junit, sarif);
- ``exclude`` — glob patterns of files that ``validate`` and ``upgrade`` skip when walking
  folders (matched against the path relative to the folder given and against the path as given);
- ``scheduler`` — the Dask scheduler that ``validate``, ``upgrade`` and ``import`` run on
  (``tcp://HOST:8786``, ``local`` or ``local:N``; see ``--scheduler``);
- ``scheduler-timeout`` — seconds to wait for that scheduler (default 10).

An unknown key is a configuration error, never ignored: a typo would otherwise silently change
what CI checks.
"""

from __future__ import annotations

import reprlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmigrate.exceptions import ConfigurationError

FORMATS = ("text", "json", "github", "junit", "sarif")


@dataclass(frozen=True)
class Settings:
    """What ``[tool.docmigrate]`` says (empty when there is no pyproject or no table)."""

    family_paths: tuple[Path, ...] = ()
    format: str | None = None
    exclude: tuple[str, ...] = ()
    source: Path | None = None
    scheduler: str | None = None
    scheduler_timeout: float | None = None


_KEYS = {"family-paths", "format", "exclude", "scheduler", "scheduler-timeout"}


def load_settings(cwd: Path) -> Settings:
    """Read ``cwd/pyproject.toml``; raise ConfigurationError for anything malformed."""
    path = cwd / "pyproject.toml"
    if not path.is_file():
        return Settings()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path}: {error}") from None
    tool: Any = document.get("tool", {})
    if not isinstance(tool, Mapping):
        raise ConfigurationError(f"{path}: [tool] must be a table, not {reprlib.repr(tool)}")
    table: Any = tool.get("docmigrate", {})
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"{path}: [tool.docmigrate] must be a table, not {reprlib.repr(table)}"
        )
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown key(s) in [tool.docmigrate]: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KEYS))})"
        )
    paths = _strings(table.get("family-paths", []), path, "family-paths")
    excluded = _strings(table.get("exclude", []), path, "exclude")
    fmt = table.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ConfigurationError(f"{path}: format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    scheduler = table.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ConfigurationError(
            f'{path}: scheduler must be an address such as "tcp://HOST:8786" or "local:4", '
            f"not {reprlib.repr(scheduler)}"
        )
    timeout = table.get("scheduler-timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise ConfigurationError(
            f"{path}: scheduler-timeout must be a number of seconds above 0, "
            f"not {reprlib.repr(timeout)}"
        )
    return Settings(
        tuple(cwd / p for p in paths),
        fmt,
        tuple(excluded),
        path,
        scheduler,
        None if timeout is None else float(timeout),
    )


def _strings(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(
            f"{path}: {key} must be a list of strings, not {reprlib.repr(value)}"
        )
    return value
