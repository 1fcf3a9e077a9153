"""Tests of docmigrate.jsonio: exact JSON reading, writing, locating and cloning."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import by_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    JSONValue,
    LoadedDocument,
    clone,
    dump_bytes,
    dumps,
    format_number,
    load_path,
    loads,
    locate,
)

SUITE = Path(__file__).parent / "data" / "json-test-suite" / "test_parsing"
SUITE_FILES = sorted(SUITE.glob("*.json"))

# Files JSONTestSuite marks y_ (must be accepted) that we refuse on purpose: duplicate keys are
# ambiguous (RFC 8259 says names SHOULD be unique) and docmigrate refuses them.
Y_REFUSED_BY_DECISION = {
    "y_object_duplicated_key.json",
    "y_object_duplicated_key_and_value.json",
}

# The deliberate outcome of every implementation-defined (i_) file; docs/exact-json.md has the
# same table.
I_OUTCOMES = {
    "i_number_double_huge_neg_exp.json": "accept",  # 123.456e-789: within the exponent limit
    "i_number_huge_exp.json": "refuse",
    "i_number_neg_int_huge_exp.json": "refuse",
    "i_number_pos_double_huge_exp.json": "refuse",
    "i_number_real_neg_overflow.json": "refuse",
    "i_number_real_pos_overflow.json": "refuse",
    "i_number_real_underflow.json": "refuse",
    "i_number_too_big_neg_int.json": "accept",
    "i_number_too_big_pos_int.json": "accept",
    "i_number_very_big_negative_int.json": "accept",
    "i_object_key_lone_2nd_surrogate.json": "refuse",
    "i_string_1st_surrogate_but_2nd_missing.json": "refuse",
    "i_string_1st_valid_surrogate_2nd_invalid.json": "refuse",
    "i_string_UTF-16LE_with_BOM.json": "refuse",
    "i_string_UTF-8_invalid_sequence.json": "refuse",
    "i_string_UTF8_surrogate_U+D800.json": "refuse",
    "i_string_incomplete_surrogate_and_escape_valid.json": "refuse",
    "i_string_incomplete_surrogate_pair.json": "refuse",
    "i_string_incomplete_surrogates_escape_valid.json": "refuse",
    "i_string_invalid_lonely_surrogate.json": "refuse",
    "i_string_invalid_surrogate.json": "refuse",
    "i_string_invalid_utf-8.json": "refuse",
    "i_string_inverted_surrogates_U+1D11E.json": "refuse",
    "i_string_iso_latin_1.json": "refuse",
    "i_string_lone_second_surrogate.json": "refuse",
    "i_string_lone_utf8_continuation_byte.json": "refuse",
    "i_string_not_in_unicode_range.json": "refuse",
    "i_string_overlong_sequence_2_bytes.json": "refuse",
    "i_string_overlong_sequence_6_bytes.json": "refuse",
    "i_string_overlong_sequence_6_bytes_null.json": "refuse",
    "i_string_truncated-utf-8.json": "refuse",
    "i_string_utf16BE_no_BOM.json": "refuse",
    "i_string_utf16LE_no_BOM.json": "refuse",
    "i_structure_500_nested_arrays.json": "refuse",
    "i_structure_UTF-8_BOM_empty_object.json": "refuse",
}


def outcome(data: str | bytes) -> str:
    """Load data and say "accept" or "refuse"; any other exception fails the test."""
    try:
        loads(data)
    except JSONReadError:
        return "refuse"
    return "accept"


def same(a: object, b: object) -> bool:
    """Equal with types kept, Decimal digits and exponent included, and key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        assert isinstance(b, Decimal)
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def refusal(data: str | bytes) -> JSONReadError:
    """The JSONReadError that loading data raises."""
    with pytest.raises(JSONReadError) as info:
        loads(data)
    return info.value


def fast_then_slow(text: str) -> tuple[tuple[bool, object], tuple[bool, object]]:
    """Outcome (accepted, value) of the fast path alone and of the exact parser alone."""
    fast = jsonio._fast_load(text)
    try:
        slow: tuple[bool, object] = (True, jsonio._slow_parse(text, "<t>"))
    except JSONReadError:
        slow = (False, None)
    return fast, slow


# --- JSONTestSuite ------------------------------------------------------------------------------


def test_suite_is_present() -> None:
    """The copied JSONTestSuite corpus is complete (318 parsing cases)."""
    assert len(SUITE_FILES) == 318


@pytest.mark.parametrize("path", [p for p in SUITE_FILES if p.name.startswith("y_")], ids=str)
def test_suite_y_files_load(path: Path) -> None:
    """Every y_ file loads, except the duplicate-key ones we refuse by decision."""
    expected = "refuse" if path.name in Y_REFUSED_BY_DECISION else "accept"
    assert outcome(path.read_bytes()) == expected


@pytest.mark.parametrize("path", [p for p in SUITE_FILES if p.name.startswith("n_")], ids=str)
def test_suite_n_files_refused(path: Path) -> None:
    """Every n_ file raises JSONReadError with a 1-based position, never another exception."""
    error = refusal(path.read_bytes())
    assert error.line >= 1
    assert error.column >= 1


@pytest.mark.parametrize("path", [p for p in SUITE_FILES if p.name.startswith("i_")], ids=str)
def test_suite_i_files_have_decided_outcome(path: Path) -> None:
    """Every i_ file has the documented outcome."""
    assert outcome(path.read_bytes()) == I_OUTCOMES[path.name]


def test_i_outcomes_cover_every_i_file() -> None:
    """The outcome table lists exactly the i_ files of the corpus."""
    assert set(I_OUTCOMES) == {p.name for p in SUITE_FILES if p.name.startswith("i_")}


def test_i_outcomes_match_the_document() -> None:
    """docs/exact-json.md states the same outcome for every i_ file as the test table."""
    doc = (Path(__file__).parents[1] / "docs" / "exact-json.md").read_text(encoding="utf-8")
    for name, decision in I_OUTCOMES.items():
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}`"))
        assert row.split("|")[2].strip() == decision, name


@pytest.mark.parametrize("path", SUITE_FILES, ids=str)
def test_suite_fast_and_slow_parsers_agree(path: Path) -> None:
    """On every decodable suite file the fast path and the exact parser agree."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return
    fast, slow = fast_then_slow(text)
    assert fast[0] == slow[0]
    assert same(fast[1], slow[1])


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal", ["1.10", "0.0000", "3.2000", "-0", "-0.0", "0.0000001", "123", "-7", "0", "1E+2"]
)
def test_number_text_round_trips_exactly(literal: str) -> None:
    """Numbers written without an exponent (and canonical ones) come back byte for byte."""
    assert dumps(loads(literal)) == literal
    assert dumps(loads(f"[{literal}]"), indent=None) == f"[{literal}]"


@pytest.mark.parametrize(
    ("literal", "canonical"),
    [
        ("1e2", "1E+2"),
        ("1.5e-3", "0.0015"),
        ("1E-7", "0.0000001"),
        ("12e+1", "1.2E+2"),
        ("100e0", "100"),
        ("0e5", "0E+5"),
        ("-1.0e1", "-10"),
        ("1.50e1", "15.0"),
    ],
)
def test_exponent_numbers_become_stable_canonical_text(literal: str, canonical: str) -> None:
    """A number written with an exponent is rewritten in a canonical form that is stable."""
    assert dumps(loads(literal)) == canonical
    assert dumps(loads(canonical)) == canonical
    assert loads(literal) == loads(canonical)


def test_integers_load_as_int_and_others_as_decimal() -> None:
    """Integers give int (big ones too), fractions and exponents give Decimal, -0 a Decimal."""
    value = loads("[1, -2, 123456789012345678901234567890, 1.5, 1e2, -0]")
    assert value == [1, -2, 123456789012345678901234567890, Decimal("1.5"), Decimal("1E+2"), 0]
    assert isinstance(value, list)
    assert [type(x) for x in value] == [int, int, int, Decimal, Decimal, Decimal]
    assert str(value[5]) == "-0"


def test_format_number() -> None:
    """format_number writes ints plainly, Decimals in fixed point unless the exponent is > 0."""
    assert format_number(-12) == "-12"
    assert format_number(Decimal("1.10")) == "1.10"
    assert format_number(Decimal("1E-7")) == "0.0000001"
    assert format_number(Decimal("1E+2")) == "1E+2"
    assert format_number(Decimal("-0")) == "-0"


@pytest.mark.parametrize("bad", [True, 1.5, "1", None])
def test_format_number_refuses_non_numbers(bad: object) -> None:
    """format_number refuses bool, float and non-numbers with TypeError."""
    with pytest.raises(TypeError):
        format_number(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("1E+1001"), Decimal("1E-999"), 10**1000]
)
def test_format_number_refuses_what_loads_refuses(bad: int | Decimal) -> None:
    """format_number refuses NaN, infinities and numbers out of the accepted range."""
    with pytest.raises(ValueError):
        format_number(bad)


def test_long_number_refused() -> None:
    """A 5000-digit number is refused with the length limit in the message."""
    error = refusal("[" + "7" * 5000 + "]")
    assert (error.line, error.column) == (1, 2)
    assert str(MAX_NUMBER_LENGTH) in error.message


def test_number_length_limit_boundary() -> None:
    """A literal of exactly MAX_NUMBER_LENGTH characters loads; one more is refused."""
    assert loads("9" * MAX_NUMBER_LENGTH) == int("9" * MAX_NUMBER_LENGTH)
    refusal("9" * (MAX_NUMBER_LENGTH + 1))
    assert isinstance(loads("0." + "1" * (MAX_NUMBER_LENGTH - 2)), Decimal)
    refusal("0." + "1" * (MAX_NUMBER_LENGTH - 1))


def test_exponent_limit() -> None:
    """Exponents up to +/-1000 load; beyond, or when the fixed form is too long, refused."""
    assert loads("1e1000") == Decimal("1E+1000")
    assert "exponent" in refusal("1e1001").message
    assert loads("1e-900") == Decimal("1E-900")
    assert "longer than" in refusal("1e-999").message
    assert "range" in refusal("1e99999999999999999999999999999").message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_refused(constant: str) -> None:
    """NaN and the infinities are refused at their position."""
    error = refusal(f'{{"x": [1, {constant}]}}')
    assert (error.line, error.column) == (1, 11)
    assert error.message == f"{constant} is not JSON"


# --- errors and positions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('{\n  "a": 1,\n  "a": 2\n}', 3, 3, "duplicate key 'a' (first at 2:3)"),
        ('{"a": 1, "\\u0061": 2}', 1, 10, "duplicate key 'a' (first at 1:2)"),
        ('{"": 1, "": 2}', 1, 9, "duplicate key '' (first at 1:2)"),
        ("[1,\n 2,\n 3,]", 3, 4, "expected a value, found ']' (trailing comma?)"),
        ('{"a": 1\n "b": 2}', 2, 2, "expected ',' or '}' after object member"),
        ("[1, 2", 1, 6, "unexpected end of input: expected ',' or ']'"),
        ('{"a": 1} x', 1, 10, "trailing data after the document"),
        ('["ok",\n "é\t"]', 2, 4, "control character U+0009 in string must be escaped"),
        ('\n["\\ud800"]', 2, 3, "lone surrogate \\ud800 in string (no low surrogate next)"),
        ('["\\udc00\\ud800"]', 1, 3, "lone surrogate \\udc00 in string (no high surrogate first)"),
        ('["\\x"]', 1, 3, "invalid escape '\\x' in string"),
        ("[01]", 1, 2, "numbers must not have leading zeros"),
        ("[1.]", 1, 4, "expected a digit after the decimal point"),
        ("[1e+]", 1, 5, "expected a digit in the exponent"),
        ("[-]", 1, 3, "expected a digit after '-'"),
        ("[tru]", 1, 2, "unknown literal 'tru': expected a value"),
        ("['a']", 1, 2, "strings must be in double quotes"),
        ("", 1, 1, "empty document: expected a JSON value"),
        (" \n ", 2, 2, "empty document: expected a JSON value"),
        ('["abc', 1, 6, "unexpected end of input in the string started at 1:2"),
        ("[1]\x0c", 1, 4, "trailing data after the document"),
        ("\u00a0[]", 1, 1, "unexpected character U+00A0: expected a value"),
    ],
)
def test_error_positions_and_messages(text: str, line: int, column: int, message: str) -> None:
    """The first problem is reported with its exact 1-based line, column and a clear message."""
    error = refusal(text)
    assert (error.line, error.column, error.message) == (line, column, message)
    assert error.source == "<string>"


def test_error_names_the_source() -> None:
    """The source given to loads appears in the error and its text."""
    with pytest.raises(JSONReadError) as info:
        loads(b"[1,]", source="export.json")
    assert info.value.source == "export.json"
    assert str(info.value).startswith("export.json:1:4: ")


def test_first_problem_wins() -> None:
    """A duplicate key before a syntax error is the one reported."""
    error = refusal('{"a": 1, "a": 2, x}')
    assert error.message.startswith("duplicate key")


def test_columns_count_characters_not_bytes() -> None:
    """Columns count decoded characters, so multi-byte UTF-8 before an error counts once."""
    error = refusal('["日本語", x]'.encode())
    assert (error.line, error.column) == (1, 9)


# --- bytes and encodings ------------------------------------------------------------------------


def test_utf8_bom_refused() -> None:
    """A UTF-8 byte order mark at the start is refused with a clear message."""
    error = refusal(b"\xef\xbb\xbf{}")
    assert (error.line, error.column) == (1, 1)
    assert "byte order mark" in error.message
    assert "byte order mark" in refusal("\ufeff{}").message


def test_invalid_utf8_position() -> None:
    """Invalid UTF-8 gives the line, the character column and the byte offset of the bad byte."""
    error = refusal(b'{\n  "a": "\xc3\xa9\xff"\n}')
    assert (error.line, error.column) == (2, 10)
    assert error.message == "not valid UTF-8 at byte offset 12 (byte 0xFF)"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_utf16_and_utf32_refused(encoding: str) -> None:
    """UTF-16 and UTF-32 input is refused with a message naming the encoding problem."""
    error = refusal('{"a": 1}'.encode(encoding))
    assert "UTF-16" in error.message or "UTF-8" in error.message


def test_str_with_raw_lone_surrogate_refused() -> None:
    """A str holding a lone surrogate character is refused at its position."""
    error = refusal('["a\ud800"]')
    assert (error.line, error.column) == (1, 4)
    assert "lone surrogate U+D800" in error.message


def test_escaped_backslash_before_u_is_not_a_surrogate() -> None:
    r"""\\ud800 is a backslash then text, not an escape; \\\ud800 is a lone surrogate."""
    assert loads('["\\\\ud800"]') == ["\\ud800"]
    assert "lone surrogate" in refusal('["\\\\\\ud800"]').message
    assert loads('["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert "lone surrogate" in refusal('["\\ud83d\\\\\\ude00"]').message


def test_bytearray_input_is_accepted() -> None:
    """Bytes-like input other than bytes is read the same way."""
    assert loads(bytearray(b'{"a": [1]}')) == {"a": [1]}  # type: ignore[arg-type]


# --- nesting ------------------------------------------------------------------------------------


def test_depth_limit_boundary() -> None:
    """MAX_DEPTH levels load; one more is refused at the opening bracket that is too deep."""
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    error = refusal("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert (error.line, error.column) == (1, MAX_DEPTH + 1)
    assert error.message == f"nesting deeper than {MAX_DEPTH}"
    deep_in_object = '{"a": ' * MAX_DEPTH + "[]" + "}" * MAX_DEPTH
    assert refusal(deep_in_object).column == 6 * MAX_DEPTH + 1


def test_very_deep_nesting_refused_quickly() -> None:
    """100000 open brackets raise JSONReadError (no RecursionError) in well under a second."""
    start = time.perf_counter()
    error = refusal("[" * 100_000)
    assert error.message == f"nesting deeper than {MAX_DEPTH}"
    assert time.perf_counter() - start < 2


def test_brackets_in_strings_do_not_count_as_nesting() -> None:
    """Brackets inside strings neither add depth nor hide real depth."""
    wide = json.dumps(["[[[[{{{{" * 100, {"k": "]]]]}}}}" * 100}])
    assert loads(wide) == json.loads(wide)
    hidden = "[" * 150 + json.dumps("]" * 300 + '\\"') + "]" * 150
    assert loads(hidden) is not None
    too_deep = "[" * 150 + '"]]]]", ' + "[" * 60 + "]" * 60 + "]" * 150
    assert refusal(too_deep).message.startswith("nesting deeper")


def test_many_containers_within_the_limit_load() -> None:
    """A document with many containers but shallow nesting passes the depth check."""
    text = json.dumps([{"a": [i, {"b": [[i]]}]} for i in range(1000)])
    assert loads(text) == json.loads(text)


# --- locate -------------------------------------------------------------------------------------

LOCATE_TEXT = """{
  "name": "a \\" [quoted] {brace}",
  "items": [
    {"id": 1, "tags": ["x", "y"]},
    {"id": 2, "tags": []},
    {"id": 3, "t\\u0061gs": ["z"], "n": {"deep": [10, 20, 30]}}
  ],
  "é": null,
  "": 5
}"""


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ([], (1, 1)),
        (["name"], (2, 11)),
        (["items"], (3, 12)),
        (["items", 0], (4, 5)),
        (["items", 0, "tags", 1], (4, 29)),
        (["items", 1, "tags"], (5, 23)),
        (["items", 2, "tags"], (6, 28)),
        (["items", 2, "n", "deep", 2], (6, 58)),
        (["é"], (8, 8)),
        ([""], (9, 7)),
    ],
)
def test_locate_existing_paths(path: list[str | int], position: tuple[int, int]) -> None:
    """Locate finds where the value at a path starts, through escapes, brackets and arrays."""
    assert locate(LOCATE_TEXT, path) == position
    assert loads(LOCATE_TEXT) is not None


@pytest.mark.parametrize(
    ("path", "position"),
    [
        (["missing"], (1, 1)),
        (["items", 7], (3, 12)),
        (["items", 1, "tags", 0], (5, 23)),
        (["items", 0, "nope", "deeper"], (4, 5)),
        (["name", "x"], (2, 11)),
        (["items", "0"], (3, 12)),
        ([0], (1, 1)),
        (["items", -1], (3, 12)),
    ],
)
def test_locate_missing_paths_give_deepest_ancestor(
    path: list[str | int], position: tuple[int, int]
) -> None:
    """A path that does not exist gives the position of its deepest existing ancestor."""
    assert locate(LOCATE_TEXT, path) == position


def test_locate_with_leading_whitespace_and_scalar_root() -> None:
    """The root position skips leading whitespace; paths into a scalar stop at it."""
    assert locate("\n\n  42", []) == (3, 3)
    assert locate("\n\n  42", ["a", 1]) == (3, 3)


def test_loaded_document_position(tmp_path: Path) -> None:
    """load_path keeps the text and source; position() locates values in it."""
    path = tmp_path / "doc.json"
    path.write_bytes(LOCATE_TEXT.encode())
    document = load_path(path)
    assert isinstance(document, LoadedDocument)
    assert document.source == str(path)
    assert document.text == LOCATE_TEXT
    assert document.value == json.loads(LOCATE_TEXT, parse_int=int)
    assert document.position(["items", 2, "n"]) == (6, 40)


def test_load_path_errors(tmp_path: Path) -> None:
    """A missing file raises the OSError unchanged; a bad file names its path in the error."""
    with pytest.raises(FileNotFoundError):
        load_path(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[1,\n2,,]")
    with pytest.raises(JSONReadError) as info:
        load_path(bad)
    assert (info.value.source, info.value.line, info.value.column) == (str(bad), 2, 3)


def test_locate_is_fast_on_a_big_text() -> None:
    """Locating the last element of a large array skips siblings at C speed."""
    text = json.dumps({"rows": [{"i": i, "s": "x" * 20} for i in range(200_000)]})
    start = time.perf_counter()
    line, column = locate(text, ["rows", 199_999, "s"])
    assert time.perf_counter() - start < 5
    assert text[column - 1 :].startswith('"xxxx')
    assert line == 1


# --- writing ------------------------------------------------------------------------------------

PLAIN_VALUE: JSONValue = {
    "name": 'Zoë 😀 \u2028 \x7f \x00 \t "q" \\ /',
    "list": [1, -2, True, False, None, [], {}, [[]], {"a": {}}],
    "big": 2**70,
    "": "",
}


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_dumps_matches_json_dumps_layout(indent: int | None, ensure_ascii: bool) -> None:
    """For float- and Decimal-free values, dumps equals json.dumps with the same settings."""
    separators = (",", ":") if indent is None else (",", ": ")
    expected = json.dumps(
        PLAIN_VALUE, indent=indent, ensure_ascii=ensure_ascii, separators=separators
    )
    assert dumps(PLAIN_VALUE, indent=indent, ensure_ascii=ensure_ascii) == expected


def test_dumps_default_is_json_dumps_indent_2() -> None:
    """dumps(value) is json.dumps(value, indent=2, ensure_ascii=False) for plain values."""
    value: JSONValue = {"a": [1, {"b": "ü"}], "c": {}}
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_orjson_and_python_writers_agree(indent: int | None, ensure_ascii: bool) -> None:
    """The orjson path and the pure-Python writer produce identical text."""
    value: JSONValue = {
        "n": [Decimal("1.10"), Decimal("-0"), Decimal("1E+2"), 7, -(2**63)],
        "s": PLAIN_VALUE,
    }
    fast = dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    assert fast == jsonio._python_dumps(value, indent, ensure_ascii)


def test_ensure_ascii_escapes_astral_as_surrogate_pairs() -> None:
    r"""ensure_ascii writes \uXXXX escapes (surrogate pairs for astral); they reload equal."""
    text = dumps(["é😀"], indent=None, ensure_ascii=True)
    assert text == '["\\u00e9\\ud83d\\ude00"]'
    assert loads(text) == ["é😀"]
    assert dumps(["é😀"], indent=None) == '["é😀"]'


def test_dump_bytes() -> None:
    """dump_bytes writes UTF-8 with a trailing newline unless asked not to."""
    assert dump_bytes({"a": "é"}) == '{\n  "a": "é"\n}\n'.encode()
    assert dump_bytes([1], indent=None, trailing_newline=False) == b"[1]"
    assert dump_bytes(["é"], indent=4, ensure_ascii=True) == b'[\n    "\\u00e9"\n]\n'
    assert dump_bytes([2**80], indent=None) == f"[{2**80}]\n".encode()


def test_dumps_big_integers() -> None:
    """Integers beyond 64 bits are written exactly (through the pure-Python writer)."""
    assert dumps([2**64, -(2**63) - 1], indent=None) == f"[{2**64},{-(2**63) - 1}]"


@pytest.mark.parametrize(
    "bad", [1.5, [1.0], {"a": (1, 2)}, {1: "a"}, {"a": {1, 2}}, [float("nan")]]
)
def test_dumps_refuses_non_json_types(bad: object) -> None:
    """Floats, tuples, sets and non-string keys are refused with TypeError."""
    with pytest.raises(TypeError):
        dumps(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dumps(bad, indent=4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [["\ud800"], {"\udc00": 1}, [Decimal("NaN")], [Decimal("1E+5000")], [10**2000]],
)
def test_dumps_refuses_values_loads_would_refuse(bad: JSONValue) -> None:
    """Lone surrogates and numbers out of range are refused with ValueError by both writers."""
    with pytest.raises(ValueError):
        dumps(bad)
    with pytest.raises(ValueError):
        dumps(bad, indent=3, ensure_ascii=True)


def test_dumps_depth_limit() -> None:
    """Values nested MAX_DEPTH deep are written; deeper ones are refused."""
    value: JSONValue = []
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    assert loads(dumps(value)) == value
    with pytest.raises(ValueError):
        dumps([value])
    with pytest.raises(ValueError):
        dumps([value], indent=3)


def test_dumps_refuses_bad_indent() -> None:
    """A negative or non-int indent is refused."""
    with pytest.raises(ValueError):
        dumps([], indent=-1)


# --- clone --------------------------------------------------------------------------------------


def test_clone_is_deep_and_equal() -> None:
    """Clone gives an equal value with no container shared with the original."""
    original = loads('{"a": [1, {"b": [2.50, "x"]}], "c": {}, "d": [[], [[]]]}')
    copy = clone(original)
    assert same(copy, original)

    def containers(value: object) -> list[int]:
        found = []
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                found.append(id(item))
                stack.extend(item.values())
            elif isinstance(item, list):
                found.append(id(item))
                stack.extend(item)
        return found

    assert not set(containers(copy)) & set(containers(original))
    assert isinstance(copy, dict)
    copy["a"][1]["b"].append(3)  # type: ignore[index,union-attr,call-overload]
    assert original == loads('{"a": [1, {"b": [2.50, "x"]}], "c": {}, "d": [[], [[]]]}')


def test_clone_scalars() -> None:
    """Scalars are returned as they are."""
    for scalar in (None, True, 3, Decimal("1.0"), "s"):
        assert clone(scalar) is scalar


# --- property-based -----------------------------------------------------------------------------

decimals_without_exponent = st.from_regex(
    r"-?(0|[1-9][0-9]{0,40})\.[0-9]{1,40}", fullmatch=True
).map(Decimal) | st.just(Decimal("-0"))
integers = st.integers() | st.integers(min_value=-(10**300), max_value=10**300)
strings = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
scalars = st.none() | st.booleans() | integers | decimals_without_exponent | strings
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(strings, children, max_size=5)
    ),
    max_leaves=30,
)
layouts = st.sampled_from([(None, False), (2, False), (None, True), (2, True), (4, False)])


@settings(max_examples=by_profile(dev=100, ci=300), suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, layout=layouts)
def test_round_trip_keeps_values_and_types(
    value: JSONValue, layout: tuple[int | None, bool]
) -> None:
    """loads(dumps(v)) gives v back with the same types, and dumps(loads(t)) gives t back."""
    indent, ensure_ascii = layout
    text = dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    again = loads(text)
    assert same(again, value)
    assert dumps(again, indent=indent, ensure_ascii=ensure_ascii) == text
    assert same(loads(text.encode()), value)
    fast, slow = fast_then_slow(text)
    assert fast[0] and slow[0]
    assert same(fast[1], value)
    assert same(slow[1], value)


@settings(max_examples=by_profile(dev=100, ci=300), suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, layout=layouts, data=st.data())
def test_fast_and_slow_parsers_agree_on_mutated_text(
    value: JSONValue, layout: tuple[int | None, bool], data: st.DataObject
) -> None:
    """After a random edit, the fast path and the exact parser accept and refuse alike."""
    indent, ensure_ascii = layout
    text = dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    position = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    piece = data.draw(
        st.sampled_from(
            [
                *'[]{},:"\\ \t\n\r0-1.eE+auntfl\x00\x1f\u00a0\ud800',
                *("\\ud800", "\\udc00", "NaN", "1e9999", '"a":1', "\\u0061", "01", "-0", "\ufeff"),
            ]
        )
    )
    if edit == "insert":
        text = text[:position] + piece + text[position:]
    elif edit == "delete":
        text = text[:position] + text[position + 1 :]
    else:
        text = text[:position] + piece + text[position + 1 :]
    fast, slow = fast_then_slow(text)
    assert fast[0] == slow[0], text
    assert same(fast[1], slow[1])
    if slow[0]:
        assert same(loads(text), slow[1])
    else:
        refusal(text)


@settings(max_examples=by_profile(dev=100, ci=200))
@given(
    literal=st.from_regex(
        r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
    )
)
def test_canonical_number_text_is_stable(literal: str) -> None:
    """Any accepted number's canonical text loads to the same number and is written the same."""
    try:
        number = loads(literal)
    except JSONReadError:
        return
    assert isinstance(number, int | Decimal)
    canonical = dumps(number)
    assert number == loads(canonical)
    assert dumps(loads(canonical)) == canonical
    if not any(c in literal for c in "eE"):
        assert canonical == literal
