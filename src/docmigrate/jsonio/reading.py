"""Reading documents: bytes to text, the fast parser first, the exact one to say what is wrong."""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio.exact import _SlowParser
from docmigrate.jsonio.fast import _RAW_SURROGATE, _checks_pass, _fast_decoder
from docmigrate.jsonio.positions import locate, locate_all
from docmigrate.jsonio.values import MAX_DEPTH, JSONValue, gc_paused

_UTF8_BOM = codecs.BOM_UTF8

QUICK_MIN_SIZE = 1 << 20
"""Texts from this length on are parsed with msgspec first; shorter ones once it is imported.

Importing msgspec costs about 8 ms (it brings inspect, dataclasses and textwrap along) and it
saves about 5 µs per KiB parsed: a few small files are read sooner without it."""
_QUICK_MODULE = "docmigrate.jsonio.quick"


def _decode(data: str | bytes, source: str) -> str:
    """Return the text of ``data``, refusing a BOM, UTF-16/32 and invalid UTF-8."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise JSONReadError(
                "text starts with a byte order mark (U+FEFF); remove it",
                line=1,
                column=1,
                source=source,
            )
        return data
    data = bytes(data)
    if data.startswith(_UTF8_BOM):
        raise JSONReadError(
            "file starts with a UTF-8 byte order mark; save it without one",
            line=1,
            column=1,
            source=source,
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise JSONReadError(
            "file starts with a UTF-16 or UTF-32 byte order mark; only UTF-8 is read",
            line=1,
            column=1,
            source=source,
        )
    nul = data.find(b"\x00", 0, 4)
    if nul >= 0:
        raise JSONReadError(
            "NUL byte near the start: the file looks like UTF-16 or UTF-32; only UTF-8 is read",
            line=1,
            column=nul + 1,
            source=source,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        line = data.count(b"\n", 0, start) + 1
        line_start = data.rfind(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8")) + 1
        raise JSONReadError(
            f"not valid UTF-8 at byte offset {start} (byte 0x{data[start]:02X})",
            line=line,
            column=column,
            source=source,
        ) from None


# ---------------------------------------------------------------------------------------------
# Reading: public API
# ---------------------------------------------------------------------------------------------


def _fast_load(text: str, raw: bytes | None = None) -> tuple[bool, JSONValue]:
    """Parse with the fast parsers and their cheap checks: (True, value), or (False, None).

    msgspec first (:mod:`.quick`, see QUICK_MIN_SIZE), then the C scanner of :mod:`json` with
    refusing hooks. ``raw`` is the UTF-8 of ``text`` if the caller has it (it saves encoding).
    """
    # Text decoded from UTF-8 holds no surrogate (the codec refuses them): only str input can.
    if raw is None and not text.isascii() and _RAW_SURROGATE.search(text) is not None:
        return False, None
    if len(text) >= QUICK_MIN_SIZE or _QUICK_MODULE in sys.modules:
        if raw is None:
            raw = text.encode("utf-8")
        from docmigrate.jsonio.quick import quick_load  # imports msgspec: only when needed

        accepted, value = quick_load(raw)
        if accepted:
            return True, value
    # msgspec not used, refused or doubted: the C scanner, then the exact parser, decide.
    try:
        with gc_paused():
            value = _fast_decoder().decode(text)
    except (ValueError, RecursionError):
        return False, None
    if not _checks_pass(text, 0, len(text), MAX_DEPTH, raw):
        return False, None
    return True, value


def _load(data: str | bytes, source: str) -> tuple[JSONValue, str]:
    text = _decode(data, source)
    accepted, value = _fast_load(text, data if isinstance(data, bytes) else None)
    if accepted:
        return value, text
    # Something is wrong: find the first problem and say where it is.
    _SlowParser(text, source).parse()
    raise JSONReadError(
        "internal error: the fast and the exact JSON parsers disagree about this input",
        line=1,
        column=1,
        source=source,
    )


def loads(data: str | bytes, *, source: str = "<string>") -> JSONValue:
    """Parse one JSON document exactly.

    ``bytes`` must be UTF-8 without a byte order mark; ``str`` is taken as decoded text.
    Raises :class:`~docmigrate.exceptions.JSONReadError` (with line and column) for anything
    that is not JSON docmigrate accepts; ``source`` names the input in that error.
    """
    return _load(data, source)[0]


@dataclass(frozen=True)
class LoadedDocument:
    """A parsed document together with the text it came from, to point into it."""

    value: JSONValue
    text: str
    source: str

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Return the 1-based (line, column) where the value at ``path`` starts (see locate)."""
        return locate(self.text, path)

    def positions(self, paths: Iterable[Sequence[str | int]]) -> list[tuple[int, int]]:
        """Return the position of each path in one pass over the text (see locate_all)."""
        return locate_all(self.text, paths)


def load_path(path: str | os.PathLike[str]) -> LoadedDocument:
    """Read and parse a file; OSError propagates unchanged, the source is ``str(path)``."""
    return load_bytes(Path(path).read_bytes(), source=str(path))


def load_bytes(data: bytes, *, source: str = "<string>") -> LoadedDocument:
    """Parse a document's bytes, keeping its text to point into it (see :func:`loads`)."""
    value, text = _load(data, source)
    return LoadedDocument(value=value, text=text, source=source)
