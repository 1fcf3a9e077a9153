"""--scheduler: validate and upgrade on a real Dask cluster (processes), faults and bad input.

One ``distributed.LocalCluster`` (2 worker processes, one thread each) serves the module. Each
run on it is compared with a local run of the same command on a twin of the same input: stdout,
exit code, files and backup manifest must be the same. Faults are real: workers SIGKILLed by a
step or from outside, a scheduler process killed mid-run, workers without docmigrate or with
another version of it. DOCMIGRATE_PROFILE=ci runs more kill trials.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import distributed
import psutil
import pytest
from conftest import HISTORY_DATA, FamilyMaker, simple_schema, wait_for_marker
from test_cli import run

import docmigrate
from docmigrate import ConfigurationError, Registry, commands, jsonio
from docmigrate.archive import RegistrySource, UpgradeTask, ValidateTask, read_manifest
from docmigrate.commands import UpgradeOptions, plan_jobs
from docmigrate.deadline import Expired, time_limit
from docmigrate.executors import Connection, open_executor

CI = os.environ.get("DOCMIGRATE_PROFILE") == "ci"
KILL_POSITIONS = [0, 5, 11] if CI else [5]
OUTSIDE_KILL_TRIALS = 3 if CI else 1
SRC = Path(docmigrate.__file__).parent.parent


# --- the cluster -------------------------------------------------------------------------------


class _Cluster:
    """The module's two-worker LocalCluster, started again if a killed worker stays away.

    A SIGKILLed worker is normally restarted by its nanny within seconds; on a loaded machine
    that can fail, which is Dask's business, not the test's: the next test gets a new cluster.
    """

    def __init__(self) -> None:
        self.local = self._start()

    @staticmethod
    def _start() -> distributed.LocalCluster:
        return distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.WARNING,  # a worker that fails to come back says why
        )

    def healthy_address(self) -> str:
        """The scheduler's address once both workers run (on a new cluster if need be)."""
        with distributed.Client(self.local, set_as_default=False) as client:
            try:
                client.wait_for_workers(2, timeout=60)
            except TimeoutError:
                logging.getLogger(__name__).warning("a worker stayed away: new cluster")
            else:
                return str(self.local.scheduler_address)
        self.local.close()
        self.local = self._start()
        return str(self.local.scheduler_address)


@pytest.fixture(scope="module")
def cluster() -> Iterator[_Cluster]:
    """Two worker processes (one thread each) on this machine, for the whole module."""
    holder = _Cluster()
    try:
        yield holder
    finally:
        holder.local.close()


@pytest.fixture
def scheduler(cluster: _Cluster) -> Iterator[str]:
    """The module cluster's address; both workers are up before each test (and after it)."""
    yield cluster.healthy_address()
    cluster.healthy_address()  # a killed worker is restarted by its nanny, or the cluster anew


def _worker_pids(address: str) -> dict[str, int]:
    with distributed.Client(address, set_as_default=False) as client:
        return dict(client.run(os.getpid))


# --- inputs ------------------------------------------------------------------------------------


def _archive(folder: Path) -> Path:
    """40 files: 1.0 and 1.1 documents, invalid ones, a non-ASCII name, a nested folder."""
    sources = sorted((HISTORY_DATA / "1.0" / "valid").glob("*.json"))
    sources += sorted((HISTORY_DATA / "1.1" / "valid").glob("*.json"))
    sources += sorted((HISTORY_DATA / "1.1" / "invalid").glob("*.json"))[:4]
    archive = folder / "archive"
    for index in range(40):
        source = sources[index % len(sources)]
        target = archive / f"y{index % 3}" / f"{index:02d}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    shutil.copy(sources[0], archive / "é-accent.json")
    (archive / "notes.txt").write_text("not a document")
    return archive


def _twins(tmp_path: Path) -> tuple[Path, Path]:
    """Two working directories holding the same archive: one for a local run, one for Dask."""
    local, dask = tmp_path / "local", tmp_path / "dask"
    _archive(local)
    shutil.copytree(local, dask)
    return local, dask


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "docmigrate-backup-manifest.jsonl"
    }


def _without_time(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in entry.items() if k != "time"} for entry in entries]


def _document(*ids: str) -> bytes:
    return jsonio.dump_bytes({"v": "1.0", "items": [{"id": i} for i in ids]}, indent=2)


FRAGILE_STEPS = """
import os, signal, time
from pathlib import Path

MARKER = Path({marker!r})
STARTED = Path({started!r})
RAN = Path({ran!r})

@upgrade("1.0", "2.0")
def to_two(doc):
    STARTED.touch()
    what = doc["items"][0]["id"] if doc["items"] else ""
    with open(RAN, "a") as log:  # which process ran the step on which document
        log.write(f"{{os.getpid()}} {{what}}\\n")
    if what.startswith("kill-once") and not MARKER.exists():
        MARKER.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    if what.startswith("kill-always"):
        os.kill(os.getpid(), signal.SIGKILL)
    if what.startswith("loop"):
        while True:
            pass
    if what.startswith("slow"):
        time.sleep(0.05)
    return doc
"""


@pytest.fixture
def fragile(make_family: FamilyMaker, tmp_path: Path) -> Path:
    """A family whose step kills its worker, loops or dawdles as the first item's id says."""
    steps = FRAGILE_STEPS.format(
        marker=str(tmp_path / "killed-by-step"),
        started=str(tmp_path / "started"),
        ran=str(tmp_path / "ran"),
    )
    return make_family(
        {"1.0": simple_schema("1.0"), "2.0": simple_schema("2.0")},
        steps,
        name="fragile",
        toml='version_pointer = "/v"\n[detect]\nrequired = ["/items"]\n'
        '[records]\npointer = "/items"\nkey = "id"\n',
    )


# --- same results as a local run ---------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--format", "text"],
        ["--format", "json"],
        ["--format", "sarif", "--require-current"],
    ],
)
def test_validate_on_dask_prints_what_a_local_run_prints(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheduler: str,
    options: list[str],
) -> None:
    """With --scheduler, validate prints what a local run prints (paths as given), same exit."""
    _archive(tmp_path)
    monkeypatch.chdir(tmp_path)
    local = run(capsys, "validate", "archive", *options)
    dask = run(capsys, "validate", "archive", *options, "--scheduler", scheduler)

    assert dask[0] == local[0] == 1
    assert dask[1] == local[1]
    assert "archive/y0/" in dask[1]
    assert str(tmp_path) not in dask[1]  # named as given, not as the workers saw them
    assert "Dask dashboard: http://" in dask[2]


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("target", [["--in-place", "--backup", "kept"], ["--out", "out"]])
def test_upgrade_on_dask_matches_workers_1(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheduler: str,
    fmt: str,
    target: list[str],
) -> None:
    """With --scheduler, upgrade gives the report, files, backups and manifest of --workers 1."""
    local, dask = _twins(tmp_path)
    command = ["upgrade", "archive", *target, "--format", fmt]
    monkeypatch.chdir(local)
    expected = run(capsys, *command, "--workers", "1")
    monkeypatch.chdir(dask)
    got = run(capsys, *command, "--scheduler", scheduler)

    assert got[0] == expected[0] == 1  # the invalid files fail
    assert got[1] == expected[1]
    assert _tree(dask) == _tree(local)
    if "--backup" in target:
        manifest = _without_time(read_manifest(dask / "kept"))
        assert manifest == _without_time(read_manifest(local / "kept"))
        assert manifest and manifest[0]["backup"].startswith("kept/")


def test_a_second_run_on_dask_skips_what_is_done(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheduler: str,
) -> None:
    """Run again, every upgraded file is already at the target and left untouched."""
    _archive(tmp_path)
    monkeypatch.chdir(tmp_path)
    run(capsys, "upgrade", "archive", "--in-place", "--scheduler", scheduler)
    before = _tree(tmp_path)

    code, out, _ = run(capsys, "upgrade", "archive", "--in-place", "--scheduler", scheduler)

    assert code == 1
    assert " upgraded" not in out and "unchanged" in out
    assert _tree(tmp_path) == before


def test_step_timeout_holds_on_dask_worker_threads(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path, scheduler: str
) -> None:
    """--step-timeout fails an endless step on a Dask worker (a thread); others upgrade."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.json").write_bytes(_document("loop"))
    (folder / "b.json").write_bytes(_document("fine"))

    code, out, _ = run(
        capsys,
        "upgrade",
        folder,
        "--in-place",
        "--family-path",
        fragile,
        "--step-timeout",
        "0.5",
        "--scheduler",
        scheduler,
    )

    assert code == 1
    assert "did not finish within 0.5 s (--step-timeout)" in out
    assert jsonio.load_path(folder / "a.json").value["v"] == "1.0"
    assert jsonio.load_path(folder / "b.json").value["v"] == "2.0"


def test_time_limit_interrupts_a_loop_outside_the_main_thread() -> None:
    """time_limit raises Expired in a non-main thread, and never after its body is left."""
    outcome: dict[str, float | int] = {}

    def limited() -> None:
        started = time.monotonic()
        try:
            with time_limit(0.2):
                while time.monotonic() - started < 5:
                    pass
        except Expired:
            outcome["expired_after"] = time.monotonic() - started
        leaked = 0
        for _ in range(200):  # bodies ending right at the limit: nothing may escape later
            try:
                with time_limit(0.0005):
                    sum(range(500))
            except Expired:
                pass
            try:
                for _ in range(2000):
                    pass
            except Expired:
                leaked += 1
        outcome["leaked"] = leaked

    worker = threading.Thread(target=limited)
    worker.start()
    worker.join(timeout=30)
    assert outcome.get("expired_after", 99) < 2
    assert outcome["leaked"] == 0


# --- workers killed ----------------------------------------------------------------------------


@pytest.mark.parametrize("position", KILL_POSITIONS)
def test_a_worker_killed_by_a_step_is_retried_by_dask(
    capsys: pytest.CaptureFixture[str],
    fragile: Path,
    tmp_path: Path,
    scheduler: str,
    position: int,
) -> None:
    """A worker SIGKILLed mid-upgrade: Dask reruns its files; each upgraded and backed up once."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(12):
        what = "kill-once" if index == position else f"item-{index}"
        (folder / f"{index:02d}.json").write_bytes(_document(what))
    originals = {p.name: p.read_bytes() for p in folder.iterdir()}

    code, out = _upgrade_in_place(capsys, folder, tmp_path / "kept", fragile, scheduler)

    killed = int((tmp_path / "killed-by-step").read_text())
    assert killed != os.getpid()  # the fault fired, in a worker process
    assert code == 0, out
    _assert_upgraded_once(out, folder, tmp_path / "kept", originals)
    assert f"{folder / f'{position:02d}.json'}: upgraded" in out  # retried from its original


def _upgrade_in_place(
    capsys: pytest.CaptureFixture[str], folder: Path, kept: Path, fragile: Path, scheduler: str
) -> tuple[int, str]:
    """``upgrade FOLDER --in-place --backup KEPT`` with the fragile family on ``scheduler``."""
    code, out, _ = run(
        capsys, "upgrade", folder, "--in-place", "--backup", kept,
        "--family-path", fragile, "--scheduler", scheduler,
    )  # fmt: skip
    return code, out


def _assert_upgraded_once(out: str, folder: Path, kept: Path, originals: dict[str, bytes]) -> None:
    """Every file upgraded; each backup listed once, holding its file's original bytes.

    A file that a killed worker had upgraded, and whose result had not reached the client yet,
    is run again and reported unchanged (as with the local pool); its backup stays in the
    backup folder without a manifest line. The manifest never lists a backup twice or one
    that does not exist.
    """
    counts = out.strip().splitlines()[-1]
    assert counts.endswith(" 0 failed") and f"{len(originals)} files: " in counts
    for path in folder.iterdir():
        assert jsonio.load_path(path).value["v"] == "2.0"
    manifest = read_manifest(kept)
    names = [Path(entry["path"]).name for entry in manifest]
    assert len(names) == len(set(names)) == out.count(": upgraded ")
    for entry in manifest:
        assert Path(entry["backup"]).read_bytes() == originals[Path(entry["path"]).name]


def test_a_file_that_always_kills_its_worker_fails_alone(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path, scheduler: str
) -> None:
    """A file that kills every worker that tries it fails (left as it was); the others upgrade."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.json").write_bytes(_document("fine"))
    (folder / "b.json").write_bytes(_document("kill-always"))
    (folder / "c.json").write_bytes(_document("fine too"))
    original = (folder / "b.json").read_bytes()
    pids = _worker_pids(scheduler)

    code, out, _ = run(
        capsys, "upgrade", folder, "--in-place", "--family-path", fragile, "--scheduler", scheduler
    )

    assert code == 1
    assert out.strip().splitlines()[-3].endswith(" 1 failed")
    assert f"{folder / 'b.json'}:1:1: $: the worker process upgrading this file died" in out
    assert (folder / "b.json").read_bytes() == original
    for name in ("a.json", "c.json"):
        assert jsonio.load_path(folder / name).value["v"] == "2.0"
    assert not set(pids.values()) <= set(_worker_pids(scheduler).values())  # workers were killed


@pytest.mark.parametrize("trial", range(OUTSIDE_KILL_TRIALS))
def test_a_worker_killed_from_outside_mid_run_leaves_files_whole(
    capsys: pytest.CaptureFixture[str],
    fragile: Path,
    tmp_path: Path,
    scheduler: str,
    trial: int,
) -> None:
    """SIGKILL to a worker at a random moment of upgrade --in-place: all files end upgraded."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(40):
        (folder / f"{index:02d}.json").write_bytes(_document("slow", f"item-{index}"))
    pids = list(_worker_pids(scheduler).values())
    rng = random.Random(trial)
    killed: dict[str, float] = {}

    def kill_one_worker() -> None:
        killed["started"] = wait_for_marker(tmp_path / "started", 30)
        time.sleep(rng.uniform(0, 0.4))
        os.kill(rng.choice(pids), signal.SIGKILL)
        killed["at"] = time.monotonic()

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    code, out, _ = run(
        capsys, "upgrade", folder, "--in-place", "--family-path", fragile, "--scheduler", scheduler
    )
    ended = time.monotonic()
    killer.join()

    assert killed["started"]  # the kill landed after the work began, and before it ended
    assert killed["at"] < ended
    assert code == 0, out
    assert "40 files: " in out and "0 failed" in out
    for index, path in enumerate(sorted(folder.glob("*.json"))):  # whole, and upgraded once
        assert jsonio.load_path(path).value == {
            "v": "2.0",
            "items": [{"id": "slow"}, {"id": f"item-{index}"}],
        }


# --- a worker killed in the middle of a batch ----------------------------------------------------

# 24 files on 2 worker threads travel in batches of 3 (files 0-2, 3-5, ...): the file that kills
# its worker is the last of its batch, so the worker had run the batch's first files before.
BATCHED_FILES = 24
KILLED_AT = 2


def _batched_folder(tmp_path: Path, kill_at: int | None = KILLED_AT) -> Path:
    """Files 00..23, each with its own record ids; the one at ``kill_at`` kills its worker once."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(BATCHED_FILES):
        first = "kill-once" if index == kill_at else "item"
        (folder / f"{index:02d}.json").write_bytes(_document(f"{first}-{index}", f"x-{index}"))
    return folder


def _ran_by_killed_worker(tmp_path: Path) -> list[str]:
    """The documents whose step the killed worker ran before the one that killed it."""
    killed = (tmp_path / "killed-by-step").read_text()
    ran = [line.split() for line in (tmp_path / "ran").read_text().splitlines()]
    done_before = [what for pid, what in ran if pid == killed and not what.startswith("kill-once")]
    assert set(done_before) >= {"item-0", "item-1"}  # its batch: files 0 to 2
    return done_before


def _rerun_batch_mates(tmp_path: Path) -> None:
    """Check that the killed worker's whole batch ran again, and every file ran at most twice."""
    _ran_by_killed_worker(tmp_path)
    counts = _ran_count(tmp_path)
    assert counts["item-0"] == counts["item-1"] == counts[f"kill-once-{KILLED_AT}"] == 2
    assert len(counts) == BATCHED_FILES and set(counts.values()) <= {1, 2}


def _ran_count(tmp_path: Path) -> dict[str, int]:
    """How many times each document's step ran (counted from the step's own log)."""
    counts: dict[str, int] = {}
    for line in (tmp_path / "ran").read_text().splitlines():
        what = line.split()[1]
        counts[what] = counts.get(what, 0) + 1
    return counts


def test_a_worker_killed_mid_batch_leaves_every_file_whole_or_upgraded(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path, scheduler: str
) -> None:
    """In-place upgrade, a worker killed mid-batch: each file upgraded once, backups listed once."""
    folder = _batched_folder(tmp_path)
    originals = {p.name: p.read_bytes() for p in folder.iterdir()}

    code, out = _upgrade_in_place(capsys, folder, tmp_path / "kept", fragile, scheduler)

    assert code == 0, out
    done_before = _ran_by_killed_worker(tmp_path)
    _assert_upgraded_once(out, folder, tmp_path / "kept", originals)
    # Files 0 and 1 (and any other the killed worker finished) were at the target when rerun.
    assert BATCHED_FILES - len(done_before) <= out.count(": upgraded ") <= BATCHED_FILES - 2
    reports = [line for line in out.splitlines() if line.startswith(str(folder))]
    assert [Path(line.split(":")[0]).name for line in reports] == sorted(originals)  # in order
    assert f"{folder / f'{KILLED_AT:02d}.json'}: upgraded" in out  # rerun from its original


def test_a_worker_killed_mid_batch_reports_what_workers_1_reports(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path, scheduler: str
) -> None:
    """Upgrade --out: the killed batch runs again; reports and files are those of --workers 1."""
    folder = _batched_folder(tmp_path)
    marker = tmp_path / "killed-by-step"
    command = ["upgrade", folder, "--family-path", fragile, "--format", "json"]
    marker.write_text("no kill in the local run")
    expected = run(capsys, *command, "--out", tmp_path / "local", "--workers", "1")
    marker.unlink()
    (tmp_path / "ran").unlink()

    got = run(capsys, *command, "--out", tmp_path / "dask", "--scheduler", scheduler)

    assert got[0] == expected[0] == 0, got[1]
    _rerun_batch_mates(tmp_path)
    assert got[1].replace(str(tmp_path / "dask"), "OUT") == expected[1].replace(
        str(tmp_path / "local"), "OUT"
    )
    assert _tree(tmp_path / "dask") == _tree(tmp_path / "local")
    assert len(_tree(tmp_path / "dask")) == BATCHED_FILES


def test_a_worker_killed_mid_batch_of_a_sqlite_import_stores_every_file_once(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path, scheduler: str
) -> None:
    """Import into SQLite: a worker killed mid-batch; same reports and records as a local run."""
    folder = _batched_folder(tmp_path)
    marker = tmp_path / "killed-by-step"
    command = ["import", folder, "--family-path", fragile]
    marker.write_text("no kill in the local run")
    expected = run(capsys, *command, "--db", tmp_path / "local.db")
    marker.unlink()
    (tmp_path / "ran").unlink()

    got = run(capsys, *command, "--db", tmp_path / "dask.db", "--scheduler", scheduler)

    assert got[0] == expected[0] == 0, got[1]
    _rerun_batch_mates(tmp_path)
    assert got[1] == expected[1]
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    assert _imports_by_file(url) == {f"{index:02d}.json": 1 for index in range(BATCHED_FILES)}
    assert _stored_ids(capsys, url, fragile) == _stored_ids(
        capsys, f"sqlite:///{tmp_path / 'local.db'}", fragile
    )


def test_a_worker_killed_mid_batch_of_a_postgres_import_stores_every_file_once(
    capsys: pytest.CaptureFixture[str],
    fragile: Path,
    tmp_path: Path,
    scheduler: str,
    postgres_url: str,
) -> None:
    """Import into PostgreSQL: the killed batch runs again; each file is stored exactly once."""
    folder = _batched_folder(tmp_path)

    code, out, _ = run(
        capsys, "import", folder, "--db", postgres_url, "--family-path", fragile,
        "--scheduler", scheduler,
    )  # fmt: skip

    assert code == 0, out
    _rerun_batch_mates(tmp_path)
    for line in out.splitlines()[:2]:  # files 0 and 1: committed by the killed worker
        assert ": 0 imported, 2 skipped, 0 replaced (already imported as import " in line
    assert _imports_by_file(postgres_url) == {
        f"{index:02d}.json": 1 for index in range(BATCHED_FILES)
    }
    assert len(_stored_ids(capsys, postgres_url, fragile)) == 2 * BATCHED_FILES


# --- --scheduler local[:N]: a cluster of this machine ------------------------------------------


def _forked_workers() -> list[psutil.Process]:
    """The worker processes forked from this process's multiprocessing fork server."""
    servers = [
        child
        for child in psutil.Process().children()
        if "multiprocessing.forkserver" in " ".join(child.cmdline())
    ]
    return [worker for server in servers for worker in server.children()]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with the environment a command starts with: no Dask variables in it.

    Dask's nannies set MALLOC_TRIM_THRESHOLD_ in their own process's environment (the module
    cluster's did, in this one); the fork server, started once per process, would inherit it.
    """
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)


def _waking_callbacks(dask_worker: distributed.Worker) -> tuple[set[str], float]:
    """Which of a worker's periodic callbacks run (of heartbeat, tick, profile), and the tick."""
    running = {name for name, c in dask_worker.periodic_callbacks.items() if c.is_running()}
    tick = dask.utils.parse_timedelta(dask.config.get("distributed.admin.tick.interval"))
    return running & {"heartbeat", "tick", "profile"}, tick


@pytest.mark.usefixtures("clean_environment")
def test_a_local_cluster_starts_in_the_background_from_a_preloaded_fork_server() -> None:
    """Connection(local:2) starts while the caller goes on; workers forked, no malloc trimming."""
    with Connection("local:2") as connection:
        deadline = time.monotonic() + 60
        while len(_forked_workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # not waiting for the connection: it starts by itself
        workers = _forked_workers()
        client, _ = connection.wait()
        pids = client.run(os.getpid)
        trim = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        waking = client.run(_waking_callbacks)
        server = workers[0].parent()
        assert server is not None
        preloaded = " ".join(server.cmdline())
        server_environ = server.environ()

    assert sorted(pids.values()) == sorted(worker.pid for worker in workers)
    assert len(pids) == 2
    assert "docmigrate.executors" in preloaded  # docmigrate is imported once, by the server
    # The allocator is set up as in the local pool's workers (Dask's trimming is slower).
    assert list(trim.values()) == [None, None]
    assert "MALLOC_TRIM_THRESHOLD_" not in server_environ
    # No profiler waking every 10 ms, nor a tick every 20 ms, to take the GIL from the work.
    assert list(waking.values()) == [({"heartbeat", "tick"}, 1.0)] * 2
    for worker in workers:  # stopped with the connection
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


FORK_SERVER_AT_ENTER = """
import sys
import psutil
from docmigrate.executors import Connection

if __name__ == "__main__":
    with Connection("local:1", preload=sys.argv[1:]) as connection:
        # Asked at once: the cluster's thread is still importing Dask at this point.
        servers = [
            " ".join(child.cmdline())
            for child in psutil.Process().children()
            if "multiprocessing.forkserver" in " ".join(child.cmdline())
        ]
        connection.wait()
    print(len(servers), *(module in "".join(servers) for module in ("executors", "transfer")))
"""


@pytest.mark.parametrize(
    ("preload", "expected"),
    [([], ["1", "True", "False"]), (["docmigrate.transfer"], ["1", "True", "True"])],
)
def test_the_fork_server_starts_as_the_connection_is_entered(
    tmp_path: Path, preload: list[str], expected: list[str]
) -> None:
    """The workers' fork server imports Dask while this process does, and only what is asked."""
    script = tmp_path / "enter.py"
    script.write_text(FORK_SERVER_AT_ENTER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), *preload],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


@pytest.mark.usefixtures("clean_environment")
def test_upgrade_on_a_local_cluster_matches_workers_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--scheduler local:2 upgrades as --workers 1 does, and leaves no worker behind."""
    local, dask = _twins(tmp_path)
    command = ["upgrade", "archive", "--out", "out", "--format", "json"]
    monkeypatch.chdir(local)
    expected = run(capsys, *command, "--workers", "1")
    monkeypatch.chdir(dask)
    got = run(capsys, *command, "--scheduler", "local:2")

    assert got[0] == expected[0] == 1  # the invalid files fail
    assert got[1] == expected[1]
    assert _tree(dask) == _tree(local)
    assert len(json.loads(got[1])["files"]) == 41
    assert _forked_workers() == []


def test_import_on_a_local_cluster_matches_a_local_import(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`import --scheduler local:2` (cluster started while planning) stores as a local run."""
    local, dask = _twins(tmp_path)
    monkeypatch.chdir(local)
    expected = run(capsys, "import", "archive", "--db", "store.db", "--format", "json")
    monkeypatch.chdir(dask)
    got = run(capsys, "import", "archive", "--db", "store.db", "--format", "json",
              "--scheduler", "local:2")  # fmt: skip

    assert got[0] == expected[0] == 1  # the invalid files fail
    assert got[1] == expected[1]
    assert len(json.loads(got[1])["files"]) == 41
    assert _exported(capsys, str(dask / "store.db")) == _exported(capsys, str(local / "store.db"))
    assert _forked_workers() == []


@pytest.mark.usefixtures("clean_environment")
def test_a_usage_error_while_a_local_cluster_starts_leaves_no_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bad --family-path found while the local cluster starts: one line, exit 2, no workers."""
    seen: set[int] = set()
    running = threading.Event()
    running.set()

    def watch() -> None:
        while running.is_set():
            seen.update(worker.pid for worker in _forked_workers())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        code, out, err = run(
            capsys, "validate", HISTORY_DATA / "1.1", "--family-path", tmp_path / "missing",
            "--scheduler", "local:2",
        )  # fmt: skip
    finally:
        running.clear()
        watcher.join()

    assert code == 2 and out == ""
    assert err == f"docmigrate: error: family path {tmp_path / 'missing'} is not a folder\n"
    assert len(seen) == 2  # the cluster had started in the background
    assert _forked_workers() == []


# --- the scheduler: unreachable, lost ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_fails_within_the_timeout_touching_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No scheduler at the address: exit 2, one line, within the timeout; no file touched."""
    folder = tmp_path / "files"
    folder.mkdir()
    shutil.copy(HISTORY_DATA / "1.0" / "valid" / "two-runs.json", folder / "a.json")
    leftover = folder / ".a.json.abc.docmigrate-tmp"  # a dead run's: cleaned only when we run
    leftover.write_bytes(b"partial")
    before = _tree(folder)
    address = f"tcp://127.0.0.1:{_free_port()}"

    started = time.monotonic()
    code, out, err = run(
        capsys,
        "upgrade",
        folder,
        "--in-place",
        "--backup",
        tmp_path / "kept",
        "--scheduler",
        address,
        "--scheduler-timeout",
        "1",
    )

    assert time.monotonic() - started < 6
    assert code == 2 and out == ""
    assert err == (
        f"docmigrate: error: cannot reach the Dask scheduler at {address} within 1 s "
        f"(--scheduler-timeout): Timed out trying to connect to {address} after 1 s\n"
    )
    assert _tree(folder) == before
    assert not (tmp_path / "kept").exists()


def test_import_with_an_unreachable_scheduler_creates_no_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """import: the scheduler is checked before the database is opened (and so created)."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, out, err = run(
        capsys,
        "import",
        HISTORY_DATA / "1.1",
        "--db",
        tmp_path / "store.db",
        "--scheduler",
        address,
        "--scheduler-timeout",
        "0.5",
    )
    assert code == 2 and out == ""
    assert f"cannot reach the Dask scheduler at {address} within 0.5 s" in err
    assert not (tmp_path / "store.db").exists()


def test_pyproject_names_the_scheduler_and_none_overrides_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """[tool.docmigrate] scheduler and scheduler-timeout apply; --scheduler none runs here."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.docmigrate]\nscheduler = "{address}"\nscheduler-timeout = 0.5\n'
    )
    shutil.copy(HISTORY_DATA / "1.1" / "valid" / "with-losses.json", tmp_path / "a.json")
    monkeypatch.chdir(tmp_path)

    code, _, err = run(capsys, "validate", "a.json")
    assert code == 2 and f"cannot reach the Dask scheduler at {address} within 0.5 s" in err
    code, out, _ = run(capsys, "validate", "a.json", "--scheduler", "none")
    assert code == 0 and out.endswith(", 0 invalid, 0 errors\n")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("scheduler = 3", "scheduler must be an address such as"),
        ('scheduler = " "', "scheduler must be an address such as"),
        ("scheduler-timeout = -1", "scheduler-timeout must be a number of seconds above 0"),
        ('scheduler-timeout = "10"', "scheduler-timeout must be a number of seconds above 0"),
    ],
)
def test_bad_scheduler_settings_are_configuration_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setting: str,
    message: str,
) -> None:
    """A malformed [tool.docmigrate] scheduler or scheduler-timeout: one line, exit 2."""
    (tmp_path / "pyproject.toml").write_text(f"[tool.docmigrate]\n{setting}\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate", HISTORY_DATA / "1.1")
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scheduler", "local:0"], "local:N needs a number of workers of 1 or more"),
        (["--scheduler", "htp://x:1"], "is not a Dask scheduler address"),
        (["--scheduler", "local:2", "--workers", "2"], "--workers sizes the local pool"),
        (["--scheduler-timeout", "0"], "is not in the range x>0"),
    ],
)
def test_bad_scheduler_options_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, arguments: list[str], message: str
) -> None:
    """A malformed --scheduler or timeout, or --workers with it: one line, exit 2, nothing run."""
    shutil.copy(HISTORY_DATA / "1.0" / "valid" / "two-runs.json", tmp_path / "a.json")
    before = _tree(tmp_path)
    code, out, err = run(capsys, "upgrade", tmp_path / "a.json", "--in-place", *arguments)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert _tree(tmp_path) == before


def test_validate_with_a_scheduler_refuses_standard_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Workers cannot read this process's standard input: a usage error, exit 2."""
    code, _, err = run(capsys, "validate", "-", "--scheduler", "local:1")
    assert code == 2 and "--scheduler runs on workers that cannot read this standard input" in err


def test_without_dask_installed_scheduler_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without distributed installed, --scheduler is one line naming the extra, exit 2."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    with pytest.raises(ImportError):
        import distributed as _
    code, _, err = run(capsys, "validate", HISTORY_DATA / "1.0", "--scheduler", "local:1")
    assert code == 2
    assert "--scheduler needs Dask, which is not installed: pip install 'docmigrate[dask]'" in err


def test_validate_without_a_scheduler_does_not_import_dask() -> None:
    """Plain validate never imports distributed (it is slow to import and optional)."""
    code = (
        "import sys\n"
        "from docmigrate.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(HISTORY_DATA / '1.1')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('distributed' in sys.modules, 'dask' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    assert done.stdout.strip().splitlines()[-1] == "False False"


def _env(**extra: str) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": str(SRC) + (os.pathsep + path if path else ""),
        **extra,
    }


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_a_lost_scheduler_says_how_far_the_run_got_and_a_rerun_finishes(
    capsys: pytest.CaptureFixture[str], fragile: Path, tmp_path: Path
) -> None:
    """Scheduler SIGKILLed mid-run: exit 2 naming files done; files whole; a rerun finishes."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(60):
        (folder / f"{index:02d}.json").write_bytes(_document("slow", f"item-{index}"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    bin_folder = Path(sys.executable).parent
    scheduler = _start(
        [str(bin_folder / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
         address.rsplit(":", 1)[1], "--dashboard-address", "127.0.0.1:0"],
        tmp_path / "scheduler.log",
        _env(),
    )  # fmt: skip
    worker = _start(
        [str(bin_folder / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1"],
        tmp_path / "worker.log",
        _env(),
    )
    try:
        with distributed.Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)

        started: list[bool] = []

        def kill_scheduler() -> None:
            started.append(wait_for_marker(tmp_path / "started", 60))
            time.sleep(0.5)
            scheduler.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_scheduler)
        killer.start()
        code, out, err = run(
            capsys,
            "upgrade",
            folder,
            "--in-place",
            "--family-path",
            fragile,
            "--scheduler",
            address,
            "--scheduler-timeout",
            "2",
        )
        killer.join()
    finally:
        _stop(scheduler)
        _stop(worker)

    assert started == [True]  # the scheduler was killed with the run under way
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"docmigrate: error: lost the Dask scheduler at {address} after ")
    assert "of 60 files; run the same command again to finish" in last
    versions = [jsonio.load_path(path).value["v"] for path in sorted(folder.glob("*.json"))]
    assert set(versions) == {"1.0", "2.0"}  # stopped part-way, every file whole

    code, out, _ = run(capsys, "upgrade", folder, "--in-place", "--family-path", fragile)
    assert code == 0
    done = versions.count("2.0")
    assert f"60 files: {60 - done} upgraded, {done} unchanged, 0 failed" in out


# --- workers that cannot do the work -----------------------------------------------------------


def test_a_family_path_missing_on_the_workers_is_a_configuration_error(
    make_family: FamilyMaker, tmp_path: Path, scheduler: str
) -> None:
    """Families the workers cannot load at the client's paths: ConfigurationError, not per file."""
    family = make_family({"1.0": simple_schema("1.0")}, name="elsewhere")
    registry = Registry.discover([family], entry_points=False)
    family.rename(tmp_path / "moved")  # this client loaded it; the workers will not find it
    source = RegistrySource((family,), tmp_path)

    with (
        pytest.raises(ConfigurationError) as raised,
        open_executor(scheduler, workers=1, registry=registry, source=source),
    ):
        pass

    message = str(raised.value)
    assert message.startswith("Dask worker tcp://127.0.0.1:")
    assert f"cannot load the families: family path {family} is not a folder" in message
    assert "must be visible to every worker at the same paths" in message


def test_families_failing_on_a_worker_mid_run_stop_the_run(
    make_family: FamilyMaker, tmp_path: Path, scheduler: str
) -> None:
    """A task whose worker cannot load the families raises ConfigurationError, once, for all."""
    family = make_family({"1.0": simple_schema("1.0")}, name="vanishing")
    registry = Registry.discover([family], entry_points=False)
    good = RegistrySource((), tmp_path)
    gone = RegistrySource((tmp_path / "not-there",), tmp_path)
    (tmp_path / "a.json").write_bytes(_document("x"))
    tasks = [ValidateTask(tmp_path / "a.json")]

    with (
        open_executor(scheduler, workers=1, registry=Registry.discover(), source=good) as runner,
        pytest.raises(ConfigurationError, match="cannot load the families: family path"),
    ):
        list(runner.run_tasks(tasks, registry, gone))


def _fake_docmigrate(folder: Path, body: str) -> Path:
    package = folder / "docmigrate"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(body)
    return folder


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("other-version", "runs docmigrate 0.0.1, this client docmigrate {version}"),
        ("not-installed", "cannot import docmigrate (ModuleNotFoundError"),
    ],
)
def test_a_worker_without_this_docmigrate_is_refused_at_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str, message: str
) -> None:
    """A worker with another docmigrate version, or none: exit 2 naming the versions."""
    purelib = sysconfig.get_paths()["purelib"]
    if how == "other-version":
        env = _env(PYTHONPATH=str(_fake_docmigrate(tmp_path / "fake", '__version__ = "0.0.1"\n')))
        command = [sys.executable, "-m", "distributed.cli.dask_worker"]
    else:
        # -S: site-packages is on the path without its .pth files, so distributed is there but
        # not the editable docmigrate; the worker runs without docmigrate.
        env = {**os.environ, "PYTHONPATH": purelib}
        command = [sys.executable, "-S", "-m", "distributed.cli.dask_worker"]
        probe = subprocess.run(
            [sys.executable, "-S", "-c", "import distributed, docmigrate"], env=env, check=False
        )
        assert probe.returncode != 0  # docmigrate really cannot be imported there
    with distributed.LocalCluster(
        n_workers=0, processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL
    ) as cluster:
        address = str(cluster.scheduler_address)
        worker = _start([*command, address, "--nthreads", "1"], tmp_path / "worker.log", env)
        try:
            code, out, err = run(
                capsys, "validate", HISTORY_DATA / "1.1", "--scheduler", address,
                "--scheduler-timeout", "60",
            )  # fmt: skip
        finally:
            _stop(worker)

    assert code == 2 and out == ""
    assert message.format(version=docmigrate.__version__) in err
    assert err.startswith("docmigrate: error: Dask worker tcp://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1


def test_open_executor_runs_tasks_in_order_with_fail_fast(tmp_path: Path, scheduler: str) -> None:
    """The Dask executor yields in task order and stops after the first failure if asked."""
    registry = Registry.discover()
    source = RegistrySource((), tmp_path)
    folder = _archive(tmp_path)
    jobs, _ = plan_jobs([folder], None)
    options = UpgradeOptions(dry_run=True)
    tasks = [UpgradeTask(job, options) for job in jobs]

    with open_executor(scheduler, workers=1, registry=registry, source=source) as runner:
        reports = list(runner.run_tasks(tasks, registry, source))
        stopped = list(runner.run_tasks(tasks, registry, source, fail_fast=True))

    assert [r.path for r in reports] == [str(job.path) for job in jobs]
    first_failure = next(i for i, r in enumerate(reports) if not r.ok)
    assert len(stopped) == first_failure + 1


# --- import ------------------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server."""
    from backends import fresh_postgres_database, postgres_server_url

    with fresh_postgres_database(postgres_server_url()) as url:
        yield url


def _exported(capsys: pytest.CaptureFixture[str], db: str) -> str:
    """What ``db`` exports, but the time of the export (two exports may be a second apart)."""
    code, out, _ = run(capsys, "export", "--db", db, "--family", "production-history")
    assert code == 0
    return re.sub(r'"exported_at": "[^"]*"', '"exported_at": "(now)"', out, count=1)


def _big_history(path: Path, runs: int, first: int) -> Path:
    """A valid production-history 1.0 file of ``runs`` runs, past the streaming threshold."""
    document = {
        "version": "1.0",
        "exported_at": "2025-12-21T12:00:00+00:00",
        "production_runs": [
            {
                "uuid": f"00000000-0000-4000-8000-{first + i:012d}", "recipe_name": "Bread",
                "finished_unit_slug": "loaf", "num_batches": 1, "expected_yield": 24,
                "actual_yield": 24, "produced_at": "2025-01-01T09:30:00", "notes": None,
                "total_ingredient_cost": "1.2000", "per_unit_cost": "0.0500",
                "consumptions": [],
            }
            for i in range(runs)
        ],
    }  # fmt: skip
    path.write_bytes(jsonio.dump_bytes(document, indent=2))
    assert path.stat().st_size >= commands.STREAMING_MIN_SIZE
    return path


@pytest.mark.parametrize("big", [0, 2])
def test_import_into_sqlite_on_dask_matches_a_local_import(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheduler: str,
    big: int,
) -> None:
    """SQLite: workers prepare, this process stores in order, streaming big files itself."""
    local, dask = _twins(tmp_path)
    runs = commands.STREAMING_MIN_SIZE // 250
    for index in range(big):
        _big_history(local / "archive" / f"big-{index}.json", runs, index * runs)
    shutil.copytree(local / "archive", dask / "archive", dirs_exist_ok=True)
    command = ["import", "archive", "--db", "store.db", "--verbose", "--format", "json"]
    monkeypatch.chdir(local)
    expected = run(capsys, *command)
    monkeypatch.chdir(dask)
    got = run(capsys, *command, "--scheduler", scheduler)

    assert got[0] == expected[0] == 1
    assert got[1] == expected[1]
    pipelines = {r["path"]: r["pipeline"] for r in json.loads(got[1])["files"]}
    assert [pipelines[f"archive/big-{i}.json"] for i in range(big)] == [commands.STREAMING] * big
    stored = _exported(capsys, str(dask / "store.db"))
    assert stored == _exported(capsys, str(local / "store.db"))
    assert stored.count('"uuid": "00000000-0000-4000-8000-') == big * runs


def test_import_into_postgres_on_dask_stores_what_a_local_import_stores(
    capsys: pytest.CaptureFixture[str],
    fragile: Path,
    tmp_path: Path,
    scheduler: str,
    postgres_url: str,
) -> None:
    """PostgreSQL: the workers write; same reports and records as a local import; reruns skip."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(20):
        (folder / f"{index:02d}.json").write_bytes(_document(f"a-{index}", f"b-{index}"))
    (folder / "broken.json").write_bytes(b'{"v": "1.0", "items": [{"id": 7}]}')
    command = ["import", folder, "--family-path", fragile]
    expected = run(capsys, *command, "--db", tmp_path / "local.db")
    got = run(capsys, *command, "--db", postgres_url, "--scheduler", scheduler)

    def without_import_ids(out: str) -> str:  # ids follow the order files finish in
        return re.sub(r"\(import \d+\)", "(import N)", out)

    assert got[0] == expected[0] == 1
    assert without_import_ids(got[1]) == without_import_ids(expected[1])
    assert _stored_ids(capsys, postgres_url, fragile) == _stored_ids(
        capsys, f"sqlite:///{tmp_path / 'local.db'}", fragile
    )
    again = run(capsys, *command, "--db", postgres_url, "--scheduler", scheduler)
    imported = [line for line in again[1].splitlines() if " imported, " in line][:-1]
    assert len(imported) == 20
    assert all("(already imported as import " in line for line in imported)


def _imports_by_file(url: str) -> dict[str, int]:
    """How many times each file (by sha256) was recorded as imported into ``url``."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "SELECT file_name, count(*) FROM docmigrate_imports GROUP BY sha256, file_name"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(name): int(times) for name, times in rows}


def _stored_ids(capsys: pytest.CaptureFixture[str], url: str, family: Path) -> list[str]:
    code, out, _ = run(
        capsys, "export", "--db", url, "--family", "fragile", "--family-path", family
    )
    assert code == 0
    return sorted(item["id"] for item in json.loads(out)["items"])


@pytest.mark.parametrize("kill", ["by-step", *[f"outside-{t}" for t in range(OUTSIDE_KILL_TRIALS)]])
def test_a_worker_killed_during_a_postgres_import_stores_every_file_once(
    capsys: pytest.CaptureFixture[str],
    fragile: Path,
    tmp_path: Path,
    scheduler: str,
    postgres_url: str,
    kill: str,
) -> None:
    """A worker SIGKILLed mid-import: Dask reruns its files; each file is stored exactly once."""
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(24):
        first = "kill-once" if kill == "by-step" and index == 7 else "slow"
        (folder / f"{index:02d}.json").write_bytes(_document(f"{first}-{index}", f"x-{index}"))
    pids = list(_worker_pids(scheduler).values())
    killed: dict[str, float] = {}

    def kill_one_worker() -> None:
        rng = random.Random(kill)
        killed["started"] = wait_for_marker(tmp_path / "started", 30)
        time.sleep(rng.uniform(0, 0.3))
        os.kill(rng.choice(pids), signal.SIGKILL)
        killed["at"] = time.monotonic()

    killer = threading.Thread(target=kill_one_worker)
    if kill != "by-step":
        killer.start()
    code, out, _ = run(
        capsys,
        "import",
        folder,
        "--db",
        postgres_url,
        "--family-path",
        fragile,
        "--scheduler",
        scheduler,
    )
    ended = time.monotonic()
    if kill == "by-step":
        assert int((tmp_path / "killed-by-step").read_text()) != os.getpid()
    else:
        killer.join()
        assert killed["started"]  # the kill landed after the work began, and before it ended
        assert killed["at"] < ended

    assert code == 0, out
    # A file whose import committed on the killed worker before its result came back is run
    # again and found already imported: counted unchanged, still stored once.
    summary = out.splitlines()[-1]
    assert summary.startswith("24 files: ") and summary.endswith(", 0 failed")
    assert _imports_by_file(postgres_url) == {f"{index:02d}.json": 1 for index in range(24)}
    expected = sorted(
        [f"{'kill-once' if kill == 'by-step' and i == 7 else 'slow'}-{i}" for i in range(24)]
        + [f"x-{i}" for i in range(24)]
    )
    assert _stored_ids(capsys, postgres_url, fragile) == expected
