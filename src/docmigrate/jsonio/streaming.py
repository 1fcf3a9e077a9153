"""Streaming the records of a big document: its header once, then one record at a time.

A document such as ``{"version": "1.1", "production_runs": [run, run, ...]}`` is read from a
binary file in chunks. :class:`RecordReader` finds the records array (the first array at one
of the given pointers, through objects only), parses each record with the same fast parser
and checks as :func:`~docmigrate.jsonio.loads` (many at once with msgspec where the layout
allows, see :class:`_Batches`), and, after the array, reads the rest. The
*header* (the document with its records array empty) is parsed by the exact reader, so
memory does not grow with the number of records.

The reader only ever accepts what :func:`~docmigrate.jsonio.loads` accepts, giving the same
values. Whatever it cannot read in this way (not UTF-8, not the expected shape, or not JSON
docmigrate accepts) raises :class:`NotStreamable`: the caller then reads the file whole, and
the exact parser says what is wrong and where.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio.fast import _checks_pass, _fast_decoder, _plain_decoder
from docmigrate.jsonio.positions import _scanstring, _skip_ws, locate_all
from docmigrate.jsonio.reading import _load
from docmigrate.jsonio.values import MAX_DEPTH, JSONValue

__all__ = ["NotStreamable", "Record", "RecordReader"]

CHUNK_SIZE = 1 << 16
"""Bytes read at a time (a record longer than this makes the reads grow).

64 KiB rather than 1 MiB: each chunk lives as bytes, decoded text and buffer at once, so an
import peaks 11 MiB lower (58 against 69 MiB on 100,000 runs), and validate and upgrade
run no slower (a little faster: the chunk stays in cache)."""

_PLACEHOLDER = "[]"
_AFTER_RECORD = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
_REFUSED_STARTS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# A decode error this far before the end of the buffer is in the text, not where it was cut; a
# value ending nearer than this to the end may go on in the next read.
_CUT_MARGIN = 16


class NotStreamable(Exception):
    """The file cannot be streamed as it is; read it whole (the exact reader says why)."""


class Record:
    """One record as read: its value, its index in the array and its text.

    A plain class with slots: one is made per record, and a frozen dataclass's ``__init__``
    costs several times as much.
    """

    __slots__ = ("_batch", "_end", "_place", "_start", "_text", "index", "value")

    def __init__(
        self,
        value: JSONValue,
        index: int,
        _place: Callable[[int], tuple[int, int]],
        _text: str,
        _start: int,
        _end: int,
        _batch: _Batch | None = None,
    ) -> None:
        self.value = value
        self.index = index
        self._place = _place
        self._text = _text
        self._start = _start
        self._end = _end
        self._batch = _batch  # read in a batch: the span is found when first asked for

    def __repr__(self) -> str:
        return f"Record(value={self.value!r}, index={self.index})"

    def _span(self) -> tuple[int, int]:
        if self._batch is not None:
            self._start, self._end = self._batch.span(self.index)
            self._batch = None
        return self._start, self._end

    @property
    def text(self) -> str:
        """The record's text as it is in the file."""
        start, end = self._span()
        return self._text[start:end]

    def has_text(self, part: str) -> bool:
        """Tell whether ``part`` occurs in the record's text (without copying it)."""
        if self._batch is not None and not self._batch.has_text(part):
            return False  # not in the batch's text: not in the record's (spans not needed)
        start, end = self._span()
        return self._text.find(part, start, end) >= 0

    def positions(self, paths: Sequence[Sequence[str | int]]) -> list[tuple[int, int]]:
        """Place paths relative to the record (``[]``: the record) in the file, in one pass."""
        line, column = self._place(self._span()[0])  # lines are counted only when asked for
        return [
            (line, column + found - 1) if at == 1 else (line + at - 1, found)
            for at, found in locate_all(self.text, paths)
        ]


@dataclass(frozen=True)
class Header:
    """The document without its records (the array left empty) and how to place paths in it."""

    value: JSONValue
    text: str
    """The header's text: the file's text with the records array written ``[]``."""
    placeholder: tuple[int, int]
    """Line and column of the ``[`` of ``[]`` in :attr:`text`."""
    closing: tuple[int, int]
    """Line and column of the array's ``]`` in the file."""

    def positions(self, paths: Sequence[Sequence[str | int]]) -> list[tuple[int, int]]:
        """Place paths of the header in the file (as :func:`locate_all` would in the file)."""
        return [self._in_file(place) for place in locate_all(self.text, paths)]

    def _in_file(self, place: tuple[int, int]) -> tuple[int, int]:
        line, column = place
        open_line, open_column = self.placeholder
        close_column = open_column + 1  # the "]" of "[]"
        if line < open_line or (line == open_line and column < close_column):
            return place  # before the records: the header's text is the file's
        if line == open_line:
            return self.closing[0], self.closing[1] + column - close_column
        return self.closing[0] + line - open_line, column


class RecordReader:
    """Read a JSON document from ``stream``, the records at one of ``pointers`` one by one.

    Use :meth:`open` (the text up to the array), then :meth:`records`, then :meth:`finish`
    (the rest, and the whole header). ``limit`` caps the bytes read (``FileTooLargeError``);
    ``on_bytes`` sees every byte read, in order (to hash or copy them).
    """

    def __init__(
        self,
        stream: BinaryIO,
        pointers: Collection[tuple[str, ...]],
        *,
        source: str = "<stream>",
        limit: int | None = None,
        on_bytes: Callable[[bytes], None] | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._stream = stream
        self._pointers = frozenset(pointers)
        self._source = source
        self._limit = limit
        self._on_bytes = on_bytes
        self._chunk_size = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._offset = 0  # index in the whole text of self._buffer[0]
        self._eof = False
        self._bytes_read = 0
        # Line counting: lines are counted up to self._counted (an index in the whole text).
        self._counted = 0
        self._line = 1
        self._line_start = 0
        self._all_ascii = True
        self._position = 0  # where reading goes on, in self._buffer
        self.pointer: tuple[str, ...] = ()
        self.prefix = ""
        """The text before the records array."""
        self.style_text = ""
        """The start of the text as first read (at least one chunk): for telling its layout."""
        self._depth = 0
        self._closing: tuple[int, int] = (0, 0)

    # --- reading -------------------------------------------------------------------------

    @property
    def all_ascii(self) -> bool:
        """Whether every character read so far is ASCII."""
        return self._all_ascii

    def _read_more(self, keep_from: int) -> int:
        """Drop the buffer before ``keep_from``, read more; return where ``keep_from`` now is.

        Raises NotStreamable at the end of the text.
        """
        if self._eof:
            raise NotStreamable("the text ends too early")
        self._count_lines(keep_from)
        self._buffer = self._buffer[keep_from:]
        self._offset += keep_from
        size = max(self._chunk_size, len(self._buffer))
        data = self._stream.read(size)
        self._take(data)
        return 0

    def _take(self, data: bytes) -> None:
        from docmigrate.files import FileTooLargeError

        if self._bytes_read == 0 and (data.startswith(_REFUSED_STARTS) or b"\x00" in data[:4]):
            raise NotStreamable("a byte order mark or UTF-16/32")
        self._bytes_read += len(data)
        if self._limit is not None and self._bytes_read > self._limit:
            raise FileTooLargeError(self._bytes_read, self._limit)
        if self._on_bytes is not None and data:
            self._on_bytes(data)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise NotStreamable("not UTF-8") from None
        if not data:
            self._eof = True
        if self._all_ascii and not text.isascii():
            self._all_ascii = False
        self._buffer += text

    def _count_lines(self, index: int) -> None:
        """Count the lines up to ``self._buffer[index]``."""
        counted = self._counted - self._offset
        if index <= counted:
            return
        newlines = self._buffer.count("\n", counted, index)
        if newlines:
            self._line += newlines
            self._line_start = self._offset + self._buffer.rfind("\n", counted, index) + 1
        self._counted = self._offset + index

    def _place(self, index: int) -> tuple[int, int]:
        self._count_lines(index)
        return self._line, self._offset + index - self._line_start + 1

    def _next_char(self, index: int) -> int:
        """The index of the first non-whitespace character at or after ``index``."""
        while True:
            index = _skip_ws(self._buffer, index)
            if index < len(self._buffer):
                return index
            index = self._read_more(index)

    # --- the text before the records -----------------------------------------------------

    def open(self) -> JSONValue:
        """Read up to the records array; return the header as far as it goes (exact).

        The returned value is the text before the array, with the array empty and the open
        objects closed: what the document is as far as the start of its records can tell.
        """
        self._take(self._stream.read(self._chunk_size))
        while True:
            found = _find_records(self._buffer, self._pointers, self._eof)
            if found is not None:
                break
            self._take(self._stream.read(max(self._chunk_size, len(self._buffer))))
        self.pointer, bracket, objects = found
        self.style_text = self._buffer
        self.prefix = self._buffer[:bracket]
        self._depth = objects + 1
        self._position = bracket + 1
        return self._parse_header(self.prefix + _PLACEHOLDER + "}" * objects)

    def _parse_header(self, text: str) -> JSONValue:
        try:
            return _load(text, self._source)[0]
        except JSONReadError:
            reason = "the text around the records is not JSON docmigrate reads"
            raise NotStreamable(reason) from None

    # --- the records ---------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Yield each record of the array in turn (each is fresh: it may be changed).

        A record's positions can be asked for until the next record is read.
        """
        scan: Callable[[str, int], tuple[JSONValue, int]]
        scan = _fast_decoder().scan_once  # type: ignore[attr-defined]
        limit = MAX_DEPTH - self._depth
        after = _AFTER_RECORD.match
        index = self._next_char(self._position)
        if self._buffer[index] == "]":
            self._close(index)
            return
        number = 0
        escape = -1  # where the next "\\u" of the buffer is (-1: none after ``index``)
        checked: str | None = None  # the buffer ``escape`` was found in
        place = self._place
        batches = _Batches(limit)
        while True:
            buffer = self._buffer
            read = batches.read(buffer, index, number)
            if read is not None:
                values, batch = read
                for value in values:
                    yield Record(value, number, place, buffer, -1, -1, batch)
                    number += 1
                index = self._next_char(batch.next_index)  # may read on: the batch is done
                continue
            try:
                value, end = scan(buffer, index)
            except (StopIteration, ValueError, RecursionError) as error:
                index = self._after_failure(index, error)
                continue
            separator = after(buffer, end)
            # A number cut by the read ("1." of "1.5") parses as a shorter one: read on.
            if separator is None or separator.end() + _CUT_MARGIN >= len(buffer):
                if not self._eof:
                    index = self._read_more(index)
                    continue
                if separator is None:
                    raise NotStreamable("expected ',' or ']' after a record")
            if checked is not buffer or 0 <= escape < index:
                # One search per buffer read and per record holding an escape, not per record.
                checked, escape = buffer, buffer.find("\\u", index)
            deep = buffer.count("[", index, end) + buffer.count("{", index, end) > limit
            if (deep or index <= escape < end) and not _checks_pass(
                buffer, index, end, limit, None
            ):
                raise NotStreamable("a record nests too deep or holds a lone surrogate")
            yield Record(value, number, place, buffer, index, end)
            batches.learn(buffer, index, end)
            if separator.group(1) == "]":
                self._close(separator.start(1))
                return
            index = separator.end()
            if index >= len(buffer) or buffer[index] == "]":
                raise NotStreamable("a trailing comma or a cut text after a record")
            number += 1

    def _after_failure(self, index: int, error: BaseException) -> int:
        """The parser failed at ``index``: read more if the read cut the record, else raise."""
        if isinstance(error, StopIteration):  # no value starts where error.value says
            position = error.value if isinstance(error.value, int) else index
            unterminated = False
        elif isinstance(error, json.JSONDecodeError):
            position, unterminated = error.pos, error.msg.startswith("Unterminated string")
        else:  # a hook refused a number, or the nesting broke the recursion limit
            raise NotStreamable("a record is not JSON docmigrate reads") from None
        cut = unterminated or position >= len(self._buffer) - _CUT_MARGIN
        if not cut or self._eof:
            raise NotStreamable("a record is not JSON docmigrate reads") from None
        return self._read_more(index)

    def _close(self, index: int) -> None:
        self._closing = self._place(index)
        self._position = index + 1

    # --- the text after the records ------------------------------------------------------

    def finish(self) -> Header:
        """Read the rest of the text; return the whole header (parsed exactly)."""
        rest = self._buffer[self._position :]
        self._buffer = ""
        parts = [rest]
        while not self._eof:
            self._take(self._stream.read(self._chunk_size))
            parts.append(self._buffer)
            self._buffer = ""
        text = self.prefix + _PLACEHOLDER + "".join(parts)
        value = self._parse_header(text)
        lines = self.prefix.count("\n")
        column = len(self.prefix) - self.prefix.rfind("\n")
        return Header(value, text, (lines + 1, column), self._closing)


class _Batch:
    """Records read at once: where they are in the buffer, and where the next one starts.

    It holds no value: a record kept by the caller keeps its own value alive, not the batch's.
    """

    def __init__(self, buffer: str, start: int, count: int, first: int, next_index: int) -> None:
        self.next_index = next_index  # where the record after the batch starts (or whitespace)
        self._count = count
        self._buffer = buffer
        self._start = start  # where the first record starts
        self._first = first  # its index in the records array
        self._spans: list[tuple[int, int]] = []
        self._found: dict[str, bool] = {}

    def has_text(self, part: str) -> bool:
        """Whether ``part`` occurs in the batch's text (asked once per part and batch)."""
        found = self._found.get(part)
        if found is None:
            end = self.next_index
            found = self._found[part] = self._buffer.find(part, self._start, end) >= 0
        return found

    def span(self, index: int) -> tuple[int, int]:
        """Start and end in the buffer of the record at ``index`` in the records array.

        Found only when asked (an invalid record's positions, an upgrade's escapes) by the
        hook-free C scanner, whose ends are those of the parsers that read the records.
        """
        if not self._spans:
            scan = _plain_decoder().scan_once  # type: ignore[attr-defined]
            start = self._start
            for _ in range(self._count):
                end = scan(self._buffer, start)[1]
                self._spans.append((start, end))
                separator = _AFTER_RECORD.match(self._buffer, end)
                start = separator.end() if separator is not None else end
        return self._spans[index - self._first]


class _Batches:
    r"""Many records at once with msgspec, cut after a line that closed a record before.

    Pretty-printed records all end with the same line, e.g. ``"\n    }"`` (the *marker*,
    learnt from a record read one at a time). The stretch of the buffer from a record's start
    to the last marker followed by ``,`` is parsed as ``"[" + stretch + "]"`` by msgspec
    (with the checks that make it exact, :mod:`.quick`). When that succeeds, the stretch is a
    sequence of whole values separated by commas, ending with the ``}`` of the last: JSON
    reads each token knowing only what came before (LL(1)), so the records array, read from
    the same start in the same state (a value of an array expected), reads exactly these
    values, and the ``,`` after the stretch goes on with the next record. A cut inside a
    record or a string leaves an unclosed value: msgspec refuses it, and the stretch is read
    one record at a time, as is anything msgspec or a check declines.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit  # the deepest a record may nest
        self._marker = ""  # "" until learnt: no batches
        self._separator = ""  # the marker and its comma
        self._declined = -1  # the stretch before this index is read record by record
        self._declined_in: str | None = None  # in this buffer

    def learn(self, buffer: str, start: int, end: int) -> None:
        """Learn the marker from a record read one at a time (once)."""
        if self._marker or buffer[end - 1] != "}":
            return
        line = buffer.rfind("\n", start, end)
        if line >= 0 and not buffer[line + 1 : end - 1].strip(" \t"):
            self._marker = buffer[line:end]
            self._separator = self._marker + ","

    def read(self, buffer: str, index: int, first: int) -> tuple[list[JSONValue], _Batch] | None:
        """The records from ``index`` (numbered from ``first``) to the last marker, or None."""
        if not self._marker or (buffer is self._declined_in and index < self._declined):
            return None
        from docmigrate.jsonio.quick import quick_load  # imports msgspec: only when streaming

        last = buffer.rfind(self._separator, index)
        if last < 0:
            self._decline(buffer, len(buffer))
            return None
        cut = last + len(self._marker)
        raw = b"[" + buffer[index:cut].encode("utf-8") + b"]"
        accepted, values = quick_load(raw, self._limit + 1)  # a level more: the "[" "]"
        if not accepted or not isinstance(values, list):
            self._decline(buffer, cut)
            return None
        after = _skip_ws(buffer, cut + 1)  # after the comma
        return values, _Batch(buffer, index, len(values), first, after)

    def _decline(self, buffer: str, until: int) -> None:
        """Read record by record up to ``until`` in this buffer."""
        self._declined_in, self._declined = buffer, until


def _find_records(
    text: str, pointers: frozenset[tuple[str, ...]], eof: bool
) -> tuple[tuple[str, ...], int, int] | None:
    """Find the first array at one of ``pointers``, through objects, in the start of a text.

    Returns (pointer, index of its ``[``, number of objects around it), or None when the text
    read so far is too short to tell. Raises NotStreamable when there is no such array (or
    the text is not JSON: the exact reader will say so).
    """
    skip_value = _plain_decoder().raw_decode
    path: tuple[str, ...] = ()
    objects = 0
    index = _skip_ws(text, 0)
    while True:
        if index >= len(text):
            return _missing(eof)
        if text[index] != "{":
            raise NotStreamable(_NO_ARRAY)
        objects += 1
        index = _skip_ws(text, index + 1)
        while True:  # the members of the object at path
            if index >= len(text):
                return _missing(eof)
            if text[index] != '"':
                raise NotStreamable(_NO_ARRAY)
            try:
                key, index = _scanstring(text, index + 1, True)
            except ValueError:
                return _missing(eof)
            index = _skip_ws(text, index)
            if index < len(text) and text[index] != ":":
                raise NotStreamable(_NO_ARRAY)
            index = _skip_ws(text, index + 1)
            if index >= len(text):
                return _missing(eof)
            here = (*path, key)
            if here in pointers and text[index] == "[":
                return here, index, objects
            if text[index] == "{" and any(p[: len(here)] == here for p in pointers):
                path = here
                break  # go into this object
            try:
                _, index = skip_value(text, index)
            except (ValueError, RecursionError):
                return _missing(eof)
            if index + _CUT_MARGIN >= len(text) and not eof:
                return None  # a number cut by the read parses as a shorter one
            index = _skip_ws(text, index)
            if index >= len(text):
                return _missing(eof)
            if text[index] != ",":
                raise NotStreamable(_NO_ARRAY)
            index = _skip_ws(text, index + 1)


_Found = tuple[tuple[str, ...], int, int]
_NO_ARRAY = "no records array at the expected place"


def _missing(eof: bool) -> _Found | None:
    """Nothing found yet: None to read more, NotStreamable when the whole text was read."""
    if eof:
        raise NotStreamable(_NO_ARRAY)
    return None
