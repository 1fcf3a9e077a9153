"""Writing documents: exact numbers, in any layout ``json.dumps`` makes, fast through orjson."""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring, encode_basestring_ascii

import orjson

from docmigrate.jsonio.fast import _RAW_SURROGATE
from docmigrate.jsonio.values import MAX_DEPTH, JSONValue, format_number

# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

_SCALAR_TYPES = frozenset({type(None), bool, int, str, Decimal})
_VALUE_TYPES = _SCALAR_TYPES | {list, dict}
_NON_ASCII_TEXT = re.compile("[\x7f-\U0010ffff]+")
# In UTF-8 every byte of a non-ASCII character is >= 0x80, so a run of such bytes (with DEL,
# which ensure_ascii escapes too) is always whole characters.
_NON_ASCII_UTF8 = re.compile(b"[\x7f-\xff]+")
_INDENT_UNIT = re.compile("[ \t]*")
_ITEM_SEPARATOR = re.compile("[ \t]*,[ \t]*")
_KEY_SEPARATOR = re.compile("[ \t]*:[ \t]*")
_NEWLINES = ("\n", "\r\n")
# orjson's two-space text holds no newline inside a string (it writes "\n" as an escape), so a
# newline and the spaces after it are always layout: each can be rewritten without parsing.
_LINE_BREAK_KEPT = re.compile(b"(\n *)")
_LINE_BREAK = re.compile(b"\n *")
_CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class _Layout:
    """Where the writer puts whitespace: ``json.dumps``'s indent and separators, and line ends."""

    indent: str | None
    """One level of indentation; None writes the whole value on one line."""
    item_separator: str
    key_separator: str
    newline: str


def _checked_layout(
    indent: int | str | None, separators: tuple[str, str] | None, newline: str
) -> _Layout:
    """Check the layout arguments of the writers; ValueError names the first bad one."""
    unit: str | None
    if indent is None:
        unit = None
    elif type(indent) is int and indent >= 0:
        unit = " " * indent
    elif type(indent) is str and _INDENT_UNIT.fullmatch(indent):
        unit = indent
    else:
        raise ValueError(
            f"indent must be None, a non-negative int or spaces and tabs, not {indent!r}"
        )
    if separators is None:
        separators = (",", ":") if unit is None else (",", ": ")
    if not (
        type(separators) is tuple
        and len(separators) == 2
        and type(separators[0]) is str
        and type(separators[1]) is str
        and _ITEM_SEPARATOR.fullmatch(separators[0])
        and _KEY_SEPARATOR.fullmatch(separators[1])
    ):
        raise ValueError(
            f"separators must be (',', ':') with optional spaces or tabs around, not {separators!r}"
        )
    if newline not in _NEWLINES:
        raise ValueError(f"newline must be '\\n' or '\\r\\n', not {newline!r}")
    return _Layout(unit, separators[0], separators[1], newline)


def _check_for_orjson(value: JSONValue) -> None:
    """Refuse what orjson would write but loads could not give back (float, tuple, too deep).

    Keys, big integers, lone surrogates and Decimal problems make orjson fail, and the pure
    Python writer then reports them.
    """
    # A quick walk passes what is fine (nearly always); the careful one says what is wrong.
    if isinstance(value, list | dict) and type(value) in (list, dict) and _plainly_json(value):
        return
    _check_carefully(value)


def _plainly_json(container: list[JSONValue] | dict[str, JSONValue]) -> bool:
    """Whether every value inside is a JSON scalar, or a list or dict within MAX_DEPTH.

    Accepts exactly what :func:`_check_carefully` accepts, at about half its cost per
    record; False when the recursion limit is near, so the careful walk decides.
    """
    try:
        return _within(container, 1)
    except RecursionError:
        return False


def _within(container: list[JSONValue] | dict[str, JSONValue], depth: int) -> bool:
    for item in container.values() if type(container) is dict else container:
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= MAX_DEPTH or not _within(item, depth + 1):  # type: ignore[arg-type]
                return False
        elif kind not in _SCALAR_TYPES:
            return False
    return True


def _check_carefully(value: JSONValue) -> None:
    """Raise TypeError (naming the types) or ValueError (too deep) for what orjson must not see."""
    if type(value) not in (list, dict):
        if type(value) not in _VALUE_TYPES:
            raise TypeError(f"{type(value).__name__} is not a JSON value")
        return
    stack: list[tuple[list[JSONValue] | dict[str, JSONValue], int]] = [(value, 1)]  # type: ignore[list-item]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        items = container.values() if type(container) is dict else container
        types = set(map(type, items))
        if types <= _SCALAR_TYPES:
            continue
        if not types <= _VALUE_TYPES:
            bad = sorted(t.__name__ for t in types - _VALUE_TYPES)
            raise TypeError(f"{', '.join(bad)} is not a JSON value (use int, Decimal, ...)")
        if depth >= MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH}")
        depth += 1
        for item in items:
            if type(item) is dict or type(item) is list:
                push((item, depth))


def _orjson_default(obj: object) -> orjson.Fragment:
    if type(obj) is Decimal:
        return orjson.Fragment(format_number(obj))
    raise TypeError(f"{type(obj).__name__} is not a JSON value")


def _escaped_text_run(match: re.Match[str]) -> str:
    return encode_basestring_ascii(match.group())[1:-1]


def _escaped_utf8_run(match: re.Match[bytes]) -> bytes:
    return encode_basestring_ascii(match.group().decode("utf-8"))[1:-1].encode("ascii")


def _is_orjson_layout(layout: _Layout) -> bool:
    """Whether orjson writes ``layout`` itself: compact, or two spaces with LF and ","."""
    if layout.indent is None:
        return layout.item_separator == "," and layout.key_separator == ":"
    return (layout.indent, layout.item_separator, layout.key_separator, layout.newline) == (
        "  ",
        ",",
        ": ",
        "\n",
    )


def _orjson_bytes(value: JSONValue, layout: _Layout, end: str) -> bytes | None:
    """Serialise with orjson (plus ``end``) when that gives what the pure writer would; else None.

    orjson writes compact text or two-space indentation. Any other layout with the key
    separator ``": "`` is made from the two-space text by rewriting its line breaks (linear,
    at C speed per line); other key separators go to the pure writer.
    """
    direct = _is_orjson_layout(layout)
    if not direct and layout.key_separator != ": ":
        return None
    _check_for_orjson(value)
    appended = direct and end == "\n"
    option = 0 if direct and layout.indent is None else orjson.OPT_INDENT_2
    if appended:
        option |= orjson.OPT_APPEND_NEWLINE
    try:
        data = orjson.dumps(value, default=_orjson_default, option=option)
    except TypeError:  # orjson.JSONEncodeError: big int, lone surrogate, bad key or Decimal
        return None
    if not direct:
        data = _relaid(data, layout)
    return data if appended or not end else data + end.encode("ascii")


def _relaid(data: bytes, layout: _Layout) -> bytes:
    """Rewrite orjson's two-space text (no final newline) into ``layout`` (key separator ": ")."""
    if layout.item_separator != ",":
        data = data.replace(b",\n", layout.item_separator.encode("ascii") + b"\n")
    if layout.indent == "  ":
        return data if layout.newline == "\n" else data.replace(b"\n", b"\r\n")
    rewrite: Callable[[bytes], bytes]
    if layout.indent is None:
        rewrite = functools.partial(_LINE_BREAK.sub, b"")
    else:
        rewrite = functools.partial(_reindented, _line_starts(layout.indent, layout.newline))
    return b"".join(map(rewrite, _chunks(data)))


def _chunks(data: bytes) -> Iterator[bytes]:
    """Cut ``data`` into pieces of about 1 MiB, each just before a newline.

    Rewriting a piece at a time keeps the per-line objects of a huge text from piling up.
    """
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _CHUNK_SIZE)
        end = len(data) if end < 0 else end
        yield data[start:end]
        start = end


def _reindented(line_starts: dict[bytes, bytes], data: bytes) -> bytes:
    """Replace every line break of two-space text by its entry in ``line_starts``."""
    pieces = _LINE_BREAK_KEPT.split(data)
    pieces[1::2] = map(line_starts.__getitem__, pieces[1::2])
    return b"".join(pieces)


@functools.lru_cache(maxsize=8)
def _line_starts(indent: str, newline: str) -> dict[bytes, bytes]:
    """Map each line break of two-space text (newline, two spaces a level) to ``indent``'s."""
    return {
        b"\n" + b"  " * level: (newline + indent * level).encode("ascii")
        for level in range(MAX_DEPTH + 1)
    }


def _python_dumps(
    value: JSONValue,
    indent: int | str | None,
    ensure_ascii: bool,
    *,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
) -> str:
    """Write like ``json.dumps`` with the same arguments, with exact numbers (see dumps)."""
    return _python_write(value, _checked_layout(indent, separators, newline), ensure_ascii)


def _python_write(value: JSONValue, layout: _Layout, ensure_ascii: bool) -> str:
    """The pure-Python writer: the specification the orjson path must agree with."""
    encode: Callable[[str], str] = encode_basestring_ascii if ensure_ascii else encode_basestring
    parts: list[str] = []
    add = parts.append
    item_separator, key_separator = layout.item_separator, layout.key_separator
    unit, newline = layout.indent, layout.newline

    def write_string(text: str) -> None:
        if type(text) is not str:
            raise TypeError(f"{type(text).__name__} is not a JSON string")
        if not text.isascii():
            lone = _RAW_SURROGATE.search(text)
            if lone is not None:
                raise ValueError(f"lone surrogate U+{ord(lone.group()):04X} in string")
        add(encode(text))

    def write(item: JSONValue, level: int) -> None:
        kind = type(item)
        if kind is str:
            write_string(item)  # type: ignore[arg-type]
        elif item is None:
            add("null")
        elif item is True:
            add("true")
        elif item is False:
            add("false")
        elif kind is int or kind is Decimal:
            add(format_number(item))  # type: ignore[arg-type]
        elif kind is list or kind is dict:
            if level >= MAX_DEPTH:
                raise ValueError(f"nesting deeper than {MAX_DEPTH}")
            is_object = kind is dict
            opening, closing = ("{", "}") if is_object else ("[", "]")
            if not item:
                add(opening + closing)
                return
            inner = "" if unit is None else newline + unit * (level + 1)
            add(opening)
            if isinstance(item, dict):
                for number, (key, member) in enumerate(item.items()):
                    add(item_separator + inner if number else inner)
                    write_string(key)
                    add(key_separator)
                    write(member, level + 1)
            else:
                for number, element in enumerate(item):  # type: ignore[arg-type]
                    add(item_separator + inner if number else inner)
                    write(element, level + 1)
            add("" if unit is None else newline + unit * level)
            add(closing)
        else:
            raise TypeError(f"{kind.__name__} is not a JSON value (use int, Decimal, ...)")

    write(value, 0)
    return "".join(parts)


def dumps(
    value: JSONValue,
    *,
    indent: int | str | None = 2,
    ensure_ascii: bool = False,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
) -> str:
    r"""Write ``value`` as JSON text, without a trailing newline.

    The layout is that of ``json.dumps`` with the same ``indent`` (None: one line; N: N spaces
    a level; a string of spaces and tabs: that string a level), ``separators`` and
    ``ensure_ascii``. ``separators`` defaults to ``(",", ":")`` on one line (``json.dumps``
    says ``(", ", ": ")``) and to ``(",", ": ")`` when indented; each may only add spaces or
    tabs around its ``,`` or ``:``. ``newline`` (``"\n"`` or ``"\r\n"``) ends each line of
    indented text. Empty arrays and objects are ``[]`` and ``{}``; numbers use
    :func:`format_number`. Raises TypeError for a value that is not JSON (float included) and
    ValueError for a bad layout argument or a value :func:`loads` would refuse (lone
    surrogate, too deep, number out of range).
    """
    layout = _checked_layout(indent, separators, newline)
    fast = _orjson_bytes(value, layout, end="")
    if fast is None:
        return _python_write(value, layout, ensure_ascii)
    text = fast.decode("utf-8")
    if ensure_ascii:
        # Outside strings orjson writes only ASCII, so this touches string contents only.
        text = _NON_ASCII_TEXT.sub(_escaped_text_run, text)
    return text


def dump_bytes(
    value: JSONValue,
    *,
    indent: int | str | None = 2,
    ensure_ascii: bool = False,
    separators: tuple[str, str] | None = None,
    newline: str = "\n",
    trailing_newline: bool = True,
) -> bytes:
    """Write ``value`` as UTF-8 JSON (see :func:`dumps`), by default ending with ``newline``."""
    layout = _checked_layout(indent, separators, newline)
    end = newline if trailing_newline else ""
    fast = _orjson_bytes(value, layout, end)
    if fast is None:
        return (_python_write(value, layout, ensure_ascii) + end).encode("utf-8")
    if ensure_ascii:
        return _NON_ASCII_UTF8.sub(_escaped_utf8_run, fast)
    return fast


def clone(value: JSONValue) -> JSONValue:
    """Return a deep copy of ``value``: equal, sharing no list or dict with the original.

    Scalars (str, int, Decimal, ...) are immutable and shared.
    """
    if isinstance(value, dict):
        if type(value) is dict and len(value) <= _SMALL:
            try:  # not contextlib.suppress: its object costs as much as copying a small value
                return _copied(value)
            except RecursionError:
                pass
        root: dict[str, JSONValue] | list[JSONValue] = dict(value)
    elif isinstance(value, list):
        root = list(value)
    else:
        return value
    stack = [root]
    # gc_paused() inlined: small values are cloned once per record, where its cost shows.
    enabled = gc.isenabled()
    gc.disable()
    try:
        while stack:
            container = stack.pop()
            entries = container.items() if isinstance(container, dict) else enumerate(container)
            for place, member in entries:
                copy: dict[str, JSONValue] | list[JSONValue]
                if type(member) is dict:
                    copy = dict(member)
                elif type(member) is list:
                    copy = list(member)
                else:
                    continue
                container[place] = copy  # type: ignore[index]
                stack.append(copy)
    finally:
        if enabled:
            gc.enable()
    return root


_SMALL = 16
"""Objects with at most this many members are cloned by plain recursion (a step's defaults)."""


def _copied(value: JSONValue) -> JSONValue:
    """Deep copy by recursion: quicker than :func:`clone`'s loop on small values."""
    if type(value) is dict:
        return {k: _copied(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    if type(value) is list:
        return [_copied(v) if type(v) in _CONTAINERS else v for v in value]
    return value


_CONTAINERS = (dict, list)
