"""The quickest parser: msgspec, with C-speed checks for where it differs from the exact parser.

msgspec is strict RFC 8259 (no NaN, no trailing comma, no control character in a string, valid
UTF-8 only, lone surrogate escapes refused) and hands every literal with a fraction or an
exponent to a hook, which is the exact parser's own (:func:`_make_decimal`). Where it differs,
a cheap check over the raw bytes declines the text, and the caller falls back to the C scanner
of :mod:`json` and then the exact parser:

- duplicate keys (msgspec keeps the last): the members counted in the text must equal those
  counted in the re-encoded value (:func:`_member_count`);
- ``-0`` (msgspec gives ``int`` 0, the exact parser ``Decimal('-0')``): any ``-0`` not followed
  by a digit, ``.``, ``e`` or ``E``, strings included, declines;
- integers longer than MAX_NUMBER_LENGTH (msgspec reads them as big ints): any run of
  MAX_NUMBER_LENGTH digits declines;
- nesting depth and surrogates: the caller's ``_checks_pass``, as for the C scanner.

This module imports msgspec, so it is imported on first use (reading alone costs no start-up).
"""

from __future__ import annotations

import re

import msgspec

from docmigrate.jsonio.values import MAX_NUMBER_LENGTH, JSONValue, _make_decimal, gc_paused

# Integers are exact ints in msgspec, big ones too; every other number goes through this hook.
_DECODER = msgspec.json.Decoder(float_hook=_make_decimal)
_ENCODE = msgspec.json.encode  # Decimal is written as a JSON string: its text holds no ':'

_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])")
# The lookbehind makes the search linear: a run is tried from its first digit only.
_LONG_INTEGER = re.compile(rb"(?<![0-9])[0-9]{%d}" % MAX_NUMBER_LENGTH)
_NOT_QUOTE_OR_COLON = bytes(b for b in range(256) if b not in b'":')


def _member_count(raw: bytes) -> int:
    """Count the object members of a valid JSON text: the ``:`` outside its strings.

    Every backslash in a string starts an escape: escaped backslashes go first, then the
    escaped quotes, so every ``"`` left opens or closes a string. Each member has exactly one
    ``:`` outside the strings.
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"_").replace(b'\\"', b"_")
    skeleton = raw.translate(None, _NOT_QUOTE_OR_COLON).replace(b'""', b"")
    if b'"' not in skeleton:
        return skeleton.count(b":")
    # Outside the strings are the even pieces between quotes.
    return sum(piece.count(b":") for piece in skeleton.split(b'"')[::2])


def quick_load(raw: bytes) -> tuple[bool, JSONValue]:
    """Parse UTF-8 ``raw`` with msgspec: (True, value) exactly as the exact parser gives it.

    (False, None) when msgspec refuses the text or a check doubts the result: the caller then
    tries the other parsers. Depth and surrogate escapes are the caller's to check.
    """
    if _NEGATIVE_ZERO.search(raw) is not None or _LONG_INTEGER.search(raw) is not None:
        return False, None
    try:
        with gc_paused():
            value: JSONValue = _DECODER.decode(raw)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return False, None
    if b":" in raw and _member_count(raw) != _member_count(_ENCODE(value)):
        return False, None  # msgspec dropped a duplicate key
    return True, value
