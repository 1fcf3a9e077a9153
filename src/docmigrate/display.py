"""Text from files, made safe to print: one line, no terminal control sequences.

File names and values quoted in messages come from the files being processed, and a hostile
file can hold escape sequences (``ESC [ 2 J``, an OSC 52 clipboard write, ...), newlines that
forge extra report lines, or, in a file name, bytes that are not UTF-8. Every message the
command line prints goes through :func:`visible`.
"""

from __future__ import annotations

import unicodedata

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def visible(value: str) -> str:
    r"""``value`` on one line, with control characters and lone surrogates shown as escapes.

    Tabs stay; newlines and carriage returns become ``\n`` and ``\r``; other control
    characters (C0, DEL, C1) become ``\xNN``, and lone surrogates (undecodable bytes of a file
    name) and the noncharacters U+FFFE/U+FFFF become ``\uNNNN``.
    """
    if value.isprintable():
        return value
    return "".join(_visible_char(char) for char in value)


def _visible_char(char: str) -> str:
    code = ord(char)
    if char == "\t":
        return char
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if unicodedata.category(char) in ("Cc", "Cs") or code in (0xFFFE, 0xFFFF):
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return char


def count(number: int, noun: str) -> str:
    """``number`` with ``noun`` in agreement: ``1 file``, ``3 files``, ``0 errors``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
