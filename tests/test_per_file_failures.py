"""Every failure is a failure of one file: the others proceed, the run reports and exits 1.

Regression tests for issue #9 items 5 (bad step output, dead workers, memory errors, odd
file names), 9 (special files, size cap), 10 (step timeout), 13 (escape injection), 14 and
15 (exit codes and summaries).
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import FamilyMaker, simple_schema
from test_cli import INVALID_11, VALID_10, VALID_11, run

from docmigrate import StepFailedError, jsonio, load_family, migrate
from docmigrate.archive import read_manifest
from docmigrate.json_values import find_non_json

# A step that returns, for the item whose id names it, a value that is not exact JSON.
BAD_VALUES = {
    "float": "1.5",
    "tuple": "(1, 2)",
    "set": "{1}",
    "bytes": "b'x'",
    "datetime": "__import__('datetime').datetime(2025, 1, 1)",
    "nan": "Decimal('NaN')",
    "infinity": "Decimal('-Infinity')",
    "huge-decimal": "Decimal('1E+5000')",
    "huge-int": "10 ** 1200",
    "surrogate": "'\\ud800'",
    "int-key": "{1: 'one'}",
    "cycle": "doc",  # the document inside one of its own items
}
NAUGHTY_STEPS = """
from decimal import Decimal
import os, signal, time

VALUES = {values}

@upgrade("1.0", "2.0")
def to_two(doc):
    for item in doc["items"]:
        what = item["id"]
        if what == "loop":
            while True:
                pass
        if what == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if what == "memory":
            raise MemoryError()
        if what in VALUES:
            item["x"] = eval(VALUES[what])
    return doc
"""


@pytest.fixture
def naughty(make_family: FamilyMaker) -> Path:
    """A family whose 1.0 -> 2.0 step misbehaves as each item's id says."""
    return make_family(
        {"1.0": simple_schema("1.0"), "2.0": simple_schema("2.0", x={})},
        NAUGHTY_STEPS.format(values=repr(BAD_VALUES)),
        toml='version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\nkey = "id"\n',
    )


def _document(*ids: str) -> bytes:
    return jsonio.dump_bytes({"v": "1.0", "items": [{"id": i} for i in ids]})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for input files."""
    path = tmp_path / "files"
    path.mkdir()
    return path


@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_a_step_returning_non_json_fails_naming_step_and_path(naughty: Path, kind: str) -> None:
    """The migrator refuses a non-JSON step result before validating it, with step and path."""
    family = load_family(naughty)
    document = jsonio.loads(_document("fine", kind))

    with pytest.raises(StepFailedError) as raised:
        migrate(document, family)

    assert "to_two" in str(raised.value)
    expected_path = "$.items[1]" + ("" if kind == "int-key" else ".x")
    assert raised.value.json_path.startswith(expected_path), raised.value.json_path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_step_output_fails_one_file_and_the_others_proceed(
    capsys: pytest.CaptureFixture[str], naughty: Path, folder: Path, workers: str
) -> None:
    """Each bad file is reported with the step and path; good files are upgraded; exit 1."""
    (folder / "a-good.json").write_bytes(_document("fine"))
    for kind in BAD_VALUES:
        (folder / f"bad-{kind}.json").write_bytes(_document(kind))
    (folder / "z-good.json").write_bytes(_document("also fine"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    code, out, err = run(
        capsys, "upgrade", folder, "--in-place", "--family-path", naughty, "--workers", workers
    )

    assert code == 1
    assert "Traceback" not in out + err
    for kind in BAD_VALUES:
        assert (folder / f"bad-{kind}.json").read_bytes() == before[f"bad-{kind}.json"]
        assert f"bad-{kind}.json:" in out
    assert jsonio.load_path(folder / "a-good.json").value["v"] == "2.0"
    assert jsonio.load_path(folder / "z-good.json").value["v"] == "2.0"
    total = len(BAD_VALUES) + 2
    assert f"{total} files: 2 upgraded, {len(BAD_VALUES)} failed" in out


def test_a_worker_killed_by_the_oom_killer_fails_only_its_file(
    capsys: pytest.CaptureFixture[str], naughty: Path, folder: Path
) -> None:
    """A worker process killed mid-run (SIGKILL) fails the file it had; all others upgrade."""
    names = [f"f{i}.json" for i in range(8)]
    for name in names:
        (folder / name).write_bytes(_document("fine"))
    (folder / "f3.json").write_bytes(_document("kill"))

    code, out, err = run(
        capsys, "upgrade", folder, "--in-place", "--family-path", naughty, "--workers", "2"
    )

    assert code == 1, err
    assert "f3.json:1:1: $: the worker process upgrading this file died" in out
    # A file whose write landed just before the pool broke is rerun and found already done.
    counts = out.splitlines()[-3]
    assert counts.startswith("8 files: ") and counts.endswith(", 1 failed"), out
    assert "upgraded" in counts
    for name in names:
        version = jsonio.load_path(folder / name).value["v"]
        assert version == ("1.0" if name == "f3.json" else "2.0")


def test_a_memory_error_fails_its_file_only(
    capsys: pytest.CaptureFixture[str],
    naughty: Path,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Running out of memory on one file (in a step or while writing) fails that file only."""
    (folder / "a.json").write_bytes(_document("memory"))
    (folder / "b.json").write_bytes(_document("fine", "big"))
    (folder / "c.json").write_bytes(_document("fine"))
    real_dump = jsonio.dump_bytes
    fired = []

    def dump(value: Any, **options: Any) -> bytes:
        if len(value.get("items", [])) == 2:
            fired.append(True)
            raise MemoryError
        return real_dump(value, **options)

    monkeypatch.setattr(jsonio, "dump_bytes", dump)
    code, out, _ = run(
        capsys, "upgrade", folder, "--in-place", "--family-path", naughty, "--workers", "1"
    )

    assert fired and code == 1
    assert "a.json:1:1: $: step to_two (1.0 -> 2.0) failed at $: MemoryError" in out
    assert "b.json:1:1: $: ran out of memory while handling this file" in out
    assert "3 files: 1 upgraded, 2 failed" in out
    assert jsonio.load_path(folder / "c.json").value["v"] == "2.0"


def test_a_file_name_that_is_not_utf8_is_handled_and_shown_escaped(
    capsys: pytest.CaptureFixture[str], folder: Path, tmp_path: Path
) -> None:
    """A name with undecodable bytes is upgraded, backed up, listed, and printed escaped."""
    name = os.fsdecode(b"caf\xe9.json")
    shutil.copy(VALID_10, folder / name)
    shutil.copy(INVALID_11, folder / os.fsdecode(b"bad\xff.json"))

    code, out, err = run(capsys, "upgrade", folder, "--in-place", "--backup", tmp_path / "bk")
    assert code == 1, err
    assert "caf\\udce9.json: upgraded" in out and "bad\\udcff.json:" in out
    assert jsonio.load_path(folder / name).value["version"] == "1.1"
    assert [Path(e["path"]).name for e in read_manifest(tmp_path / "bk")] == [name]

    code, out, _ = run(capsys, "upgrade", folder, "--in-place", "--dry-run", "--format", "json")
    assert code == 1 and "bad\\\\udcff.json" in out  # as validate's json report writes it
    assert jsonio.loads(out)  # readable by a strict parser: no lone surrogate escapes
    code, out, _ = run(capsys, "validate", folder)
    assert code == 1 and "bad\\udcff.json" in out


# --- special files and the size cap ------------------------------------------------------------


def _cli(
    *args: str | Path, timeout: float = 60, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the command line in a new process (after ``prefix``, e.g. a change of user)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "docmigrate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", ["validate", "upgrade"])
def test_a_fifo_or_a_device_argument_is_refused_without_blocking(
    folder: Path, command: str
) -> None:
    """A FIFO (which would block) and /dev/zero (which never ends) fail; the others proceed."""
    fifo = folder / "pipe.json"
    os.mkfifo(fifo)
    shutil.copy(VALID_11, folder / "ok.json")
    extra = ["--out", folder.parent / "out"] if command == "upgrade" else []

    done = _cli(command, fifo, "/dev/zero", folder / "ok.json", *extra)

    assert done.returncode == 1, done.stderr
    assert f"{fifo}:1:1: $: not a regular file (a FIFO (named pipe))" in done.stdout
    assert "/dev/zero:1:1: $: not a regular file (a character device)" in done.stdout


def test_documents_over_the_size_cap_are_refused(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    """--max-file-size: a larger file fails with the cap and the option named; smaller pass."""
    shutil.copy(VALID_10, folder / "big.json")
    small = folder / "small.json"
    small.write_bytes(jsonio.dump_bytes(jsonio.load_path(VALID_10).value, indent=None))
    cap = VALID_10.stat().st_size - 1
    assert small.stat().st_size <= cap

    code, out, _ = run(capsys, "validate", folder, "--max-file-size", str(cap))

    assert code == 1
    refusal = f"big.json:1:1: $: larger than the size cap of {cap} B; raise it with --max-file-size"
    assert refusal in out
    assert "small.json" not in out
    assert run(capsys, "validate", folder, "--max-file-size", "1.5KiB")[0] == 0
    code, _, err = run(capsys, "validate", folder, "--max-file-size", "lots")
    assert code == 2 and "is not a size such as 500M" in err


# --- step timeout ------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_step_that_never_returns_fails_its_file_after_the_timeout(
    capsys: pytest.CaptureFixture[str], naughty: Path, folder: Path, workers: str
) -> None:
    """--step-timeout turns an endless step into a failure of that file; others are upgraded."""
    (folder / "a.json").write_bytes(_document("loop"))
    (folder / "b.json").write_bytes(_document("fine"))

    code, out, _ = run(
        capsys,
        "upgrade",
        folder,
        "--in-place",
        "--family-path",
        naughty,
        "--step-timeout",
        "0.5",
        "--workers",
        workers,
    )

    assert code == 1
    assert "did not finish within 0.5 s (--step-timeout)" in out
    assert jsonio.load_path(folder / "a.json").value["v"] == "1.0"
    assert jsonio.load_path(folder / "b.json").value["v"] == "2.0"


# --- terminal escape injection -----------------------------------------------------------------


def _on_a_terminal(*args: str | Path) -> bytes:
    """Run the command line with its output on a pseudo-terminal; return all it printed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "docmigrate", *map(str, args)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the other end closed: the program exited
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(controller)
    return output


ESCAPE = "\u001b]52;c;cGF3bmVk\u0007\u001b[2J\u001b[5;35m"
INJECTED = (b"\x1b]52", b"\x1b[2J", b"\x1b[5;35m", b"\x1b[31m.json")


def test_values_and_names_from_files_reach_a_terminal_escaped(folder: Path) -> None:
    """ESC sequences and newlines from a file's values and name are printed as escapes."""
    document = jsonio.load_path(INVALID_11).value
    document["production_runs"][0]["losses"][0]["loss_category"] = ESCAPE + "\nforged: line"
    (folder / "evil\u001b[31m.json").write_bytes(jsonio.dump_bytes(document))
    shutil.copy(VALID_10, folder / "ok.json")

    for command in (
        ("upgrade", folder, "--out", folder.parent / "out"),
        ("upgrade", folder, "--in-place", "--dry-run"),
        ("validate", folder),
        ("import", folder, "--db", folder.parent / "store.db"),
    ):
        output = _on_a_terminal(*command)  # colours on: only docmigrate's own SGR codes
        assert b"evil" in output and b"\\x1b]52;c;cGF3bmVk\\x07" in output, output
        assert not [raw for raw in INJECTED if raw in output], (command, output)
        assert b"\nforged: line" not in output.replace(b"\r", b"")


# --- exit codes and summaries ------------------------------------------------------------------


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A folder any user may enter (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp())
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _as_unprivileged(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the command line as a user who cannot read files with mode 000."""
    if os.geteuid() != 0:
        return _cli(*args, timeout=120)
    return _cli(
        *args, timeout=120, prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    )


@pytest.mark.parametrize("command", ["validate", "upgrade"])
def test_an_unreadable_file_argument_fails_that_file_only(
    world_readable: Path, command: str
) -> None:
    """An unreadable file given by name: exit 1 and 'Permission denied'; the other file runs."""
    locked = world_readable / "locked.json"
    shutil.copy(VALID_10, locked)
    locked.chmod(0)
    shutil.copy(VALID_11, world_readable / "ok.json")
    extra = ["--in-place", "--dry-run"] if command == "upgrade" else []

    done = _as_unprivileged(command, locked, world_readable / "ok.json", *extra)

    assert done.returncode == 1, done.stderr
    assert f"{locked}:1:1: $: cannot read the file: Permission denied" in done.stdout
    assert "Usage:" not in done.stderr


@pytest.mark.parametrize("command", ["validate", "upgrade"])
def test_a_folder_without_json_files_fails(
    capsys: pytest.CaptureFixture[str], folder: Path, command: str
) -> None:
    """A folder holding no JSON file is not a silent pass: exit 1, 'no JSON files found'."""
    (folder / "notes.txt").write_text("not a document")
    extra = ["--in-place"] if command == "upgrade" else []
    code, out, _ = run(capsys, command, folder, *extra)
    assert code == 1
    assert f"{folder}:1:1: $: no JSON files found under this folder" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    """Unknown --to, upgrade of standard input, --backup with --out: exit 2 before any work."""
    shutil.copy(VALID_10, folder / "a.json")
    before = (folder / "a.json").read_bytes()
    for argv, message in [
        (("upgrade", folder, "--in-place", "--to", "9.9"), "--to 9.9: no family has this version"),
        (("upgrade", "-", "--in-place"), "upgrade reads files, not standard input"),
        (
            ("upgrade", folder, "--out", folder.parent / "o", "--backup", folder.parent / "b"),
            "--backup keeps the originals that --in-place replaces",
        ),
    ]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err, err
    assert (folder / "a.json").read_bytes() == before


def test_downgrades_are_reported_as_downgraded_and_summaries_count_every_file(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    """`--to 1.0` says 'downgraded'; the summary counts each outcome, singular and plural."""
    shutil.copy(VALID_11, folder / "loses.json")
    document = jsonio.load_path(VALID_10).value
    document["version"] = "1.1"
    for run_ in document["production_runs"]:
        run_.update(production_status="complete", loss_quantity=0, losses=[])
    (folder / "fine.json").write_bytes(jsonio.dump_bytes(document))
    shutil.copy(VALID_10, folder / "old.json")

    code, out, _ = run(capsys, "upgrade", folder, "--in-place", "--to", "1.0")

    assert code == 1
    assert "fine.json: downgraded production-history 1.1 -> 1.0" in out
    assert "3 files: 1 downgraded, 1 unchanged, 1 failed" in out
    assert "loses.json" in out and "--allow-loss" in out
    code, out, _ = run(capsys, "upgrade", folder / "old.json", "--in-place", "--to", "1.0")
    assert code == 0 and "1 file: 1 unchanged, 0 failed" in out


def test_find_non_json_accepts_exact_json_and_shared_subtrees() -> None:
    """Exact JSON passes, including one list shared by two places (not a cycle)."""
    shared = [Decimal("1.10"), 2, "é", None, True]
    assert find_non_json({"a": shared, "b": shared, "c": {"d": [[], {}]}}) is None
    assert find_non_json([[[[]]]] * 3) is None
    nested: Any = []
    for _ in range(250):
        nested = [nested]
    assert find_non_json(nested) is not None  # deeper than jsonio reads back


def test_step_source_in_failure_messages_has_no_traceback(
    capsys: pytest.CaptureFixture[str], make_family: FamilyMaker, folder: Path
) -> None:
    """A step that raises is a per-file failure naming the step, never a traceback."""
    family = make_family(
        {"1.0": simple_schema("1.0"), "2.0": simple_schema("2.0")},
        textwrap.dedent(
            """
            @upgrade("1.0", "2.0")
            def explode(doc):
                raise KeyError("production_status")
            """
        ),
        name="explosive",
    )
    (folder / "a.json").write_bytes(_document("x"))
    code, out, err = run(capsys, "upgrade", folder, "--in-place", "--family-path", family)
    assert code == 1 and "Traceback" not in out + err
    assert "explode" in out and "KeyError" in out


def test_import_takes_the_same_per_file_options(
    capsys: pytest.CaptureFixture[str], naughty: Path, folder: Path, tmp_path: Path
) -> None:
    """import: --exclude, --max-file-size and --step-timeout fail or skip single files."""
    (folder / "loops.json").write_bytes(_document("loop"))
    (folder / "fine.json").write_bytes(_document("fine"))
    (folder / "skipped.json").write_bytes(b"not even JSON")
    (folder / "large.json").write_bytes(_document(*[f"fine-{i}" for i in range(200)]))
    db = tmp_path / "store.db"

    code, out, err = run(
        capsys,
        "import",
        folder,
        "--db",
        db,
        "--family-path",
        naughty,
        "--exclude",
        "skipped.json",
        "--max-file-size",
        "2K",
        "--step-timeout",
        "0.5",
    )

    assert code == 1, err
    assert "fine.json: demo 1.0 via to_two (1.0 -> 2.0): 1 imported" in out
    assert "loops.json:1:1: $: step to_two (1.0 -> 2.0) failed at $: did not finish" in out
    assert "large.json:1:1: $: larger than the size cap of 2 KiB" in out
    assert "skipped.json" not in out
    assert "3 files: 1 imported, 2 failed" in out
    code, out, _ = run(capsys, "import", folder / "fine.json", "--db", db, "--family-path", naughty)
    assert code == 0
    assert "1 file: 0 imported, 1 unchanged (already imported or nothing new), 0 failed" in out
    code, out, _ = run(capsys, "import", folder / "empty", "--db", db)
    assert code == 1 and "cannot read the file" in out
    (folder / "empty").mkdir()
    code, out, _ = run(capsys, "import", folder / "empty", "--db", db)
    assert code == 1 and "no JSON files found under this folder" in out
