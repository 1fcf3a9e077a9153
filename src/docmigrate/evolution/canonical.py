"""A canonical text for JSON values: sorted keys, normalised numbers, no insignificant space.

Two values JSON Schema treats as equal (``1``, ``1.0`` and ``1E0``; objects in any key order)
get the same text, so it serves both to compare schema values (``enum``, ``const``) and as the
input of a fingerprint.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def normalise(value: Any) -> Any:
    """Return ``value`` with sorted keys and every number in its shortest exact form."""
    if isinstance(value, dict):
        return {key: normalise(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(value)
    return value


def _number(value: int | float | Decimal) -> Any:
    """An integer as ``int``; any other number as its normalised decimal text, marked."""
    exact = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    if exact == exact.to_integral_value():
        return int(exact)
    return _Number(format(exact.normalize(), "f"))


class _Number(str):
    """A non-integer number written as its normalised digits (not quoted in the output)."""


def canonical_text(value: Any) -> str:
    """Return the canonical JSON text of ``value``."""
    return _dump(normalise(value))


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def same(first: Any, second: Any) -> bool:
    """Tell whether two JSON values are equal as JSON Schema compares them."""
    return canonical_text(first) == canonical_text(second)
