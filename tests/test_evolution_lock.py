"""The lock on released versions: fingerprints, refusal of in-place drift, lock file errors."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import pytest
from test_cli import run

import docmigrate
from docmigrate.evolution import lock
from docmigrate.evolution.canonical import canonical_text
from docmigrate.evolution.lock import (
    LOCK_NAME,
    LockError,
    _all_local,
    _reference_strings,
    _reference_strings_in_text,
    definition_end,
    function_source,
    schema_fingerprint,
)
from docmigrate.loader import load_family
from docmigrate.registry import BUILTIN_FOLDER

HISTORY = BUILTIN_FOLDER / "production_history"
VALID_11 = (
    Path(__file__).parent / "data" / "production_history" / "1.1" / "valid" / "with-losses.json"
)


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A copy of the built-in family with its shipped lock (1.0 and 1.1 released)."""
    folder = tmp_path / "production_history"
    shutil.copytree(HISTORY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_builtin_family_ships_a_lock_that_holds() -> None:
    """The built-in family carries docmigrate.lock with both versions released, and loads."""
    text = (HISTORY / LOCK_NAME).read_text()
    assert text.count('status = "released"') == 2
    assert load_family(HISTORY).current == "1.1"


def test_canonical_form_ignores_key_order_number_spelling_and_def_names() -> None:
    """Reordered keys, 1.0 for 1 and a renamed $defs entry keep the fingerprint."""
    first = {
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/a"}},
        "$defs": {"a": {"maximum": 1}},
    }
    second = {
        "$defs": {"b": {"maximum": 1.0}},
        "properties": {"n": {"$ref": "#/$defs/b"}},
        "type": "object",
    }
    assert schema_fingerprint(first) == schema_fingerprint(second)
    assert schema_fingerprint(first) != schema_fingerprint(
        {**first, "$defs": {"a": {"maximum": 2}}}
    )


def test_annotations_count_unless_excluded() -> None:
    """A reworded description changes the fingerprint, unless annotations are excluded."""
    first, second = {"type": "string", "description": "a"}, {"type": "string", "description": "b"}
    assert schema_fingerprint(first) != schema_fingerprint(second)
    assert schema_fingerprint(first, exclude_annotations=True) == schema_fingerprint(
        second, exclude_annotations=True
    )


def test_origin_in_place_drift_of_released_1_1_is_caught(
    released: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing released 1.1 in place (2-decimal costs, as the origin did) is refused, exit 2."""
    path = released / "1.1.schema.json"
    schema = json.loads(path.read_text())
    schema["$defs"]["decimal"]["pattern"] = "^(0|[1-9][0-9]*)(\\.[0-9]{2})?$"
    path.write_text(json.dumps(schema, indent=2))
    with pytest.raises(
        LockError, match=r"version 1\.1 of production-history changed since it was locked"
    ):
        load_family(released)
    for command in (["validate", VALID_11], ["check", "production-history"]):
        code, _, err = run(capsys, *command, "--family-path", released)
        assert code == 2, command
        assert "add version 1.2 instead" in err and "Traceback" not in err


def test_changed_step_of_a_released_version_is_refused(released: Path) -> None:
    """A released version's upgrade step edited in place is named in the refusal."""
    steps = released / "steps.py"
    steps.write_text(steps.read_text().replace("run.setdefault(key, value)", "run[key] = value"))
    with pytest.raises(LockError, match=r"step upgrade 1\.0 -> 1\.1 changed"):
        load_family(released)


def test_draft_head_may_change_freely(released: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With 1.1 locked as draft, editing it is allowed; 1.0 stays protected."""
    (released / LOCK_NAME).unlink()
    toml = released / "family.toml"
    toml.write_text(toml.read_text().replace('"production-history"', '"history-copy"'))
    code, out, _ = run(capsys, "lock", "--family-path", released)
    assert code == 0 and "1.0 released, 1.1 draft" in out
    path = released / "1.1.schema.json"
    path.write_text(path.read_text().replace("adds loss tracking", "adds loss tracking!"))
    assert load_family(released).current == "1.1"
    old = released / "1.0.schema.json"
    old.write_text(old.read_text().replace('"maxLength": 40', '"maxLength": 41', 1))
    with pytest.raises(LockError, match=r"version 1\.0 of history-copy changed"):
        load_family(released)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace('status = "released"', 'status = "frozen"', 1),
            ":8: version '1.0': status",
        ),
        (
            lambda t: t.replace("lock_version = 1", "lock_version = 1\nbogus = 2"),
            ":5: unknown key 'bogus'",
        ),
        (
            lambda t: t.replace('schema = "sha256:', 'schema = "md5:', 1),
            ":8: version '1.0': schema",
        ),
        (lambda t: t + "[[[\n", "not valid TOML"),
    ],
    ids=["status", "unknown-key", "fingerprint", "toml"],
)
def test_hand_edited_lock_is_a_configuration_error_with_the_line(
    released: Path, capsys: pytest.CaptureFixture[str], edit: object, expected: str
) -> None:
    """A corrupt lock file exits 2 with its path and line, never a traceback."""
    lock = released / LOCK_NAME
    lock.write_text(edit(lock.read_text()))  # type: ignore[operator]
    code, _, err = run(capsys, "validate", VALID_11, "--family-path", released)
    assert code == 2 and expected in err and "Traceback" not in err


# -- fingerprints computed cheaply, exactly as before ----------------------------------------------

EDGE_CASES = '''
import functools


def plain(a):
    return a


@functools.lru_cache(
    maxsize=2,
)
def decorated_over_lines(a):
    """Doc."""
    return (a,
            a)
# a comment at column 0: inspect leaves it out


def trailing_comment(a):
    return a
    # an indented comment after the last statement: inspect keeps it

def one_liner(a): return a
def backslash(a):
    return a \\
        + 1

async def coroutine(a):
    return a
   # indented less than the body, still a comment
x = 1


def outer(a):
    if a:
        def inner(b):
            return b
        return inner
    return None


class Holder:
    def method(self):
        return self

    # between methods

    def last_method(self):
        return 1
square = lambda a: a * a


def at_the_end(a):
    return a'''


def _functions(module: ModuleType) -> list[Any]:
    """Every function and method written in a module's file (not imported, not generated)."""
    found = []
    for value in vars(module).values():
        members = vars(value).values() if isinstance(value, type) else [value]
        found += [
            f
            for f in members
            if isinstance(f, FunctionType) and f.__code__.co_filename == module.__file__
        ]
    return found


def test_step_sources_are_exactly_inspects(tmp_path: Path) -> None:
    """function_source is inspect.getsource for every function of docmigrate and the edge cases."""
    path = tmp_path / "edge_cases.py"
    path.write_text(EDGE_CASES)
    spec = importlib.util.spec_from_file_location("edge_cases", path)
    assert spec is not None and spec.loader is not None
    edge = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(edge)
    modules = [edge] + [
        importlib.import_module(f"docmigrate.{info.name}")
        for info in pkgutil.iter_modules(docmigrate.__path__)
        if info.name != "__main__"
    ]
    functions = [f for module in modules for f in _functions(module)]
    functions += [edge.outer(True), edge.decorated_over_lines.__wrapped__]
    cheap = 0
    for function in functions:
        assert function_source(function) == inspect.getsource(function), function.__qualname__
        lines, start = inspect.findsource(inspect.unwrap(function))
        cheap += definition_end(lines, start, inspect.unwrap(function)) is not None
    # Both ways were exercised: the syntax tree for most, inspect for the rest.
    assert len(functions) > 400 and len(functions) - 40 > cheap > 300
    edge_cheap = {
        f.__name__
        for f in [*_functions(edge), edge.decorated_over_lines.__wrapped__]
        if definition_end(*inspect.findsource(f), f) is not None  # type: ignore[arg-type]
    }
    assert edge_cheap == {
        "plain", "decorated_over_lines", "one_liner", "backslash", "outer", "last_method",
        "at_the_end",  # linecache ends the file's last line with a newline
    }  # fmt: skip


def test_loading_the_builtin_family_compiles_no_tokenizer_pattern() -> None:
    """Checking the built-in lock reads step sources off the syntax tree, not the tokenizer."""
    script = (
        "import tokenize\n"
        "from docmigrate.loader import load_family\n"
        "from docmigrate.registry import BUILTIN_FOLDER\n"
        "family = load_family(BUILTIN_FOLDER / 'production_history')\n"
        "print(len(family.steps), tokenize._compile.cache_info().misses)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "0"]


def test_an_indented_comment_after_a_released_step_is_a_change(released: Path) -> None:
    """A comment indented into a released step's body, after its return, is refused."""
    steps = released / "steps.py"
    text = steps.read_text()
    steps.write_text(text.replace("    return run\n", "    return run\n    # reviewed\n", 1))
    with pytest.raises(LockError, match=r"step upgrade 1\.0 -> 1\.1 changed"):
        load_family(released)


def test_a_column_0_comment_after_a_released_step_is_not_a_change(released: Path) -> None:
    """A comment at column 0 between steps is outside both, as inspect sees it."""
    steps = released / "steps.py"
    text = steps.read_text()
    steps.write_text(text.replace("    return run\n", "    return run\n# reviewed\n", 1))
    assert [s.target for s in load_family(released).steps] == ["1.1", "1.0"]


REFERENCE_CASES: list[Any] = [
    {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {}}},
    {"$ref": "other.json#/a", "$defs": {}},
    {"items": [{"$ref": "#/x"}, {"$ref": 3}], "const": {"$ref": "http://e/x"}},
    {'x"$ref': "http://e/", "$defs": {}},  # the text's quirk: a key ending in "$ref counts
    {'x"$ref': "#/a", "$ref": "#/b"},
    {"$ref": '#/a"b', "$refs": "http://e/"},
    {"enum": ["$ref", "http://e/"], "description": '"$ref": "http://e/"'},
    {"$ref": "\u00e9#/", "n": 1.5, "m": None, "t": True},
    {"$ref": "#/", "tuple": ({"$ref": "http://e/"},)},  # not plain JSON: read off the text
]


@pytest.mark.parametrize("value", REFERENCE_CASES)
def test_reference_strings_agree_with_the_canonical_text(value: Any) -> None:
    """The tree walk finds the $ref strings the canonical text shows, local or not alike."""
    by_text = _reference_strings_in_text(value)
    by_walk = _reference_strings(value)
    if by_walk is None:  # a tuple: only the text can say
        assert isinstance(value.get("tuple"), tuple)
        by_walk = by_text
    assert len(by_walk) == len(by_text)
    assert sorted(r.startswith("#/") for r in by_walk) == sorted(
        r.startswith("#/") for r in by_text
    )
    assert _all_local(value) == all(r.startswith("#/") for r in by_text)


def test_a_schema_is_written_out_once_per_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fingerprinting writes the canonical text once, not again for every $defs it meets."""
    calls: list[int] = []

    def counted(value: Any) -> str:
        calls.append(1)
        return canonical_text(value)

    schema = load_family(HISTORY).schema("1.1")
    assert "$defs" in schema
    monkeypatch.setattr(lock, "canonical_text", counted)
    fingerprint = schema_fingerprint(schema)
    assert len(calls) == 1
    assert fingerprint in (HISTORY / LOCK_NAME).read_text()
