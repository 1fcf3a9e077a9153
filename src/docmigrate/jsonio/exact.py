"""The slow, exact parser: RFC 8259 to the letter, stopping at the first problem with its place."""

from __future__ import annotations

import re
from typing import NoReturn

from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio.fast import _RAW_SURROGATE, _checks_pass, _fast_decoder
from docmigrate.jsonio.positions import _WHITESPACE, _line_col
from docmigrate.jsonio.values import (
    MAX_DEPTH,
    JSONValue,
    _make_decimal,
    _make_int,
    _Refused,
    gc_paused,
)

# ---------------------------------------------------------------------------------------------
# The slow, exact parser
# ---------------------------------------------------------------------------------------------

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
