"""The layout a JSON file was written in, so an upgraded file can be written the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIRST_MEMBER = re.compile(r"[\[{]\r?\n( +|\t+)\S")


@dataclass(frozen=True)
class TextStyle:
    """Indentation, escaping of non-ASCII characters and a final newline."""

    indent: int | None = 2
    ensure_ascii: bool = False
    trailing_newline: bool = True


def detect_style(text: str) -> TextStyle:
    """Guess how ``text`` was written (indent from its first nested line; compact if none)."""
    match = _FIRST_MEMBER.search(text, 0, 4096)
    indent = len(match.group(1)) if match and not match.group(1).startswith("\t") else None
    if indent is None and "\n" in text.strip():
        indent = 2
    ascii_only = text.isascii() and "\\u" in text
    return TextStyle(indent=indent, ensure_ascii=ascii_only, trailing_newline=text.endswith("\n"))
