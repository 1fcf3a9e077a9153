"""Upgrade safety: backups never lost, outputs never inside inputs, links and owners kept.

Regression tests for the data-loss items of the adversarial review (issue #9, items 1-4 and 6).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli import INVALID_11, VALID_10, VALID_11, run

from docmigrate import jsonio
from docmigrate.archive import read_manifest
from docmigrate.files import JOURNAL_SUFFIX, TEMP_SUFFIX, remove_leftovers, write_atomic

UPGRADED_10 = VALID_10.parent.parent.parent / "1.1" / "valid"


def _upgraded_bytes(path: Path) -> bytes:
    """What `upgrade --in-place` writes for the 1.0 file at ``path`` (computed independently)."""
    out = path.parent / f"expected-{path.name}"
    done = subprocess.run(
        [sys.executable, "-m", "docmigrate", "upgrade", str(path), "--out", str(out)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = (out / path.name).read_bytes()
    shutil.rmtree(out)
    return data


def _other_10(path: Path) -> None:
    """Write a 1.0 document at ``path`` that differs from VALID_10."""
    document = jsonio.load_path(VALID_10).value
    document["production_runs"][0]["notes"] = "a different original"
    path.write_bytes(jsonio.dump_bytes(document))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- item 1: backups ---------------------------------------------------------------------------


def test_same_named_files_in_two_folders_keep_both_backups(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a/x.json and b/x.json are backed up as bk/a/x.json and bk/b/x.json, both listed."""
    monkeypatch.chdir(tmp_path)
    for folder in ("a", "b"):
        Path(folder).mkdir()
    shutil.copy(VALID_10, "a/x.json")
    _other_10(Path("b/x.json"))
    originals = {name: Path(name).read_bytes() for name in ("a/x.json", "b/x.json")}

    code, _, _ = run(capsys, "upgrade", "a/x.json", "b/x.json", "--in-place", "--backup", "bk")

    assert code == 0
    assert Path("bk/a/x.json").read_bytes() == originals["a/x.json"]
    assert Path("bk/b/x.json").read_bytes() == originals["b/x.json"]
    entries = read_manifest(Path("bk"))
    assert sorted(e["path"] for e in entries) == ["a/x.json", "b/x.json"]
    for entry in entries:
        assert _sha(Path(entry["backup"])) == entry["sha256_before"]
        assert _sha(Path(entry["path"])) == entry["sha256_after"]


def test_a_second_run_never_overwrites_an_earlier_backup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Run 2 with the same --backup keeps run 1's original and stores its own as x.json.~1~."""
    data, backup = tmp_path / "data", tmp_path / "bk"
    data.mkdir()
    shutil.copy(VALID_10, data / "x.json")
    first = (data / "x.json").read_bytes()
    assert run(capsys, "upgrade", data / "x.json", "--in-place", "--backup", backup)[0] == 0
    _other_10(data / "x.json")  # the file is replaced by another 1.0 export
    second = (data / "x.json").read_bytes()

    assert run(capsys, "upgrade", data / "x.json", "--in-place", "--backup", backup)[0] == 0

    assert (backup / "x.json").read_bytes() == first
    assert (backup / "x.json.~1~").read_bytes() == second
    entries = read_manifest(backup)
    assert [Path(e["backup"]).name for e in entries] == ["x.json", "x.json.~1~"]
    assert all(_sha(Path(e["backup"])) == e["sha256_before"] for e in entries)


def test_a_damaged_manifest_is_kept_and_appended_to(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A manifest cut short by a crash is never rewritten: new lines follow it, readers skip it."""
    data, backup = tmp_path / "data", tmp_path / "bk"
    data.mkdir()
    backup.mkdir()
    shutil.copy(VALID_10, data / "x.json")
    damaged = b'{"path": "old.json", "backup": "old.json"}\n{"path": "cut sh'
    (backup / "docmigrate-backup-manifest.jsonl").write_bytes(damaged)

    code, _, err = run(capsys, "upgrade", data, "--in-place", "--backup", backup)

    assert code == 0, err
    text = (backup / "docmigrate-backup-manifest.jsonl").read_bytes()
    assert text.startswith(damaged + b"\n")
    assert [e["path"] for e in read_manifest(backup)] == ["old.json", str(data / "x.json")]


def test_a_failed_write_leaves_no_backup_behind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the upgraded file cannot be written, its backup is removed and not listed."""
    data, backup = tmp_path / "data", tmp_path / "bk"
    data.mkdir()
    shutil.copy(VALID_10, data / "x.json")
    real_replace = os.replace
    fired = []

    def failing_replace(source: str, target: str) -> None:
        if os.fspath(target).endswith("x.json") and os.fspath(source).endswith(TEMP_SUFFIX):
            fired.append(target)
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    code, out, _ = run(capsys, "upgrade", data, "--in-place", "--backup", backup, "--workers", "1")

    assert fired and code == 1
    assert "No space left on device" in out
    assert (data / "x.json").read_bytes() == VALID_10.read_bytes()
    assert [p.name for p in backup.iterdir()] == ["docmigrate-backup-manifest.jsonl"]
    assert read_manifest(backup) == []


# --- item 3: outputs overlapping inputs --------------------------------------------------------


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A folder `in/` with a 1.0 file and a 1.1 file in a sub-folder."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(VALID_10, folder / "f.json")
    shutil.copy(VALID_11, folder / "sub" / "g.json")
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "arguments",
    [
        ("{in}/f.json", "--out", "{in}"),  # would rewrite f.json in place
        ("{in}", "--out", "{in}/out"),  # nests one level per run
        ("{in}", "--out", "{in}/sub/../out"),  # the same, through ..
        ("{in}", "--out", "{link}/out"),  # the same, through a symbolic link
        ("{in}", "--out", "{in}"),
        ("{in}", "--in-place", "--backup", "{in}/bk"),  # backups upgraded by the next run
        ("{in}/f.json", "--in-place", "--backup", "{in}"),  # an input inside the backup folder
        ("{in}/sub", "{in}/f.json", "--in-place", "--backup", "{link}/sub/x"),
    ],
    ids=["file-out-dot", "out-inside", "out-dotdot", "out-symlink", "out-same", "backup-inside",
         "input-inside-backup", "backup-symlink"],
)  # fmt: skip
def test_outputs_overlapping_inputs_are_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str], inputs: Path, tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    """Any --out/--backup on or inside an input (through .. and symlinks too): exit 2, no write."""
    (tmp_path / "link").symlink_to(inputs)
    before = _tree(tmp_path)
    argv = [a.format(**{"in": inputs, "link": tmp_path / "link"}) for a in arguments]

    code, out, err = run(capsys, "upgrade", *argv)

    assert code == 2, (out, err)
    assert "docmigrate: error:" in err and "Traceback" not in err
    assert _tree(tmp_path) == before


def test_backup_folders_are_never_read_as_input(
    capsys: pytest.CaptureFixture[str], inputs: Path, tmp_path: Path
) -> None:
    """A folder holding a backup manifest is skipped under a folder and refused as an argument."""
    backup = tmp_path / "bk"
    assert run(capsys, "upgrade", inputs, "--in-place", "--backup", backup)[0] == 0
    assert (backup / "f.json").read_bytes() == VALID_10.read_bytes()  # a 1.0 file in the backup

    code, out, _ = run(capsys, "upgrade", tmp_path, "--in-place", "--dry-run")
    assert code == 0, out  # everything outside the backup folder is current
    assert str(backup) not in out
    code, out, _ = run(capsys, "validate", tmp_path, "--require-current")
    assert code == 0 and str(backup) not in out

    code, _, err = run(capsys, "upgrade", backup, "--in-place")
    assert code == 2 and "backup folder" in err
    assert (backup / "f.json").read_bytes() == VALID_10.read_bytes()


# --- item 4: symbolic links, hard links, owners ------------------------------------------------


def test_in_place_writes_through_a_symlink(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The link stays a link; its target gets the upgraded content."""
    real = tmp_path / "real" / "x.json"
    real.parent.mkdir()
    shutil.copy(VALID_10, real)
    expected = _upgraded_bytes(real)
    link = tmp_path / "x.json"
    link.symlink_to(real)

    code, _, _ = run(capsys, "upgrade", link, "--in-place")

    assert code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == expected
    assert not list(real.parent.glob(f"*{TEMP_SUFFIX}"))


def test_in_place_keeps_hard_links(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Both names of a hard-linked file see the upgrade; it stays one file with its mode."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    shutil.copy(VALID_10, first)
    expected = _upgraded_bytes(first)
    os.link(first, second)
    os.chmod(first, 0o640)
    inode = first.stat().st_ino

    code, _, _ = run(capsys, "upgrade", first, "--in-place")

    assert code == 0
    assert first.stat().st_ino == second.stat().st_ino == inode
    assert first.stat().st_nlink == 2
    assert second.read_bytes() == expected
    assert first.stat().st_mode & 0o777 == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another owner")
def test_in_place_keeps_owner_and_group_when_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Run as root, an upgraded file keeps its owner and group (not root's)."""
    path = tmp_path / "x.json"
    shutil.copy(VALID_10, path)
    os.chown(path, 4321, 8765)
    os.chmod(path, 0o640)

    code, _, _ = run(capsys, "upgrade", path, "--in-place")

    assert code == 0
    assert jsonio.load_path(path).value["version"] == "1.1"
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 8765)
    assert path.stat().st_mode & 0o777 == 0o640


KILL_MID_REWRITE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from docmigrate import files

    def half_then_die(target, source):
        data = Path(source).read_bytes()
        with open(target, "r+b") as stream:
            stream.write(data[: len(data) // 2])
            stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    files._overwrite = half_then_die
    files.write_atomic(Path(sys.argv[1]), Path(sys.argv[2]).read_bytes())
    """
)


def test_a_kill_while_rewriting_a_hard_linked_file_is_undone_by_the_next_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Killed mid-rewrite, the journal keeps the original; the next run puts it back, upgrades."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    shutil.copy(VALID_10, first)
    original = first.read_bytes()
    expected = _upgraded_bytes(first)
    os.link(first, second)
    new = tmp_path / "new.bin"
    new.write_bytes(expected)

    killed = subprocess.run(
        [sys.executable, "-c", KILL_MID_REWRITE, str(first), str(new)], check=False
    )

    assert killed.returncode == -signal.SIGKILL
    assert first.read_bytes() not in (original, expected)  # the crash really left a mix
    journals = list(tmp_path.glob(f".a.json.*{JOURNAL_SUFFIX}"))
    assert len(journals) == 1 and journals[0].read_bytes() == original

    code, _, err = run(capsys, "upgrade", first, "--in-place")

    assert code == 0
    assert "put back the original kept in" in err
    assert second.read_bytes() == expected and first.stat().st_ino == second.stat().st_ino
    assert not list(tmp_path.glob(f".*{JOURNAL_SUFFIX}"))


# --- item 6: concurrent runs -------------------------------------------------------------------


def test_leftovers_of_a_live_run_are_left_alone(tmp_path: Path) -> None:
    """A temporary file or journal locked by a live process is not touched; once free, it is."""
    target = tmp_path / "a.json"
    target.write_bytes(b"current")
    temporary = tmp_path / f".a.json.abcd1234{TEMP_SUFFIX}"
    journal = tmp_path / f".a.json.efgh5678{JOURNAL_SUFFIX}"
    temporary.write_bytes(b"half")
    journal.write_bytes(b"original")
    holders = [os.open(p, os.O_RDONLY) for p in (temporary, journal)]
    for descriptor in holders:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # what a live writer holds

    assert remove_leftovers([tmp_path]) == []
    assert temporary.exists() and journal.exists() and target.read_bytes() == b"current"

    for descriptor in holders:
        os.close(descriptor)  # the writer is gone
    done = {(p.path.name, p.action) for p in remove_leftovers([tmp_path])}

    assert done == {(temporary.name, "removed"), (journal.name, "restored")}
    assert target.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_two_concurrent_in_place_runs_both_finish_with_correct_files(tmp_path: Path) -> None:
    """Two `upgrade --in-place` on one folder at once: both exit 0, every file upgraded exactly."""
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(VALID_10, tmp_path / "model.json")
    expected = _upgraded_bytes(tmp_path / "model.json")
    for index in range(60):
        shutil.copy(VALID_10, folder / f"f{index:02}.json")
    command = [sys.executable, "-m", "docmigrate", "upgrade", str(folder), "--in-place"]

    runs = [
        subprocess.Popen([*command, "--workers", workers], stdout=subprocess.PIPE, text=True)
        for workers in ("1", "2")
    ]
    outputs = [process.communicate(timeout=300)[0] for process in runs]

    failures = [out[out.find("failed:") :] for out in outputs if "failed:" in out]
    assert [process.returncode for process in runs] == [0, 0], failures
    assert all((folder / f"f{i:02}.json").read_bytes() == expected for i in range(60))
    assert sorted(p.name for p in folder.iterdir()) == [f"f{i:02}.json" for i in range(60)]


def test_write_atomic_keeps_the_file_when_the_folder_is_read_only_for_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that cannot even start (no temporary file) leaves the destination as it was."""
    path = tmp_path / "x.json"
    path.write_bytes(b"{}")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(Exception, match="the file that was there is unchanged"):
        write_atomic(path, b"[]")
    assert path.read_bytes() == b"{}"


def test_invalid_files_are_never_backed_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Only files that are replaced get a backup and a manifest line."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(INVALID_11, data / "bad.json")
    shutil.copy(VALID_11, data / "current.json")
    code, _, _ = run(capsys, "upgrade", data, "--in-place", "--backup", tmp_path / "bk")
    assert code == 1
    assert read_manifest(tmp_path / "bk") == []
    assert json.loads((data / "current.json").read_text())["version"] == "1.1"


def test_leftovers_beside_a_symlinked_files_target_are_cleaned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Temporary files are made beside a link's target, so that is where cleanup looks."""
    real = tmp_path / "real" / "x.json"
    real.parent.mkdir()
    shutil.copy(VALID_10, real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    planted = real.parent / f".x.json.abcd1234{TEMP_SUFFIX}"
    planted.write_bytes(b'{"half')

    code, _, err = run(capsys, "upgrade", link, "--in-place")

    assert code == 0
    assert f"removed {planted}" in err
    assert not planted.exists()
