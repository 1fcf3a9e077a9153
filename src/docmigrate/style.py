r"""The layout a JSON file was written in, so an upgraded file can be written the same way.

:func:`detect_style` reads the layouts ``json.dumps`` makes (any ``indent``, ``separators``
and ``ensure_ascii``), orjson's and those of most JSON tools, with LF or CRLF line ends. It
looks at a bounded prefix of the text, so it costs the same on a file of any size; a question
the prefix does not answer gets the answer ``json.dumps`` would give. The one exception is
``ensure_ascii`` in a text that is all ASCII: one search at C speed for a ``\u`` escape,
which stops at the first (a first escape may come late in a big file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

PREFIX_LENGTH = 65536
"""How many characters from the start of a text :func:`detect_style` looks at."""

# A newline is never raw inside a JSON string, so a bracket followed by one is always layout.
_INDENTED_ROOT = re.compile(r"[ \t\r\n]*[\[{]\r?\n([ \t]*)")
# A whole string (or one cut off by the prefix), or a separator with the space after it.
_STRING_OR_SEPARATOR = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[,:] ?')


@dataclass(frozen=True)
class TextStyle:
    """How a JSON text is laid out: what :func:`docmigrate.jsonio.dump_bytes` needs to write it.

    The default is two-space indentation with ``","`` and ``": "``, LF line ends, non-ASCII
    characters as they are and a final newline.
    """

    indent: str | None = "  "
    """One level of indentation; None when the whole text is on one line."""
    item_separator: str = ","
    """Between array elements and object members (before the line break when indented)."""
    key_separator: str = ": "
    ensure_ascii: bool = False
    """Whether non-ASCII characters are written as ``\\uXXXX`` escapes (``\\u00e9``)."""
    newline: str = "\n"
    """What ends a line: ``"\\n"`` or ``"\\r\\n"``."""
    trailing_newline: bool = True

    def overridden(self, *, indent: int | None, ensure_ascii: bool | None) -> TextStyle:
        """Apply the command line's ``--indent N`` and ``--(no-)ensure-ascii`` (None: keep).

        ``indent`` N sets the usual layout of that indent: N spaces with ``","`` and ``": "``,
        or one line with ``","`` and ``":"`` for 0. Line ends and the final newline stay.
        """
        style = self
        if indent is not None:
            one_line = indent == 0
            style = replace(
                style,
                indent=None if one_line else " " * indent,
                item_separator=",",
                key_separator=":" if one_line else ": ",
            )
        if ensure_ascii is not None:
            style = replace(style, ensure_ascii=ensure_ascii)
        return style

    def dump_options(self) -> dict[str, Any]:
        """Return the keyword arguments of ``jsonio.dump_bytes`` that write in this style."""
        return {
            "indent": self.indent,
            "separators": (self.item_separator, self.key_separator),
            "ensure_ascii": self.ensure_ascii,
            "newline": self.newline,
            "trailing_newline": self.trailing_newline,
        }


def detect_style(text: str) -> TextStyle:
    """Tell how the JSON ``text`` was written: indentation, separators, escaping, line ends.

    Indentation is that of the root's first member, one line when the root does not open a
    line; a separator is the first one outside a string. Only ``ensure_ascii`` may look past
    the prefix, and only in an ASCII text, for an escape only ``ensure_ascii`` writes.
    """
    prefix = text[:PREFIX_LENGTH]
    opening = _INDENTED_ROOT.match(prefix)
    indent = None if opening is None else opening.group(1)
    item_separator, key_separator = _separators(prefix, indented=indent is not None)
    return TextStyle(
        indent=indent,
        item_separator=item_separator,
        key_separator=key_separator,
        ensure_ascii=text.isascii() and _escapes_non_ascii(text),
        newline=_newline(text, prefix),
        trailing_newline=text.endswith("\n"),
    )


def _separators(prefix: str, *, indented: bool) -> tuple[str, str]:
    """The first item and key separators outside strings; json.dumps's defaults for the rest."""
    found: dict[str, str] = {}
    for match in _STRING_OR_SEPARATOR.finditer(prefix):
        token = match.group()
        if match.end() == PREFIX_LENGTH:
            break  # the prefix may cut a separator from its space, or end inside a string
        if token[0] != '"':
            found.setdefault(token[0], token)
            if len(found) == 2:
                break
    item, key = found.get(","), found.get(":")
    if indented:
        return item or ",", key or ": "
    # On one line, json.dumps's pairs: (", ", ": ") by default, (",", ":") for compact text.
    if item is None:
        item = ", " if key == ": " else ","
    if key is None:
        key = ": " if item == ", " else ":"
    return item, key


def _newline(text: str, prefix: str) -> str:
    """The line end of the first line, or of the final newline of a one-line text."""
    first = prefix.find("\n")
    if first < 0:
        return "\r\n" if text.endswith("\r\n") else "\n"
    return "\r\n" if first > 0 and prefix[first - 1] == "\r" else "\n"


def _escapes_non_ascii(text: str) -> bool:
    r"""Whether ``text`` holds a ``\u`` escape that only ``ensure_ascii`` writes.

    ``json.dumps`` escapes control characters (below U+0020) either way, and a ``\u`` after an
    escaped backslash (``"C:\\users"``) is no escape at all. The search runs at C speed and
    stops at the first real one.
    """
    index = text.find("\\u")
    while index >= 0:
        start = index
        while start > 0 and text[start - 1] == "\\":
            start -= 1
        is_escape = (index - start) % 2 == 0
        if is_escape and not text.startswith(("\\u000", "\\u001"), index):
            return True
        index = text.find("\\u", index + 2)
    return False
