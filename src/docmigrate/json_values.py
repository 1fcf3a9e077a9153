"""Telling whether a Python value is exact JSON: what :mod:`docmigrate.jsonio` writes back as is.

Steps are user code, and user code returns what Python allows: floats, tuples, sets, bytes,
datetimes, ``Decimal("NaN")``, integer keys, containers holding themselves. Each of these would
either fail when the file is written (after other files were) or be written as something else
than what the step meant (a float's binary value, a tuple as an array). The migrator checks
every step's output with :func:`find_non_json` before it validates it, so the failure names the
step and the JSON path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from docmigrate.jsonio import MAX_DEPTH, MAX_NUMBER_LENGTH, format_number

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN = frozenset({str, bool, type(None)})
_LARGEST_INT = 10 ** (MAX_NUMBER_LENGTH - 1)  # a thousand characters with the sign


def find_non_json(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Return the path of the first value that is not exact JSON, and why; None if all is.

    Exact JSON is: ``dict`` with ``str`` keys, ``list``, ``str`` without lone surrogates,
    ``bool``, ``None``, ``int`` of at most a thousand digits, and finite ``Decimal`` within the
    range :func:`docmigrate.jsonio.loads` accepts, nested at most ``MAX_DEPTH`` deep, with no
    container inside itself.
    """
    for path, problem in _problems(value):
        return path, problem
    return None


def _problems(root: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    # Depth-first with an explicit stack: (value, path, ids of the containers above it).
    stack: list[tuple[Any, tuple[str | int, ...], frozenset[int]]] = [(root, (), frozenset())]
    while stack:
        value, path, above = stack.pop()
        kind = type(value)
        if kind is dict or kind is list:
            if id(value) in above:
                yield path, "a container that holds itself (a cycle)"
                return
            if len(path) >= MAX_DEPTH:
                yield path, f"nesting deeper than {MAX_DEPTH} arrays and objects"
                return
            inside = above | {id(value)}
            if kind is dict:
                for key in value:
                    if type(key) is not str:
                        yield path, f"a key that is {_named(key)}, not a string"
                        return
                entries: Any = value.items()
            else:
                entries = enumerate(value)
            for place, member in reversed(list(entries)):
                if type(member) in _PLAIN and (type(member) is not str or member.isascii()):
                    continue
                stack.append((member, (*path, place), inside))
            continue
        problem = _scalar_problem(value)
        if problem is not None:
            yield path, problem
            return


def _scalar_problem(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        lone = _LONE_SURROGATE.search(value)
        return None if lone is None else f"a string with a lone surrogate U+{ord(lone[0]):04X}"
    if kind is bool or value is None:
        return None
    if kind is int:
        if -_LARGEST_INT < value < _LARGEST_INT:
            return None
        return f"an integer longer than {MAX_NUMBER_LENGTH} characters"
    if kind is Decimal:
        try:
            format_number(value)
        except ValueError as error:
            return f"Decimal {value}: {error}"
        return None
    if kind is float:
        return (
            f"a float ({value!r}); numbers must be int or Decimal, so that their text stays "
            'exact (e.g. Decimal("1.10"), not 1.1)'
        )
    return f"{_named(value)} (not a JSON value: use dict, list, str, int, Decimal, bool or None)"


def _named(value: Any) -> str:
    return f"a {type(value).__name__} ({value!r:.40})"
