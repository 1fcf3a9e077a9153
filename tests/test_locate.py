"""Placing many paths at once: jsonio.locate_all agrees with locate and reads the text once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_jsonio import LOCATE_TEXT

from docmigrate import Family, jsonio
from docmigrate.commands import schema_problems
from docmigrate.jsonio import LoadedDocument, load_path, loads, locate, locate_all
from docmigrate.validation import iter_errors, sort_errors

Steps = list[str | int]

SAMPLE_PATHS: list[Steps] = [
    [],
    ["name"],
    ["items"],
    ["items", 0],
    ["items", 0, "tags", 1],
    ["items", 1, "tags"],
    ["items", 2, "tags"],
    ["items", 2, "n", "deep", 2],
    ["é"],
    [""],
    ["missing"],
    ["items", 7],
    ["items", 1, "tags", 0],
    ["items", 0, "nope", "deeper"],
    ["name", "x"],
    ["items", "0"],
    [0],
    ["items", -1],
    ["items", True],
    ["items", 2, "n", "deep", 2],
]


def test_locate_all_gives_what_locate_gives_on_the_sample() -> None:
    """Existing, missing, repeated and impossible paths are placed exactly as locate places them."""
    assert locate_all(LOCATE_TEXT, SAMPLE_PATHS) == [locate(LOCATE_TEXT, p) for p in SAMPLE_PATHS]


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("", [[], ["a"]]),
        ("\n\n  42", [[], ["a", 1]]),
        ('{"a": 1, "a": {"b": 2}}', [["a"], ["a", "b"]]),
        ('{"a": [1, 2', [["a", 1], ["a", 5], ["b"]]),
        ('{"a": 1 "b": 2}', [["a"], ["b"]]),
        ("[1, 2}", [[0], [1], [2]]),
        ('{"a\\u0062": {"c": []}, "x": {}}', [["ab", "c", 0], ["x", "y"]]),
        ("[]", [[0]]),
        ("{}", [["a"]]),
    ],
)
def test_locate_all_agrees_with_locate_on_odd_texts(text: str, paths: list[Steps]) -> None:
    """Empty, scalar, repeated-key, cut-off, malformed and escaped texts: same as locate."""
    assert locate_all(text, paths) == [locate(text, p) for p in paths]


def test_locate_all_of_no_paths_is_empty() -> None:
    """No paths asked for, no positions given."""
    assert locate_all(LOCATE_TEXT, []) == []


def test_locate_all_places_every_one_of_many_paths() -> None:
    """Twenty thousand paths in a big text are each placed at the value's own line and column."""
    rows = 10_000
    lines = [f'  {{"i": {i}, "s": "v{i}"}}' for i in range(rows)]
    text = '{"rows": [\n' + ",\n".join(lines) + "\n]}"
    paths: list[Steps] = [["rows", i, key] for i in range(rows) for key in ("s", "i")]
    expected = []
    for i in range(rows):
        row_line = lines[i]
        expected += [(i + 2, row_line.index('"v') + 1), (i + 2, row_line.index(": ") + 3)]
    assert locate_all(text, paths) == expected


def count_scanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, note how many characters each call of the C scanner reads."""
    lengths: list[int] = []
    raw_decode = json.JSONDecoder.raw_decode

    def counting(self: json.JSONDecoder, s: str, idx: int = 0) -> tuple[Any, int]:
        value, end = raw_decode(self, s, idx)
        lengths.append(end - idx)
        return value, end

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", counting)
    return lengths


def test_locate_all_reads_each_character_at_most_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipped values are scanned once in all, however many paths are asked for."""
    text = jsonio.dumps({"rows": [{"a": i, "b": [i, {"c": "x" * 50}]} for i in range(2_000)]})
    paths: list[Steps] = [["rows", i, "b", 1, "d"] for i in range(0, 2_000, 2)]
    expected = [locate(text, p) for p in paths]
    lengths = count_scanned(monkeypatch)
    assert locate_all(text, paths) == expected
    assert lengths, "the C scanner was never used"
    assert sum(lengths) <= len(text)


def test_schema_problems_read_the_text_once(
    monkeypatch: pytest.MonkeyPatch, history: Family, tmp_path: Path
) -> None:
    """Placing every schema error of a file reads its text once, not once per error."""
    runs = [{"uuid": f"r{i}", "num_batches": f"x{i}"} for i in range(1_000)]
    file = tmp_path / "many.json"
    file.write_bytes(jsonio.dump_bytes({"version": "1.1", "production_runs": runs}))
    loaded = load_path(file)
    errors = sort_errors(iter_errors(loaded.value, history, "1.1"))
    assert len(errors) > 2_000
    lengths = count_scanned(monkeypatch)
    problems = schema_problems(loaded, errors)
    assert lengths, "the C scanner was never used"
    assert sum(lengths) <= len(loaded.text)
    bad = [p for p in problems if p.json_path.endswith(".num_batches")]
    assert [(p.line, p.column) for p in bad] == [
        locate(loaded.text, ["production_runs", i, "num_batches"]) for i in range(1_000)
    ]


def test_loaded_document_positions_uses_its_text() -> None:
    """LoadedDocument.positions places paths in the document's own text."""
    document = LoadedDocument(value=loads(LOCATE_TEXT), text=LOCATE_TEXT, source="<s>")
    assert document.positions([["items", 2, "n"], ["é"]]) == [(6, 40), (8, 8)]


# --- property: one pass == one locate per path ----------------------------------------------------

keys = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers() | keys,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)
layouts = st.fixed_dictionaries(
    {
        "indent": st.sampled_from([None, 0, 1, 2, "\t", " \r\n"]),
        "separators": st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
        "ensure_ascii": st.booleans(),
    }
)


def paths_in(value: Any, prefix: Steps) -> Iterator[Steps]:
    """Every path that exists in ``value``, the root first."""
    yield prefix
    if isinstance(value, dict):
        for key, member in value.items():
            yield from paths_in(member, [*prefix, key])
    elif isinstance(value, list):
        for index, element in enumerate(value):
            yield from paths_in(element, [*prefix, index])


@settings(max_examples=300)
@given(value=plain_values, layout=layouts, data=st.data())
def test_locate_all_agrees_with_locate(
    value: Any, layout: dict[str, Any], data: st.DataObject
) -> None:
    """On any document in any layout, every path (present or not) is placed as locate places it."""
    text = json.dumps(value, **layout)
    present = list(paths_in(value, []))
    extra_steps = st.one_of(keys, st.integers(-2, 6), st.booleans())
    absent = data.draw(
        st.lists(
            st.tuples(st.sampled_from(present), st.lists(extra_steps, min_size=1, max_size=3)),
            max_size=10,
        )
    )
    paths = present + [[*base, *extra] for base, extra in absent]
    paths = data.draw(st.permutations(paths))
    assert locate_all(text, paths) == [locate(text, p) for p in paths]
