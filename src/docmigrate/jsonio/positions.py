"""Locating values in a JSON text: line and column of a path, of many paths in one pass."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress

from docmigrate.jsonio.fast import _plain_decoder
from docmigrate.jsonio.values import gc_paused

_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``text[index]``; lines end at LF."""
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    return line, column


# ---------------------------------------------------------------------------------------------
# Locating a value in the text
# ---------------------------------------------------------------------------------------------


def _skip_ws(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _find_member(text: str, index: int, key: str, skip_value: Callable[..., object]) -> int:
    """Start of the value of ``key`` in the object at ``index``, or -1."""
    j = _skip_ws(text, index + 1)
    if text.startswith("}", j):
        return -1
    while text.startswith('"', j):
        name, j = _scanstring(text, j + 1, True)
        j = _skip_ws(text, j)
        if not text.startswith(":", j):
            return -1
        j = _skip_ws(text, j + 1)
        if name == key:
            return j
        _, j = skip_value(text, j)  # type: ignore[misc]
        j = _skip_ws(text, j)
        if not text.startswith(",", j):
            return -1
        j = _skip_ws(text, j + 1)
    return -1


def _find_element(text: str, index: int, position: int, skip_value: Callable[..., object]) -> int:
    """Start of element ``position`` of the array at ``index``, or -1."""
    j = _skip_ws(text, index + 1)
    if text.startswith("]", j):
        return -1
    for _ in range(position):
        _, j = skip_value(text, j)  # type: ignore[misc]
        j = _skip_ws(text, j)
        if not text.startswith(",", j):
            return -1
        j = _skip_ws(text, j + 1)
    return j


def locate(text: str, path: Sequence[str | int]) -> tuple[int, int]:
    """Return the 1-based (line, column) where the value at ``path`` starts in ``text``.

    ``path`` holds object keys (str) and array indexes (int) from the root; ``[]`` is the root.
    When the path does not exist, the position of the deepest existing ancestor is returned.
    Sibling values are skipped with the C scanner, so this is fast on very large texts.
    """
    skip_value = _plain_decoder().raw_decode
    index = _skip_ws(text, 0)
    with gc_paused():
        for step in path:
            found = -1
            try:
                if isinstance(step, str):
                    if text.startswith("{", index):
                        found = _find_member(text, index, step, skip_value)
                elif not isinstance(step, bool) and step >= 0 and text.startswith("[", index):
                    found = _find_element(text, index, step, skip_value)
            except (ValueError, RecursionError):
                found = -1
            if found < 0:
                break
            index = found
    return _line_col(text, index)


class _Wanted:
    """A node of the tree of wanted paths; ``start`` is where its value begins (-1: not found).

    Members (str keys) and elements (int keys) share one table: a str never equals an int.
    """

    __slots__ = ("below", "has_elements", "has_members", "parent", "start")

    def __init__(self, parent: _Wanted | None) -> None:
        self.parent = parent
        self.below: dict[str | int, _Wanted] = {}
        self.has_members = False
        self.has_elements = False
        self.start = -1

    def found_start(self) -> int:
        """Where this value starts, or its deepest ancestor found when it was not."""
        node = self
        while node.start < 0 and node.parent is not None:
            node = node.parent
        return node.start


def _wanted_tree(paths: Iterable[Sequence[str | int]]) -> tuple[_Wanted, list[_Wanted], int]:
    """The tree of ``paths``, each path's deepest node in it, and how many nodes it has.

    A step that can never name a value (a bool, a negative index) ends its path there, as in
    :func:`locate`.
    """
    root = _Wanted(None)
    ends, count = [], 1
    for path in paths:
        node = root
        for step in path:
            if isinstance(step, bool) or (isinstance(step, int) and step < 0):
                break
            below = node.below.get(step)
            if below is None:
                below = node.below[step] = _Wanted(node)
                count += 1
                if isinstance(step, str):
                    node.has_members = True
                else:
                    node.has_elements = True
            node = below
        ends.append(node)
    return root, ends, count


# A member name without escapes and the colon after it; a comma or closing bracket after a value.
_PLAIN_MEMBER = re.compile('"([^"\\\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
_SEPARATOR = re.compile(r"[ \t\n\r]*([,\]}])[ \t\n\r]*")


class _Open:
    """A container the walk has entered because something inside it is wanted."""

    __slots__ = ("closing", "count", "node")

    def __init__(self, node: _Wanted, closing: str) -> None:
        self.node = node
        self.closing = closing
        self.count = 0

    def next_value(self, text: str, index: int) -> tuple[_Wanted | None, int]:
        """The wanted node (or None) of the member or element at ``index``, and its value's start.

        Raises ValueError when the text is not JSON there.
        """
        if self.closing == "]":
            node = self.node.below.get(self.count)
            self.count += 1
            return node, index
        plain = _PLAIN_MEMBER.match(text, index)
        if plain is not None:  # the usual name, without escapes: one regular expression
            name, index = plain.group(1), plain.end()
        else:
            if not text.startswith('"', index):
                raise ValueError("expected a member name")
            name, index = _scanstring(text, index + 1, True)
            index = _skip_ws(text, index)
            if not text.startswith(":", index):
                raise ValueError("expected ':'")
            index = _skip_ws(text, index + 1)
        member = self.node.below.get(name)
        if member is not None and member.start >= 0:
            member = None  # a repeated name: the first one counts, as in locate
        return member, index


def _walk(text: str, root: _Wanted, wanted: int) -> None:
    """Record where each of the ``wanted`` nodes under ``root`` starts, reading ``text`` once.

    Only containers holding a wanted value are entered; every other value is skipped with the C
    scanner, so each character is read once. Stops when all are found or the text ends; raises
    ValueError or RecursionError where the text is not JSON.
    """
    skip_value = _plain_decoder().raw_decode
    frames: list[_Open] = []
    node: _Wanted | None = root
    index = _skip_ws(text, 0)
    while True:
        # A value starts at index; node is what is wanted of it (None: nothing).
        if node is None:
            _, index = skip_value(text, index)
        else:
            node.start = index
            wanted -= 1
            if wanted == 0:
                return
            opening = text[index : index + 1]
            if (opening == "{" and node.has_members) or (opening == "[" and node.has_elements):
                frame = _Open(node, "}" if opening == "{" else "]")
                index = _skip_ws(text, index + 1)
                if not text.startswith(frame.closing, index):
                    frames.append(frame)
                    node, index = frame.next_value(text, index)
                    continue
                index += 1
            else:
                _, index = skip_value(text, index)
        # The value ended at index: go on to the next sibling, closing finished containers.
        while frames:
            separator = _SEPARATOR.match(text, index)
            if separator is None or separator.group(1) not in (",", frames[-1].closing):
                raise ValueError(f"expected ',' or '{frames[-1].closing}'")
            index = separator.end()
            if separator.group(1) == ",":
                node, index = frames[-1].next_value(text, index)
                break
            frames.pop()
        else:
            return


def _line_cols(text: str, indexes: Iterable[int]) -> dict[int, tuple[int, int]]:
    """The (line, column) of each index (as :func:`_line_col`), counting lines in one pass."""
    places: dict[int, tuple[int, int]] = {}
    line, line_start, previous = 1, 0, 0
    for index in sorted(set(indexes)):
        newlines = text.count("\n", previous, index)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", previous, index) + 1
        places[index] = (line, index - line_start + 1)
        previous = index
    return places


def locate_all(text: str, paths: Iterable[Sequence[str | int]]) -> list[tuple[int, int]]:
    """Return the (line, column) of every path in ``paths``, in order, each as :func:`locate` would.

    The wanted paths are gathered first and ``text`` is then read once, so placing many paths
    (every schema error of a document) takes time linear in the size of the text, not in the
    text times the number of paths.
    """
    with gc_paused():
        root, ends, count = _wanted_tree(paths)
        root.start = _skip_ws(text, 0)
        # Where the text stops being JSON, what was found before stays (as with locate).
        with suppress(ValueError, RecursionError):
            _walk(text, root, count)
    starts = [end.found_start() for end in ends]
    places = _line_cols(text, starts)
    return [places[start] for start in starts]
