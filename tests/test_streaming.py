"""The streaming pipeline gives exactly what the in-memory one gives, on every kind of input.

Each file is handled twice by the same command functions: once read whole (files below the
streaming threshold) and once record by record (threshold 0). Verdicts, problems with their
positions, upgraded bytes and reports must be identical; where the streaming path hands a
file over to the in-memory one, the test says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker, items_family, sleeping_family, wait_for_marker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import run as _cli

from docmigrate import Registry, commands, jsonio
from docmigrate.commands import UpgradeJob, UpgradeOptions, upgrade_file, validate_paths
from docmigrate.files import TEMP_SUFFIX, remove_leftovers
from docmigrate.jsonio.streaming import CHUNK_SIZE, NotStreamable, RecordReader
from docmigrate.registry import BUILTIN_FOLDER
from docmigrate.reports import FileReport
from docmigrate.streaming import records_problem, validate_stream
from docmigrate.testing import documents, invalid_documents

EXAMPLES = Path(__file__).parent.parent / "examples" / "families"
SUITE = Path(__file__).parent / "data" / "json-test-suite" / "test_parsing"
BIG = os.environ.get("DOCMIGRATE_PROFILE") == "ci"
LAYOUTS: list[dict[str, Any]] = [
    {"indent": 2},
    {"indent": 4, "ensure_ascii": True},
    {"indent": "\t", "newline": "\r\n"},
    {"indent": None},
    {"indent": None, "separators": (", ", ": "), "trailing_newline": False},
    {"indent": 1, "separators": (" ,", " : ")},
]


@pytest.fixture(scope="module")
def both() -> Registry:
    """The built-in family and the recipe-book example."""
    return Registry.discover([EXAMPLES], cwd=BUILTIN_FOLDER, entry_points=False)


@pytest.fixture
def streaming_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stream every file, however small (the threshold is a speed choice, not a rule)."""
    monkeypatch.setattr(commands, "STREAMING_MIN_SIZE", 0)
    yield


def _validate(path: Path, registry: Registry, *, stream: bool, **options: Any) -> FileReport:
    threshold = 0 if stream else 1 << 62
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, threshold
    try:
        return next(validate_paths([path], registry, **options))
    finally:
        commands.STREAMING_MIN_SIZE = saved


def _upgrade(
    path: Path, registry: Registry, out: Path, *, stream: bool, **options: Any
) -> tuple[FileReport, bytes | None]:
    threshold = 0 if stream else 1 << 62
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, threshold
    destination = out / ("streamed.json" if stream else "in-memory.json")
    try:
        job = UpgradeJob(path, path, destination)
        report = upgrade_file(job, registry, UpgradeOptions(out=out, **options))
    finally:
        commands.STREAMING_MIN_SIZE = saved
    data = destination.read_bytes() if destination.exists() else None
    return report, data


def _same_report(streamed: FileReport, whole: FileReport) -> None:
    mine, theirs = asdict(streamed), asdict(whole)
    for key in ("pipeline", "output"):
        mine.pop(key), theirs.pop(key)
    assert mine == theirs


def _check_validate(path: Path, registry: Registry, **options: Any) -> FileReport:
    """Validate both ways; assert the same outcome; return the streamed report."""
    streamed = _validate(path, registry, stream=True, **options)
    whole = _validate(path, registry, stream=False, **options)
    _same_report(streamed, whole)
    return streamed


def _check_upgrade(path: Path, registry: Registry, out: Path, **options: Any) -> FileReport:
    """Upgrade both ways into ``out``; assert the same report and bytes; return the streamed."""
    streamed, streamed_bytes = _upgrade(path, registry, out, stream=True, **options)
    whole, whole_bytes = _upgrade(path, registry, out, stream=False, **options)
    _same_report(streamed, whole)
    assert streamed_bytes == whole_bytes
    return streamed


# --- documents drawn from every version's schema ------------------------------------------------


def _versions(registry: Registry) -> list[tuple[str, str]]:
    return [(family.name, version) for family in registry for version in family.versions]


@pytest.mark.parametrize("layout", range(len(LAYOUTS)))
@pytest.mark.parametrize(
    "family_version", [("production-history", "1.0"), ("production-history", "1.1"),
                       ("recipe-book", "1"), ("recipe-book", "2")]
)  # fmt: skip
def test_drawn_documents_stream_exactly(
    family_version: tuple[str, str], layout: int, both: Registry, tmp_path: Path
) -> None:
    """Valid documents of every version, in every layout: same validation and upgraded bytes."""
    family = both.get(family_version[0])

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(documents(family, family_version[1]))
    def check(document: Any) -> None:
        path = tmp_path / "doc.json"
        path.write_bytes(jsonio.dump_bytes(document, **LAYOUTS[layout]))
        report = _check_validate(path, both)
        assert report.pipeline == commands.STREAMING
        for to in family.versions:
            upgraded = _check_upgrade(path, both, tmp_path, to=to, allow_loss=True)
            assert upgraded.pipeline == commands.STREAMING, upgraded.pipeline

    check()


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_invalid_documents_report_the_same_errors(
    version: str, registry: Registry, tmp_path: Path
) -> None:
    """Documents breaking a rule: the same errors at the same lines and columns, streamed."""
    family = registry.get("production-history")

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(invalid_documents(family, version), st.sampled_from(LAYOUTS))
    def check(invalid: Any, layout: dict[str, Any]) -> None:
        path = tmp_path / "bad.json"
        path.write_bytes(jsonio.dump_bytes(invalid.document, **layout))
        report = _check_validate(path, registry)
        assert report.problems
        has_records = isinstance(invalid.document.get("production_runs"), list)
        assert (report.pipeline == commands.STREAMING) == has_records, report.pipeline
        upgraded = _check_upgrade(path, registry, tmp_path)
        assert upgraded.problems and upgraded.action == ""

    check()


# --- the JSONTestSuite corpus, at every place in a document -------------------------------------

PLACES = {
    "record": b'{"v": "1", "items": [1, %s, 2]}',
    "only record": b'{"v": "1", "items": [%s]}',
    "before": b'{"x": %s, "v": "1", "items": [{}]}',
    "after": b'{"v": "1", "items": [{}], "x": %s}',
    "records": b'{"v": "1", "items": %s}',
}


@pytest.fixture
def open_family(make_family: FamilyMaker) -> Registry:
    """A family whose records may be anything, with a per-record step that wraps each one."""
    schema = {
        "type": "object",
        "properties": {"v": {"enum": ["1", "2"]}, "items": {"type": "array"}},
        "required": ["items"],
    }
    steps = """
        @upgrade("1", "2", each="/items")
        def wrap(item):
            return {"was": item}
    """
    folder = make_family(
        {"1": schema, "2": schema},
        steps,
        toml='version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\n',
    )
    return Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)


@pytest.mark.parametrize("place", sorted(PLACES))
def test_json_test_suite_streams_exactly(place: str, open_family: Registry, tmp_path: Path) -> None:
    """Every JSONTestSuite case, placed in a record, the header or the records: same outcome."""
    streamed = 0
    for case in sorted(SUITE.glob("*.json")):
        path = tmp_path / "case.json"
        path.write_bytes(PLACES[place] % case.read_bytes().strip(b" \t\r\n"))
        report = _check_validate(path, open_family)
        upgraded = _check_upgrade(path, open_family, tmp_path)
        streamed += upgraded.pipeline == commands.STREAMING and report.ok
    assert streamed > 50  # the accepted cases really went through the streaming path


# --- the reader on its own ----------------------------------------------------------------------


def test_reader_reads_records_across_tiny_chunks(tmp_path: Path) -> None:
    """Records cut anywhere by the reads (chunks of 1 to 7 bytes) come out whole and exact."""
    text = '{"a": {"b": 1}, "items": [1.50, "\\u00e9\\ud83d\\ude00", {"k": [-0, 1E+2]}, 123]}'
    expected = jsonio.loads(text)
    for size in range(1, 8):
        path = tmp_path / "t.json"
        path.write_text(text, encoding="utf-8")
        with open(path, "rb") as stream:
            reader = RecordReader(stream, [("items",)], chunk_size=size)
            reader.open()
            values = [record.value for record in reader.records()]
            header = reader.finish()
        assert values == expected["items"]  # type: ignore[index]
        assert [type(v) for v in values] == [type(v) for v in expected["items"]]  # type: ignore[index]
        assert header.value == {"a": {"b": 1}, "items": []}


def test_reader_refuses_what_loads_refuses(tmp_path: Path) -> None:
    """A duplicate key, a trailing comma or a cut file in the records: NotStreamable."""
    for text in (
        '{"items": [{"a": 1, "a": 2}]}',
        '{"items": [1, 2,]}',
        '{"items": [1, 2',
        '{"items": [1] "x": 2}',
        '{"items": [NaN]}',
    ):
        path = tmp_path / "t.json"
        path.write_text(text, encoding="utf-8")
        with open(path, "rb") as stream, pytest.raises(NotStreamable):
            reader = RecordReader(stream, [("items",)], chunk_size=3)
            reader.open()
            list(reader.records())
            reader.finish()


def test_version_label_after_the_records(registry: Registry, tmp_path: Path) -> None:
    """A label after the records is found at the end, and the pass is run again at that version."""
    # Without a label a document is 1.0: the first pass checks these runs as 1.0 (where the
    # loss fields are unknown keys); the label at the end says 1.1, and the second pass is right.
    runs = [dict(_run(i), production_status="complete", loss_quantity=0, losses=[])
            for i in range(3)]  # fmt: skip
    when = "2025-01-01T00:00:00"
    document = {"exported_at": when, "production_runs": runs, "version": "1.1"}
    path = tmp_path / "late.json"
    path.write_bytes(jsonio.dump_bytes(document))
    report = _check_validate(path, registry)
    assert (report.pipeline, report.version, report.problems) == (commands.STREAMING, "1.1", [])
    old = dict(document, version="1.0", production_runs=[_run(0)])
    path.write_bytes(jsonio.dump_bytes(old))
    report = _check_validate(path, registry, require_current=True)
    assert report.pipeline == commands.STREAMING
    assert [p.keyword for p in report.problems] == ["require-current"]
    upgraded = _check_upgrade(path, registry, tmp_path)
    assert upgraded.pipeline == commands.STREAMING
    assert upgraded.action == "upgraded"


def test_ensure_ascii_told_late_is_honoured(registry: Registry, tmp_path: Path) -> None:
    """An all-ASCII file whose first escape comes late is written escaped, like in memory."""
    run = {
        "uuid": "r-1", "recipe_name": "Bread", "finished_unit_slug": "loaf", "num_batches": 1,
        "expected_yield": 2, "actual_yield": 2, "produced_at": "2025-01-01T00:00:00",
        "notes": None, "total_ingredient_cost": "1.0000", "per_unit_cost": "0.5000",
        "consumptions": [],
    }  # fmt: skip
    runs = [dict(run, uuid=f"r-{i}") for i in range(6000)]
    runs[-1]["notes"] = "crème"
    document = {"version": "1.0", "exported_at": "2025-01-01T00:00:00", "production_runs": runs}
    path = tmp_path / "late-escape.json"
    path.write_bytes(jsonio.dump_bytes(document, ensure_ascii=True))
    data = path.read_bytes()
    # The first read tells nothing: ensure_ascii is decided at the end, and the pass run again.
    assert len(data) > CHUNK_SIZE and b"\\u" not in data[:CHUNK_SIZE]
    upgraded = _check_upgrade(path, registry, tmp_path)
    assert upgraded.pipeline == commands.STREAMING
    assert b"cr\\u00e8me" in (tmp_path / "streamed.json").read_bytes()


# --- when streaming does not apply ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("uniqueItems", True), ("maxItems", 3), ("contains", {"type": "object"}),
     ("unevaluatedItems", False), ("minItems", 1)],
)  # fmt: skip
def test_schemas_spanning_records_are_not_streamed(keyword: str, value: Any) -> None:
    """Array keywords that look across records make the schema unstreamable, with the reason."""
    schema = {"type": "object", "properties": {"items": {"type": "array", keyword: value}}}
    problem = records_problem(schema, ("items",))
    assert problem is not None and keyword in problem
    assert records_problem({"properties": {"items": {"items": {}}}}, ("items",)) is None


def test_whole_document_step_falls_back(make_family: FamilyMaker, tmp_path: Path) -> None:
    """A plan with a whole-document step is run in memory, and --verbose's reason says so."""
    steps = """
        @upgrade("1", "2")
        def whole(document):
            document["n"] = len(document["items"])
            return document
    """
    folder = items_family(make_family, steps)
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    path = tmp_path / "d.json"
    path.write_text('{"v": "1", "items": [1, 2]}', encoding="utf-8")
    report = _check_upgrade(path, registry, tmp_path)
    assert report.pipeline.startswith("in memory: step whole works on the whole document")
    assert (tmp_path / "streamed.json").read_bytes().startswith(b'{"v": "2"')


def test_validate_stream_reports_family(registry: Registry, tmp_path: Path) -> None:
    """The Python API gives the family, version and problems of a streamed file."""
    path = tmp_path / "empty.json"
    path.write_text('{"version": "1.1", "exported_at": "x", "production_runs": []}', "utf-8")
    found = validate_stream(path, registry)
    assert (found.family.name, found.version) == ("production-history", "1.1")
    assert [(p.line, p.column, p.keyword) for p in found.problems] == [(1, 35, "pattern")]


# --- big files, faults in the middle of the stream ----------------------------------------------

RUNS = 50_000 if BIG else 5_000
"""Runs in the generated big file (DOCMIGRATE_PROFILE=ci makes it ten times bigger)."""


def _run(i: int) -> dict[str, Any]:
    return {
        "uuid": f"00000000-0000-4000-8000-{i:012d}", "recipe_name": f"Recipe {i % 7} — é",
        "finished_unit_slug": "loaf", "num_batches": 1 + i % 3, "expected_yield": 24,
        "actual_yield": 24 - i % 4, "produced_at": "2025-01-01T09:30:00",
        "notes": None if i % 3 else f"note {i}", "total_ingredient_cost": f"{i % 50}.2000",
        "per_unit_cost": "0.0762",
        "consumptions": [{"uuid": f"c-{i}", "ingredient_slug": "flour",
                          "quantity_consumed": "2.000", "unit": "cup", "total_cost": "1.5000"}],
    }  # fmt: skip


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A production-history 1.0 file of RUNS runs (a few MiB), generated, never stored in git."""
    document = {"version": "1.0", "exported_at": "2025-12-21T12:00:00",
                "production_runs": [_run(i) for i in range(RUNS)]}  # fmt: skip
    path = tmp_path_factory.mktemp("big") / "history.json"
    path.write_bytes(jsonio.dump_bytes(document))
    return path


def test_big_file_streams_with_the_same_bytes(
    big_file: Path, registry: Registry, tmp_path: Path
) -> None:
    """A file of many chunks: streamed upgrade and validation equal the in-memory ones."""
    assert big_file.stat().st_size > 2 * (1 << 20)  # several reads, records cut between them
    report = _check_validate(big_file, registry)
    assert report.pipeline == commands.STREAMING and report.ok
    upgraded = _check_upgrade(big_file, registry, tmp_path)
    assert upgraded.pipeline == commands.STREAMING and upgraded.action == "upgraded"


def test_truncated_file_leaves_no_output(
    big_file: Path, registry: Registry, tmp_path: Path
) -> None:
    """A file cut in the middle of a record: the same JSON error, no output, no temporary."""
    data = big_file.read_bytes()
    cut = tmp_path / "in" / "cut.json"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    out.mkdir()
    report = _check_upgrade(cut, registry, out)
    assert [p.keyword for p in report.problems] == ["json"]
    assert report.problems[0].message.startswith("unexpected end of input")
    assert list(out.iterdir()) == []


def test_write_error_mid_stream_keeps_the_original(big_file: Path, tmp_path: Path) -> None:
    """A write that fails mid-stream (file size limit hit): the original stays, nothing is left."""
    target = tmp_path / "history.json"
    target.write_bytes(big_file.read_bytes())
    before = target.read_bytes()
    script = f"""
import json, resource, signal
from pathlib import Path
from docmigrate import commands
from docmigrate.registry import BUILTIN_FOLDER, Registry
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 3}, {len(before) // 3}))
commands.STREAMING_MIN_SIZE = 0
registry = Registry.discover(builtin=True, entry_points=False, cwd=BUILTIN_FOLDER)
path = Path({str(target)!r})
report = commands.upgrade_file(commands.UpgradeJob(path, path, path), registry,
                               commands.UpgradeOptions())
print(json.dumps([report.pipeline, report.action, [p.message for p in report.problems]]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    pipeline, action, messages = json.loads(done.stdout)
    assert pipeline == commands.STREAMING and action == ""
    assert len(messages) == 1 and "File too large" in messages[0]  # the fault fired
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]


def test_kill_mid_stream_leaves_no_partial_file(
    big_file: Path, make_family: FamilyMaker, tmp_path: Path
) -> None:
    """SIGKILL while records are being written: no output file; the leftover is cleaned up."""
    marker = tmp_path / "reached"
    folder = sleeping_family(make_family, marker, 700)
    source = tmp_path / "in" / "numbers.json"
    source.parent.mkdir()
    numbers = {"v": "1", "items": list(range(100_000))}
    source.write_bytes(jsonio.dump_bytes(numbers))
    out = tmp_path / "out"
    out.mkdir()
    script = f"""
from pathlib import Path
from docmigrate import commands
from docmigrate.registry import Registry
commands.STREAMING_MIN_SIZE = 0
registry = Registry.discover([{str(folder)!r}], builtin=False, entry_points=False,
                             cwd={str(folder)!r})
path = Path({str(source)!r})
commands.upgrade_file(commands.UpgradeJob(path, path.parent, Path({str(out / "numbers.json")!r})),
                      registry, commands.UpgradeOptions(out=Path({str(out)!r})))
"""
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for_marker(marker, 60, process)
        leftovers = list(out.iterdir())
        assert [p.name.endswith(TEMP_SUFFIX) for p in leftovers] == [True]  # mid-stream
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert not (out / "numbers.json").exists()
    assert [leftover.action for leftover in remove_leftovers([out])] == ["removed"]
    assert list(out.iterdir()) == []


def test_step_failing_mid_stream_is_reported_as_in_memory(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """A step that fails on a record in the middle: the in-memory report, and no output."""
    steps = """
        @upgrade("1", "2", each="/items")
        def picky(item):
            if item == 1500:
                raise ValueError("no 1500")
            return item
    """
    folder = items_family(make_family, steps)
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    path = tmp_path / "in.json"
    path.write_bytes(jsonio.dump_bytes({"v": "1", "items": list(range(3000))}))
    report = _check_upgrade(path, registry, tmp_path)
    assert report.pipeline.startswith("in memory: step picky fails on record 1500")
    assert "no 1500" in report.problems[0].message
    assert report.problems[0].json_path == "$.items[1500]"


def test_validate_imports_no_store_and_no_hypothesis(tmp_path: Path) -> None:
    """`docmigrate validate` loads neither SQLAlchemy nor Hypothesis (start-up cost)."""
    path = tmp_path / "d.json"
    path.write_text('{"version": "1.1", "exported_at": "2025-01-01T00:00:00", '
                    '"production_runs": []}', encoding="utf-8")  # fmt: skip
    script = f"""
import sys
from docmigrate.cli import main
try:
    main(["validate", {str(path)!r}])
except SystemExit as stop:
    code = stop.code
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"sqlalchemy", "hypothesis"}})
print(code, heavy)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split("\n")[-2] == "0 []", done.stdout + done.stderr


# --- the command line says which pipeline each file took ------------------------------------------


def test_verbose_and_json_report_say_how_files_were_read(
    big_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--verbose names the pipeline of each file on stderr; the json report carries it too."""
    small = tmp_path / "small.json"
    small.write_text('{"version": "1.1", "exported_at": "2025-01-01T00:00:00", '
                     '"production_runs": []}', encoding="utf-8")  # fmt: skip
    code, out, err = _cli(capsys, "validate", "--verbose", big_file, small)
    assert code == 0
    assert f"{big_file}: streaming" in err.splitlines()
    assert f"{small}: in memory: smaller than 1 MiB" in err.splitlines()
    code, out, err = _cli(capsys, "validate", "--format", "json", big_file)
    assert json.loads(out)["files"][0]["pipeline"] == "streaming"
    code, out, err = _cli(capsys, "upgrade", "-v", big_file, "--out", tmp_path / "out")
    assert code == 0 and f"{big_file}: streaming" in err.splitlines()


# --- upgrade options on the streaming path ------------------------------------------------------


def _in_place(
    source: Path, registry: Registry, folder: Path, *, stream: bool, **options: Any
) -> tuple[FileReport, Path]:
    """Upgrade a copy of ``source`` in place under ``folder``; return the report and the copy."""
    folder.mkdir()
    target = folder / "history.json"
    target.write_bytes(source.read_bytes())
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, 0 if stream else 1 << 62
    try:
        job = UpgradeJob(target, folder, target, Path("history.json"))
        report = upgrade_file(job, registry, UpgradeOptions(**options))
    finally:
        commands.STREAMING_MIN_SIZE = saved
    return report, target


def test_backup_in_place_matches_in_memory(
    big_file: Path, registry: Registry, tmp_path: Path
) -> None:
    """--in-place --backup streamed: same file, same backup, same manifest hashes."""
    results = {}
    for stream in (True, False):
        name = "streamed" if stream else "whole"
        backup = tmp_path / f"{name}-backup"
        report, target = _in_place(
            big_file, registry, tmp_path / name, stream=stream, backup=backup
        )
        assert report.backup is not None and Path(report.backup).read_bytes() == (
            big_file.read_bytes()
        )
        results[name] = (report.action, report.sha256_before, report.sha256_after,
                         target.read_bytes(), report.pipeline)  # fmt: skip
    assert results["streamed"][4] == commands.STREAMING
    assert results["streamed"][:4] == results["whole"][:4]


def test_hard_linked_file_is_rewritten_in_place(
    big_file: Path, registry: Registry, tmp_path: Path
) -> None:
    """A file with another hard link: both names see the streamed upgrade, no journal is left."""
    report, target = _in_place(big_file, registry, tmp_path / "linked", stream=True, dry_run=True)
    assert report.action == "would upgrade" and target.read_bytes() == big_file.read_bytes()
    other = tmp_path / "other-name.json"
    os.link(target, other)
    saved, commands.STREAMING_MIN_SIZE = commands.STREAMING_MIN_SIZE, 0
    try:
        job = UpgradeJob(target, target.parent, target)
        report = upgrade_file(job, registry, UpgradeOptions())
    finally:
        commands.STREAMING_MIN_SIZE = saved
    assert report.pipeline == commands.STREAMING and report.action == "upgraded"
    upgraded = _upgrade(big_file, registry, tmp_path, stream=False)[1]
    assert other.read_bytes() == target.read_bytes() == upgraded
    assert os.stat(other).st_ino == os.stat(target).st_ino
    assert sorted(p.name for p in target.parent.iterdir()) == ["history.json"]


def test_downgrade_that_would_lose_data_is_refused_alike(
    registry: Registry, tmp_path: Path
) -> None:
    """A 1.1 file with real losses, --to 1.0 without --allow-loss: the same DataLossError."""
    loss = {"uuid": "l-1", "loss_category": "burnt", "loss_quantity": 1}
    loss |= {"per_unit_cost": "0.10", "total_loss_cost": "0.10", "notes": None}
    run = dict(_run(1), production_status="partial_loss", loss_quantity=1, losses=[loss])
    when = "2025-12-21T12:00:00"
    document = {"version": "1.1", "exported_at": when, "production_runs": [run]}
    path = tmp_path / "lossy.json"
    path.write_bytes(jsonio.dump_bytes(document))
    report = _check_upgrade(path, registry, tmp_path, to="1.0")
    assert report.pipeline.startswith("in memory: a downgrade would drop data")
    assert [p.keyword for p in report.problems] == ["DataLossError"]


def test_step_timeout_applies_to_streamed_steps(make_family: FamilyMaker, tmp_path: Path) -> None:
    """--step-timeout counts the steps' time over all records of a streamed file."""
    steps = """
        import time

        @upgrade("1", "2", each="/items")
        def slow(item):
            time.sleep(0.01)
            return item
    """
    folder = items_family(make_family, steps)
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    path = tmp_path / "in.json"
    path.write_bytes(jsonio.dump_bytes({"v": "1", "items": list(range(100))}))
    report, data = _upgrade(path, registry, tmp_path, stream=True, step_timeout=0.2)
    assert report.pipeline == commands.STREAMING and data is None
    assert [p.keyword for p in report.problems] == ["StepTimeoutError"]
    assert "slow" in report.problems[0].message


def test_label_after_records_without_default_is_found_by_a_first_pass(
    make_family: FamilyMaker, tmp_path: Path
) -> None:
    """No default version and the label at the end: a first pass finds it; still streamed."""
    numbers = {"type": "array", "items": {"type": "integer"}}
    schema = {
        "type": "object",
        "properties": {"v": {"const": "1"}, "items": numbers},
        "required": ["v", "items"],
    }
    folder = items_family(make_family, schema=schema, versions=("1",))
    registry = Registry.discover([folder], builtin=False, entry_points=False, cwd=folder)
    path = tmp_path / "late.json"
    path.write_text('{"items": [1, "two", 3], "v": "1"}', encoding="utf-8")
    report = _check_validate(path, registry)
    assert report.pipeline == commands.STREAMING and report.version == "1"
    assert [(p.line, p.column, p.json_path) for p in report.problems] == [(1, 15, "$.items[1]")]
