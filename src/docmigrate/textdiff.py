r"""Unified diffs of line sequences that stay fast on big documents.

:mod:`difflib` compares every line with every other, which takes minutes on a document of a
few megabytes. Here the common head and tail are set aside first, then lines that occur exactly
once on each side anchor the match (patience diff: the longest run of such lines in the same
order on both sides), and the gaps between anchors are matched the same way. Only a gap that
is small is handed to :mod:`difflib`; a big gap without anchors is shown as replaced.

The output follows ``diff -u``: ``---``/``+++`` headers, ``@@ -l,s +l,s @@`` hunks with three
lines of context, and ``\ No newline at end of file`` after a last line without one.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import NamedTuple

__all__ = [
    "SMALL_GAP",
    "Diff",
    "grouped",
    "matching_blocks",
    "opcodes",
    "split_lines",
    "unified_diff",
]

Block = tuple[int, int, int]
"""``(i, j, size)``: ``a[i:i + size] == b[j:j + size]``."""

SMALL_GAP = 40_000
"""Largest ``len(a_gap) * len(b_gap)`` handed to :mod:`difflib` (its cost grows with it)."""

_NO_NEWLINE = "\\ No newline at end of file\n"


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` with their ends; only LF ends a line, as for diff and patch.

    (``str.splitlines`` also breaks at U+0085, U+2028 and other characters that JSON strings
    may hold raw: a diff of such lines would not apply.)
    """
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[Block]:
    """Blocks of lines common to ``a`` and ``b``, in order, adjacent ones merged.

    Like :meth:`difflib.SequenceMatcher.get_matching_blocks`, the list ends with the dummy
    block ``(len(a), len(b), 0)``.
    """
    found: list[Block] = []
    gaps = [(0, len(a), 0, len(b))]
    while gaps:
        alo, ahi, blo, bhi = gaps.pop()
        # The common head and tail need no search.
        head = _common_head(a, b, alo, ahi, blo, bhi)
        if head:
            found.append((alo, blo, head))
            alo, blo = alo + head, blo + head
        tail = _common_tail(a, b, alo, ahi, blo, bhi)
        if tail:
            found.append((ahi - tail, bhi - tail, tail))
            ahi, bhi = ahi - tail, bhi - tail
        if alo == ahi or blo == bhi:
            continue
        anchors = _unique_anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            if (ahi - alo) * (bhi - blo) <= SMALL_GAP:
                found += _difflib_blocks(a, b, alo, ahi, blo, bhi)
            continue  # a big gap with no line to anchor on: shown as replaced
        for i, j in anchors:
            found.append((i, j, 1))
            gaps.append((alo, i, blo, j))
            alo, blo = i + 1, j + 1
        gaps.append((alo, ahi, blo, bhi))
    return [*_merged(sorted(found)), (len(a), len(b), 0)]


def _common_head(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int) -> int:
    size = 0
    while alo + size < ahi and blo + size < bhi and a[alo + size] == b[blo + size]:
        size += 1
    return size


def _common_tail(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int) -> int:
    size = 0
    while alo < ahi - size and blo < bhi - size and a[ahi - size - 1] == b[bhi - size - 1]:
        size += 1
    return size


def _unique_anchors(
    a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """The longest in-order run of lines that occur once in ``a[alo:ahi]`` and in ``b[blo:bhi]``."""
    in_a: dict[str, int] = {}  # line -> its index, or -1 once seen twice
    for i in range(alo, ahi):
        in_a[a[i]] = -1 if a[i] in in_a else i
    in_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        if in_a.get(line, -1) >= 0:
            in_b[line] = -1 if line in in_b else j
    pairs = sorted((in_a[line], j) for line, j in in_b.items() if j >= 0)
    return _longest_increasing(pairs)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of ``pairs`` (sorted by i) whose j increase too (patience sort)."""
    tops: list[int] = []  # the j on top of each pile
    top_pair: list[int] = []  # index in pairs of that top
    previous: list[int] = []  # for each pair, the pair below it in the best chain, or -1
    for index, (_, j) in enumerate(pairs):
        pile = bisect_left(tops, j)
        if pile == len(tops):
            tops.append(j)
            top_pair.append(index)
        else:
            tops[pile] = j
            top_pair[pile] = index
        previous.append(top_pair[pile - 1] if pile else -1)
    chain = []
    index = top_pair[-1] if top_pair else -1
    while index >= 0:
        chain.append(pairs[index])
        index = previous[index]
    return chain[::-1]


def _difflib_blocks(
    a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[Block]:
    matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
    return [(alo + i, blo + j, size) for i, j, size in matcher.get_matching_blocks() if size]


def _merged(blocks: list[Block]) -> Iterator[Block]:
    """Sorted blocks with each run of adjacent blocks joined into one."""
    if not blocks:
        return
    i, j, size = blocks[0]
    for next_i, next_j, next_size in blocks[1:]:
        if i + size == next_i and j + size == next_j:
            size += next_size
        else:
            yield i, j, size
            i, j, size = next_i, next_j, next_size
    yield i, j, size


Opcode = tuple[str, int, int, int, int]
"""``(tag, i1, i2, j1, j2)`` as :meth:`difflib.SequenceMatcher.get_opcodes` gives them."""


def opcodes(blocks: Sequence[Block]) -> list[Opcode]:
    """How to turn ``a`` into ``b`` given their matching ``blocks`` (as difflib's opcodes)."""
    codes: list[Opcode] = []
    i = j = 0
    for block_i, block_j, size in blocks:
        if i < block_i and j < block_j:
            codes.append(("replace", i, block_i, j, block_j))
        elif i < block_i:
            codes.append(("delete", i, block_i, j, block_j))
        elif j < block_j:
            codes.append(("insert", i, block_i, j, block_j))
        i, j = block_i + size, block_j + size
        if size:
            codes.append(("equal", block_i, i, block_j, j))
    return codes


def grouped(codes: Sequence[Opcode], context: int) -> Iterator[list[Opcode]]:
    """Split ``codes`` into hunks: changes at most ``2 * context`` equal lines apart share one.

    Each hunk keeps at most ``context`` equal lines before its first change and after its last.
    """
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag != "equal":
            group.append((tag, i1, i2, j1, j2))
            continue
        if group:  # equal lines after a change: close the hunk if they are many
            if i2 - i1 <= 2 * context:
                group.append((tag, i1, i2, j1, j2))
                continue
            group.append((tag, i1, i1 + context, j1, j1 + context))
            yield group
            group = []
        kept = min(i2 - i1, context)  # the context before the next change
        group.append((tag, i2 - kept, i2, j2 - kept, j2))
    if any(code[0] != "equal" for code in group):
        yield _trimmed_tail(group, context)


def _trimmed_tail(group: list[Opcode], context: int) -> list[Opcode]:
    """``group`` with at most ``context`` equal lines after its last change."""
    tag, i1, i2, j1, _ = group[-1]
    if tag == "equal" and i2 - i1 > context:
        group[-1] = (tag, i1, i1 + context, j1, j1 + context)
    return group


class Diff(NamedTuple):
    """A unified diff's lines, and how many lines of the whole diff they leave out."""

    lines: list[str]
    left_out: int


def unified_diff(
    a: Sequence[str],
    b: Sequence[str],
    fromfile: str,
    tofile: str,
    *,
    context: int = 3,
    max_lines: int | None = None,
) -> Diff:
    """Return the unified diff turning ``a`` into ``b`` (no lines when they are equal).

    ``a`` and ``b`` are lines with their line ends (see :func:`split_lines`). With
    ``max_lines`` (3 or more), at most that many lines are returned: the hunk that does not fit
    is cut and its ``@@`` line rewritten to match, so what is returned still applies, and
    ``left_out`` counts the lines of the whole diff that are not returned.
    """
    if max_lines is not None and max_lines < 3:
        raise ValueError(f"max_lines must be at least 3, not {max_lines}")
    budget = max_lines if max_lines is not None else -1
    lines: list[str] = []
    left_out = 0
    for group in grouped(opcodes(matching_blocks(a, b)), context):
        if not lines:
            lines += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        length = _body_length(group)
        room = budget - len(lines) if budget >= 0 else length + 1
        if room >= 2:  # the @@ line and at least one more
            shown = list(islice(_hunk_body(a, b, group), room - 1))
            lines.append(_hunk_header(group[0][1], group[0][3], shown))
            lines += shown
            left_out += length - len(shown)
        else:
            left_out += length + 1
    return Diff(lines, left_out)


def _body_length(group: list[Opcode]) -> int:
    """How many lines :func:`_hunk_body` gives for ``group``."""
    return sum(i2 - i1 + (0 if tag == "equal" else j2 - j1) for tag, i1, i2, j1, j2 in group)


def _hunk_body(a: Sequence[str], b: Sequence[str], group: list[Opcode]) -> Iterator[str]:
    """The hunk's lines after its ``@@`` line, each marked ``' '``, ``-`` or ``+``."""
    for tag, i1, i2, j1, j2 in group:
        if tag == "equal":
            yield from (_marked(" ", line) for line in a[i1:i2])
            continue
        yield from (_marked("-", line) for line in a[i1:i2])
        yield from (_marked("+", line) for line in b[j1:j2])


def _marked(mark: str, line: str) -> str:
    """One diff line; a line without a line end gets diff's note on a line of its own."""
    return mark + line if line.endswith("\n") else f"{mark}{line}\n{_NO_NEWLINE}"


def _hunk_header(a_start: int, b_start: int, body: Sequence[str]) -> str:
    """The ``@@`` line of a hunk starting at ``a_start``/``b_start`` with these lines."""
    a_count = sum(1 for line in body if line[0] in " -")
    b_count = sum(1 for line in body if line[0] in " +")
    return f"@@ -{_range(a_start, a_count)} +{_range(b_start, b_count)} @@\n"


def _range(start: int, count: int) -> str:
    """A hunk range as diff writes it: 1-based, the count left out when 1, ``l,0`` when empty."""
    if count == 1:
        return f"{start + 1}"
    return f"{start + 1 if count else start},{count}"
