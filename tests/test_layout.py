"""Writing in a file's own layout: any json.dumps indent and separators, CRLF, escaping."""

from __future__ import annotations

import difflib
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import HISTORY_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from docmigrate import Family, jsonio
from docmigrate.cli import main
from docmigrate.jsonio import JSONValue, dump_bytes, dumps, format_number
from docmigrate.style import detect_style
from docmigrate.testing import documents

INDENTS: list[int | str | None] = [None, 0, 1, 2, 4, "\t"]
SEPARATORS = [(",", ":"), (", ", ": "), (",", ": "), (", ", ":")]
LAYOUT_VALUE: JSONValue = {
    "name": 'Zoë 😀 \u2028 \x7f \x00 \t "q" \\ / C:\\users a, b: c',
    "list": [1, -2, True, None, [], {}, [[]], {"a": {}}, Decimal("1.50"), Decimal("1E+2")],
    "": "",
}


def json_dumps_text(
    document: Any,
    *,
    indent: int | str | None,
    separators: tuple[str, str],
    ensure_ascii: bool,
    newline: str = "\n",
    final_newline: bool = False,
) -> str:
    """The text json.dumps writes with these arguments (Decimals as format_number writes them)."""
    numbers: dict[str, str] = {}
    token = uuid.uuid4().hex

    def stand_in(value: Any) -> Any:
        if isinstance(value, Decimal):
            placeholder = f"{token}-{len(numbers)}"
            numbers[json.dumps(placeholder)] = format_number(value)
            return placeholder
        if isinstance(value, dict):
            return {key: stand_in(member) for key, member in value.items()}
        if isinstance(value, list):
            return [stand_in(element) for element in value]
        return value

    text = json.dumps(
        stand_in(document), indent=indent, separators=separators, ensure_ascii=ensure_ascii
    )
    for placeholder, number in numbers.items():
        text = text.replace(placeholder, number)
    text = text.replace("\n", newline)
    return text + newline if final_newline else text


# --- the writer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("indent", INDENTS)
@pytest.mark.parametrize("separators", SEPARATORS)
@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_dumps_matches_json_dumps_in_every_layout(
    indent: int | str | None, separators: tuple[str, str], ensure_ascii: bool, newline: str
) -> None:
    """Both writers (dumps, dump_bytes) give what json.dumps gives, with LF or CRLF ends."""
    expected = json_dumps_text(
        LAYOUT_VALUE,
        indent=indent,
        separators=separators,
        ensure_ascii=ensure_ascii,
        newline=newline,
    )
    options: dict[str, Any] = {
        "indent": indent,
        "separators": separators,
        "ensure_ascii": ensure_ascii,
        "newline": newline,
    }
    assert dumps(LAYOUT_VALUE, **options) == expected
    assert dump_bytes(LAYOUT_VALUE, **options) == (expected + newline).encode()
    assert dump_bytes(LAYOUT_VALUE, **options, trailing_newline=False) == expected.encode()
    pure = jsonio._python_dumps(
        LAYOUT_VALUE, indent, ensure_ascii, separators=separators, newline=newline
    )
    assert pure == expected


def test_big_integers_take_the_pure_writer_in_any_layout() -> None:
    """Integers orjson cannot write come out in the asked layout too (tabs, CRLF, ", ")."""
    value: JSONValue = {"big": [2**70, -(2**64)], "e": "é"}
    text = dumps(value, indent="\t", separators=(", ", ": "), ensure_ascii=True, newline="\r\n")
    expected = json.dumps(value, indent="\t", separators=(", ", ": ")).replace("\n", "\r\n")
    assert text == expected


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"indent": -1}, "indent"),
        ({"indent": True}, "indent"),
        ({"indent": "--"}, "indent"),
        ({"indent": 2.0}, "indent"),
        ({"separators": (";", ":")}, "separators"),
        ({"separators": (",", ":", "")}, "separators"),
        ({"separators": (",\n", ": ")}, "separators"),
        ({"separators": [",", ":"]}, "separators"),
        ({"newline": "\r"}, "newline"),
    ],
)
def test_bad_layout_arguments_are_refused(options: dict[str, Any], named: str) -> None:
    """A layout that could write something other than JSON is a ValueError naming the argument."""
    with pytest.raises(ValueError, match=named):
        dumps([1], **options)
    with pytest.raises(ValueError, match=named):
        dump_bytes([1], **options)


def test_deepest_value_is_reindented() -> None:
    """Values nested MAX_DEPTH deep are re-indented exactly (the table is deep enough)."""
    value: JSONValue = [1]
    for _ in range(jsonio.MAX_DEPTH - 1):
        value = [value]
    expected = json.dumps(value, indent="\t")
    assert dumps(value, indent="\t") == expected
    assert jsonio.loads(expected) == value


@pytest.mark.parametrize(
    ("indent", "separators", "newline"),
    [("\t", (",", ": "), "\r\n"), (4, (", ", ": "), "\n"), (None, (", ", ": "), "\n")],
)
def test_texts_of_several_chunks_are_relaid_exactly(
    indent: int | str | None, separators: tuple[str, str], newline: str
) -> None:
    """A text rewritten in several pieces (cut at line breaks) is still exactly json.dumps's."""
    value: JSONValue = [{"k": f"v{i}", "n": [i, {"x": [], "y": "a, b: c"}]} for i in range(20_000)]
    assert len(jsonio.dumps(value)) > 2 * jsonio._CHUNK_SIZE
    expected = json.dumps(value, indent=indent, separators=separators).replace("\n", newline)
    assert dumps(value, indent=indent, separators=separators, newline=newline) == expected


# --- the law: detect, then write, gives the text back --------------------------------------------

decimals = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?(E\+[1-9])?", fullmatch=True).map(
    Decimal
)
strings = st.text(st.characters(exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["C:\\users", "\\u00e9", "é", "\x7f", "\x01", "a, b: c", '"', "\u2028", "😀"]
)
scalars = st.none() | st.booleans() | st.integers() | decimals | strings
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4)
    ),
    max_leaves=25,
)
text_layouts = st.fixed_dictionaries(
    {
        "indent": st.sampled_from(INDENTS),
        "separators": st.sampled_from(SEPARATORS),
        "ensure_ascii": st.booleans(),
        "newline": st.sampled_from(["\n", "\r\n"]),
        "final_newline": st.booleans(),
    }
)


def assert_written_back(document: JSONValue, layout: dict[str, Any]) -> None:
    """Writing ``document`` in the style detected from its json.dumps text gives that text."""
    text = json_dumps_text(document, **layout)
    written = dump_bytes(document, **detect_style(text).dump_options())
    assert written == text.encode("utf-8"), (text, detect_style(text))


@settings(max_examples=300)
@given(document=json_values, layout=text_layouts)
def test_detected_style_writes_any_json_text_back(
    document: JSONValue, layout: dict[str, Any]
) -> None:
    """For any value and json.dumps layout, detect-then-write reproduces the text byte for byte."""
    assert_written_back(document, layout)


@given(data=st.data(), layout=text_layouts)
def test_detected_style_writes_production_history_back(
    history: Family, data: st.DataObject, layout: dict[str, Any]
) -> None:
    """The same law for production-history 1.1 documents."""
    assert_written_back(data.draw(documents(history, "1.1")), layout)


# --- upgrade, end to end ------------------------------------------------------------------------

TWO_RUNS = HISTORY_DATA / "1.0" / "valid" / "two-runs.json"
TWO_RUNS_UPGRADED = HISTORY_DATA / "steps" / "add_loss_tracking" / "two-runs.expected.json"
FILE_LAYOUTS = {
    "json.dumps default": {"indent": None, "separators": (", ", ": "), "ensure_ascii": True},
    "compact": {"indent": None, "separators": (",", ":"), "ensure_ascii": False},
    "indent 2": {"indent": 2, "separators": (",", ": "), "ensure_ascii": False},
    "indent 2, ascii": {"indent": 2, "separators": (",", ": "), "ensure_ascii": True},
    "tabs": {"indent": "\t", "separators": (",", ": "), "ensure_ascii": False},
    "indent 4": {"indent": 4, "separators": (",", ": "), "ensure_ascii": False},
    "indent 1": {"indent": 1, "separators": (",", ": "), "ensure_ascii": False},
    "old json.dumps indent": {"indent": 4, "separators": (", ", ": "), "ensure_ascii": True},
}
LINE_ENDS = {
    "LF": {"newline": "\n", "final_newline": True},
    "LF, no final newline": {"newline": "\n", "final_newline": False},
    "CRLF": {"newline": "\r\n", "final_newline": True},
    "CRLF, no final newline": {"newline": "\r\n", "final_newline": False},
}


def upgrade_out(capsys: pytest.CaptureFixture[str], source: Path, *options: str) -> bytes:
    """Run ``docmigrate upgrade SOURCE --out DIR`` (exit 0 expected); return the written bytes."""
    out = source.parent / "out"
    with pytest.raises(SystemExit) as done:
        main(["upgrade", str(source), "--out", str(out), *options])
    capsys.readouterr()
    assert done.value.code in (0, None)
    return (out / source.name).read_bytes()


@pytest.mark.parametrize("line_ends", LINE_ENDS)
@pytest.mark.parametrize("file_layout", FILE_LAYOUTS)
def test_upgrade_writes_each_file_in_its_own_layout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, file_layout: str, line_ends: str
) -> None:
    """An upgraded file is the 1.1 document in the 1.0 file's layout: its diff is the change."""
    layout = FILE_LAYOUTS[file_layout] | LINE_ENDS[line_ends]
    before = json_dumps_text(json.loads(TWO_RUNS.read_bytes()), **layout)
    source = tmp_path / "two-runs.json"
    source.write_bytes(before.encode("utf-8"))
    written = upgrade_out(capsys, source).decode("utf-8")
    assert written == json_dumps_text(json.loads(TWO_RUNS_UPGRADED.read_bytes()), **layout)
    if layout["indent"] is not None:
        assert_diff_is_the_change(before, written, layout)


def assert_diff_is_the_change(before: str, after: str, layout: dict[str, Any]) -> None:
    """Lines gone are the version line and lines that only gained an item separator."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed = [line for line in difflib.ndiff(old, new) if line.startswith("- ")]
    added = {line[2:] for line in difflib.ndiff(old, new) if line.startswith("+ ")}
    separator = layout["separators"][0]
    assert removed, "the upgrade changes the version line at least"
    for line in (line[2:] for line in removed):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        assert '"version"' in body or body + separator + ending in added, line


def test_indent_override_keeps_crlf_and_missing_final_newline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--indent 4 on a tab-indented CRLF file: 4 spaces, still CRLF, still no final newline."""
    document = json.loads(TWO_RUNS.read_bytes())
    layout = {"separators": (",", ": "), "ensure_ascii": False, "newline": "\r\n"}
    source = tmp_path / "two-runs.json"
    source.write_text(json_dumps_text(document, indent="\t", **layout), newline="")
    written = upgrade_out(capsys, source, "--indent", "4").decode("utf-8")
    upgraded = json.loads(TWO_RUNS_UPGRADED.read_bytes())
    assert written == json_dumps_text(upgraded, indent=4, **layout)


def test_indent_0_writes_compact_and_ensure_ascii_overrides(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--indent 0 writes one compact line; --ensure-ascii escapes what the file had raw."""
    source = tmp_path / "two-runs.json"
    source.write_bytes(TWO_RUNS.read_bytes())
    written = upgrade_out(capsys, source, "--indent", "0", "--ensure-ascii").decode("utf-8")
    upgraded = json.loads(TWO_RUNS_UPGRADED.read_bytes())
    compact = {"indent": None, "separators": (",", ":"), "ensure_ascii": True}
    assert written == json_dumps_text(upgraded, **compact, final_newline=True)
