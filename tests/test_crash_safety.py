"""Crash safety of `upgrade --in-place`: SIGKILL at random moments, injected I/O faults, modes.

The SIGKILL harness runs 200 trials with the default worker pool and 30 in-process
(``--workers 1``) in the ``ci`` profile, 12 and 6 in the default ``dev`` profile. Kill moments
are spread evenly over a full run (the last few aimed at the writes while no kill has landed
among them), so that kills land before, during and after the writes. After each kill every
file must be its original or its upgraded bytes, and the next run must finish the job and
remove leftover temporary files. Fault injection covers write, fsync, replace and temp-file
creation failing with ENOSPC, EIO, EACCES and EROFS.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import HISTORY_DATA, PROFILE, by_profile

import docmigrate
from docmigrate import Registry, iter_errors, jsonio
from docmigrate.cli import main

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))

from bench import generate

SRC = Path(docmigrate.__file__).parent.parent  # what the children import: this same package
TEMP_SUFFIX = ".docmigrate-tmp"
FILES = 200
TRIALS = by_profile(dev=12, ci=200)
WORKER_TRIALS = by_profile(dev=6, ci=30)
RERUN_BATCH = 10
BEFORE, MIDWAY, AFTER = "killed before any write", "midway", "after completion"
# Kill moments span a fifth more than the measured full run: a trial may run a little faster
# or slower than that run, and some kills must still land after the last write.
KILL_SPAN = 1.2
# The last trials aim at a landing the profile requires and no trial has produced yet: the
# time a run takes varies (start-up jitter, other processes on the machine), and a dozen
# trials, or thirty, could all miss the writes or the end of the run.
AIMED_TRIALS = 3
SEED = 20240611
MODES = {1: 0o640, 2: 0o600, 3: 0o664}  # by index % 4; the others 0o644
TWO_RUNS_10 = HISTORY_DATA / "1.0" / "valid" / "two-runs.json"

REGISTRY = Registry.discover(entry_points=False)


# --- helpers -----------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    """The environment of a `python -m docmigrate` child that imports this checkout."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(SRC) + (os.pathsep + path if path else "")}


def _command(folders: Sequence[Path], workers: int | None) -> list[str]:
    """`python -m docmigrate upgrade FOLDER... --in-place [--workers N]`."""
    extra = [] if workers is None else ["--workers", str(workers)]
    paths = [str(folder) for folder in folders]
    return [sys.executable, "-m", "docmigrate", "upgrade", *paths, "--in-place", *extra]


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files of atomic writes anywhere under ``folder``."""
    return sorted(p for p in folder.rglob(f"*{TEMP_SUFFIX}") if p.name.startswith("."))


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and permission bits of every document file under ``folder``, by relative path."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*.json"))
    }


def _validation_problems(path: Path) -> list[str]:
    """Why ``path`` does not parse or is not valid against its own version (empty: it is)."""
    try:
        document = jsonio.load_path(path).value
        family = REGISTRY.detect(document)
        version = family.version_of(document)
    except Exception as error:  # any failure to read, detect or tell the version is a finding
        return [f"{path.name}: {type(error).__name__}: {error}"]
    return [f"{path.name}: {error.message}" for error in iter_errors(document, family, version)]


def _version(path: Path) -> str:
    """The version ``path`` says it is at."""
    document = jsonio.load_path(path).value
    return REGISTRY.detect(document).version_of(document)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child and every worker it started, and wait until none of them runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.005)


def _run_to_completion(folders: Sequence[Path], workers: int | None) -> tuple[float, int, str]:
    """Run the upgrade on ``folders`` uninterrupted; return seconds, exit code and output."""
    started = time.perf_counter()
    done = subprocess.run(
        _command(folders, workers),
        env=_env(),
        cwd=folders[0].parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def _write_template(folder: Path) -> None:
    """Write the trial folder: 200 files of 1.0 (some 1.1), sizes 1..40 runs, mixed modes."""
    folder.mkdir()
    sources = sorted((HISTORY_DATA / "1.0" / "valid").glob("*.json"))
    sources += sorted((HISTORY_DATA / "1.1" / "valid").glob("*.json"))
    for i, source in enumerate(sources):
        shutil.copyfile(source, folder / f"{i:03d}-{source.name}")
    for i in range(len(sources), FILES):
        version = "1.1" if i % 20 == 7 else "1.0"
        text = json.dumps(generate(1 + (i * 7) % 40, version), indent=2)
        (folder / f"{i:03d}-generated-{version}.json").write_text(text, encoding="utf-8")
    for i, path in enumerate(sorted(folder.glob("*.json"))):
        os.chmod(path, MODES.get(i % 4, 0o644))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 200-file folder every trial starts from (copied, never modified)."""
    folder = tmp_path_factory.mktemp("crash") / "template"
    _write_template(folder)
    return folder


@pytest.fixture(scope="module")
def upgraded(template: Path) -> tuple[float, dict[str, tuple[bytes, int]]]:
    """Seconds a full default run takes, and every file's bytes and mode after it."""
    folder = template.parent / "expected"
    shutil.copytree(template, folder)
    seconds, code, output = _run_to_completion([folder], None)
    assert code == 0, f"exit {code}:\n{output[-3000:]}"
    return seconds, _snapshot(folder)


def _classify(data: bytes, before: bytes, after: bytes) -> str:
    """Name what a file holds: its original bytes, its upgraded bytes, or how it is broken."""
    if data == before:
        return "original"
    if data == after:
        return "upgraded"
    if not data:
        return "empty"
    if before.startswith(data) or after.startswith(data):
        return "truncated"
    return "mixed"


def _check_killed_folder(
    folder: Path,
    original: dict[str, tuple[bytes, int]],
    expected: dict[str, tuple[bytes, int]],
    valid: dict[bytes, list[str]],
) -> tuple[str, list[str]]:
    """Check every file after a kill; return the trial's outcome and the problems found."""
    problems: list[str] = []
    now = _snapshot(folder)
    if now.keys() != original.keys():
        problems.append(
            f"files differ: missing {original.keys() - now.keys()}, "
            f"extra {now.keys() - original.keys()}"
        )
    states = collections.Counter()
    for name, (before, mode) in original.items():
        if name not in now:
            continue
        data, now_mode = now[name]
        after = expected[name][0]
        state = _classify(data, before, after)
        if before != after:
            states[state] += 1
        if state not in ("original", "upgraded"):
            problems.append(f"{name}: {state} ({len(data)} bytes)")
        if now_mode != mode:
            problems.append(f"{name}: mode {now_mode:o}, was {mode:o}")
        if state not in ("original", "upgraded"):
            problems += _validation_problems(folder / name)
        else:  # the check depends on the bytes only: once per distinct good content
            if data not in valid:
                valid[data] = _validation_problems(folder / name)
            problems += valid[data]
    changing = sum(before != expected[name][0] for name, (before, _) in original.items())
    if states["original"] == changing:
        outcome = BEFORE
    elif states["upgraded"] == changing:
        outcome = AFTER
    else:
        outcome = MIDWAY
    return outcome, problems


def _kill_moments(rng: random.Random, trials: int, full_seconds: float) -> list[float]:
    """One random moment in each of ``trials`` equal slices of a full run, in random order.

    Stratified rather than uniform, so that even a dozen trials reach the start-up, the writes
    and the end of the run.
    """
    span = full_seconds * KILL_SPAN
    moments = [span * (slot + rng.random()) / trials for slot in range(trials)]
    rng.shuffle(moments)
    return moments


def _landings_missing(landed: dict[str, list[float]], profile: str) -> list[str]:
    """The kinds of kill landing the profile requires (all in ci, midway in dev) not seen yet."""
    required = [BEFORE, MIDWAY, AFTER] if profile == "ci" else [MIDWAY]
    return [kind for kind in required if not landed[kind]]


def _aim(planned: float, landed: dict[str, list[float]], trials_left: int, profile: str) -> float:
    """The next kill moment: ``planned``, or in the last trials one aimed at a missing landing.

    ``landed`` holds the moments of the kills so far by where they landed. Before any write:
    at once. After completion: twice the latest moment tried. Midway: halfway between the
    latest kill that came too early and the earliest that came too late.
    """
    missing = _landings_missing(landed, profile)
    tried = [moment for moments in landed.values() for moment in moments]
    if trials_left > AIMED_TRIALS or not missing or not tried:
        return planned
    if missing[0] == BEFORE:
        return 0.0
    if missing[0] == AFTER:
        return 2 * max(tried)
    early = max(landed[BEFORE], default=0.0)
    return (early + min(landed[AFTER], default=2 * early)) / 2


# --- SIGKILL harness ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workers", "trials"),
    [(None, TRIALS), (1, WORKER_TRIALS)],
    ids=["default (one worker per CPU)", "workers-1 (in-process)"],
)
def test_sigkill_at_random_moments_leaves_every_file_old_or_new(
    template: Path,
    upgraded: tuple[float, dict[str, tuple[bytes, int]]],
    tmp_path: Path,
    workers: int | None,
    trials: int,
) -> None:
    """SIGKILL at a random moment leaves each file old or new, valid, same mode; a rerun ends it."""
    started = time.perf_counter()
    original = _snapshot(template)
    serial_seconds, expected = upgraded
    full_seconds = serial_seconds
    if workers is not None:
        copy = tmp_path / "expected"
        shutil.copytree(template, copy)
        full_seconds, code, output = _run_to_completion([copy], workers)
        assert code == 0, f"exit {code}:\n{output[-3000:]}"
        assert _snapshot(copy) == expected, f"--workers {workers} writes other bytes or modes"
    changing = {name for name, (data, _) in original.items() if data != expected[name][0]}
    old = {name for name in original if _version(template / name) == "1.0"}
    assert changing == old, "every 1.0 file changes, every 1.1 file stays"
    assert len(old) > FILES * 3 // 4
    rng = random.Random(SEED if workers is None else SEED + workers)
    problems: list[str] = []
    leftover_trials = 0
    leftovers_after_rerun: list[str] = []
    valid: dict[bytes, list[str]] = {}
    batch: list[tuple[int, Path]] = []
    landed: dict[str, list[float]] = {BEFORE: [], MIDWAY: [], AFTER: []}
    for trial, planned in enumerate(_kill_moments(rng, trials, full_seconds)):
        delay = _aim(planned, landed, trials - trial, PROFILE)
        folder = tmp_path / f"trial-{trial:03d}"
        shutil.copytree(template, folder)
        launched = time.perf_counter()
        process = subprocess.Popen(
            _command([folder], workers),
            env=_env(),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(max(0.0, launched + delay - time.perf_counter()))
        _kill_group(process)
        outcome, found = _check_killed_folder(folder, original, expected, valid)
        landed[outcome].append(delay)
        problems += [f"trial {trial} (kill at {delay:.3f}s): {p}" for p in found]
        leftover_trials += bool(_leftovers(folder))
        batch.append((trial, folder))
        if len(batch) == RERUN_BATCH or trial == trials - 1:
            # The second run: one uninterrupted process over several killed folders, so that
            # interpreter start-up is paid once per batch, not once per trial.
            _, code, output = _run_to_completion([f for _, f in batch], workers)
            if code != 0:
                failed = [line for line in output.splitlines() if ": $:" in line or "rror" in line]
                problems.append(
                    f"trials {batch[0][0]}-{batch[-1][0]}: the second run exited "
                    f"{code}: " + " | ".join(failed[:5])
                )
            for done, rerun in batch:
                if _snapshot(rerun) != expected:
                    problems.append(f"trial {done}: the second run left some file not upgraded")
                leftovers_after_rerun += [f"trial {done}: {p.name}" for p in _leftovers(rerun)]
                shutil.rmtree(rerun)
            batch = []

    elapsed = time.perf_counter() - started
    summary = (
        f"{trials} trials of {FILES} files, workers={workers}, full run {full_seconds:.3f}s, "
        f"harness {elapsed:.1f}s ({elapsed / trials:.3f}s/trial); outcomes: "
        + ", ".join(f"{kind}: {len(moments)}" for kind, moments in landed.items())
        + f"; trials leaving a temp file after the kill: {leftover_trials}"
    )
    print(summary)
    assert not problems, summary + "\n" + "\n".join(problems[:30])
    missing = _landings_missing(landed, PROFILE)
    assert not missing, f"{summary}\nno kill landed {' or '.join(missing)} ({PROFILE} profile)"
    assert not leftovers_after_rerun, (
        summary + "\nthe next run did not remove the leftover temp files (needs leftover "
        "cleanup):\n" + "\n".join(leftovers_after_rerun[:30])
    )


def test_kill_moments_reach_every_slice_of_a_run() -> None:
    """Twelve kill moments fall one in each twelfth of the span, the last past the full run."""
    moments = sorted(_kill_moments(random.Random(SEED), 12, full_seconds=2.0))
    span = 2.0 * KILL_SPAN

    assert [int(moment / span * 12) for moment in moments] == list(range(12))
    assert moments[-1] > 2.0


def test_last_trials_aim_at_the_landings_still_missing() -> None:
    """In the last trials a missing landing is aimed at: at once, late, or between the two."""
    early_and_late: dict[str, list[float]] = {BEFORE: [0.1, 0.3], MIDWAY: [], AFTER: [0.9, 0.7]}
    only_midway: dict[str, list[float]] = {BEFORE: [], MIDWAY: [0.4, 0.6], AFTER: []}
    only_early: dict[str, list[float]] = {BEFORE: [0.1, 0.3], MIDWAY: [], AFTER: []}

    assert _aim(0.05, early_and_late, AIMED_TRIALS + 1, "dev") == 0.05
    assert _aim(0.05, early_and_late, AIMED_TRIALS, "dev") == pytest.approx(0.5)
    assert _aim(0.05, early_and_late, 1, "ci") == pytest.approx(0.5)
    assert _aim(0.05, only_early, 1, "dev") == pytest.approx(0.45)
    assert _aim(0.05, only_midway, 1, "dev") == 0.05
    assert _aim(0.05, only_midway, 1, "ci") == 0.0
    assert _aim(0.05, {**only_midway, BEFORE: [0.2]}, 1, "ci") == pytest.approx(1.2)
    assert _aim(0.05, {BEFORE: [], MIDWAY: [], AFTER: []}, 1, "ci") == 0.05


def test_required_kill_landings_per_profile() -> None:
    """The ci profile needs kills before, during and after the writes; dev, some during them."""
    only_before_and_after: dict[str, list[float]] = {BEFORE: [0.1], MIDWAY: [], AFTER: [0.9]}
    only_midway: dict[str, list[float]] = {BEFORE: [], MIDWAY: [0.5], AFTER: []}
    everywhere: dict[str, list[float]] = {BEFORE: [0.1], MIDWAY: [0.5], AFTER: [0.9]}

    assert _landings_missing(only_before_and_after, "dev") == [MIDWAY]
    assert _landings_missing(only_midway, "dev") == []
    assert _landings_missing(only_midway, "ci") == [BEFORE, AFTER]
    assert _landings_missing(everywhere, "ci") == []


# --- leftover cleanup --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workers", "with_work"),
    [(None, True), (None, False), (2, True)],
    ids=["default", "nothing-to-upgrade", "workers-2"],
)
def test_next_run_removes_leftover_temp_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: int | None, with_work: bool
) -> None:
    """Upgrade deletes `.*.docmigrate-tmp` in the folders it processes, and nothing else."""
    folder = tmp_path / "archive"
    (folder / "sub").mkdir(parents=True)
    version = "1.0" if with_work else "1.1"
    for name in ("a.json", "b.json", "sub/c.json"):
        (folder / name).write_text(json.dumps(generate(3, version), indent=2), encoding="utf-8")
    planted = [
        folder / f".a.json.k3j9x_1q{TEMP_SUFFIX}",
        folder / f".gone.json.0zz8a1b2{TEMP_SUFFIX}",
        folder / "sub" / f".c.json.p0q1r2s3{TEMP_SUFFIX}",
    ]
    for leftover in planted:
        leftover.write_bytes(b'{"exported_at": "2025-')  # what a killed write leaves
    kept = [folder / "notes.txt", folder / ".keep", folder / "sub" / ".c.json.bak"]
    for path in kept:
        path.write_text("the user's own file", encoding="utf-8")
    before = _snapshot(folder)
    extra = [] if workers is None else ["--workers", str(workers)]

    with pytest.raises(SystemExit) as done:
        main(["upgrade", str(folder), "--in-place", *extra])
    output = "".join(capsys.readouterr())

    assert done.value.code == 0, output
    assert not _leftovers(folder), f"left behind: {_leftovers(folder)} (needs leftover cleanup)"
    assert all(path.read_text(encoding="utf-8") == "the user's own file" for path in kept)
    after = _snapshot(folder)
    if with_work:
        assert all(after[name][0] != before[name][0] for name in before)
        assert all(not _validation_problems(folder / name) for name in after)
    else:
        assert after == before


# --- fault injection ---------------------------------------------------------------------------


def _fd_is_temp(fd: int) -> bool:
    """Whether descriptor ``fd`` is open on a temporary file of an atomic write."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith(TEMP_SUFFIX)
    except OSError:
        return False


class _FailingWrites:
    """A binary file whose ``write`` puts half the bytes on disk, then fails."""

    def __init__(self, stream: Any, error: OSError) -> None:
        self._stream = stream
        self._error = error

    def write(self, data: bytes) -> int:
        self._stream.write(bytes(data[: len(data) // 2]))
        self._stream.flush()
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> _FailingWrites:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stream.close()


def _inject(monkeypatch: pytest.MonkeyPatch, stage: str, error: OSError) -> None:
    """Make one stage of writing a temporary file fail with ``error``."""
    if stage == "create":  # tempfile.mkstemp opens through os.open: a read-only folder
        real_open = os.open

        def failing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if os.fspath(path).endswith(TEMP_SUFFIX):
                raise error
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", failing_open)
    elif stage == "write":  # disk full while the bytes go out, however they are written
        real_fdopen, real_write = os.fdopen, os.write

        def failing_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
            stream = real_fdopen(fd, *args, **kwargs)
            return _FailingWrites(stream, error) if _fd_is_temp(fd) else stream

        def failing_write(fd: int, data: bytes) -> int:
            if _fd_is_temp(fd):
                real_write(fd, bytes(data[: len(data) // 2]))
                raise error
            return real_write(fd, data)

        monkeypatch.setattr(os, "fdopen", failing_fdopen)
        monkeypatch.setattr(os, "write", failing_write)
    elif stage == "fsync":
        real_fsync = os.fsync

        def failing_fsync(fd: Any) -> None:
            number = fd if isinstance(fd, int) else fd.fileno()
            if _fd_is_temp(number):
                raise error
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing_fsync)
    elif stage == "replace":
        real_replace, real_rename = os.replace, os.rename

        def failing(real: Callable[..., None]) -> Callable[..., None]:
            def move(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
                if os.fspath(source).endswith(TEMP_SUFFIX):
                    raise error
                real(source, target, *args, **kwargs)

            return move

        monkeypatch.setattr(os, "replace", failing(real_replace))
        monkeypatch.setattr(os, "rename", failing(real_rename))
    else:  # pragma: no cover - a typo in a parameter
        raise AssertionError(stage)


ERRORS = [errno.ENOSPC, errno.EIO, errno.EACCES]
FAULTS = [(stage, code) for stage in ("write", "fsync", "replace") for code in ERRORS]
FAULTS += [("create", errno.EACCES), ("create", errno.EROFS)]


@pytest.mark.parametrize("extra", [(), ("--workers", "1")], ids=["default", "workers-1"])
@pytest.mark.parametrize(
    ("stage", "code"), FAULTS, ids=[f"{s}-{errno.errorcode[c]}" for s, c in FAULTS]
)
def test_failed_write_leaves_the_original_and_reports_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
    code: int,
    extra: Sequence[str],
) -> None:
    """A write, fsync, rename or create failure: original intact, no temp file, exit 1, told why."""
    folder = tmp_path / "archive"
    folder.mkdir()
    path = folder / "two-runs.json"
    shutil.copyfile(TWO_RUNS_10, path)
    os.chmod(path, 0o640)
    original = path.read_bytes()
    monkeypatch.chdir(tmp_path)
    error = OSError(code, os.strerror(code), str(path))
    assert isinstance(error, PermissionError) == (code == errno.EACCES)
    _inject(monkeypatch, stage, error)

    with pytest.raises(SystemExit) as done:
        main(["upgrade", str(path), "--in-place", *extra])
    monkeypatch.undo()
    output = "".join(capsys.readouterr())

    assert path.read_bytes() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in folder.iterdir()) == ["two-runs.json"], "a temp file was left"
    assert done.value.code == 1, output
    assert str(path) in output
    assert os.strerror(code) in output


def test_a_failed_write_does_not_stop_the_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full on one file: that one is intact and reported, the next one is upgraded."""
    folder = tmp_path / "archive"
    folder.mkdir()
    first, second = folder / "a.json", folder / "b.json"
    for path in (first, second):
        shutil.copyfile(TWO_RUNS_10, path)
    original = first.read_bytes()
    monkeypatch.chdir(tmp_path)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if _fd_is_temp(fd) and os.readlink(f"/proc/self/fd/{fd}").startswith(f"{folder}/.a."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SystemExit) as done:
        main(["upgrade", str(first), str(second), "--in-place", "--workers", "1"])
    monkeypatch.undo()
    output = "".join(capsys.readouterr())

    assert done.value.code == 1, output
    assert first.read_bytes() == original
    assert f"{first}" in output and "No space left on device" in output
    assert second.read_bytes() != original and not _validation_problems(second)
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "b.json"]


# --- permission bits ---------------------------------------------------------------------------


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    """Run with the process umask set to ``mask``."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o664], ids=oct)
def test_in_place_upgrade_keeps_permission_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    """The upgraded file has the original's permission bits, whatever the umask, and its data."""
    path = tmp_path / "two-runs.json"
    shutil.copyfile(TWO_RUNS_10, path)
    os.chmod(path, mode)
    before = jsonio.load_path(path).value
    monkeypatch.chdir(tmp_path)

    with (
        _umask(0o077),
        pytest.raises(SystemExit) as done,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        main(["upgrade", str(path), "--in-place"])

    assert done.value.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == mode
    after = jsonio.load_path(path).value
    assert REGISTRY.detect(after).version_of(after) == "1.1"
    assert not _validation_problems(path)
    assert [run["uuid"] for run in after["production_runs"]] == [
        run["uuid"] for run in before["production_runs"]
    ]
    assert [len(run["consumptions"]) for run in after["production_runs"]] == [
        len(run["consumptions"]) for run in before["production_runs"]
    ]
