"""JSON Pointers (RFC 6901) and the JSON paths (``$.a[0].b``) used in messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Path = tuple[str | int, ...]
"""A location in a document: object keys and array indexes from the root."""

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MISSING: Any = object()


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """Split a JSON Pointer into its unescaped reference tokens (``""`` is the root).

    Raises ValueError for a pointer that does not start with ``/`` or has a bad ``~`` escape.
    """
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON Pointer {pointer!r} must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise ValueError(f"JSON Pointer {pointer!r} has a '~' not followed by 0 or 1")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def format_pointer(path: Sequence[str | int]) -> str:
    """Render a path as a JSON Pointer."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def json_path(path: Sequence[str | int]) -> str:
    """Render a path as a JSONPath expression such as ``$.production_runs[0].uuid``."""
    parts = ["$"]
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _SIMPLE_KEY.match(part):
            parts.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "".join(parts)


def resolve(document: Any, tokens: Sequence[str], default: Any = _MISSING) -> Any:
    """Return the value at ``tokens`` in ``document``, or ``default`` (KeyError if none given)."""
    value = document
    for token in tokens:
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and _is_index(token) and int(token) < len(value):
            value = value[int(token)]
        elif default is _MISSING:
            raise KeyError(format_pointer(tokens))
        else:
            return default
    return value


def _is_index(token: str) -> bool:
    return token == "0" or (token.isdigit() and not token.startswith("0") and token.isascii())
