"""The writer's quick check of values accepts exactly what its careful check accepts."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import by_profile
from hypothesis import given, settings
from hypothesis import strategies as st

from docmigrate.jsonio.values import MAX_DEPTH
from docmigrate.jsonio.writing import _check_carefully, _check_for_orjson, _plainly_json


class _Dict(dict[str, Any]):
    """A dict subclass: not a JSON value to the writer."""


class _Str(str):
    """A str subclass: not a JSON value to the writer."""


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.decimals(allow_nan=False)
)
ODD = st.one_of(
    st.floats(allow_nan=False),
    st.tuples(st.integers()),
    st.just(uuid.UUID(int=1)),
    st.just(_Str("x")),
    st.just(_Dict(a=1)),
    st.just({1, 2}),
    st.just(b"x"),
)
VALUES = st.recursive(
    st.one_of(SCALARS, SCALARS, SCALARS, ODD),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=2), inner, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(check: Any, value: Any) -> tuple[str, str] | None:
    """What ``check`` raises for ``value`` (type and message), or None."""
    try:
        check(value)
    except (TypeError, ValueError) as error:
        return type(error).__name__, str(error)
    return None


@settings(max_examples=by_profile(dev=300, ci=2000))
@given(VALUES)
def test_quick_and_careful_checks_agree(value: Any) -> None:
    """Drawn values: the quick walk passes a value iff the careful one raises nothing."""
    careful = _outcome(_check_carefully, value)
    if isinstance(value, list | dict) and type(value) in (list, dict):
        assert _plainly_json(value) is (careful is None)
    assert _outcome(_check_for_orjson, value) == careful


def _nested(depth: int, leaf: Any, *, kind: type = list) -> Any:
    """``depth`` levels of lists (or dicts) around ``leaf``."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind is list else {"k": value}
    return value


@pytest.mark.parametrize("kind", [list, dict])
@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
@pytest.mark.parametrize("leaf", [1, [], 1.5, (1,)])
def test_checks_agree_at_the_depth_limit(kind: type, depth: int, leaf: Any) -> None:
    """At and around MAX_DEPTH, with fine and odd leaves, both checks give the same verdict."""
    value = _nested(depth, leaf, kind=kind)
    careful = _outcome(_check_carefully, value)
    assert _plainly_json(value) is (careful is None)
    assert _outcome(_check_for_orjson, value) == careful


def test_values_that_pass_and_fail_are_both_exercised() -> None:
    """The agreement above covers both verdicts: a plain record passes, a float fails."""
    record = {"a": [1, "x", None, True, Decimal("1.10")], "b": {"c": []}}
    assert _plainly_json(record) and _outcome(_check_carefully, record) is None
    record["b"]["c"].append(2.5)  # type: ignore[index]
    assert not _plainly_json(record)
    assert _outcome(_check_for_orjson, record) == (
        "TypeError",
        "float is not a JSON value (use int, Decimal, ...)",
    )


def test_a_deep_call_stack_falls_back_to_the_careful_check() -> None:
    """Near the recursion limit the quick walk gives up and the careful one decides."""
    import sys

    value = _nested(MAX_DEPTH - 1, 1)
    limit = sys.getrecursionlimit()

    def deep(n: int) -> bool:
        return _plainly_json(value) if n == 0 else deep(n - 1)

    depth = 0
    frame = sys._getframe()
    while frame.f_back is not None:
        frame, depth = frame.f_back, depth + 1
    assert deep(limit - depth - 60) is False  # too little stack left for 199 levels
    assert _outcome(_check_for_orjson, value) is None  # and the careful walk accepts it
