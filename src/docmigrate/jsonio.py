"""Exact JSON: read and write documents without losing a digit, a character or a key.

Reading follows RFC 8259 to the letter and refuses whatever is ambiguous or hostile (duplicate
keys, lone surrogates, NaN, absurd numbers, very deep nesting, a byte order mark). Numbers keep
their text: integers load as :class:`int`, every other number as :class:`decimal.Decimal`, never
as a float. See ``docs/exact-json.md`` for the user-facing rules.

Two parsers share the work. The fast one is the C scanner of :mod:`json` with hooks that refuse
what it would otherwise let through; when it fails for any reason a slow, exact, iterative parser
reads the text again to find the first problem and report its line and column. The slow parser
is the specification; the fast one is an optimisation that must agree with it.
"""

from __future__ import annotations

import codecs
import functools
import gc
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path
from typing import NoReturn, TypeAlias

import orjson

from docmigrate.exceptions import JSONReadError

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_NUMBER_LENGTH",
    "JSONValue",
    "LoadedDocument",
    "clone",
    "dump_bytes",
    "dumps",
    "format_number",
    "gc_paused",
    "load_bytes",
    "load_path",
    "loads",
    "locate",
    "locate_all",
]

JSONValue: TypeAlias = (
    bool | int | Decimal | str | list["JSONValue"] | dict[str, "JSONValue"] | None
)

MAX_DEPTH: int = 200
"""Deepest nesting of arrays and objects accepted (``[]`` has depth 1, a scalar depth 0)."""

MAX_NUMBER_LENGTH: int = 1000
"""Longest number literal accepted, in characters, sign included."""

MAX_EXPONENT: int = 1000
"""Largest ``abs(Decimal(literal).adjusted())`` accepted for a number written with an exponent."""

_UTF8_BOM = codecs.BOM_UTF8
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# ---------------------------------------------------------------------------------------------
# Numbers (shared by both parsers, so that they always agree)
# ---------------------------------------------------------------------------------------------


class _Refused(ValueError):
    """A hook of the fast parser refused the input; the slow parser will say where and why."""


def _too_long() -> _Refused:
    return _Refused(f"number literal longer than {MAX_NUMBER_LENGTH} characters")


def _make_int(literal: str) -> int | Decimal:
    """Turn an integer literal (already checked against the grammar) into its value."""
    if len(literal) > MAX_NUMBER_LENGTH:
        raise _too_long()
    if literal == "-0":
        return Decimal(literal)  # an int would lose the sign
    return int(literal)


def _make_decimal(literal: str) -> Decimal:
    """Turn a literal with a fraction or exponent (checked against the grammar) into a Decimal."""
    if len(literal) > MAX_NUMBER_LENGTH:
        raise _too_long()
    try:
        value = Decimal(literal)
    except InvalidOperation:  # an exponent beyond what the decimal module can even represent
        raise _Refused(f"number {literal[:40]} is out of range (exponent too large)") from None
    if "e" in literal or "E" in literal:
        problem = _range_problem(value)
        if problem is not None:
            raise _Refused(problem)
    return value


def _decimal_text(value: Decimal) -> str:
    """Canonical text of a finite Decimal: fixed point unless its exponent is positive."""
    text = str(value)
    # str() uses scientific notation when the exponent is positive ("1E+2": keep it) or when
    # the number is small ("1E-7": exponent <= 0, so write it in fixed point).
    if "E-" in text:
        return format(value, "f")
    return text


def _range_problem(value: Decimal) -> str | None:
    """Why a finite Decimal is out of the accepted range, or None when it is fine."""
    adjusted = value.adjusted()
    if abs(adjusted) > MAX_EXPONENT:
        return f"number out of range: its decimal exponent {adjusted} is beyond +/-{MAX_EXPONENT}"
    if len(_decimal_text(value)) > MAX_NUMBER_LENGTH:
        return (
            f"number out of range: written without an exponent it would be longer than "
            f"{MAX_NUMBER_LENGTH} characters"
        )
    return None


def format_number(n: int | Decimal) -> str:
    """Return the canonical JSON text of a number.

    ``int`` is written as ``str(n)``; a ``Decimal`` in fixed point (``format(d, "f")``) when its
    exponent is zero or negative, otherwise in scientific notation (``str(d)``, e.g. ``1E+2``).
    Raises TypeError for anything else (bool and float included) and ValueError for a number
    that :func:`loads` would refuse (NaN, infinities, out of range, too long).
    """
    if isinstance(n, bool) or not isinstance(n, int | Decimal):
        raise TypeError(f"{type(n).__name__} is not a JSON number (use int or Decimal)")
    if isinstance(n, int):
        if n.bit_length() > 3400:  # certainly more than MAX_NUMBER_LENGTH digits
            raise ValueError(f"integer longer than {MAX_NUMBER_LENGTH} digits")
        text = int.__repr__(n)
        if len(text) > MAX_NUMBER_LENGTH:
            raise ValueError(f"integer longer than {MAX_NUMBER_LENGTH} characters")
        return text
    if not n.is_finite():
        raise ValueError(f"{n} is not a JSON number")
    problem = _range_problem(n)
    if problem is not None:
        raise ValueError(problem)
    return _decimal_text(n)


# ---------------------------------------------------------------------------------------------
# Reading: decoding bytes, positions
# ---------------------------------------------------------------------------------------------


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``text[index]``; lines end at LF."""
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return line, column


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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic containers are made.

    Without this, building a large document (or a store's rows from one) triggers repeated full
    collections that cost more than the work itself. The previous state is restored.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# The fast parser and its cheap after-checks
# ---------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not JSON")


def _object_from_pairs(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("duplicate key")
    return result


def _fast_decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        parse_float=_make_decimal,
        parse_int=_make_int,
        parse_constant=_refuse_constant,
        object_pairs_hook=_object_from_pairs,
        strict=True,
    )


# Any escape that may stand for a surrogate: a cheap trigger for the exact check below.
_SURROGATE_ESCAPE_HINT = re.compile(r"\\u[dD][89a-fA-F]")
# A surrogate escape that is not part of a high+low pair. Exact once every escaped backslash
# ("\\\\") has been replaced by a non-backslash, so that every remaining backslash starts an
# escape.
_LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


def _deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the nesting of a valid JSON text (UTF-8, escaped backslashes removed) exceeds limit.

    Works on a skeleton of the text made at C speed: string contents are dropped, both kinds of
    brackets become ``[``/``]``, and each round of ``replace("[]", "")`` removes exactly the
    innermost level.
    """
    if b'\\"' in raw:
        raw = raw.replace(b'\\"', b"_")
    skeleton = raw.translate(_BRACKETS_ONLY, _NOT_STRUCTURE)
    # Dropping adjacent quote pairs keeps every other byte's inside/outside-a-string parity.
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    for _ in range(limit):
        skeleton = skeleton.replace(b"[]", b"")
        if not skeleton:
            return False
    return bool(skeleton)


def _checks_pass(text: str, start: int, end: int, limit: int, raw: bytes | None) -> bool:
    """Cheap checks the C scanner does not make, on ``text[start:end]`` (valid JSON).

    True when the value nests at most ``limit`` levels and holds no lone surrogate escape.
    ``raw`` is the UTF-8 of exactly that slice when the caller already has it. Raw surrogate
    characters are ruled out before the fast parser runs.
    """
    deep = text.count("[", start, end) + text.count("{", start, end) > limit
    surrogates = _SURROGATE_ESCAPE_HINT.search(text, start, end) is not None
    if not (deep or surrogates):
        return True
    if raw is None:
        raw = text[start:end].encode("utf-8")
    if b"\\\\" in raw:
        raw = raw.replace(b"\\\\", b"_")
    if surrogates and _LONE_SURROGATE_ESCAPE.search(raw):
        return False
    return not (deep and _deeper_than(raw, limit))


# ---------------------------------------------------------------------------------------------
# The slow, exact parser
# ---------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PLAIN_STRING = re.compile('"([^"\\\\\x00-\x1f\ud800-\udfff]*)"')
_STRING_CHUNK = re.compile('[^"\\\\\x00-\x1f\ud800-\udfff]*')
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_ACCELERATION_BUDGET = 8


def _describe(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"'{char}'"
    return f"U+{ord(char):04X}"


class _Frame:
    """An open array or object of the slow parser."""

    __slots__ = ("container", "failed", "key", "keys")

    def __init__(self, container: list[JSONValue] | dict[str, JSONValue], failed: bool) -> None:
        self.container = container
        self.failed = failed
        self.key = ""
        self.keys: dict[str, int] = {}


class _SlowParser:
    """RFC 8259 exactly, iteratively, stopping at the first problem with its position.

    Where it can, it hands a whole array element or member value to the fast parser (and the
    cheap checks); only when that fails does it descend character by character, so that the
    first problem of a big document is found in about the time of a fast parse.
    """

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.decoder = _fast_decoder()
        self.accelerate = text.isascii() or _RAW_SURROGATE.search(text) is None
        self.failed_frames = 0

    def error(self, message: str, index: int) -> NoReturn:
        line, column = _line_col(self.text, index)
        raise JSONReadError(message, line=line, column=column, source=self.source)

    def skip(self, index: int) -> int:
        match = _WHITESPACE.match(self.text, index)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def parse(self) -> JSONValue:
        text = self.text
        size = len(text)
        stack: list[_Frame] = []
        i = self.skip(0)
        if i >= size:
            self.error("empty document: expected a JSON value", i)
        while True:
            # A value starts at i. A non-empty container pushes a frame and moves on to its
            # first member; everything else produces `value` and the position after it.
            value: JSONValue
            char = text[i] if i < size else ""
            if char in ("[", "{"):
                if len(stack) >= MAX_DEPTH:
                    self.error(f"nesting deeper than {MAX_DEPTH}", i)
                # The top level is known to fail the fast parser; below it, try it first.
                fast, failed = None, not stack
                if stack and self.accelerate and self.failed_frames < _ACCELERATION_BUDGET:
                    fast = self.try_fast(i, len(stack))
                    failed = fast is None
                if fast is not None:
                    value, i = fast
                else:
                    j = self.skip(i + 1)
                    if char == "[":
                        if j < size and text[j] == "]":
                            value, i = [], j + 1
                        else:
                            stack.append(self.open([], failed))
                            i = j
                            continue
                    elif j < size and text[j] == "}":
                        value, i = {}, j + 1
                    else:
                        frame = self.open({}, failed)
                        stack.append(frame)
                        i = self.member_key(j, frame, after_comma=False)
                        continue
            elif char == '"':
                value, i = self.string(i)
            elif char == "-" or "0" <= char <= "9":
                value, i = self.number(i)
            elif text.startswith("true", i):
                value, i = True, i + 4
            elif text.startswith("false", i):
                value, i = False, i + 5
            elif text.startswith("null", i):
                value, i = None, i + 4
            else:
                self.unexpected(i, stack)
            # The value is complete: attach it, then read what follows it.
            while True:
                if not stack:
                    j = self.skip(i)
                    if j < size:
                        self.error("trailing data after the document", j)
                    return value
                frame = stack[-1]
                container = frame.container
                is_object = isinstance(container, dict)
                if isinstance(container, dict):
                    container[frame.key] = value
                else:
                    container.append(value)
                j = self.skip(i)
                close = "}" if is_object else "]"
                if j < size and text[j] == ",":
                    i = self.skip(j + 1)
                    if isinstance(container, dict):
                        i = self.member_key(i, frame, after_comma=True)
                    break
                if j < size and text[j] == close:
                    stack.pop()
                    if frame.failed:
                        self.failed_frames -= 1
                    value, i = container, j + 1
                    continue
                if j >= size:
                    self.error(f"unexpected end of input: expected ',' or '{close}'", j)
                what = "object member" if is_object else "array element"
                self.error(f"expected ',' or '{close}' after {what}", j)

    def open(self, container: list[JSONValue] | dict[str, JSONValue], failed: bool) -> _Frame:
        if failed:
            self.failed_frames += 1
        return _Frame(container, failed)

    def try_fast(self, index: int, depth: int) -> tuple[JSONValue, int] | None:
        """Parse the container at ``index`` with the fast parser and its checks, if that works."""
        try:
            with gc_paused():
                value, end = self.decoder.raw_decode(self.text, index)
        except (ValueError, RecursionError):
            return None
        if not _checks_pass(self.text, index, end, MAX_DEPTH - depth, None):
            return None
        return value, end

    def member_key(self, i: int, frame: _Frame, *, after_comma: bool) -> int:
        """Read ``"key" :`` at i (after whitespace); return where the member's value starts."""
        text = self.text
        if i >= len(text):
            self.error("unexpected end of input: expected an object key", i)
        if text[i] != '"':
            if after_comma and text[i] == "}":
                self.error("expected an object key after ',' (trailing comma?)", i)
            self.error(f"expected a double-quoted object key, found {_describe(text[i])}", i)
        key, j = self.string(i)
        first = frame.keys.get(key)
        if first is not None:
            line, column = _line_col(text, first)
            self.error(f"duplicate key {key!r} (first at {line}:{column})", i)
        frame.keys[key] = i
        frame.key = key
        j = self.skip(j)
        if j >= len(text):
            self.error("unexpected end of input: expected ':' after object key", j)
        if text[j] != ":":
            self.error("expected ':' after object key", j)
        return self.skip(j + 1)

    def unexpected(self, i: int, stack: list[_Frame]) -> NoReturn:
        text = self.text
        if i >= len(text):
            self.error("unexpected end of input: expected a value", i)
        for word in ("NaN", "Infinity"):
            if text.startswith(word, i):
                self.error(f"{word} is not JSON", i)
        char = text[i]
        literal = _WORD.match(text, i)
        if literal is not None:
            self.error(f"unknown literal {literal.group()!r}: expected a value", i)
        if char in "]}" and stack:
            self.error(f"expected a value, found '{char}' (trailing comma?)", i)
        if char == "'":
            self.error("strings must be in double quotes", i)
        self.error(f"unexpected character {_describe(char)}: expected a value", i)

    def number(self, i: int) -> tuple[JSONValue, int]:
        text = self.text
        match = _NUMBER.match(text, i)
        if match is None:
            if text.startswith("-Infinity", i):
                self.error("-Infinity is not JSON", i)
            self.error("expected a digit after '-'", i + 1)
        j = match.end()
        if j < len(text):
            char = text[j]
            if "0" <= char <= "9":
                self.error("numbers must not have leading zeros", i)
            if char == "." and match.group(1) is None:
                self.error("expected a digit after the decimal point", j + 1)
            if char in "eE" and match.group(2) is None:
                k = j + 1
                if k < len(text) and text[k] in "+-":
                    k += 1
                self.error("expected a digit in the exponent", k)
        literal = match.group()
        try:
            if match.group(1) is None and match.group(2) is None:
                return _make_int(literal), j
            return _make_decimal(literal), j
        except _Refused as refusal:
            self.error(str(refusal), i)

    def string(self, i: int) -> tuple[str, int]:
        text = self.text
        plain = _PLAIN_STRING.match(text, i)
        if plain is not None:
            return plain.group(1), plain.end()
        parts: list[str] = []
        j = i + 1
        size = len(text)
        while True:
            chunk = _STRING_CHUNK.match(text, j)
            assert chunk is not None  # the pattern matches the empty string
            parts.append(chunk.group())
            j = chunk.end()
            if j >= size:
                line, column = _line_col(text, i)
                self.error(f"unexpected end of input in the string started at {line}:{column}", j)
            char = text[j]
            if char == '"':
                return "".join(parts), j + 1
            if char == "\\":
                j = self.escape(j, parts)
            elif char < " ":
                self.error(f"control character {_describe(char)} in string must be escaped", j)
            else:
                self.error(f"lone surrogate U+{ord(char):04X} in string", j)

    def escape(self, j: int, parts: list[str]) -> int:
        """Decode the escape starting at ``text[j]`` into parts; return the index after it."""
        text = self.text
        if j + 1 >= len(text):
            self.error("unexpected end of input in a string escape", j + 1)
        kind = text[j + 1]
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            parts.append(simple)
            return j + 2
        if kind != "u":
            self.error(f"invalid escape '\\{kind}' in string", j)
        digits = _HEX4.match(text, j + 2)
        if digits is None:
            self.error("invalid \\u escape: expected 4 hexadecimal digits", j)
        code = int(digits.group(), 16)
        if 0xD800 <= code <= 0xDBFF:
            low = _HEX4.match(text, j + 8) if text.startswith("\\u", j + 6) else None
            if low is not None and 0xDC00 <= int(low.group(), 16) <= 0xDFFF:
                parts.append(chr(0x10000 + ((code - 0xD800) << 10) + int(low.group(), 16) - 0xDC00))
                return j + 12
            self.error(f"lone surrogate \\u{digits.group()} in string (no low surrogate next)", j)
        if 0xDC00 <= code <= 0xDFFF:
            self.error(f"lone surrogate \\u{digits.group()} in string (no high surrogate first)", j)
        parts.append(chr(code))
        return j + 6


def _slow_parse(text: str, source: str) -> JSONValue:
    """Parse with the exact parser only (tests compare it with the fast path)."""
    return _SlowParser(text, source).parse()


# ---------------------------------------------------------------------------------------------
# Reading: public API
# ---------------------------------------------------------------------------------------------


def _fast_load(text: str, raw: bytes | None = None) -> tuple[bool, JSONValue]:
    """Parse with the fast parser and its cheap checks: (True, value), or (False, None).

    ``raw`` is the UTF-8 of ``text`` if the caller has it (it saves encoding for the checks).
    """
    if not text.isascii() and _RAW_SURROGATE.search(text) is not None:
        return False, None
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


# ---------------------------------------------------------------------------------------------
# Locating a value in the text
# ---------------------------------------------------------------------------------------------


def _skip_ws(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _find_member(text: str, index: int, key: str, skip_value: Callable[..., object]) -> int:
    """Start of the value of ``key`` in the object at ``index``, or -1."""
    j = _skip_ws(text, index + 1)
    if text.startswith("}", j):
        return -1
    while text.startswith('"', j):
        name, j = _scanstring(text, j + 1, True)
        j = _skip_ws(text, j)
        if not text.startswith(":", j):
            return -1
        j = _skip_ws(text, j + 1)
        if name == key:
            return j
        _, j = skip_value(text, j)  # type: ignore[misc]
        j = _skip_ws(text, j)
        if not text.startswith(",", j):
            return -1
        j = _skip_ws(text, j + 1)
    return -1


def _find_element(text: str, index: int, position: int, skip_value: Callable[..., object]) -> int:
    """Start of element ``position`` of the array at ``index``, or -1."""
    j = _skip_ws(text, index + 1)
    if text.startswith("]", j):
        return -1
    for _ in range(position):
        _, j = skip_value(text, j)  # type: ignore[misc]
        j = _skip_ws(text, j)
        if not text.startswith(",", j):
            return -1
        j = _skip_ws(text, j + 1)
    return j


def locate(text: str, path: Sequence[str | int]) -> tuple[int, int]:
    """Return the 1-based (line, column) where the value at ``path`` starts in ``text``.

    ``path`` holds object keys (str) and array indexes (int) from the root; ``[]`` is the root.
    When the path does not exist, the position of the deepest existing ancestor is returned.
    Sibling values are skipped with the C scanner, so this is fast on very large texts.
    """
    skip_value = json.JSONDecoder().raw_decode
    index = _skip_ws(text, 0)
    with gc_paused():
        for step in path:
            found = -1
            try:
                if isinstance(step, str):
                    if text.startswith("{", index):
                        found = _find_member(text, index, step, skip_value)
                elif not isinstance(step, bool) and step >= 0 and text.startswith("[", index):
                    found = _find_element(text, index, step, skip_value)
            except (ValueError, RecursionError):
                found = -1
            if found < 0:
                break
            index = found
    return _line_col(text, index)


class _Wanted:
    """A node of the tree of wanted paths; ``start`` is where its value begins (-1: not found).

    Members (str keys) and elements (int keys) share one table: a str never equals an int.
    """

    __slots__ = ("below", "has_elements", "has_members", "parent", "start")

    def __init__(self, parent: _Wanted | None) -> None:
        self.parent = parent
        self.below: dict[str | int, _Wanted] = {}
        self.has_members = False
        self.has_elements = False
        self.start = -1

    def found_start(self) -> int:
        """Where this value starts, or its deepest ancestor found when it was not."""
        node = self
        while node.start < 0 and node.parent is not None:
            node = node.parent
        return node.start


def _wanted_tree(paths: Iterable[Sequence[str | int]]) -> tuple[_Wanted, list[_Wanted], int]:
    """The tree of ``paths``, each path's deepest node in it, and how many nodes it has.

    A step that can never name a value (a bool, a negative index) ends its path there, as in
    :func:`locate`.
    """
    root = _Wanted(None)
    ends, count = [], 1
    for path in paths:
        node = root
        for step in path:
            if isinstance(step, bool) or (isinstance(step, int) and step < 0):
                break
            below = node.below.get(step)
            if below is None:
                below = node.below[step] = _Wanted(node)
                count += 1
                if isinstance(step, str):
                    node.has_members = True
                else:
                    node.has_elements = True
            node = below
        ends.append(node)
    return root, ends, count


# A member name without escapes and the colon after it; a comma or closing bracket after a value.
_PLAIN_MEMBER = re.compile('"([^"\\\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]}])[ \t\n\r]*")


class _Open:
    """A container the walk has entered because something inside it is wanted."""

    __slots__ = ("closing", "count", "node")

    def __init__(self, node: _Wanted, closing: str) -> None:
        self.node = node
        self.closing = closing
        self.count = 0

    def next_value(self, text: str, index: int) -> tuple[_Wanted | None, int]:
        """The wanted node (or None) of the member or element at ``index``, and its value's start.

        Raises ValueError when the text is not JSON there.
        """
        if self.closing == "]":
            node = self.node.below.get(self.count)
            self.count += 1
            return node, index
        plain = _PLAIN_MEMBER.match(text, index)
        if plain is not None:  # the usual name, without escapes: one regular expression
            name, index = plain.group(1), plain.end()
        else:
            if not text.startswith('"', index):
                raise ValueError("expected a member name")
            name, index = _scanstring(text, index + 1, True)
            index = _skip_ws(text, index)
            if not text.startswith(":", index):
                raise ValueError("expected ':'")
            index = _skip_ws(text, index + 1)
        member = self.node.below.get(name)
        if member is not None and member.start >= 0:
            member = None  # a repeated name: the first one counts, as in locate
        return member, index


def _walk(text: str, root: _Wanted, wanted: int) -> None:
    """Record where each of the ``wanted`` nodes under ``root`` starts, reading ``text`` once.

    Only containers holding a wanted value are entered; every other value is skipped with the C
    scanner, so each character is read once. Stops when all are found or the text ends; raises
    ValueError or RecursionError where the text is not JSON.
    """
    skip_value = json.JSONDecoder().raw_decode
    frames: list[_Open] = []
    node: _Wanted | None = root
    index = _skip_ws(text, 0)
    while True:
        # A value starts at index; node is what is wanted of it (None: nothing).
        if node is None:
            _, index = skip_value(text, index)
        else:
            node.start = index
            wanted -= 1
            if wanted == 0:
                return
            opening = text[index : index + 1]
            if (opening == "{" and node.has_members) or (opening == "[" and node.has_elements):
                frame = _Open(node, "}" if opening == "{" else "]")
                index = _skip_ws(text, index + 1)
                if not text.startswith(frame.closing, index):
                    frames.append(frame)
                    node, index = frame.next_value(text, index)
                    continue
                index += 1
            else:
                _, index = skip_value(text, index)
        # The value ended at index: go on to the next sibling, closing finished containers.
        while frames:
            separator = _SEPARATOR.match(text, index)
            if separator is None or separator.group(1) not in (",", frames[-1].closing):
                raise ValueError(f"expected ',' or '{frames[-1].closing}'")
            index = separator.end()
            if separator.group(1) == ",":
                node, index = frames[-1].next_value(text, index)
                break
            frames.pop()
        else:
            return


def _line_cols(text: str, indexes: Iterable[int]) -> dict[int, tuple[int, int]]:
    """The (line, column) of each index (as :func:`_line_col`), counting lines in one pass."""
    places: dict[int, tuple[int, int]] = {}
    line, line_start, previous = 1, 0, 0
    for index in sorted(set(indexes)):
        newlines = text.count("\n", previous, index)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", previous, index) + 1
        places[index] = (line, index - line_start + 1)
        previous = index
    return places


def locate_all(text: str, paths: Iterable[Sequence[str | int]]) -> list[tuple[int, int]]:
    """Return the (line, column) of every path in ``paths``, in order, each as :func:`locate` would.

    The wanted paths are gathered first and ``text`` is then read once, so placing many paths
    (every schema error of a document) takes time linear in the size of the text, not in the
    text times the number of paths.
    """
    with gc_paused():
        root, ends, count = _wanted_tree(paths)
        root.start = _skip_ws(text, 0)
        # Where the text stops being JSON, what was found before stays (as with locate).
        with suppress(ValueError, RecursionError):
            _walk(text, root, count)
    starts = [end.found_start() for end in ends]
    places = _line_cols(text, starts)
    return [places[start] for start in starts]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

_SCALAR_TYPES = frozenset({type(None), bool, int, str, Decimal})
_VALUE_TYPES = _SCALAR_TYPES | {list, dict}
_NON_ASCII_TEXT = re.compile("[\x7f-\U0010ffff]+")
# In UTF-8 every byte of a non-ASCII character is >= 0x80, so a run of such bytes (with DEL,
# which ensure_ascii escapes too) is always whole characters.
_NON_ASCII_UTF8 = re.compile(b"[\x7f-\xff]+")
_INDENT_UNIT = re.compile("[ \t]*")
_ITEM_SEPARATOR = re.compile("[ \t]*,[ \t]*")
_KEY_SEPARATOR = re.compile("[ \t]*:[ \t]*")
_NEWLINES = ("\n", "\r\n")
# orjson's two-space text holds no newline inside a string (it writes "\n" as an escape), so a
# newline and the spaces after it are always layout: each can be rewritten without parsing.
_LINE_BREAK_KEPT = re.compile(b"(\n *)")
_LINE_BREAK = re.compile(b"\n *")
_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class _Layout:
    """Where the writer puts whitespace: ``json.dumps``'s indent and separators, and line ends."""

    indent: str | None
    """One level of indentation; None writes the whole value on one line."""
    item_separator: str
    key_separator: str
    newline: str


def _checked_layout(
    indent: int | str | None, separators: tuple[str, str] | None, newline: str
) -> _Layout:
    """Check the layout arguments of the writers; ValueError names the first bad one."""
    unit: str | None
    if indent is None:
        unit = None
    elif type(indent) is int and indent >= 0:
        unit = " " * indent
    elif type(indent) is str and _INDENT_UNIT.fullmatch(indent):
        unit = indent
    else:
        raise ValueError(
            f"indent must be None, a non-negative int or spaces and tabs, not {indent!r}"
        )
    if separators is None:
        separators = (",", ":") if unit is None else (",", ": ")
    if not (
        type(separators) is tuple
        and len(separators) == 2
        and type(separators[0]) is str
        and type(separators[1]) is str
        and _ITEM_SEPARATOR.fullmatch(separators[0])
        and _KEY_SEPARATOR.fullmatch(separators[1])
    ):
        raise ValueError(
            f"separators must be (',', ':') with optional spaces or tabs around, not {separators!r}"
        )
    if newline not in _NEWLINES:
        raise ValueError(f"newline must be '\\n' or '\\r\\n', not {newline!r}")
    return _Layout(unit, separators[0], separators[1], newline)


def _check_for_orjson(value: JSONValue) -> None:
    """Refuse what orjson would write but loads could not give back (float, tuple, too deep).

    Keys, big integers, lone surrogates and Decimal problems make orjson fail, and the pure
    Python writer then reports them.
    """
    if type(value) not in (list, dict):
        if type(value) not in _VALUE_TYPES:
            raise TypeError(f"{type(value).__name__} is not a JSON value")
        return
    stack: list[tuple[list[JSONValue] | dict[str, JSONValue], int]] = [(value, 1)]  # type: ignore[list-item]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        items = container.values() if type(container) is dict else container
        types = set(map(type, items))
        if types <= _SCALAR_TYPES:
            continue
        if not types <= _VALUE_TYPES:
            bad = sorted(t.__name__ for t in types - _VALUE_TYPES)
            raise TypeError(f"{', '.join(bad)} is not a JSON value (use int, Decimal, ...)")
        if depth >= MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH}")
        depth += 1
        for item in items:
            if type(item) is dict or type(item) is list:
                push((item, depth))


def _orjson_default(obj: object) -> orjson.Fragment:
    if type(obj) is Decimal:
        return orjson.Fragment(format_number(obj))
    raise TypeError(f"{type(obj).__name__} is not a JSON value")


def _escaped_text_run(match: re.Match[str]) -> str:
    return encode_basestring_ascii(match.group())[1:-1]


def _escaped_utf8_run(match: re.Match[bytes]) -> bytes:
    return encode_basestring_ascii(match.group().decode("utf-8"))[1:-1].encode("ascii")


def _is_orjson_layout(layout: _Layout) -> bool:
    """Whether orjson writes ``layout`` itself: compact, or two spaces with LF and ","."""
    if layout.indent is None:
        return layout.item_separator == "," and layout.key_separator == ":"
    return (layout.indent, layout.item_separator, layout.key_separator, layout.newline) == (
        "  ",
        ",",
        ": ",
        "\n",
    )


def _orjson_bytes(value: JSONValue, layout: _Layout, end: str) -> bytes | None:
    """Serialise with orjson (plus ``end``) when that gives what the pure writer would; else None.

    orjson writes compact text or two-space indentation. Any other layout with the key
    separator ``": "`` is made from the two-space text by rewriting its line breaks (linear,
    at C speed per line); other key separators go to the pure writer.
    """
    direct = _is_orjson_layout(layout)
    if not direct and layout.key_separator != ": ":
        return None
    _check_for_orjson(value)
    appended = direct and end == "\n"
    option = 0 if direct and layout.indent is None else orjson.OPT_INDENT_2
    if appended:
        option |= orjson.OPT_APPEND_NEWLINE
    try:
        data = orjson.dumps(value, default=_orjson_default, option=option)
    except TypeError:  # orjson.JSONEncodeError: big int, lone surrogate, bad key or Decimal
        return None
    if not direct:
        data = _relaid(data, layout)
    return data if appended or not end else data + end.encode("ascii")


def _relaid(data: bytes, layout: _Layout) -> bytes:
    """Rewrite orjson's two-space text (no final newline) into ``layout`` (key separator ": ")."""
    if layout.item_separator != ",":
        data = data.replace(b",\n", layout.item_separator.encode("ascii") + b"\n")
    if layout.indent == "  ":
        return data if layout.newline == "\n" else data.replace(b"\n", b"\r\n")
    rewrite: Callable[[bytes], bytes]
    if layout.indent is None:
        rewrite = functools.partial(_LINE_BREAK.sub, b"")
    else:
        rewrite = functools.partial(_reindented, _line_starts(layout.indent, layout.newline))
    return b"".join(map(rewrite, _chunks(data)))


def _chunks(data: bytes) -> Iterator[bytes]:
    """Cut ``data`` into pieces of about 1 MiB, each just before a newline.

    Rewriting a piece at a time keeps the per-line objects of a huge text from piling up.
    """
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _CHUNK_SIZE)
        end = len(data) if end < 0 else end
        yield data[start:end]
        start = end


def _reindented(line_starts: dict[bytes, bytes], data: bytes) -> bytes:
    """Replace every line break of two-space text by its entry in ``line_starts``."""
    pieces = _LINE_BREAK_KEPT.split(data)
    pieces[1::2] = map(line_starts.__getitem__, pieces[1::2])
    return b"".join(pieces)


@functools.lru_cache(maxsize=8)
def _line_starts(indent: str, newline: str) -> dict[bytes, bytes]:
    """Map each line break of two-space text (newline, two spaces a level) to ``indent``'s."""
    return {
        b"\n" + b"  " * level: (newline + indent * level).encode("ascii")
        for level in range(MAX_DEPTH + 1)
    }


def _python_dumps(
    value: JSONValue,
    indent: int | str | None,
    ensure_ascii: bool,
    *,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
) -> str:
    """Write like ``json.dumps`` with the same arguments, with exact numbers (see dumps)."""
    return _python_write(value, _checked_layout(indent, separators, newline), ensure_ascii)


def _python_write(value: JSONValue, layout: _Layout, ensure_ascii: bool) -> str:
    """The pure-Python writer: the specification the orjson path must agree with."""
    encode: Callable[[str], str] = encode_basestring_ascii if ensure_ascii else encode_basestring
    parts: list[str] = []
    add = parts.append
    item_separator, key_separator = layout.item_separator, layout.key_separator
    unit, newline = layout.indent, layout.newline

    def write_string(text: str) -> None:
        if type(text) is not str:
            raise TypeError(f"{type(text).__name__} is not a JSON string")
        if not text.isascii():
            lone = _RAW_SURROGATE.search(text)
            if lone is not None:
                raise ValueError(f"lone surrogate U+{ord(lone.group()):04X} in string")
        add(encode(text))

    def write(item: JSONValue, level: int) -> None:
        kind = type(item)
        if kind is str:
            write_string(item)  # type: ignore[arg-type]
        elif item is None:
            add("null")
        elif item is True:
            add("true")
        elif item is False:
            add("false")
        elif kind is int or kind is Decimal:
            add(format_number(item))  # type: ignore[arg-type]
        elif kind is list or kind is dict:
            if level >= MAX_DEPTH:
                raise ValueError(f"nesting deeper than {MAX_DEPTH}")
            is_object = kind is dict
            opening, closing = ("{", "}") if is_object else ("[", "]")
            if not item:
                add(opening + closing)
                return
            inner = "" if unit is None else newline + unit * (level + 1)
            add(opening)
            if isinstance(item, dict):
                for number, (key, member) in enumerate(item.items()):
                    add(item_separator + inner if number else inner)
                    write_string(key)
                    add(key_separator)
                    write(member, level + 1)
            else:
                for number, element in enumerate(item):  # type: ignore[arg-type]
                    add(item_separator + inner if number else inner)
                    write(element, level + 1)
            add("" if unit is None else newline + unit * level)
            add(closing)
        else:
            raise TypeError(f"{kind.__name__} is not a JSON value (use int, Decimal, ...)")

    write(value, 0)
    return "".join(parts)


def dumps(
    value: JSONValue,
    *,
    indent: int | str | None = 2,
    ensure_ascii: bool = False,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
) -> str:
    r"""Write ``value`` as JSON text, without a trailing newline.

    The layout is that of ``json.dumps`` with the same ``indent`` (None: one line; N: N spaces
    a level; a string of spaces and tabs: that string a level), ``separators`` and
    ``ensure_ascii``. ``separators`` defaults to ``(",", ":")`` on one line (``json.dumps``
    says ``(", ", ": ")``) and to ``(",", ": ")`` when indented; each may only add spaces or
    tabs around its ``,`` or ``:``. ``newline`` (``"\n"`` or ``"\r\n"``) ends each line of
    indented text. Empty arrays and objects are ``[]`` and ``{}``; numbers use
    :func:`format_number`. Raises TypeError for a value that is not JSON (float included) and
    ValueError for a bad layout argument or a value :func:`loads` would refuse (lone
    surrogate, too deep, number out of range).
    """
    layout = _checked_layout(indent, separators, newline)
    fast = _orjson_bytes(value, layout, end="")
    if fast is None:
        return _python_write(value, layout, ensure_ascii)
    text = fast.decode("utf-8")
    if ensure_ascii:
        # Outside strings orjson writes only ASCII, so this touches string contents only.
        text = _NON_ASCII_TEXT.sub(_escaped_text_run, text)
    return text


def dump_bytes(
    value: JSONValue,
    *,
    indent: int | str | None = 2,
    ensure_ascii: bool = False,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
    trailing_newline: bool = True,
) -> bytes:
    """Write ``value`` as UTF-8 JSON (see :func:`dumps`), by default ending with ``newline``."""
    layout = _checked_layout(indent, separators, newline)
    end = newline if trailing_newline else ""
    fast = _orjson_bytes(value, layout, end)
    if fast is None:
        return (_python_write(value, layout, ensure_ascii) + end).encode("utf-8")
    if ensure_ascii:
        return _NON_ASCII_UTF8.sub(_escaped_utf8_run, fast)
    return fast


def clone(value: JSONValue) -> JSONValue:
    """Return a deep copy of ``value``: equal, sharing no list or dict with the original.

    Scalars (str, int, Decimal, ...) are immutable and shared.
    """
    if isinstance(value, dict):
        root: dict[str, JSONValue] | list[JSONValue] = dict(value)
    elif isinstance(value, list):
        root = list(value)
    else:
        return value
    stack = [root]
    with gc_paused():
        while stack:
            container = stack.pop()
            entries = container.items() if isinstance(container, dict) else enumerate(container)
            for place, member in entries:
                copy: dict[str, JSONValue] | list[JSONValue]
                if type(member) is dict:
                    copy = dict(member)
                elif type(member) is list:
                    copy = list(member)
                else:
                    continue
                container[place] = copy  # type: ignore[index]
                stack.append(copy)
    return root
