"""The command line: validate, upgrade and families, with exit codes and file safety."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HISTORY_DATA

from docmigrate import jsonio
from docmigrate.cli import main

VALID_10 = HISTORY_DATA / "1.0" / "valid" / "two-runs.json"
VALID_11 = HISTORY_DATA / "1.1" / "valid" / "with-losses.json"
INVALID_11 = HISTORY_DATA / "1.1" / "invalid" / "unknown-loss-category.json"


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run the command line in-process; return exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A folder with a 1.0, a 1.1 and an invalid file, plus a non-JSON file that is ignored."""
    folder = tmp_path / "archive"
    (folder / "old").mkdir(parents=True)
    shutil.copy(VALID_10, folder / "old" / "a.json")
    shutil.copy(VALID_11, folder / "b.json")
    shutil.copy(INVALID_11, folder / "c.json")
    (folder / "notes.txt").write_text("not a document")
    return folder


def test_validate_clean_files_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Valid files of both versions: exit 0 and a summary."""
    code, out, _ = run(capsys, "validate", VALID_10, VALID_11)
    assert code == 0
    assert out.strip().endswith("2 files, 0 invalid, 0 errors")


def test_validate_reports_file_line_col_path_message(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file gives `file:line:col: <json path>: message` and exit 1."""
    code, out, _ = run(capsys, "validate", INVALID_11)
    assert code == 1
    text = INVALID_11.read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if '"melted"' in t)
    column = text[line - 1].index('"melted"') + 1
    assert f"{INVALID_11}:{line}:{column}: $.production_runs[0].losses[0].loss_category: " in out
    assert '"melted" is not one of "burnt", "broken", "contaminated", "dropped",' in out


def test_validate_walks_folders_recursively(
    capsys: pytest.CaptureFixture[str], archive: Path
) -> None:
    """Folders are searched for *.json; each file is checked against its own version."""
    code, out, _ = run(capsys, "validate", "--format", "json", archive)
    assert code == 1
    report = json.loads(out)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert set(by_name) == {"a.json", "b.json", "c.json"}
    assert (by_name["a.json"]["version"], by_name["a.json"]["valid"]) == ("1.0", True)
    assert (by_name["b.json"]["version"], by_name["b.json"]["valid"]) == ("1.1", True)
    assert by_name["c.json"]["errors"][0]["keyword"] == "enum"
    assert report["summary"] == {"files": 3, "invalid": 1, "errors": 1}


def test_validate_malformed_json_points_at_the_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A syntax error is reported with its line and column, exit 1, no traceback."""
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "version": "1.1",\n  "production_runs": [,]\n}\n')
    code, out, err = run(capsys, "validate", broken)
    assert code == 1
    assert out.startswith(f"{broken}:3:")
    assert "Traceback" not in out + err


def test_validate_unknown_version_names_known_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A production-history file labelled 2.0 is refused with the known versions."""
    document = tmp_path / "future.json"
    document.write_text(
        '{"version": "2.0", "exported_at": "2025-12-21T12:00:00", "production_runs": []}'
    )
    code, out, _ = run(capsys, "validate", document)
    assert code == 1
    assert "'2.0' is not a known version (known: 1.0, 1.1)" in out


def test_validate_forced_family(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--family checks as that family even when detection would not match."""
    document = tmp_path / "x.json"
    document.write_text('{"version": "1.1"}')
    code, out, _ = run(capsys, "validate", "--family", "production-history", document)
    assert code == 1
    assert "production_runs" in out


def test_validate_unknown_family_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--family with a name that does not exist exits 2 listing the known families."""
    code, _, err = run(capsys, "validate", "--family", "nope", VALID_10)
    assert code == 2
    assert "no family named 'nope' (known: production-history" in err


def test_validate_missing_file_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An unreadable path is a per-file error (exit 1), not a crash."""
    code, out, _ = run(capsys, "validate", tmp_path / "missing.json")
    assert code == 1
    assert "cannot read the file" in out


def test_bad_family_path_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--family-path to a folder without families exits 2."""
    code, _, err = run(capsys, "validate", "--family-path", tmp_path, VALID_10)
    assert code == 2
    assert "no family.toml" in err


def test_upgrade_out_writes_upgraded_and_copies_current(
    capsys: pytest.CaptureFixture[str], archive: Path, tmp_path: Path
) -> None:
    """--out mirrors the folder: 1.0 upgraded, 1.1 copied as is, invalid reported, exit 1."""
    out_dir = tmp_path / "out"
    before = {p: p.read_bytes() for p in archive.rglob("*.json")}
    code, out, _ = run(capsys, "upgrade", archive, "--out", out_dir)
    assert code == 1
    assert {p: p.read_bytes() for p in archive.rglob("*.json")} == before
    upgraded = jsonio.load_path(out_dir / "old" / "a.json").value
    assert upgraded["version"] == "1.1"
    assert (out_dir / "b.json").read_bytes() == (archive / "b.json").read_bytes()
    assert not (out_dir / "c.json").exists()
    assert "upgraded production-history 1.0 -> 1.1" in out
    assert "3 files: 1 upgraded, 1 copied, 1 failed" in out


def test_upgrade_in_place_leaves_current_files_untouched(
    capsys: pytest.CaptureFixture[str], archive: Path
) -> None:
    """--in-place rewrites only what changes; current files keep bytes and mtime."""
    current = archive / "b.json"
    os.utime(current, (1_000_000, 1_000_000))
    old = archive / "old" / "a.json"
    os.chmod(old, 0o640)
    before = current.read_bytes()
    code, _, _ = run(capsys, "upgrade", archive, "--in-place")
    assert code == 1
    assert current.read_bytes() == before
    assert current.stat().st_mtime == 1_000_000
    assert jsonio.load_path(old).value["version"] == "1.1"
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert list(archive.rglob("*.docmigrate-tmp")) == []


def test_upgrade_dry_run_writes_nothing(capsys: pytest.CaptureFixture[str], archive: Path) -> None:
    """--dry-run says what would change and changes nothing."""
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    code, out, _ = run(capsys, "upgrade", archive, "--in-place", "--dry-run")
    assert code == 1
    assert "would upgrade production-history 1.0 -> 1.1" in out
    assert {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()} == before


def test_upgrade_requires_out_or_in_place(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither or both of --out/--in-place is a usage error (exit 2)."""
    code, _, err = run(capsys, "upgrade", VALID_10)
    assert code == 2
    assert "exactly one of --out DIR and --in-place" in err


def test_upgrade_to_older_version_refuses_loss(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Downgrading a file with losses is refused (exit 1) unless --allow-loss."""
    code, out, _ = run(capsys, "upgrade", VALID_11, "--to", "1.0", "--out", tmp_path / "o")
    assert code == 1
    assert "would drop data present at $.production_runs[0]" in out
    code, _, _ = run(
        capsys, "upgrade", VALID_11, "--to", "1.0", "--allow-loss", "--out", tmp_path / "o"
    )
    assert code == 0


def test_upgrade_write_failure_keeps_original(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the replace fails (e.g. disk full), the original is intact and the file is named."""
    target = tmp_path / "a.json"
    shutil.copy(VALID_10, target)
    before = target.read_bytes()

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    code, out, _ = run(capsys, "upgrade", target, "--in-place")
    assert code == 1
    assert f"{target}" in out and "No space left on device" in out
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_families_lists_versions_and_steps(capsys: pytest.CaptureFixture[str]) -> None:
    """`families` shows the built-in family, its versions, current and steps."""
    code, out, _ = run(capsys, "families")
    assert code == 0
    assert "production-history  (current 1.1)" in out
    assert "upgrade   1.0 -> 1.1: add_loss_tracking each /production_runs" in out
    assert "downgrade 1.1 -> 1.0: drop_loss_tracking" in out


def test_module_entry_point_runs(tmp_path: Path) -> None:
    """`python -m docmigrate` works and shows help."""
    done = subprocess.run(
        [sys.executable, "-m", "docmigrate", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "validate" in done.stdout and "upgrade" in done.stdout


def test_upgrade_keeps_the_file_layout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A compact file without final newline is written back compact, without one."""
    source = HISTORY_DATA / "1.0" / "valid" / "compact-exponent-free.json"
    code, _, _ = run(capsys, "upgrade", source, "--out", tmp_path)
    assert code == 0
    written = (tmp_path / source.name).read_text(encoding="utf-8")
    assert "\n" not in written
    assert '"per_unit_cost":"1.0416666"' in written
    assert written.startswith('{"version":"1.1","exported_at":')


def test_import_then_export_round_trip(
    capsys: pytest.CaptureFixture[str], archive: Path, tmp_path: Path
) -> None:
    """`import` a folder (a bare path means SQLite), then `export -o` a valid 1.1 document."""
    db = tmp_path / "history.db"
    code, out, _ = run(capsys, "import", archive, "--db", db)
    assert code == 1  # the invalid file is reported; the others are imported
    assert "b.json: production-history 1.1: 2 imported, 0 skipped" in out
    # a.json holds the same runs at 1.0: upgraded, recognised by uuid, skipped.
    assert (
        "a.json: production-history 1.0 via add_loss_tracking (1.0 -> 1.1): 0 imported, 2 sk" in out
    )
    # a.json brings nothing the store lacks: it changes nothing and is counted apart.
    assert "3 files: 1 imported, 1 unchanged (already imported or nothing new), 1 failed" in out
    code, out, _ = run(capsys, "import", archive / "old" / "a.json", "--db", db)
    assert (code, "0 imported, 2 skipped, 0 replaced" in out) == (0, True)
    exported = tmp_path / "export.json"
    code, _, err = run(
        capsys,
        "export",
        "--db",
        f"sqlite:///{db}",
        "--family",
        "production-history",
        "-o",
        exported,
    )
    assert code == 0 and "wrote" in err
    document = jsonio.load_path(exported).value
    assert document["version"] == "1.1"
    assert document["exported_at"].endswith("+00:00")
    code, out, _ = run(capsys, "validate", exported)
    assert code == 0


def test_import_duplicates_as_error_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--on-duplicate error fails a re-imported file with exit 1 and a clear message."""
    db = tmp_path / "h.db"
    assert run(capsys, "import", VALID_11, "--db", db)[0] == 0
    code, out, _ = run(capsys, "import", VALID_11, "--db", db, "--on-duplicate", "error")
    assert code == 1
    assert "nothing imported: 2 production-history record(s) already stored" in out


def test_export_of_unknown_family_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Exporting a family that does not exist is a usage error."""
    code, _, err = run(capsys, "export", "--db", tmp_path / "h.db", "--family", "nope")
    assert code == 2
    assert "no family named 'nope'" in err


def test_unusable_database_url_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A URL naming a driver that is not installed is a configuration error, not a traceback."""
    code, _, err = run(capsys, "import", VALID_11, "--db", "nosuchdb://x/y")
    assert code == 2
    assert "cannot use database nosuchdb://x/y" in err


def test_check_passes_a_sound_family(capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on the example family: every law ok, exit 0."""
    family = Path(__file__).parent.parent / "examples" / "families" / "recipe_book"
    code, out, _ = run(capsys, "check", "--family-path", family, "--examples", "10")
    assert code == 0, out
    assert "recipe-book (1, 2; current 2): loads, schemas and defaults valid" in out
    assert "ok    store round trip" in out
    assert "production-history" not in out
    assert out.strip().endswith("1 family(ies), 0 law(s) failed")


def test_check_reports_a_broken_step_with_an_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A step with invalid output fails `check` (exit 1) with the step and a minimal document."""
    family = tmp_path / "demo"
    family.mkdir()
    (family / "family.toml").write_text(
        'name = "demo"\nversion_pointer = "/v"\n[detect]\nrequired = ["/n"]\n'
    )
    for version, minimum in (("1", 0), ("2", 1)):
        schema = {
            "type": "object",
            "required": ["v", "n"],
            "additionalProperties": False,
            "properties": {"v": {"const": version}, "n": {"type": "integer", "minimum": minimum}},
        }
        (family / f"{version}.schema.json").write_text(json.dumps(schema))
    (family / "steps.py").write_text(
        "from docmigrate import upgrade\n\n@upgrade('1', '2')\ndef keep(doc):\n    return doc\n"
    )
    code, out, _ = run(capsys, "check", "--family-path", family, "--examples", "50", "--no-store")
    assert code == 1
    assert "FAIL  steps produce valid output: step keep (1 -> 2) broke" in out
    assert "Failing test case" in out or "Falsifying example" in out
    assert "'n': 0" in out


def test_check_reports_a_family_that_does_not_load(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A family whose default breaks its own schema fails `check` with the reason."""
    family = tmp_path / "bad"
    family.mkdir()
    (family / "family.toml").write_text('name = "bad"\n')
    (family / "1.schema.json").write_text('{"type": "integer", "minimum": 1, "default": 0}')
    code, out, _ = run(capsys, "check", "--family-path", family)
    assert code == 1
    assert "FAIL  loading: family 'bad'" in out and "is rejected by its own schema" in out


def runs_with_bad_batches(source: Path, count: int, target: Path) -> Path:
    """Write ``source`` with ``count`` copies of its last run, each with num_batches "x<i>"."""
    document = jsonio.load_path(source).value
    assert isinstance(document, dict) and isinstance(document["production_runs"], list)
    template = document["production_runs"][-1]
    assert isinstance(template, dict)
    document["production_runs"] = [
        {**template, "uuid": f"run-{i}", "num_batches": f"x{i}"} for i in range(count)
    ]
    target.write_bytes(jsonio.dump_bytes(document, indent=2))
    return target


def assert_each_error_at_its_value(text: str, errors: list[dict[str, object]]) -> None:
    """Each error on num_batches of run i is placed where that run's "x<i>" starts."""
    lines = text.splitlines()
    for error in errors:
        index = str(error["json_path"]).removeprefix("$.production_runs[").split("]")[0]
        line, column = int(str(error["line"])), int(str(error["column"]))
        assert lines[line - 1][column - 1 :].startswith(f'"x{index}"'), error


def test_validate_places_every_one_of_many_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Hundreds of schema errors are each placed at their own value in the json report."""
    document = runs_with_bad_batches(VALID_11, 300, tmp_path / "many.json")
    code, out, _ = run(capsys, "validate", "--format", "json", document)
    assert code == 1
    (file,) = json.loads(out)["files"]
    assert len(file["errors"]) == 300
    assert {e["json_path"] for e in file["errors"]} == {
        f"$.production_runs[{i}].num_batches" for i in range(300)
    }
    assert_each_error_at_its_value(document.read_text(encoding="utf-8"), file["errors"])


def test_validate_text_shows_the_first_hundred_errors_of_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Text: 100 errors of a file, then `… and N more errors in this file`, then full counts."""
    document = runs_with_bad_batches(VALID_11, 130, tmp_path / "many.json")
    code, out, _ = run(capsys, "validate", document, VALID_10)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 100 + 2
    assert all(line.startswith(f"{document}:") for line in lines[:100])
    assert lines[100] == f"{document}: … and 30 more errors in this file"
    assert lines[101] == "2 files, 1 invalid, 130 errors"


def test_upgrade_places_every_error_of_an_invalid_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """upgrade: a 1.0 file with many errors is refused with each error placed at its value."""
    document = runs_with_bad_batches(VALID_10, 120, tmp_path / "many.json")
    code, out, _ = run(capsys, "upgrade", "--dry-run", "--in-place", "--format", "json", document)
    assert code == 1
    (file,) = json.loads(out)["files"]
    assert len(file["problems"]) == 120
    assert_each_error_at_its_value(document.read_text(encoding="utf-8"), file["problems"])
