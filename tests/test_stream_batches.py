"""Records read in batches by msgspec are the records, texts and places the exact reader gives."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from conftest import by_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import JSONReadError
from docmigrate.jsonio import JSONValue
from docmigrate.jsonio.streaming import NotStreamable, Record, RecordReader

POINTER = ("items",)


def stream_records(text: str, chunk_size: int) -> tuple[list[tuple[str, str, Any]], int]:
    """Read the records of ``text``: (repr of value, text, place) of each, and the number batched.

    Raises NotStreamable as the reader does.
    """
    reader = RecordReader(io.BytesIO(text.encode()), [POINTER], chunk_size=chunk_size)
    reader.open()
    seen: list[tuple[str, str, Any]] = []
    batched = 0
    for record in reader.records():
        batched += _from_batch(record)
        seen.append((repr(record.value), record.text, record.positions([()])[0]))
    reader.finish()
    return seen, batched


def _from_batch(record: Record) -> bool:
    """Whether the record was read in a batch (its span not yet looked for)."""
    return record._batch is not None


def expected_records(text: str) -> list[tuple[str, str, Any]] | None:
    """What the exact reader says of each record, or None when it refuses the text."""
    try:
        document = jsonio.load_bytes(text.encode())
    except JSONReadError:
        return None
    assert isinstance(document.value, dict)
    items = document.value["items"]
    assert isinstance(items, list)
    places = document.positions([(*POINTER, index) for index in range(len(items))])
    return [
        (repr(value), jsonio.dumps(value), place)
        for value, place in zip(items, places, strict=True)
    ]


def compare(text: str, chunk_size: int) -> int:
    """Assert streaming ``text`` agrees with the exact reader; return the records batched."""
    expected = expected_records(text)
    try:
        seen, batched = stream_records(text, chunk_size)
    except NotStreamable:
        return 0  # the caller reads the file whole: the exact reader decides
    assert expected is not None, text
    # Values and places as the exact reader has them; each text parses to its value.
    assert [(value, place) for value, _, place in seen] == [
        (value, place) for value, _, place in expected
    ]
    assert [repr(jsonio.loads(one)) for _, one, _ in seen] == [value for value, _, _ in seen]
    return batched


# --- drawn documents, re-indented at random -----------------------------------------------------

strings = st.text(st.characters(exclude_categories=["Cs"]), max_size=8) | st.sampled_from(
    ["},", "\n    },", "-0", "a:b", '"', "\\", "\\u0000", "é😀", "]", "1" * 30]
)
numbers = (
    st.integers(-(10**30), 10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.sampled_from([Decimal("-0"), Decimal("1E+5"), Decimal("-0.0"), 10**999])
)
scalars = st.none() | st.booleans() | numbers | strings
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(strings, children, max_size=3)
    ),
    max_leaves=10,
)
records = st.dictionaries(strings, values, min_size=1, max_size=4) | values


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A document of mostly object records, pretty-printed, some lines indented otherwise."""
    items = draw(st.lists(records, min_size=1, max_size=12))
    indent = draw(st.sampled_from([2, 4]))
    lines = jsonio.dumps({"version": "1", "items": items}, indent=indent).split("\n")
    # Moving lines left or right keeps the values, and puts an inner "}" where records end.
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] = " " * draw(st.integers(0, 8)) + lines[at].lstrip(" ")
    return "\n".join(lines)


@settings(
    max_examples=by_profile(dev=150, ci=500),
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
)
@given(text=documents(), chunk_size=st.sampled_from([1, 7, 64, 300, 1 << 16]))
def test_batches_agree_with_the_exact_reader(text: str, chunk_size: int) -> None:
    """Drawn documents stream to the exact values, places and texts, cut anywhere by reads."""
    compare(text, chunk_size)


def test_batches_are_used() -> None:
    """A pretty-printed array of object records is read in batches (and exactly)."""
    items: list[JSONValue] = [
        {"n": n, "s": "x" * (n % 7), "d": Decimal("1.10")} for n in range(300)
    ]
    text = jsonio.dumps({"version": "1", "items": items}, indent=2)
    counts = Counter({size: compare(text, size) for size in (64, 1000, 1 << 16)})
    assert all(batched > 200 for batched in counts.values()), counts


# --- hand-made traps -----------------------------------------------------------------------------

RECORD_END = "\n    },\n    "


@pytest.mark.parametrize(
    "records",
    [
        # a nested object closing where records close
        ['{"a": 1\n    }', '{"b": {"c": 2\n    },\n "d": 3\n    }', '{"e": 4\n    }'],
        # records that are not objects, between object records
        ['{"a": 1\n    }', "5", '"x\\n    },"', "[1, {}]", '{"b": 2\n    }'],
        # the marker inside a string (escaped newline), and "}," inside strings
        ['{"a": "\\n    },"\n    }', '{"b": "},},"\n    }', '{"c": 3\n    }'],
        # -0 and long integers inside batches
        ['{"a": 1\n    }', '{"z": -0\n    }', '{"n": ' + "9" * 1000 + "\n    }", '{"b": 2\n    }'],
        # escapes: surrogate pair, escaped quotes and backslashes before ','
        ['{"a": "\\ud83d\\ude00\\\\"\n    }', '{"b\\"": "\\\\\\""\n    }', '{"c": 1\n    }'],
    ],
)
def test_traps_stream_exactly(records: list[str]) -> None:
    """Awkward records read in batches or one by one give what the exact reader gives."""
    text = '{"version": "1", "items": [\n    ' + ",\n    ".join(records) + "\n  ]}"
    assert expected_records(text) is not None
    for size in (1, 5, 16, 64, 1 << 16):
        seen, _ = stream_records(text, size)
        assert [value for value, _, _ in seen] == [
            value for value, _, _ in expected_records(text) or []
        ]


@pytest.mark.parametrize(
    "bad",
    [
        '{"a": 1, "a": 2\n    }',
        '{"a": 1,\n    }',
        '{"a": NaN\n    }',
        '{"a": "\\ud800"\n    }',
        '{"a": ' + "[" * 300 + "]" * 300 + "\n    }",
        '{"a": 1e99999\n    }',
    ],
)
def test_bad_record_in_a_batch_is_refused(bad: str) -> None:
    """A record loads refuses, among good ones read in batches: NotStreamable, as before."""
    good = [f'{{"n": {n}\n    }}' for n in range(40)]
    text = '{"version": "1", "items": [\n    ' + ",\n    ".join([*good, bad, *good]) + "\n  ]}"
    assert expected_records(text) is None
    for size in (7, 1 << 16):
        with pytest.raises(NotStreamable):
            stream_records(text, size)


def test_invalid_record_positions_in_a_batch() -> None:
    """A record read in a batch is placed in the file exactly (its span found on demand)."""
    items = [{"n": n, "e": "é" * n} for n in range(50)]
    text = jsonio.dumps({"version": "1", "items": items}, indent=2)
    document = jsonio.load_bytes(text.encode())
    reader = RecordReader(io.BytesIO(text.encode()), [POINTER])
    reader.open()
    batched = 0
    for record in reader.records():
        batched += _from_batch(record)
        if record.index % 7 == 3:
            assert record.positions([(), ("e",)]) == document.positions(
                [(*POINTER, record.index), (*POINTER, record.index, "e")]
            )
            assert not record.has_text("\\u") and record.has_text('"n"')
    reader.finish()
    assert batched >= 40
