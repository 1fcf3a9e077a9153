"""The msgspec path (jsonio.quick) declines or agrees exactly with the exact parser."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from conftest import by_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio.quick import (
    _has_negative_zero,
    _member_count,
    _nests_deeper,
    _structure,
    quick_load,
)
from docmigrate.jsonio.reading import QUICK_MIN_SIZE, _decode
from docmigrate.jsonio.values import MAX_DEPTH, MAX_NUMBER_LENGTH, JSONValue

SUITE = Path(__file__).parent / "data" / "json-test-suite" / "test_parsing"


def exact(raw: bytes) -> tuple[bool, str]:
    """What the exact parser alone makes of raw: (accepted, repr of the value)."""
    try:
        return True, repr(jsonio._slow_parse(_decode(raw, "<t>"), "<t>"))
    except JSONReadError:
        return False, ""


def quick(raw: bytes) -> tuple[bool, str]:
    """What the msgspec path makes of raw: (accepted, repr of the value)."""
    accepted, value = quick_load(raw)
    return accepted, repr(value) if accepted else ""


def compare(raw: bytes) -> str:
    """Assert the msgspec path declines raw or agrees with the exact parser; say which."""
    accepted, value = quick(raw)
    if not accepted:
        return "declined"
    # repr tells int from Decimal, Decimal('1.10') from Decimal('1.1'), and shows key order.
    assert exact(raw) == (True, value), raw
    return "accepted"


# --- JSONTestSuite ------------------------------------------------------------------------------


def test_quick_path_agrees_on_the_whole_suite() -> None:
    """On every JSONTestSuite file the msgspec path declines or gives the exact value."""
    outcomes = Counter(compare(path.read_bytes()) for path in sorted(SUITE.iterdir()))
    assert outcomes["accepted"] >= 90, outcomes  # 96 of the y_ and i_ files today
    assert outcomes["declined"] >= 190, outcomes


# --- drawn texts --------------------------------------------------------------------------------

numbers = st.from_regex(
    r"-?(0|[1-9][0-9]{0,8})(\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
) | st.sampled_from(
    [
        "-0",
        "-0.0",
        "-0e1",
        "1.10",
        "1E+2",
        "9" * MAX_NUMBER_LENGTH,
        "9" * (MAX_NUMBER_LENGTH + 1),
        "-" + "9" * (MAX_NUMBER_LENGTH - 1),
        "-" + "9" * MAX_NUMBER_LENGTH,
        "1e1000",
        "1e1001",
        "1E-1001",
        "0.1e-999",
        "1e99999999999",
        "01",
        "1.",
        ".5",
        "+1",
        "NaN",
        "Infinity",
    ]
)
string_pieces = st.sampled_from(
    [
        "a",
        ":",
        '\\"',
        "\\\\",
        '\\\\\\"',
        "\\\\u0061",
        "\\u0061",
        "\\u003a",
        "\\ud800",
        "\\udc00",
        "\\ud800\\udc00",
        "\\uD83D\\uDE00",
        "\\udc00\\ud800",
        "\ud800",
        "\x00",
        "\x1f",
        "\t",
        "\x7f",
        "é",
        "😀",
        "},",
        "-0",
        "\\/",
        "\\x",
        "{[",
    ]
)
strings = st.lists(string_pieces, max_size=5).map(lambda parts: '"' + "".join(parts) + '"')
# Few keys, one an escape of another: duplicates come often, some visible only once decoded.
keys = st.sampled_from(['"a"', '"b"', '"\\u0061"', '""', '":"', '"a:b"', '"\\\\"'])
spaces = st.sampled_from(["", " ", "\n", "\t", "\r\n", "  ", "\x0c", "\u00a0"])
scalars = st.sampled_from(["true", "false", "null", "nul"]) | numbers | strings


@st.composite
def containers(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    """An array or object of drawn children, sometimes with a trailing comma."""
    space = draw(spaces)
    trailing = "," if draw(st.integers(0, 19)) == 0 else ""
    if draw(st.booleans()):
        items = draw(st.lists(children, max_size=4))
        return "[" + space + ("," + space).join(items) + trailing + "]"
    members = draw(st.lists(st.tuples(keys, children), max_size=4))
    inner = ("," + space).join(f"{key}{space}:{value}" for key, value in members)
    return "{" + inner + trailing + space + "}"


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """A JSON-like text, most often valid, with the hazards the msgspec path must notice."""
    value = draw(st.recursive(scalars, containers, max_leaves=12))
    depth = draw(st.sampled_from([0, 0, 0, 1, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH]))
    value = "[" * depth + value + "]" * depth
    text = draw(spaces) + value + draw(spaces)
    return text.encode("utf-8", "surrogatepass")  # a raw surrogate: invalid UTF-8


def test_quick_path_agrees_on_drawn_texts() -> None:
    """On drawn hazardous texts the msgspec path declines or gives the exact value."""
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=by_profile(dev=300, ci=1000),
        suppress_health_check=[HealthCheck.too_slow],
        deadline=None,
    )
    @given(raw=json_texts())
    def check(raw: bytes) -> None:
        outcomes[compare(raw)] += 1

    check()
    assert outcomes["accepted"] > 0 and outcomes["declined"] > 0, outcomes


# --- the checks one by one ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "members"),
    [
        ("[1]", 0),
        ('{"a":1}', 1),
        ('{"a:b":"c:d"}', 1),
        ('{"a\\"":":"}', 1),
        ('{"a\\\\":1,"b":"x:\\"y:"}', 2),
        ('{"\\\\\\"":1}', 1),
        ('{"":"","x":[{"y":":"}]}', 3),
        ('{"é:😀":{"\\u003a":1}}', 2),
        ('["\\\\", ":", {"k" : 1}]', 1),
    ],
)
def test_member_count(text: str, members: int) -> None:
    """_member_count counts the ':' outside strings, whatever the escapes around them."""
    assert _member_count(text.encode()) == members


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1},
        {":": True, ":b": {"c:": ":"}},
        {'a":': {"b\\": ['"', ":"]}},
        [{"\\": 1, "\n": 2}],
        {"": {"x": '":'}},
    ],
)
def test_member_count_of_encodings(value: JSONValue) -> None:
    """Members counted in msgspec's encoding of a value are the value's, whatever its keys."""
    assert _member_count(msgspec.json.encode(value)) == _members(value)


def _members(value: JSONValue) -> int:
    """Count the members of every object in a value, by walking it."""
    if isinstance(value, dict):
        return len(value) + sum(_members(one) for one in value.values())
    if isinstance(value, list):
        return sum(_members(one) for one in value)
    return 0


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('[{"a":[1]}]', 3), ('["[[[[", {"]]]]": "{{"}]', 2), ('"[{["', 0)],
)
def test_nests_deeper_counts_structure_only(text: str, depth: int) -> None:
    """The depth check sees the brackets outside strings only, and its boundary is exact."""
    structure = _structure(text.encode())
    assert not _nests_deeper(structure, depth)
    assert depth == 0 or _nests_deeper(structure, depth - 1)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("-0", True),
        ("[1,-0]", True),
        ('{"a": -0}', True),
        ("[\n-0]", True),
        ('["unit-0", "x-0.5"]', False),
        ("[-0.0, -0e1, -01]", False),
        ('["a, -0"]', True),  # inside a string, but where a value could start: declines
    ],
)
def test_negative_zero_prefilter(text: str, found: bool) -> None:
    """-0 is looked for where a value may start: '"unit-0"' does not decline the text."""
    assert _has_negative_zero(text.replace("\\n", "\n").encode()) is found


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a":1,"\\u0061":2}',
        '{"":1,"":2}',
        '[{"x":{"a":1,"a":1}}]',
        '{"a\\\\":1,"a\\\\":2}',
    ],
)
def test_duplicate_keys_declined_and_refused(text: str) -> None:
    """Msgspec keeps the last of duplicate keys: the path declines, and loads refuses."""
    assert quick_load(text.encode()) == (False, None)
    with pytest.raises(JSONReadError, match="duplicate"):
        jsonio.loads(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-0", "Decimal('-0')"),
        ("[-0, 0]", "[Decimal('-0'), 0]"),
        ('{"a":-0}', "{'a': Decimal('-0')}"),
    ],
)
def test_negative_zero_declined_and_loaded_as_decimal(text: str, value: str) -> None:
    """Msgspec reads -0 as int 0: the path declines, and loads gives Decimal('-0')."""
    assert quick_load(text.encode()) == (False, None)
    assert repr(jsonio.loads(text)) == value


def test_numbers_keep_their_text_and_type() -> None:
    """The msgspec path gives ints as int and every other number as Decimal of its text."""
    accepted, value = quick_load(b"[1, -2, 1.10, 1E+2, -0.0, 0e5, 123456789012345678901234]")
    assert accepted
    assert repr(value) == (
        "[1, -2, Decimal('1.10'), Decimal('1E+2'), Decimal('-0.0'), Decimal('0E+5'), "
        "123456789012345678901234]"
    )


def test_long_integers_declined_at_the_limit() -> None:
    """A run of MAX_NUMBER_LENGTH digits declines; loads still decides by the exact rule."""
    longest = "9" * MAX_NUMBER_LENGTH
    assert quick_load(longest[:-1].encode())[0]
    for text in (longest, "-" + longest, f'["{longest}"]'):
        assert quick_load(text.encode()) == (False, None)
    assert jsonio.loads(longest) == int(longest)
    assert jsonio.loads(f'["{longest}"]') == [longest]
    with pytest.raises(JSONReadError, match="longer than"):
        jsonio.loads("-" + longest)


def test_depth_limit_kept() -> None:
    """Msgspec nests deeper than MAX_DEPTH: the path declines past it, as loads refuses."""
    for depth, accepted in ((MAX_DEPTH, True), (MAX_DEPTH + 1, False)):
        text = "[" * depth + "]" * depth
        assert quick_load(text.encode())[0] is accepted
    with pytest.raises(JSONReadError, match="deep"):
        jsonio.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(
    "raw",
    [b'["\\ud800"]', b'["\\udc00"]', b'["\\ud800x"]', b'["\\udc00\\ud800"]', b'["\xed\xa0\x80"]'],
)
def test_lone_surrogates_declined(raw: bytes) -> None:
    """Lone surrogates, escaped or raw (invalid UTF-8), never pass the msgspec path."""
    assert quick_load(raw) == (False, None)
    with pytest.raises(JSONReadError):
        jsonio.loads(raw)


def test_surrogate_pair_accepted() -> None:
    """An escaped surrogate pair is one astral character, as the exact parser reads it."""
    value: JSONValue = "\U0001d11e"
    assert quick_load(b'["\\ud834\\udd1e"]') == (True, [value])


_PROBE = """
import sys
from docmigrate import jsonio
value = jsonio.loads(sys.stdin.buffer.read())
print(len(value), "msgspec" in sys.modules)
"""


@pytest.mark.parametrize(("size", "quick_used"), [(1000, False), (QUICK_MIN_SIZE, True)])
def test_msgspec_imported_for_big_documents_only(size: int, quick_used: bool) -> None:
    """A fresh process parses a big document with msgspec, a small one without importing it."""
    items = size // 6 + 1  # each item is 6 characters and a comma
    document = ("[" + ",".join(['"ab é"'] * items) + "]").encode()
    assert (len(document.decode()) >= QUICK_MIN_SIZE) is quick_used
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], input=document, capture_output=True, check=True
    )
    assert done.stdout.decode().split() == [str(items), str(quick_used)]
