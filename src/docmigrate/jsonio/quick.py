"""The quickest parser: msgspec, with C-speed checks for where it differs from the exact parser.

msgspec is strict RFC 8259 (no NaN, no trailing comma, no control character in a string, valid
UTF-8 only, lone surrogate escapes refused) and hands every literal with a fraction or an
exponent to a hook, which is the exact parser's own (:func:`_make_decimal`). Where it differs,
a cheap check over the raw bytes declines the text, and the caller falls back to the C scanner
of :mod:`json` and then the exact parser:

- duplicate keys (msgspec keeps the last): the members counted in the text must equal those
  counted in the re-encoded value (:func:`_structure`);
- ``-0`` (msgspec gives ``int`` 0, the exact parser ``Decimal('-0')``): any ``-0`` where a
  value may start, not followed by a digit, ``.``, ``e`` or ``E``, declines
  (:func:`_has_negative_zero`);
- integers longer than MAX_NUMBER_LENGTH (msgspec reads them as big ints): any run of
  MAX_NUMBER_LENGTH digits declines;
- nesting depth: on the text's structure (:func:`_nests_deeper`); lone surrogate escapes: as
  the C scanner's after-checks do (:mod:`.fast`).

This module imports msgspec, so it is imported on first use (reading alone costs no start-up).
"""

from __future__ import annotations

import re

import msgspec

from docmigrate.jsonio.fast import _LONE_SURROGATE_ESCAPE
from docmigrate.jsonio.values import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    JSONValue,
    _make_decimal,
    gc_paused,
)

# Integers are exact ints in msgspec, big ones too; every other number goes through this hook.
_DECODER = msgspec.json.Decoder(float_hook=_make_decimal)
_ENCODE = msgspec.json.encode  # Decimal is written as a JSON string: its text holds no ':'

# A literal first: the search runs at memchr speed (a lookbehind first is 20 times slower).
_MINUS_ZERO = re.compile(rb"-0(?![0-9.eE])")
_BEFORE_NUMBER = frozenset(b"[,: \t\n\r")
# Digits become "0", everything else " ": a long run of digits is then a plain substring.
_DIGITS_ONLY = bytes(b"0"[0] if chr(b) in "0123456789" else b" "[0] for b in range(256))
_LONG_RUN = b"0" * MAX_NUMBER_LENGTH
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'":[]{}')
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def _has_negative_zero(raw: bytes) -> bool:
    """Whether ``-0`` may stand as a number (integer) in the text: where a value may start.

    A value starts the text or follows ``[``, ``,``, ``:`` or whitespace, so ``"unit-0"`` in a
    string does not count; ``", -0"`` in one does (and only costs speed).
    """
    for match in _MINUS_ZERO.finditer(raw):
        start = match.start()
        if start == 0 or raw[start - 1] in _BEFORE_NUMBER:
            return True
    return False


def _structure(raw: bytes) -> bytes:
    """The brackets and ``:`` of a valid JSON text outside its strings, in order.

    Every backslash in a string starts an escape: escaped backslashes go first, then the
    escaped quotes, so every ``"`` left opens or closes a string. Dropping two adjacent quotes
    keeps every other byte's inside/outside-a-string parity (and leaves few strings for the
    regular expression to drop). Each object member has exactly one ``:`` outside the strings.
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"_").replace(b'\\"', b"_")
    skeleton = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = _QUOTED.sub(b"", skeleton)
    return skeleton


def _member_count(raw: bytes) -> int:
    """Count the object members of a valid JSON text: the ``:`` outside its strings."""
    return _structure(raw).count(b":")


def _nests_deeper(structure: bytes, limit: int) -> bool:
    """Whether a text's :func:`_structure` nests more than ``limit`` levels."""
    brackets = structure.translate(_BRACKETS_ONLY, b":")
    if len(brackets) // 2 <= limit:
        return False  # fewer openings than the limit: not that deep
    for _ in range(limit):
        brackets = brackets.replace(b"[]", b"")  # each round removes the innermost level
        if not brackets:
            return False
    return True


def quick_load(raw: bytes, limit: int = MAX_DEPTH) -> tuple[bool, JSONValue]:
    """Parse UTF-8 ``raw`` with msgspec: (True, value) exactly as the exact parser gives it.

    (False, None) when msgspec refuses the text or a check doubts the result (the caller then
    tries the other parsers). ``limit`` is the deepest nesting accepted.
    """
    if _has_negative_zero(raw) or _LONG_RUN in raw.translate(_DIGITS_ONLY):
        return False, None
    try:
        with gc_paused():
            value: JSONValue = _DECODER.decode(raw)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return False, None
    structure = _structure(raw)
    if structure.count(b":") != _member_count(_ENCODE(value)):
        return False, None  # msgspec dropped a duplicate key
    if b"\\u" in raw:
        # Once escaped backslashes are gone, every backslash left starts an escape.
        plain = raw.replace(b"\\\\", b"_") if b"\\\\" in raw else raw
        if _LONE_SURROGATE_ESCAPE.search(plain) is not None:
            return False, None  # (msgspec refuses lone surrogates too: this only makes sure)
    if _nests_deeper(structure, limit):
        return False, None
    return True, value
