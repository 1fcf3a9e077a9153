"""Settings from ``[tool.docmigrate]`` in the working directory's ``pyproject.toml``.

Known keys (command-line flags override them):

- ``family-paths`` — folders of families (or family folders), relative to the pyproject;
- ``format`` — the default ``validate --format`` (text, json, github, junit, sarif);
- ``exclude`` — glob patterns of files that ``validate`` and ``upgrade`` skip when walking
  folders (matched against the path relative to the folder given and against the path as given).

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


_KEYS = {"family-paths", "format", "exclude"}


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
    return Settings(tuple(cwd / p for p in paths), fmt, tuple(excluded), path)


def _strings(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(
            f"{path}: {key} must be a list of strings, not {reprlib.repr(value)}"
        )
    return value
