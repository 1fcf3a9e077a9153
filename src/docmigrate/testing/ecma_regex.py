r"""Translating ECMA-262 regular expressions (JSON Schema's ``pattern``) into Python's ``re``.

The validator (jsonschema-rs) reads patterns as ECMA-262 does, Python's ``re`` differently:
``\d`` and ``\w`` are ASCII in ECMA and Unicode in Python, ``$`` matches before a final
newline in Python only, ``.`` excludes four line terminators in ECMA and one in Python,
``{,3}`` is a literal in ECMA and a quantifier in Python; ``\p{L}``, ``\cJ``, ``\u{1F600}``,
``(?<name>...)`` and ``\k<name>`` are ECMA only. :func:`translate` rewrites a pattern so that
Python matches exactly the strings ECMA-262 matches (for the constructs it knows), and refuses
the rest (``\p{Script=...}``, a negated property inside a class) with a
:class:`~docmigrate.exceptions.GenerationError` naming the construct.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

from docmigrate.exceptions import GenerationError

_DIGIT = "0-9"
_WORD = "A-Za-z0-9_"
# ECMA-262 WhiteSpace and LineTerminator code points.
_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
# What both ECMA's \s and Python's \s match (Python leaves out U+FEFF).
_SPACE_IN_BOTH = _SPACE.removesuffix("\\ufeff")
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_CONTROL_ESCAPES = {"t": "\\t", "n": "\\n", "v": "\\x0b", "f": "\\x0c", "r": "\\r"}
_ANY_BUT_LINE_END = "[^\\n\\r\\u2028\\u2029]"
_QUANTIFIER = re.compile(r"\{\d+(,\d*)?\}")
# Characters that Python reads as (future) set operators or nesting inside a class.
_CLASS_LITERALS_TO_ESCAPE = set("[&~|")

_CATEGORY_NAMES = {
    "Letter": "L",
    "Cased_Letter": "LC",
    "Uppercase_Letter": "Lu",
    "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt",
    "Modifier_Letter": "Lm",
    "Other_Letter": "Lo",
    "Mark": "M",
    "Nonspacing_Mark": "Mn",
    "Spacing_Mark": "Mc",
    "Enclosing_Mark": "Me",
    "Number": "N",
    "Decimal_Number": "Nd",
    "digit": "Nd",
    "Letter_Number": "Nl",
    "Other_Number": "No",
    "Punctuation": "P",
    "punct": "P",
    "Connector_Punctuation": "Pc",
    "Dash_Punctuation": "Pd",
    "Open_Punctuation": "Ps",
    "Close_Punctuation": "Pe",
    "Initial_Punctuation": "Pi",
    "Final_Punctuation": "Pf",
    "Other_Punctuation": "Po",
    "Symbol": "S",
    "Math_Symbol": "Sm",
    "Currency_Symbol": "Sc",
    "Modifier_Symbol": "Sk",
    "Other_Symbol": "So",
    "Separator": "Z",
    "Space_Separator": "Zs",
    "Line_Separator": "Zl",
    "Paragraph_Separator": "Zp",
    "Other": "C",
    "Control": "Cc",
    "cntrl": "Cc",
    "Format": "Cf",
    "Private_Use": "Co",
    "Unassigned": "Cn",
}


def translate(pattern: str, *, for_drawing: bool = False) -> str:
    r"""Return a Python pattern that matches what ``pattern`` matches under ECMA-262.

    With ``for_drawing``, ``\D``, ``\W`` and ``\S`` keep Python's meaning: a subset of
    ECMA's, so that drawn strings also satisfy validators that use Python's ``re``
    (python-jsonschema). Raises :class:`GenerationError` for a construct Python cannot express.
    """
    return _translate(pattern, for_drawing)


@functools.cache
def _translate(pattern: str, for_drawing: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and for_drawing and pattern[i + 1 : i + 2] in ("D", "W", "S"):
            out.append(pattern[i : i + 2])
            i += 2
        elif char == "\\" and for_drawing and pattern[i + 1 : i + 2] == "s":
            out.append(f"[{_SPACE_IN_BOTH}]")
            i += 2
        elif char == "\\":
            text, i = _escape(pattern, i, in_class=False)
            out.append(text)
        elif char == "[":
            text, i = _character_class(pattern, i)
            out.append(text)
        elif char == ".":
            out.append(_ANY_BUT_LINE_END)
            i += 1
        elif char == "$":
            out.append("\\Z")  # the very end, never before a final newline
            i += 1
        elif char == "{":
            match = _QUANTIFIER.match(pattern, i)
            if match and out:
                out.append(match.group())
                i = match.end()
            else:
                out.append("\\{")
                i += 1
        elif char == "(" and pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(char)
            i += 1
    translated = "".join(out)
    try:
        re.compile(translated)
    except re.error as error:
        raise GenerationError(
            f"the pattern {pattern!r} has no Python equivalent ({error})", pattern=pattern
        ) from None
    return translated


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at ``pattern[i]`` (a backslash); return text, next index."""
    if i + 1 >= len(pattern):
        raise GenerationError(
            f"the pattern {pattern!r} ends with a lone backslash", pattern=pattern
        )
    letter = pattern[i + 1]
    if letter in _CLASS_ESCAPES:
        body = _CLASS_ESCAPES[letter]
        return (body if in_class else f"[{body}]"), i + 2
    if letter in "DWS":
        body = _CLASS_ESCAPES[letter.lower()]
        if in_class:
            # Python's own \D, \W, \S inside a class: a subset of ECMA's, so still safe to draw.
            return f"\\{letter}", i + 2
        return f"[^{body}]", i + 2
    if letter in _CONTROL_ESCAPES:
        return _CONTROL_ESCAPES[letter], i + 2
    if letter == "b":
        return ("\\x08", i + 2) if in_class else ("(?a:\\b)", i + 2)
    if letter == "B":
        return "(?a:\\B)", i + 2
    if (
        letter == "c"
        and i + 2 < len(pattern)
        and pattern[i + 2].isascii()
        and pattern[i + 2].isalpha()
    ):
        return f"\\x{ord(pattern[i + 2]) % 32:02x}", i + 3
    if letter == "0" and not pattern[i + 2 : i + 3].isdigit():
        return "\\x00", i + 2
    if letter.isdigit():
        end = i + 1
        while end < len(pattern) and pattern[end].isdigit():
            end += 1
        return f"\\{pattern[i + 1 : end]}", end
    if letter == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i + 2 : i + 4]):
        return f"\\x{pattern[i + 2 : i + 4]}", i + 4
    if letter == "u":
        return _unicode_escape(pattern, i)
    if letter in "pP":
        return _property(pattern, i, negated=letter == "P", in_class=in_class)
    if letter == "k" and pattern[i + 2 : i + 3] == "<":
        end = pattern.index(">", i)
        return f"(?P={pattern[i + 3 : end]})", end + 1
    # An identity escape: the character itself.
    return re.escape(letter), i + 2


def _unicode_escape(pattern: str, i: int) -> tuple[str, int]:
    braced = re.compile(r"\\u\{([0-9A-Fa-f]+)\}").match(pattern, i)
    if braced:
        return _code_point(int(braced.group(1), 16)), braced.end()
    four = re.compile(r"\\u([0-9A-Fa-f]{4})").match(pattern, i)
    if not four:
        return "u", i + 2
    high = int(four.group(1), 16)
    low = re.compile(r"\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})").match(pattern, four.end())
    if 0xD800 <= high <= 0xDBFF and low:
        # A surrogate pair written as two escapes is one code point.
        point = 0x10000 + ((high - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return _code_point(point), low.end()
    return _code_point(high), four.end()


def _code_point(point: int) -> str:
    return f"\\U{point:08x}"


def _property(pattern: str, i: int, *, negated: bool, in_class: bool) -> tuple[str, int]:
    match = re.compile(r"\\[pP]\{([A-Za-z_]+)(?:=([A-Za-z_]+))?\}").match(pattern, i)
    if not match:
        raise GenerationError(
            f"the pattern {pattern!r} has a \\p escape that is not \\p{{Name}}", pattern=pattern
        )
    name, value = match.group(1), match.group(2)
    if value is not None and name in ("General_Category", "gc"):
        name, value = value, None
    category = _CATEGORY_NAMES.get(name, name)
    if value is not None or not _is_category(category):
        raise GenerationError(
            f"the pattern {pattern!r} uses {match.group()}, a Unicode property docmigrate "
            "cannot draw from (only general categories such as \\p{L} are translated)",
            pattern=pattern,
        )
    if negated and in_class:
        raise GenerationError(
            f"the pattern {pattern!r} negates {match.group()} inside a character class, which "
            "Python's re cannot express",
            pattern=pattern,
        )
    ranges = _category_ranges(category)
    text = f"[^{ranges}]" if negated else (ranges if in_class else f"[{ranges}]")
    return text, match.end()


def _is_category(name: str) -> bool:
    return name in set(_CATEGORY_NAMES.values())


@functools.cache
def _category_ranges(category: str) -> str:
    """The code points of a general category (``L`` = every ``L?``) as class ranges."""
    wanted = ("Lu", "Ll", "Lt") if category == "LC" else None

    def belongs(char: str) -> bool:
        found = unicodedata.category(char)
        return found in wanted if wanted else found.startswith(category)

    parts: list[str] = []
    start = previous = -2
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF or not belongs(chr(point)):
            continue
        if point != previous + 1:
            if start >= 0:
                parts.append(_range(start, previous))
            start = point
        previous = point
    if start >= 0:
        parts.append(_range(start, previous))
    return "".join(parts)


def _range(start: int, end: int) -> str:
    return _code_point(start) if start == end else f"{_code_point(start)}-{_code_point(end)}"


def _character_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the class ``[...]`` starting at ``pattern[i]``; return text, next index."""
    j = i + 1
    negated = pattern[j : j + 1] == "^"
    if negated:
        j += 1
    if pattern[j : j + 1] == "]":  # ECMA's [] matches nothing, [^] any character
        return ("[\\s\\S]" if negated else "(?!)"), j + 1
    out = ["[^" if negated else "["]
    while j < len(pattern) and pattern[j] != "]":
        char = pattern[j]
        if char == "\\":
            text, j = _escape(pattern, j, in_class=True)
            out.append(text)
        else:
            out.append(f"\\{char}" if char in _CLASS_LITERALS_TO_ESCAPE else char)
            j += 1
    if j >= len(pattern):
        raise GenerationError(f"the pattern {pattern!r} has an unclosed '['", pattern=pattern)
    out.append("]")
    return "".join(out), j + 1


def search(pattern: str, text: str) -> bool:
    """Tell whether ``pattern`` (ECMA-262) matches somewhere in ``text``, as a validator would."""
    return _compiled(pattern).search(text) is not None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))
