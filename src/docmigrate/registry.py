"""Finding families and telling which one a document belongs to.

Families come from four places, in this order: the ones built into docmigrate, folders
named by the caller (``--family-path``), ``[tool.docmigrate] family-paths`` in the working
directory's ``pyproject.toml``, and installed packages that declare an entry point in the
group ``docmigrate.families``. A folder may be a family folder or a folder of family folders.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from docmigrate.config import Settings, load_settings
from docmigrate.exceptions import ConfigurationError, DetectionError, UnknownFamilyError
from docmigrate.family import Family
from docmigrate.loader import is_family_folder, load_family
from docmigrate.steps import describe_exit

ENTRY_POINT_GROUP = "docmigrate.families"
BUILTIN_FOLDER = Path(__file__).parent / "families"


@dataclass(frozen=True)
class Registry:
    """An immutable set of families, by name."""

    families: Mapping[str, Family]

    @classmethod
    def of(cls, *families: Family) -> Registry:
        """Build a registry from loaded families (names must be unique)."""
        registry = cls(MappingProxyType({}))
        for family in families:
            registry = registry.with_family(family)
        return registry

    @classmethod
    def from_paths(cls, *paths: str | Path, builtin: bool = False) -> Registry:
        """Build a registry from family folders only (no pyproject.toml, no entry points).

        Each path is a family folder or a folder of family folders. With ``builtin``, the
        built-in families are included too.
        """
        folders = _family_folders(BUILTIN_FOLDER) if builtin else []
        for path in paths:
            folders += _family_folders(Path(path))
        unique = list(dict.fromkeys(f.resolve() for f in folders))
        return cls.of(*(load_family(folder) for folder in unique))

    @classmethod
    def discover(
        cls,
        family_paths: Iterable[str | Path] = (),
        *,
        cwd: str | Path | None = None,
        builtin: bool = True,
        entry_points: bool = True,
    ) -> Registry:
        """Load the built-in families, the given folders, pyproject's and entry points'."""
        folders: list[Path] = []
        if builtin:
            folders += _family_folders(BUILTIN_FOLDER)
        for path in family_paths:
            folders += _family_folders(Path(path))
        folders += _configured_folders(load_settings(Path(cwd or ".")))
        if entry_points:
            folders += [f for p in _entry_point_paths() for f in _family_folders(p)]
        unique = list(dict.fromkeys(f.resolve() for f in folders))
        return cls.of(*(load_family(folder) for folder in unique))

    def with_family(self, family: Family) -> Registry:
        """Return a new registry that also holds ``family``."""
        if family.name in self.families:
            raise ConfigurationError(
                f"two families are named {family.name!r}: "
                f"{self.families[family.name].location} and {family.location}"
            )
        return Registry(MappingProxyType({**self.families, family.name: family}))

    def __iter__(self) -> Iterator[Family]:
        return iter(self.families.values())

    def get(self, name: str) -> Family:
        """Return the family called ``name``; the error lists the known ones."""
        try:
            return self.families[name]
        except KeyError:
            raise UnknownFamilyError(
                f"no family named {name!r} (known: {', '.join(self.families) or 'none'})",
                candidates=tuple(self.families),
            ) from None

    def detect(self, document: Any) -> Family:
        """Return the one family whose detection rules and versions fit ``document``.

        A family is a candidate when its ``[detect]`` rules hold and the document's version
        label is one it knows (or is absent and the family has a default version).
        """
        by_rules = [f for f in self if f.detect.hold_for(document)]
        candidates = [f for f in by_rules if f.knows_version_of(document)]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = ", ".join(f.name for f in candidates)
            raise UnknownFamilyError(
                f"the document fits several families: {names}; choose one (--family)",
                candidates=[f.name for f in candidates],
            )
        # Say, for every family considered, why it was rejected: a family whose [detect]
        # rules hold but which does not know the version is not "what the document is".
        reasons = "; ".join(_rejection(f, document) for f in self)
        if by_rules:
            raise UnknownFamilyError(
                f"no family accepts the document ({reasons})",
                candidates=[f.name for f in by_rules],
            )
        known = ", ".join(self.families) or "none"
        raise UnknownFamilyError(
            f"the document matches no known family (known: {known})"
            + (f": {reasons}" if reasons else "")
        )


def _rejection(family: Family, document: Any) -> str:
    """Say why ``family`` does not accept ``document``."""
    broken = family.detect.broken_by(document)
    if broken is not None:
        return f"{family.name}: {broken}"
    problem = _label_problem(family, document).removeprefix(f"family {family.name!r}: ")
    return f"{family.name}: its [detect] rules hold, but {problem}"


def _label_problem(family: Family, document: Any) -> str:
    """Say why ``family`` refuses the version label of ``document``."""
    try:
        family.version_of(document)
    except DetectionError as error:
        return str(error)
    return f"family {family.name!r} accepts its version"


def _family_folders(path: Path) -> list[Path]:
    """Return the family folders at ``path``: itself, or its immediate subfolders."""
    if not path.is_dir():
        raise ConfigurationError(f"family path {path} is not a folder")
    if is_family_folder(path):
        return [path]
    found = sorted(sub for sub in path.iterdir() if sub.is_dir() and is_family_folder(sub))
    if not found:
        raise ConfigurationError(f"family path {path} has no family.toml, nor do its subfolders")
    return found


def _configured_folders(settings: Settings) -> list[Path]:
    """Return the family folders of ``family-paths``; an error names the pyproject.toml."""
    try:
        return [f for path in settings.family_paths for f in _family_folders(path)]
    except ConfigurationError as error:
        raise ConfigurationError(f"{settings.source}: family-paths: {error}") from None


def _entry_point_paths() -> list[Path]:
    """Return the folders that installed packages declare in ``docmigrate.families``.

    Loading an entry point runs the package's code: whatever it raises, ``sys.exit``
    included, is a ConfigurationError, except a ``KeyboardInterrupt`` (a real Ctrl-C), which
    propagates so that the whole run stops.
    """
    if not _may_declare_families():
        return []
    from importlib import metadata  # costs more than the rest of a small validate's start-up

    paths: list[Path] = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = entry_point.load()
            if callable(value) and not isinstance(value, ModuleType):
                value = value()
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            why = f"called {describe_exit(error)}" if isinstance(error, SystemExit) else error
            raise ConfigurationError(
                f"entry point {entry_point.name!r} ({entry_point.value}) failed to load: {why}"
            ) from error
        paths += _paths_of(entry_point.name, value)
    return paths


def _may_declare_families() -> bool:
    """Tell whether an installed distribution may declare ``docmigrate.families`` entry points.

    A cheap look at the ``entry_points.txt`` of each ``*.dist-info``/``*.egg-info`` folder on
    ``sys.path`` (and of an unpacked egg's ``EGG-INFO``), where :mod:`importlib.metadata`
    finds them; False only when none names the group. A ``sys.path`` entry that is not a
    folder (a zip) or a meta-path finder other than the standard one may hold distributions
    this does not see: then True, and :mod:`importlib.metadata` decides.
    """
    finders = (f for f in sys.meta_path if f is not PathFinder)
    if any(hasattr(finder, "find_distributions") for finder in finders):
        return True
    group = ENTRY_POINT_GROUP.encode()  # however the section header is spaced
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            if os.path.isfile(folder):
                return True
            continue
        for name in names:
            # "egg-info": also an unpacked egg's EGG-INFO folder, as importlib.metadata reads
            if not name.lower().endswith((".dist-info", "egg-info")):
                continue
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), "rb") as stream:
                    if group in stream.read():
                        return True
            except OSError:  # no entry points (or not a folder)
                continue
    return False


def _paths_of(name: str, value: Any) -> list[Path]:
    if isinstance(value, ModuleType):
        if value.__file__ is None:
            raise ConfigurationError(f"entry point {name!r}: module {value.__name__} has no folder")
        return [Path(value.__file__).parent]
    if isinstance(value, str | Path):
        return [Path(value)]
    if isinstance(value, Iterable):
        return [p for item in value for p in _paths_of(name, item)]
    raise ConfigurationError(
        f"entry point {name!r} must name a package, a folder path or a function returning them"
    )
