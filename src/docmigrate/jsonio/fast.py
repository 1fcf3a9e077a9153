"""The fast parser (the C scanner of :mod:`json` with refusing hooks) and its cheap after-checks."""

from __future__ import annotations

import json
import re
import threading
from typing import NoReturn

from docmigrate.jsonio.values import JSONValue, _make_decimal, _make_int, _Refused

# ---------------------------------------------------------------------------------------------
# The fast parser and its cheap after-checks
# ---------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not JSON")


def _object_from_pairs(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("duplicate key")
    return result


def _new_fast_decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        parse_float=_make_decimal,
        parse_int=_make_int,
        parse_constant=_refuse_constant,
        object_pairs_hook=_object_from_pairs,
        strict=True,
    )


_decoders = threading.local()


def _fast_decoder() -> json.JSONDecoder:
    """Return the thread's fast decoder, built once (building one costs a small parse)."""
    decoder: json.JSONDecoder | None = getattr(_decoders, "fast", None)
    if decoder is None:
        decoder = _decoders.fast = _new_fast_decoder()
    return decoder


def _plain_decoder() -> json.JSONDecoder:
    """Return the thread's hook-free decoder, used to skip over values."""
    decoder: json.JSONDecoder | None = getattr(_decoders, "plain", None)
    if decoder is None:
        decoder = _decoders.plain = json.JSONDecoder()
    return decoder


# Any escape that may stand for a surrogate: a cheap trigger for the exact check below.
_SURROGATE_ESCAPE_HINT = re.compile(r"\\u[dD][89a-fA-F]")
# A surrogate escape that is not part of a high+low pair. Exact once every escaped backslash
# ("\\\\") has been replaced by a non-backslash, so that every remaining backslash starts an
# escape.
_LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


def _deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the nesting of a valid JSON text (UTF-8, escaped backslashes removed) exceeds limit.

    Works on a skeleton of the text made at C speed: string contents are dropped, both kinds of
    brackets become ``[``/``]``, and each round of ``replace("[]", "")`` removes exactly the
    innermost level.
    """
    if b'\\"' in raw:
        raw = raw.replace(b'\\"', b"_")
    skeleton = raw.translate(_BRACKETS_ONLY, _NOT_STRUCTURE)
    # Dropping adjacent quote pairs keeps every other byte's inside/outside-a-string parity.
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    for _ in range(limit):
        skeleton = skeleton.replace(b"[]", b"")
        if not skeleton:
            return False
    return bool(skeleton)


def _checks_pass(text: str, start: int, end: int, limit: int, raw: bytes | None) -> bool:
    """Cheap checks the C scanner does not make, on ``text[start:end]`` (valid JSON).

    True when the value nests at most ``limit`` levels and holds no lone surrogate escape.
    ``raw`` is the UTF-8 of exactly that slice when the caller already has it. Raw surrogate
    characters are ruled out before the fast parser runs.
    """
    deep = text.count("[", start, end) + text.count("{", start, end) > limit
    # find() first: it runs at memchr speed, the regular expression only where "\u" occurs.
    surrogates = (
        text.find("\\u", start, end) >= 0
        and _SURROGATE_ESCAPE_HINT.search(text, start, end) is not None
    )
    if not (deep or surrogates):
        return True
    if raw is None:
        raw = text[start:end].encode("utf-8")
    if b"\\\\" in raw:
        raw = raw.replace(b"\\\\", b"_")
    if surrogates and _LONE_SURROGATE_ESCAPE.search(raw):
        return False
    return not (deep and _deeper_than(raw, limit))
