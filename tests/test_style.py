"""Upgraded files keep the layout they came in: indentation, escaping, final newline."""

from __future__ import annotations

import pytest

from docmigrate.style import TextStyle, detect_style


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "a": 1\n}\n', TextStyle(2, False, True)),
        ('{\n    "a": "é"\n}', TextStyle(4, False, False)),
        ('{"a": "\\u00e9"}', TextStyle(None, True, False)),
        ("[\n\t1\n]\n", TextStyle(2, False, True)),
        ('{"a": []}\n', TextStyle(None, False, True)),
    ],
)
def test_detect_style(text: str, expected: TextStyle) -> None:
    """Indent comes from the first nested line; ASCII text with escapes keeps ensure_ascii."""
    assert detect_style(text) == expected
