"""The command line for CI and archives: formats' plumbing, config, graph, bulk upgrades."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from test_cli import INVALID_11, VALID_10, VALID_11, run

from docmigrate import jsonio
from docmigrate.archive import read_manifest


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """Twelve files: nine 1.0, two 1.1 and one invalid, in two folders."""
    folder = tmp_path / "many"
    for index in range(9):
        (folder / f"y{index % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(VALID_10, folder / f"y{index % 2}" / f"old-{index}.json")
    shutil.copy(VALID_11, folder / "current-a.json")
    shutil.copy(VALID_11, folder / "current-b.json")
    shutil.copy(INVALID_11, folder / "broken.json")
    return folder


def test_require_current_fails_old_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    """--require-current: a valid 1.0 file fails with its version and the upgrade command."""
    code, out, _ = run(capsys, "validate", "--require-current", VALID_10, VALID_11)
    assert code == 1
    assert "valid production-history 1.0 document, but not at the current version 1.1" in out
    assert f"docmigrate upgrade {VALID_10} --in-place" in out
    assert str(VALID_11) not in out.split("\n")[0]


def test_validate_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-` validates one document from standard input."""
    data = INVALID_11.read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(capsys, "validate", "-")
    assert code == 1
    assert out.startswith("<stdin>:")


def test_pyproject_sets_format_and_exclusions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, many: Path, tmp_path: Path
) -> None:
    """[tool.docmigrate] format and exclude apply; a flag overrides the format."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.docmigrate]\nformat = "json"\nexclude = ["broken.json", "y1/*"]\n'
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "validate", "many")
    assert code == 0
    names = {Path(f["path"]).name for f in json.loads(out)["files"]}
    assert "broken.json" not in names and "old-1.json" not in names and "old-0.json" in names
    code, out, _ = run(capsys, "validate", "many", "--format", "text")
    assert out.strip().endswith(f"{len(names)} files, 0 invalid, 0 errors")


def test_pyproject_unknown_key_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A misspelt setting is a configuration error."""
    (tmp_path / "pyproject.toml").write_text('[tool.docmigrate]\nformats = "json"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "validate", VALID_10)
    assert code == 2
    assert "unknown key(s) in [tool.docmigrate]: formats" in err


def test_graph_mermaid_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    """`graph` prints versions, steps with function names, current highlighted."""
    code, out, _ = run(capsys, "graph", "production-history")
    assert code == 0
    assert 'v_1_1["1.1 (current)"]' in out
    assert "v_1_0 -->|add_loss_tracking| v_1_1" in out
    assert "v_1_1 -.->|drop_loss_tracking| v_1_0" in out
    code, out, _ = run(capsys, "graph", "production-history", "--format", "dot")
    assert '"1.0" -> "1.1" [label="add_loss_tracking"];' in out
    assert '"1.1" [label="1.1 (current)", style=bold, peripheries=2];' in out


def test_workers_give_the_same_report_in_the_same_order(
    capsys: pytest.CaptureFixture[str], many: Path, tmp_path: Path
) -> None:
    """--workers 1 and --workers 3 print identical reports and write identical files."""
    outputs = []
    for workers in ("1", "3"):
        target = tmp_path / f"out-{workers}"
        code, out, _ = run(capsys, "upgrade", many, "--out", target, "--workers", workers)
        assert code == 1
        outputs.append(out.replace(str(target), "OUT"))
    assert outputs[0] == outputs[1]
    assert sorted(p.read_bytes() for p in (tmp_path / "out-1").rglob("*.json")) == sorted(
        p.read_bytes() for p in (tmp_path / "out-3").rglob("*.json")
    )


def test_dry_run_exit_code_says_whether_changes_are_pending(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--dry-run exits 1 with pending changes and 0 once everything is current."""
    shutil.copy(VALID_10, tmp_path / "a.json")
    assert run(capsys, "upgrade", tmp_path, "--in-place", "--dry-run")[0] == 1
    assert run(capsys, "upgrade", tmp_path, "--in-place")[0] == 0
    assert run(capsys, "upgrade", tmp_path, "--in-place", "--dry-run")[0] == 0


def test_backup_keeps_originals_with_a_manifest(
    capsys: pytest.CaptureFixture[str], many: Path, tmp_path: Path
) -> None:
    """--backup DIR holds each replaced original; the manifest has sha256 before and after."""
    before = {p.relative_to(many): p.read_bytes() for p in many.rglob("old-*.json")}
    backup = tmp_path / "backup"
    run(capsys, "upgrade", many, "--in-place", "--backup", backup, "--workers", "2")
    manifest = read_manifest(backup)
    assert len(manifest) == len(before) == 9

    for entry in manifest:
        kept = Path(entry["backup"])
        relative = kept.relative_to(backup)
        assert kept.read_bytes() == before[relative]
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == entry["sha256_before"]
        assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256_after"]
    assert not (backup / "current-a.json").exists()


def test_diff_shows_the_added_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--diff prints a unified diff with the new 1.1 fields."""
    shutil.copy(VALID_10, tmp_path / "a.json")
    code, out, _ = run(capsys, "upgrade", tmp_path / "a.json", "--in-place", "--dry-run", "--diff")
    assert code == 1
    assert '-  "version": "1.0",' in out and '+  "version": "1.1",' in out
    assert '+      "production_status": "complete",' in out
    assert jsonio.load_path(tmp_path / "a.json").value["version"] == "1.0"


def test_fail_fast_stops_at_the_first_failure(
    capsys: pytest.CaptureFixture[str], many: Path
) -> None:
    """--fail-fast stops after the first failing file and says how many were not processed."""
    code, out, _ = run(capsys, "upgrade", many, "--in-place", "--fail-fast", "--workers", "1")
    assert code == 1
    assert "broken.json" in out
    assert "not processed (--fail-fast)" in out
    assert jsonio.load_path(many / "y0" / "old-0.json").value["version"] == "1.0"


def test_failures_are_listed_at_the_end(capsys: pytest.CaptureFixture[str], many: Path) -> None:
    """Without --fail-fast every file is processed and the summary lists each failure."""
    code, out, _ = run(capsys, "upgrade", many, "--in-place")
    assert code == 1
    tail = out[out.index("12 files: 9 upgraded, 2 unchanged, 1 failed") :]
    assert "failed:" in tail and "broken.json" in tail


def test_indent_and_ensure_ascii_override_the_layout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--indent 4 --ensure-ascii rewrite the layout; the data stays equal."""
    shutil.copy(VALID_10, tmp_path / "a.json")
    run(capsys, "upgrade", tmp_path / "a.json", "--in-place", "--indent", "4", "--ensure-ascii")
    text = (tmp_path / "a.json").read_text(encoding="utf-8")
    assert text.startswith('{\n    "version": "1.1"')
    assert text.isascii() and "\\u2014" in text


def test_leftover_temporary_files_are_removed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A temp file left by a killed run is removed by the next run, which says so."""
    shutil.copy(VALID_10, tmp_path / "a.json")
    leftover = tmp_path / ".a.json.x1y2.docmigrate-tmp"
    leftover.write_text('{"half": ')
    code, _, err = run(capsys, "upgrade", tmp_path, "--in-place")
    assert code == 0
    assert not leftover.exists()
    assert "left by an interrupted run" in err


def test_non_terminal_progress_lines(capsys: pytest.CaptureFixture[str], many: Path) -> None:
    """Off a terminal, a progress line every N files goes to stderr."""
    _, _, err = run(capsys, "upgrade", many, "--in-place", "--progress-every", "5")
    lines = [line for line in err.splitlines() if "files/s" in line]
    assert [line.split(",")[0] for line in lines] == ["5/12 files", "10/12 files", "12/12 files"]


def test_require_current_on_standard_input_names_no_stdin_upgrade(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a document on stdin, the hint asks to upgrade the file it came from."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(VALID_10.read_bytes())))
    code, out, _ = run(capsys, "validate", "--require-current", "-")
    assert code == 1
    assert "upgrade it with: docmigrate upgrade FILE --in-place" in out
