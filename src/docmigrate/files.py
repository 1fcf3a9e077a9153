"""Finding document files and writing them atomically.

An atomic write puts the new bytes in a temporary file in the destination's folder, flushes
them to disk, gives the file the permissions of the one it replaces and renames it over the
destination: a reader, or a run that is killed midway, sees the old file or the new one, never
a mix. Temporary files are named ``.<name>.<random>.docmigrate-tmp``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

from docmigrate.exceptions import WriteError

TEMP_SUFFIX = ".docmigrate-tmp"


def iter_json_files(
    paths: Iterable[str | Path], exclude: Sequence[str] = ()
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for each file given and each ``*.json`` under each folder given.

    ``root`` is the argument the file was found under (the file itself for a file argument),
    so that callers can rebuild relative layouts. Folders are walked in sorted order; hidden
    files and folders (names starting with ``.``) and files matching an ``exclude`` glob (on
    the path relative to the folder given, or the path as given) are skipped. ``-`` (standard
    input) is passed through.
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(path.rglob("*.json")):
                relative = found.relative_to(path)
                if any(part.startswith(".") for part in relative.parts) or not found.is_file():
                    continue
                if not _excluded(found, relative, exclude):
                    yield found, path
        else:
            yield path, path


def _excluded(path: Path, relative: Path, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch(relative.as_posix(), pattern) or fnmatch(path.as_posix(), pattern)
        for pattern in patterns
    )


def remove_leftovers(paths: Iterable[str | Path]) -> list[Path]:
    """Delete temporary files an interrupted run left in the given folders; return them.

    Only names this module makes (``.<name>.<random>.docmigrate-tmp``) are touched; for a file
    argument its own folder is searched, for a folder argument the whole tree.
    """
    removed = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            candidates = path.rglob(f".*{TEMP_SUFFIX}")
        elif str(given) != "-":
            candidates = path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}")
        else:
            continue
        for leftover in candidates:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
                removed.append(leftover)
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its permission bits.

    A new file gets the permissions the process's umask gives. Raises :class:`WriteError` and
    leaves ``path`` as it was when anything fails.
    """
    folder = path.parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as error:
        raise WriteError(str(path), f"cannot read its permissions: {error.strerror}") from error
    temporary = None
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=folder)
        temporary = Path(name)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        temporary = None
        _fsync_folder(folder)
    except OSError as error:
        raise WriteError(
            str(path),
            f"not written ({error.strerror or error}); the file that was there is unchanged",
        ) from error
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (not supported everywhere, so failures are ignored)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
