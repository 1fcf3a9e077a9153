"""Upgraded files keep the layout they came in: indentation, separators, escaping, line ends."""

from __future__ import annotations

import pytest

from docmigrate.style import PREFIX_LENGTH, TextStyle, detect_style

DUMPS_DEFAULT = TextStyle(indent=None, item_separator=", ", key_separator=": ")
COMPACT = TextStyle(indent=None, item_separator=",", key_separator=":")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "a": 1,\n  "b": 2\n}\n', TextStyle()),
        ('{"a": 1, "b": [1, 2]}', TextStyle(None, ", ", ": ", trailing_newline=False)),
        ('{"a":1,"b":[1,2]}\n', COMPACT),
        ('{"a": 1,"b": 2}\n', TextStyle(None, ",", ": ")),
        ('{"a":1, "b":2}\n', TextStyle(None, ", ", ":")),
        ('{\n\t"a": [\n\t\t1\n\t]\n}\n', TextStyle(indent="\t")),
        ('{\n    "a": "é"\n}', TextStyle(indent="    ", trailing_newline=False)),
        ("[\n 1,\n 2\n]\n", TextStyle(indent=" ")),
        ("[\n1,\n2\n]\n", TextStyle(indent="")),
        ("[\n  1, \n  2\n]\n", TextStyle(item_separator=", ")),
        ('{\n  "a":1\n}\n', TextStyle(key_separator=":")),
        ('{\r\n  "a": 1\r\n}\r\n', TextStyle(newline="\r\n")),
        ('{\r\n  "a": 1\r\n}', TextStyle(newline="\r\n", trailing_newline=False)),
        ('{"a": 1}\r\n', TextStyle(None, ", ", ": ", newline="\r\n")),
        (
            '{"a": "\\u00e9"}',
            TextStyle(None, ", ", ": ", ensure_ascii=True, trailing_newline=False),
        ),
        ('["\\u007f"]\n', TextStyle(None, ",", ":", ensure_ascii=True)),
        ('{"a": []}\n', DUMPS_DEFAULT),
        ("[]\n", COMPACT),
        ("17", TextStyle(None, ",", ":", trailing_newline=False)),
    ],
)
def test_detect_style(text: str, expected: TextStyle) -> None:
    """Indent, both separators, line end, final newline and escaping come from the text."""
    assert detect_style(text) == expected


def test_separators_inside_strings_are_not_layout() -> None:
    """Commas and colons inside strings (escaped quotes included) are skipped."""
    text = '{"a, b: \\"c\\", d": "x:y, z","e":[1, 2]}'
    style = detect_style(text)
    assert (style.item_separator, style.key_separator) == (",", ": ")


@pytest.mark.parametrize(
    "text",
    [
        '["C:\\\\users"]',  # an escaped backslash followed by "u": no escape
        '["\\u0001\\u001f"]',  # control characters are escaped with or without ensure_ascii
        '["plain"]',
    ],
)
def test_ascii_text_without_non_ascii_escapes_keeps_characters(text: str) -> None:
    r"""Only a \u escape of a character from U+007F up says the file escapes non-ASCII."""
    assert not detect_style(text).ensure_ascii


def test_escapes_are_found_past_the_prefix() -> None:
    r"""In an ASCII text, a \u escape beyond the prefix still marks the file ensure_ascii."""
    text = '["' + "x" * PREFIX_LENGTH + '", "\\u00e9"]'
    assert detect_style(text).ensure_ascii


def test_non_ascii_text_keeps_characters() -> None:
    """A text holding a raw non-ASCII character was not written with ensure_ascii."""
    assert not detect_style('["é", "\\u00e9"]').ensure_ascii


def test_only_a_prefix_is_read_for_separators() -> None:
    """Separators beyond the prefix are not looked for: json.dumps's pairing fills them in."""
    long_value = '"' + "x" * PREFIX_LENGTH + '"'
    assert detect_style('{"a": ' + long_value + ',"b":1}').item_separator == ", "
    assert detect_style('{"a":' + long_value + ', "b": 1}').item_separator == ","


def test_a_separator_cut_by_the_prefix_is_not_trusted() -> None:
    """A comma at the very end of the prefix may have lost its space: it is not read."""
    head = '{"k": ["' + "x" * (PREFIX_LENGTH - 10) + '"'
    assert len(head) == PREFIX_LENGTH - 1
    assert detect_style(head + ", 1]}").item_separator == ", "


@pytest.mark.parametrize(
    ("indent", "expected"),
    [
        (4, TextStyle(indent="    ", newline="\r\n", trailing_newline=False)),
        (0, TextStyle(None, ",", ":", newline="\r\n", trailing_newline=False)),
        (None, TextStyle("\t", ", ", ":", newline="\r\n", trailing_newline=False)),
    ],
)
def test_indent_override_keeps_line_ends_and_final_newline(
    indent: int | None, expected: TextStyle
) -> None:
    """--indent N sets N spaces with "," and ": " (0: compact); line ends and newline stay."""
    style = detect_style('[\r\n\t{\r\n\t\t"a":1\r\n\t}, \r\n\t2\r\n]')
    assert style.overridden(indent=indent, ensure_ascii=None) == expected


def test_ensure_ascii_override() -> None:
    """--ensure-ascii / --no-ensure-ascii replace the detected escaping and nothing else."""
    style = detect_style('{"a": "é"}')
    assert style.overridden(indent=None, ensure_ascii=True) == TextStyle(
        None, ", ", ": ", ensure_ascii=True, trailing_newline=False
    )
    assert style.overridden(indent=None, ensure_ascii=None) == style
