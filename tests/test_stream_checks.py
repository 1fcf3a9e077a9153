"""The record reader's cheap checks, made once per buffer read: they still see every record."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from docmigrate import JSONReadError, jsonio
from docmigrate.jsonio.streaming import NotStreamable, Record, RecordReader

GOOD = ['"\\u00e9"', '"\\ud83d\\ude00"', '"plain"', '{"k": "\\u0041"}', "[1, 2]"]
LONE = ['"\\ud800"', '"x\\udc00y"', '{"k": ["\\uDBFF"]}']


def _read(path: Path, chunk_size: int) -> list[Record]:
    with open(path, "rb") as stream:
        reader = RecordReader(stream, [("items",)], chunk_size=chunk_size)
        reader.open()
        records = list(reader.records())
        reader.finish()
    return records


@pytest.mark.parametrize("chunk_size", [3, 17, 1 << 20])
def test_a_lone_surrogate_after_good_escapes_is_refused(tmp_path: Path, chunk_size: int) -> None:
    """A lone surrogate escape in any record is refused, whatever escapes came before it."""
    cases = 0
    for before, lone, after in itertools.product(
        itertools.permutations(GOOD, 2), LONE, ["", ', "\\u00e9"']
    ):
        path = tmp_path / "t.json"
        path.write_text(f'{{"items": [{", ".join(before)}, {lone}{after}]}}', encoding="utf-8")
        with pytest.raises(NotStreamable):
            _read(path, chunk_size)
        cases += 1
    assert cases == 20 * 3 * 2


@pytest.mark.parametrize("chunk_size", [3, 1 << 20])
def test_good_escapes_in_every_record_are_read_exactly(tmp_path: Path, chunk_size: int) -> None:
    """Records holding escapes (surrogate pairs included) read as loads reads them."""
    text = f'{{"items": [{", ".join(GOOD * 3)}]}}'
    path = tmp_path / "t.json"
    path.write_text(text, encoding="utf-8")
    records = _read(path, chunk_size)
    assert [r.value for r in records] == jsonio.loads(text)["items"]  # type: ignore[index]
    assert [r.index for r in records] == list(range(len(GOOD) * 3))


@pytest.mark.parametrize("depth", [197, 198, 199])
def test_a_record_nesting_past_the_limit_is_refused(tmp_path: Path, depth: int) -> None:
    """The nesting check counts every record's brackets: the limit holds at any record."""
    deep = "[" * depth + "]" * depth  # the document adds two levels (object, array)
    path = tmp_path / "t.json"
    path.write_text(f'{{"items": [1, {{"a": 2}}, {deep}]}}', encoding="utf-8")
    if depth <= 198:
        assert len(_read(path, 1 << 20)) == 3
        assert len(jsonio.loads(path.read_bytes())["items"]) == 3  # type: ignore[index]
    else:
        with pytest.raises(NotStreamable):
            _read(path, 1 << 20)
        with pytest.raises(JSONReadError):
            jsonio.loads(path.read_bytes())


def test_a_record_shows_its_value_and_index() -> None:
    """A record's repr names its index and value (records are plain objects now)."""
    record = Record({"a": 1}, 4, lambda index: (1, index + 1), '{"a": 1}', 0, 8)
    assert repr(record) == "Record(value={'a': 1}, index=4)"
    assert record.text == '{"a": 1}' and record.has_text('"a"')
