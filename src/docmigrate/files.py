"""Finding document files and writing them without ever losing what was there.

Writing a file (:func:`write_atomic`) follows a symbolic link to its target and then takes one
of two ways:

- **replace** (the usual way): the new bytes go to a temporary file in the destination's
  folder, are flushed to disk, get the permissions (and, when it may set them, the owner and
  group) of the file they replace, and are renamed over it. A reader, or a run killed midway,
  sees the old file or the new one, never a mix.
- **rewrite in place**, when a rename would break something: the file has other hard links
  (they would keep the old content), or its owner or group is one this process cannot give a
  new file. The original bytes are first written to a *journal* beside the file (temporary,
  flushed, then renamed to its final name, so a journal is always complete), then the file's
  own content is overwritten and flushed, then the journal is removed. A run killed in
  between leaves the journal, and the next run (:func:`remove_leftovers`) puts the original
  back.

Temporary files are named ``.<name>.<random>.docmigrate-tmp`` and journals
``.<name>.<random>.docmigrate-orig``. The process writing one holds an exclusive ``flock`` on it
for as long as it exists, and the kernel drops that lock when the process dies (even by
SIGKILL): a leftover whose lock can be taken belongs to a dead run, one whose lock cannot
belongs to a live run and is left alone. POSIX only.

Backups (:func:`write_backup`) are never overwritten: a name already taken gets a numbered
suffix (``x.json.~1~``, ``x.json.~2~``, ... as GNU ``cp --backup=numbered`` does).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import BinaryIO

from docmigrate.exceptions import WriteError

TEMP_SUFFIX = ".docmigrate-tmp"
JOURNAL_SUFFIX = ".docmigrate-orig"
_LEFTOVER_MARK = ".docmigrate-"  # what TEMP_SUFFIX and JOURNAL_SUFFIX begin with
BACKUP_MANIFEST = "docmigrate-backup-manifest.jsonl"
"""The file that marks a folder as a docmigrate backup folder (never walked as input)."""


# --- finding files -----------------------------------------------------------------------------


def iter_json_files(
    paths: Iterable[str | Path], exclude: Sequence[str] = ()
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for each file given and each ``*.json`` under each folder given.

    ``root`` is the argument the file was found under (the file itself for a file argument),
    so that callers can rebuild relative layouts. Folders are walked in sorted order; hidden
    files and folders (names starting with ``.``), backup folders (holding a
    ``docmigrate-backup-manifest.jsonl``), files that are not regular files, and files matching
    an ``exclude`` glob (on the path relative to the folder given, or the path as given) are
    skipped. A file argument is always yielded (callers refuse it if it is not a regular file),
    and so is a folder argument under which nothing is found, or that is a backup folder
    (callers report it). ``-`` (standard input) is passed through.
    """
    for given in paths:
        path = Path(given)
        if str(given) != "-" and path.is_dir() and not is_backup_folder(path):
            found = False
            for found_path in _walk(path, exclude):
                found = True
                yield found_path, path
            if not found:
                yield path, path  # reading it reports "no JSON files found under ..."
        else:
            yield path, path


def _walk(folder: Path, exclude: Sequence[str]) -> Iterator[Path]:
    for current, folders, names in os.walk(folder):
        here = Path(current)
        if (here / BACKUP_MANIFEST).exists():  # a backup folder: none of it is input
            folders[:] = []
            continue
        # Prune in place (os.walk reads the list back); the order makes the output stable.
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            found = here / name
            if name.startswith(".") or not name.endswith(".json") or not found.is_file():
                continue
            if not _excluded(found, found.relative_to(folder), exclude):
                yield found


def _excluded(path: Path, relative: Path, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch(relative.as_posix(), pattern) or fnmatch(path.as_posix(), pattern)
        for pattern in patterns
    )


def is_backup_folder(path: Path) -> bool:
    """Tell whether ``path`` is a folder docmigrate keeps backups in."""
    return (path / BACKUP_MANIFEST).is_file()


FOLDER = "a folder"
"""What :func:`not_a_regular_file` says of a folder."""


def not_a_regular_file(path: Path) -> str | None:
    """Say what ``path`` is when it is not a regular file (after symlinks), else None.

    Reading a FIFO blocks until someone writes to it, and a device such as ``/dev/zero``
    never ends: neither is ever opened.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # reading it will report the real problem
    if stat.S_ISREG(mode):
        return None
    for test, what in (
        (stat.S_ISDIR, FOLDER),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def read_limited(path: Path, limit: int) -> bytes:
    """Read a regular file whole, refusing it when it is larger than ``limit`` bytes.

    Raises :class:`FileTooLargeError` (an OSError) when the file is too large; the size is
    checked before reading and again while reading (a file may grow, or lie about its size).
    """
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > limit:
            raise FileTooLargeError(size, limit)
        # Ask for what fstat promised plus one byte: read(n) allocates n bytes up front, and a
        # default cap of gigabytes would be allocated for every small file.
        data = stream.read(size + 1)
        if len(data) > size:  # the file grew since fstat: read on, up to the cap
            data += stream.read(limit + 1 - len(data))
    if len(data) > limit:
        raise FileTooLargeError(len(data), limit)
    return data


class FileTooLargeError(OSError):
    """A document is larger than the size cap."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the file is larger than the size cap ({size} > {limit} bytes)")


# --- overlap of outputs and inputs -------------------------------------------------------------


def overlaps(candidate: Path, inputs: Iterable[Path]) -> Path | None:
    """Return the input that ``candidate`` (a folder) is, is inside, or contains as a file.

    Every path is resolved first, so ``..`` and symbolic links cannot hide an overlap.
    """
    resolved = candidate.resolve()
    for given in inputs:
        if str(given) == "-":
            continue
        target = given.resolve()
        if resolved == target or (resolved.is_relative_to(target) and target.is_dir()):
            return given
    return None


def common_root(paths: Iterable[Path]) -> Path:
    """The deepest folder holding every path (a file counts by its folder; absolute, unresolved)."""
    folders = [
        Path(os.path.abspath(p)) if p.is_dir() else Path(os.path.abspath(p)).parent
        for p in paths
        if str(p) != "-"
    ]
    if not folders:
        return Path.cwd()
    return Path(os.path.commonpath(folders))


# --- leftovers of interrupted runs -------------------------------------------------------------


@dataclass(frozen=True)
class Leftover:
    """A temporary file or journal an interrupted run left, and what was done with it."""

    path: Path
    action: str
    """``removed`` (a temporary file) or ``restored`` (a journal put back over its file)."""


def remove_leftovers(paths: Iterable[str | Path]) -> list[Leftover]:
    """Clean up after interrupted runs in the given folders; return what was done.

    Only names this module makes are touched, and only when no live process holds them (see
    the module docstring): temporary files are deleted, and each journal's original bytes are
    written back into the file it belongs to before the journal is deleted. A folder argument
    is searched as a whole tree; for file arguments, the folder of each file's target (after
    symbolic links) is searched once, however many of its files are given.
    """
    trees: set[Path] = set()
    folders: set[Path] = set()
    for given in paths:
        path = Path(given)
        if str(given) == "-":
            continue
        if path.is_dir():
            trees.add(path)
        else:
            folders.add(Path(os.path.realpath(path)).parent)
    pattern = f".*{_LEFTOVER_MARK}*"
    found = sorted(
        {
            *(p for tree in trees for p in tree.rglob(pattern)),
            *(p for f in folders for p in f.glob(pattern)),
        }
    )
    done = []
    for journal in (p for p in found if p.name.endswith(JOURNAL_SUFFIX)):
        if _restore_journal(journal):
            done.append(Leftover(journal, "restored"))
    for temporary in (p for p in found if p.name.endswith(TEMP_SUFFIX)):
        if _remove_if_abandoned(temporary):
            done.append(Leftover(temporary, "removed"))
    return done


@contextlib.contextmanager
def _abandoned(path: Path) -> Iterator[bool]:
    """Hold ``path``'s lock while the body runs, telling whether no live process holds it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # gone already, or not ours to open
        yield False
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # a live run is writing it
            return
        yield True
    finally:
        os.close(descriptor)


def _remove_if_abandoned(path: Path) -> bool:
    with _abandoned(path) as abandoned:
        if abandoned:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                return True
    return False


def _restore_journal(journal: Path) -> bool:
    stem = journal.name[1 : -len(JOURNAL_SUFFIX)]
    target = journal.with_name(stem.rsplit(".", 1)[0])
    with _abandoned(journal) as abandoned:
        if not abandoned:
            return False
        if target.exists():
            _overwrite(target, journal)
            journal.unlink()
        else:
            os.replace(journal, target)
        _fsync_folder(journal.parent)
        return True


# --- writing -----------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Replace the content of ``path`` with ``data`` so that a crash never leaves a mix.

    Symbolic links are followed (the link stays, its target gets the new content); hard links,
    permission bits, owner and group are kept (see the module docstring for how). A new file
    gets the permissions the process's umask gives. Raises :class:`WriteError` and leaves
    ``path`` as it was when anything fails. (:func:`atomic_writer` with all the bytes at once.)
    """
    with atomic_writer(path) as stream:
        stream.write(data)


def _may_give(existing: os.stat_result) -> bool:
    """Tell whether a new file of ours can be given ``existing``'s owner and group."""
    if os.geteuid() == 0:
        return True
    return existing.st_uid == os.geteuid() and existing.st_gid in {os.getegid(), *os.getgroups()}


@contextlib.contextmanager
def _locked_temporary(folder: Path, name: str) -> Iterator[tuple[int, Path]]:
    """Create a temporary file beside ``name``, locked; delete it on the way out if it is left."""
    descriptor, temporary = _new_locked_temporary(folder, name)
    try:
        yield descriptor, temporary
    finally:
        with contextlib.suppress(OSError):
            if temporary.exists() and os.path.samestat(os.stat(temporary), os.fstat(descriptor)):
                temporary.unlink()
        os.close(descriptor)


def _new_locked_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """Create and lock a temporary file that no other run's cleanup has removed.

    Between creating the file and locking it, another run's :func:`remove_leftovers` may take
    the file for abandoned, lock it first and delete it; the lock is then granted on a deleted
    file. So the file must still be there, as the same file, once locked; if not, start again.
    """
    import tempfile  # with shutil and random: only writing needs them, not validate

    for _ in range(100):
        descriptor, created = tempfile.mkstemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=folder)
        temporary = Path(created)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if os.path.samestat(os.stat(temporary), os.fstat(descriptor)):
                return descriptor, temporary
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # removed by a cleanup in between: try a new name
    raise OSError(errno.EAGAIN, "temporary files keep disappearing (another process removes them)")


def _fill(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` through ``descriptor`` and flush it to disk (keeping it open)."""
    stream = os.fdopen(os.dup(descriptor), "wb")
    with stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def write_backup(folder: Path, relative: Path, content: bytes | Path) -> Path:
    """Keep ``content`` (bytes, or a file copied without reading it whole) as ``folder / relative``.

    An existing file is never overwritten, whatever runs at the same time: the content is
    flushed to a temporary file that is then hard-linked to the first free name (``wanted``,
    then ``wanted.~1~``, ...; a link fails when the name exists). Returns where the backup is.
    """
    wanted = folder / relative
    wanted.parent.mkdir(parents=True, exist_ok=True)
    with _locked_temporary(wanted.parent, wanted.name) as (descriptor, temporary):
        if isinstance(content, bytes):
            _fill(descriptor, content)
        else:
            _copy_into(descriptor, content)
        return _link_free_name(wanted, temporary)


def _link_free_name(wanted: Path, temporary: Path) -> Path:
    """Hard-link ``temporary`` to ``wanted`` or the first free numbered name; return it."""
    for number in range(1_000_000):
        candidate = wanted if number == 0 else wanted.with_name(f"{wanted.name}.~{number}~")
        try:
            os.link(temporary, candidate)
        except FileExistsError:
            continue
        _fsync_folder(wanted.parent)
        return candidate
    raise WriteError(str(wanted), "no free backup name (a million backups of this file exist)")


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (not supported everywhere, so failures are ignored)."""
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


# --- writing a stream --------------------------------------------------------------------------


class _Sink:
    """The writable end of :func:`atomic_writer`: a failed write is a :class:`WriteError`."""

    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self._stream = stream
        self._path = path

    def write(self, data: bytes) -> int:
        """Write ``data`` to the temporary file."""
        try:
            return self._stream.write(data)
        except OSError as error:
            raise _not_written(self._path, error) from error


def _not_written(path: Path, error: OSError) -> WriteError:
    return WriteError(
        str(path), f"not written ({error.strerror or error}); the file that was there is unchanged"
    )


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, before_replace: Callable[[], None] | None = None
) -> Iterator[BinaryIO]:
    """Stream new content for ``path``; it replaces the file when the block ends without error.

    The same guarantees as :func:`write_atomic` (symbolic links followed, hard links, mode,
    owner and group kept), for content too big to hold in memory: it is written into the
    locked temporary file as it comes. When the block raises, the temporary file is removed,
    ``path`` is left as it was and the exception propagates. ``before_replace`` runs once the
    new content is on disk, just before it takes the file's place (to keep a backup).
    Raises :class:`WriteError` when writing fails.
    """
    target = Path(os.path.realpath(path))
    try:
        existing: os.stat_result | None = target.stat()
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise WriteError(str(path), f"cannot read its permissions: {error.strerror}") from error
    in_place = existing is not None and (existing.st_nlink > 1 or not _may_give(existing))
    temporary_file = _locked_temporary(target.parent, target.name)
    try:
        descriptor, temporary = temporary_file.__enter__()
    except OSError as error:
        raise _not_written(path, error) from error
    with contextlib.ExitStack() as cleanup:
        cleanup.push(temporary_file)  # entered above: removes the temporary file on the way out
        stream = os.fdopen(os.dup(descriptor), "wb", buffering=_COPY_SIZE)
        try:
            yield _Sink(stream, path)  # type: ignore[misc]
            try:
                stream.flush()
                os.fsync(stream.fileno())
                if before_replace is not None:
                    before_replace()
                if in_place:
                    _rewrite_in_place(target, temporary)
                else:
                    _take_place(target, descriptor, temporary, existing)
            except OSError as error:
                raise _not_written(path, error) from error
        finally:
            # After a failure the buffer may hold bytes that cannot be written: drop them.
            with contextlib.suppress(OSError):
                stream.close()


def _take_place(
    target: Path, descriptor: int, temporary: Path, existing: os.stat_result | None
) -> None:
    """Give the temporary file the replaced file's owner and mode, and rename it over it."""
    if existing is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = stat.S_IMODE(existing.st_mode)
        mine = os.fstat(descriptor)
        if (mine.st_uid, mine.st_gid) != (existing.st_uid, existing.st_gid):
            os.fchown(descriptor, existing.st_uid, existing.st_gid)
    os.fchmod(descriptor, mode)  # after chown, which may clear set-id bits
    os.replace(temporary, target)
    _fsync_folder(target.parent)


def _rewrite_in_place(target: Path, source: Path) -> None:
    """Put the file ``source``'s content into ``target``'s own inode behind a journal.

    For a file with other hard links, or an owner this process cannot give a new file (see the
    module docstring): the original goes to a complete journal first, so that a crash midway
    is undone by the next run's :func:`remove_leftovers`.
    """
    with _locked_temporary(target.parent, target.name) as (descriptor, temporary):
        _copy_into(descriptor, target)
        journal = temporary.with_name(temporary.name[: -len(TEMP_SUFFIX)] + JOURNAL_SUFFIX)
        os.rename(temporary, journal)  # complete before it is a journal
        _fsync_folder(target.parent)
        try:
            _overwrite(target, source)
        except OSError as error:
            try:
                _overwrite(target, journal)
            except OSError:
                raise WriteError(
                    str(target),
                    f"not written ({error.strerror or error}); the original is kept in "
                    f"{journal}, and the next upgrade run puts it back",
                ) from error
            journal.unlink()
            raise
        journal.unlink()
        _fsync_folder(target.parent)


def _copy_into(descriptor: int, source: Path) -> None:
    """Copy the file ``source`` through ``descriptor`` and flush it to disk."""
    import shutil  # only writing needs it, not validate

    with open(source, "rb") as reading, os.fdopen(os.dup(descriptor), "wb") as writing:
        shutil.copyfileobj(reading, writing, _COPY_SIZE)
        writing.flush()
        os.fsync(writing.fileno())


def _overwrite(target: Path, source: Path) -> None:
    """Copy ``source`` into ``target``'s own inode (links, owner and mode stay), flushed."""
    import shutil  # only writing needs it, not validate

    with open(source, "rb") as reading, open(target, "r+b") as writing:
        shutil.copyfileobj(reading, writing, _COPY_SIZE)
        writing.truncate()
        writing.flush()
        os.fsync(writing.fileno())


_COPY_SIZE = 1 << 20


def copy_atomic(source: Path, destination: Path) -> None:
    """Copy the file ``source`` to ``destination`` as :func:`atomic_writer` writes."""
    with open(source, "rb") as reading, atomic_writer(destination) as writing:
        while chunk := reading.read(_COPY_SIZE):
            writing.write(chunk)
