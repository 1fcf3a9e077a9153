"""Exact JSON: read and write documents without losing a digit, a character or a key.

Reading follows RFC 8259 to the letter and refuses whatever is ambiguous or hostile (duplicate
keys, lone surrogates, NaN, absurd numbers, very deep nesting, a byte order mark). Numbers keep
their text: integers load as :class:`int`, every other number as :class:`decimal.Decimal`, never
as a float. See ``docs/exact-json.md`` for the user-facing rules.

Two parsers share the work. The fast one is the C scanner of :mod:`json` with hooks that refuse
what it would otherwise let through; when it fails for any reason a slow, exact, iterative parser
reads the text again to find the first problem and report its line and column. The slow parser
is the specification; the fast one is an optimisation that must agree with it. Big texts go to
msgspec first (:mod:`.quick`), with checks that decline whatever it would read differently.

The package has one module per purpose: :mod:`.values` (the value type, limits, numbers),
:mod:`.fast` and :mod:`.exact` (the two parsers), :mod:`.reading`, :mod:`.positions`
(line and column of a path) and :mod:`.writing` (layouts). Everything public is
re-exported here, so ``docmigrate.jsonio`` is the one name to import.
"""

from typing import TYPE_CHECKING, Any

from docmigrate.jsonio.exact import _slow_parse
from docmigrate.jsonio.positions import locate, locate_all
from docmigrate.jsonio.reading import LoadedDocument, _fast_load, load_bytes, load_path, loads
from docmigrate.jsonio.values import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_NUMBER_LENGTH,
    JSONValue,
    format_number,
    gc_paused,
)

if TYPE_CHECKING:
    from docmigrate.jsonio.writing import _CHUNK_SIZE as _CHUNK_SIZE
    from docmigrate.jsonio.writing import _python_dumps as _python_dumps
    from docmigrate.jsonio.writing import clone, dump_bytes, dumps

# The writer (and orjson, which it imports) loads on first use: reading alone, as `validate`
# does, never needs it.
_WRITING = frozenset({"_CHUNK_SIZE", "_python_dumps", "clone", "dump_bytes", "dumps"})


def __getattr__(name: str) -> Any:
    """Import :mod:`.writing` when one of its names is first asked for."""
    if name not in _WRITING:
        raise AttributeError(f"module 'docmigrate.jsonio' has no attribute {name!r}")
    from docmigrate.jsonio import writing

    value = getattr(writing, name)
    globals()[name] = value  # later look-ups do not come here again
    return value


__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_NUMBER_LENGTH",
    "JSONValue",
    "LoadedDocument",
    "clone",
    "dump_bytes",
    "dumps",
    "format_number",
    "gc_paused",
    "load_bytes",
    "load_path",
    "loads",
    "locate",
    "locate_all",
]

# Internals the tests compare with the public path (the exact parser; the pure writer, lazily).
_INTERNALS = (_fast_load, _slow_parse)
