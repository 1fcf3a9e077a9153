"""Unified diffs that stay fast on big documents (docmigrate.textdiff, `upgrade --diff`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import HISTORY_DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import run

from docmigrate import Family, jsonio, textdiff
from docmigrate.commands import unified_diff
from docmigrate.migrator import migrate

VALID_10 = HISTORY_DATA / "1.0" / "valid" / "two-runs.json"
HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n")
NO_NEWLINE = "\\ No newline at end of file\n"


def hunk_start(line: str, count: int) -> int:
    """The 0-based index where a hunk range starts (`l,0` means after line l)."""
    return int(line) - 1 if count else int(line)


def apply_unified(old: str, diff: str) -> str:
    """Apply a unified diff to ``old`` as strictly as `patch` without fuzz; return the new text.

    Every context and removed line must match, every hunk must start where its header says in
    both texts, and the header's counts must be those of its lines.
    """
    if not diff:
        return old
    a = textdiff.split_lines(old)
    lines = textdiff.split_lines(diff)
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ "), lines[:2]
    out: list[str] = []
    position, k = 0, 2
    while k < len(lines):
        header = HUNK.fullmatch(lines[k])
        assert header is not None, lines[k]
        a_count, b_count = int(header[2] or 1), int(header[4] or 1)
        start = hunk_start(header[1], a_count)
        assert start >= position
        out += a[position:start]
        position = start
        assert len(out) == hunk_start(header[3], b_count)
        k += 1
        seen_a = seen_b = 0
        while k < len(lines) and not lines[k].startswith("@@"):
            mark, text = lines[k][0], lines[k][1:]
            k += 1
            if k < len(lines) and lines[k] == NO_NEWLINE:
                text, k = text.removesuffix("\n"), k + 1
            assert mark in " -+", lines[k - 1]
            if mark in " -":
                assert a[position] == text, (position, a[position], text)
                position, seen_a = position + 1, seen_a + 1
            if mark in " +":
                out.append(text)
                seen_b += 1
        assert (seen_a, seen_b) == (a_count, b_count)
    return "".join(out + a[position:])


def diff_text(a: str, b: str, **options: Any) -> textdiff.Diff:
    return textdiff.unified_diff(
        textdiff.split_lines(a), textdiff.split_lines(b), "a", "b", **options
    )


# --- the algorithm ----------------------------------------------------------------------------

# Lines may hold what str.splitlines would break at (U+0085, U+2028, CR, ...): only LF ends one.
lines = st.sampled_from(["{\n", "}\n", "  },\n", '  "a": 1,\n', "x\u2028y\n", "\n"]) | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n"), max_size=3
).map(lambda s: s + "\n")
texts = st.builds(
    lambda body, cut: "".join(body).removesuffix("\n") if cut else "".join(body),
    st.lists(lines, max_size=40),
    st.booleans(),
)


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """``text`` with a few lines inserted, deleted or replaced."""
    result = textdiff.split_lines(text)
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(result)))
        end = draw(st.integers(start, min(len(result), start + 5)))
        result[start:end] = draw(st.lists(lines, max_size=5))
    return "".join(result)


@settings(max_examples=250)
@given(a=texts, data=st.data())
def test_diff_applies_to_give_the_new_text(a: str, data: st.DataObject) -> None:
    """Any two texts (edited or unrelated, with or without a final newline): the diff applies."""
    b = data.draw(st.one_of(edited(a), texts))
    diff = diff_text(a, b)
    assert diff.left_out == 0
    assert apply_unified(a, "".join(diff.lines)) == b
    assert (diff.lines == []) == (a == b)


@settings(max_examples=200)
@given(a=texts, b=texts, max_lines=st.integers(3, 30))
def test_capped_diff_is_a_prefix_that_still_applies(a: str, b: str, max_lines: int) -> None:
    """A capped diff keeps at most max_lines lines, counts the rest, and still applies."""
    full = diff_text(a, b)
    capped = diff_text(a, b, max_lines=max_lines)
    assert len(capped.lines) <= max_lines
    if len(full.lines) <= max_lines:
        assert capped == full
    else:
        assert capped.left_out > 0
        assert len(capped.lines) + capped.left_out == len(full.lines)
    apply_unified(a, "".join(capped.lines))


def test_big_gaps_without_anchors_are_replaced_and_still_apply() -> None:
    """A big region with no line unique on both sides is shown replaced; the diff applies."""
    a = "x\ny\n" * 300
    b = "y\nx\n" * 300
    diff = diff_text(a, b)
    assert apply_unified(a, "".join(diff.lines)) == b


def test_max_lines_below_three_is_refused() -> None:
    """The headers and one hunk line need three lines: fewer is a ValueError."""
    with pytest.raises(ValueError, match="at least 3"):
        diff_text("a\n", "b\n", max_lines=2)


def test_difflib_only_sees_small_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Diffing a big document with changes everywhere hands difflib only small gaps."""
    areas: list[int] = []
    original = difflib.SequenceMatcher.set_seqs

    def noting(self: difflib.SequenceMatcher[str], a: Sequence[str], b: Sequence[str]) -> None:
        areas.append(len(a) * len(b))
        original(self, a, b)

    before = {"rows": [{"id": i, "n": 1, "tags": ["t"]} for i in range(5_000)]}
    after = {"rows": [{"id": i, "n": 2, "m": 3, "tags": ["t"]} for i in range(5_000)]}
    monkeypatch.setattr(difflib.SequenceMatcher, "set_seqs", noting)
    output = unified_diff(before, after, "rows.json", max_lines=10**6)
    monkeypatch.undo()
    assert areas, "difflib was never used"
    assert max(areas) <= textdiff.SMALL_GAP
    old_text = jsonio.dumps(before, indent=2) + "\n"
    assert apply_unified(old_text, output) == jsonio.dumps(after, indent=2) + "\n"


# --- documents and `upgrade --diff` -----------------------------------------------------------


def history_10(runs: int) -> Any:
    """A production-history 1.0 document with ``runs`` runs copied from the sample file."""
    document = jsonio.load_path(VALID_10).value
    assert isinstance(document, dict) and isinstance(document["production_runs"], list)
    template = document["production_runs"][0]
    assert isinstance(template, dict)
    document["production_runs"] = [{**template, "uuid": f"run-{i}"} for i in range(runs)]
    return document


def split_note(output: str) -> tuple[str, str]:
    """The diff part of ``unified_diff`` output and its truncation note ("" when none)."""
    diff, _, note = output.partition("… diff truncated")
    return diff, note


def test_upgrade_diff_is_as_small_as_difflibs(history: Family) -> None:
    """On an upgrade, the diff changes exactly as many lines as difflib's, and applies."""
    before = history_10(40)
    after = migrate(before, history).document
    output = unified_diff(before, after, "x.json")
    old_text = jsonio.dumps(before, indent=2) + "\n"
    new_text = jsonio.dumps(after, indent=2) + "\n"
    reference = difflib.unified_diff(textdiff.split_lines(old_text), textdiff.split_lines(new_text))
    changed = [line for line in reference if line[0] in "+-" and line[:3] not in ("---", "+++")]
    ours = [line for line in textdiff.split_lines(output) if line[0] in "+-"][2:]
    assert sorted(ours) == sorted(changed)
    assert apply_unified(old_text, output) == new_text


keys = st.text(st.characters(exclude_categories=["Cs"]), max_size=4)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | keys,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150)
@given(before=documents, after=documents, max_lines=st.sampled_from([3, 10, 2_000]))
def test_document_diff_applies(before: Any, after: Any, max_lines: int) -> None:
    """Any two documents: the diff (capped or not) applies; uncapped it gives the new text."""
    output = unified_diff(before, after, "doc.json", max_lines=max_lines)
    diff, note = split_note(output)
    old_text = jsonio.dumps(before, indent=2) + "\n"
    new_text = jsonio.dumps(after, indent=2) + "\n"
    patched = apply_unified(old_text, diff)
    if not note:
        assert patched == new_text
    assert len(textdiff.split_lines(diff)) <= max_lines


def test_diff_lines_end_only_at_line_feeds() -> None:
    """Characters str.splitlines breaks at (U+0085, U+2028) stay inside their line."""
    before = {"note": "a\x85b\u2028c", "n": 1}
    after = {"note": "a\x85b\u2028c!", "n": 1}
    output = unified_diff(before, after, "x.json")
    assert NO_NEWLINE not in output
    assert output.count("\n") == 2 + 1 + 5
    old_text = jsonio.dumps(before, indent=2) + "\n"
    assert apply_unified(old_text, output) == jsonio.dumps(after, indent=2) + "\n"


def test_long_diff_is_cut_with_a_note(history: Family) -> None:
    """Past max_lines the diff stops and one line says how many more and what to do."""
    before = history_10(300)
    after = migrate(before, history).document
    full = unified_diff(before, after, "x.json", max_lines=1_000_000)
    output = unified_diff(before, after, "x.json")
    diff, note = split_note(output)
    full_count = len(textdiff.split_lines(full))
    assert full_count > 2_000
    assert len(textdiff.split_lines(diff)) == 2_000
    assert full.startswith(diff.rsplit("\n@@", 1)[0])
    assert note == (
        f": {full_count - 2_000} more lines; run without --diff or use --out and diff the folders\n"
    )
    apply_unified(jsonio.dumps(before, indent=2) + "\n", diff)


def test_cli_diff_of_a_big_file_is_capped(
    capsys: pytest.CaptureFixture[str], history: Family, tmp_path: Path
) -> None:
    """`upgrade --dry-run --diff` prints at most 2,000 diff lines per file, then the note."""
    document = tmp_path / "big.json"
    document.write_bytes(jsonio.dump_bytes(history_10(300)))
    code, out, _ = run(capsys, "upgrade", document, "--in-place", "--dry-run", "--diff")
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == f"--- {document} (before)"
    notes = [i for i, line in enumerate(lines) if line.startswith("… diff truncated: ")]
    assert notes == [2_001]
    assert lines[2_001].endswith(
        " more lines; run without --diff or use --out and diff the folders"
    )
