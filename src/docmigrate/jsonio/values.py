"""JSON values: their type, the limits on them, and exact numbers (shared by every parser)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

JSONValue: TypeAlias = (
    bool | int | Decimal | str | list["JSONValue"] | dict[str, "JSONValue"] | None
)

MAX_DEPTH: int = 200
"""Deepest nesting of arrays and objects accepted (``[]`` has depth 1, a scalar depth 0)."""

MAX_NUMBER_LENGTH: int = 1000
"""Longest number literal accepted, in characters, sign included."""

MAX_EXPONENT: int = 1000
"""Largest ``abs(Decimal(literal).adjusted())`` accepted for a number written with an exponent."""

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
