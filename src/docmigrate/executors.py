"""Running the per-file work on a Dask cluster (``--scheduler ADDRESS`` or ``local[:N]``).

:class:`DaskExecutor` runs the same tasks as the local pool (:class:`~docmigrate.archive.
LocalPool`) behind the same interface, so reports, files and manifests are the same. What is
different is where the work runs, so everything a worker needs is checked before the first file
is touched:

- the scheduler answers within the timeout and has at least one worker;
- every worker runs this very version of docmigrate;
- every worker loads the same families from the same paths (the family folders, the files and
  the working directory must be visible to every worker at the same paths: a shared
  filesystem). A family that fails to load on a worker is a configuration error of the run, not
  a failure of each file.

Small files travel in batches (one Dask task each: up to 128 files or 4 MiB, and at least 4
batches per worker thread), so that the scheduler's cost per task does not dominate. A local
cluster (``local[:N]``) starts in the background while the command plans its files, its worker
processes are forked from a server that has imported docmigrate once (started first, so that it
imports while this process imports Dask), and they keep the usual memory allocator settings (as
the local pool's workers do).

A worker that dies is handled by Dask: the scheduler runs its tasks again on another worker
(the work is idempotent: a file already at the target is skipped, writes are atomic; so the
files of a batch that a killed worker had finished are found done), and a task that keeps
killing its workers (``distributed.scheduler.allowed-failures``) is run again file by file, so
that only the file at fault fails. A scheduler lost mid-run is an
error that says how far the run got; the same command run again picks up where it stopped.

``distributed`` is imported only when a scheduler is asked for (``pip install
'docmigrate[dask]'``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docmigrate import __version__
from docmigrate.archive import Executor, FileTask, LocalPool, RegistrySource, as_given, stream
from docmigrate.exceptions import ClusterError, ConfigurationError, DocmigrateError, UsageError
from docmigrate.registry import Registry
from docmigrate.reports import FileReport

if TYPE_CHECKING:
    import logging

# distributed is optional, so its objects are typed loosely here (mypy runs without it too).
Client = Any
Future = Any

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the scheduler to answer (and for a first worker to join it)."""

LOCAL = "local"
BATCH_FILES = 128
"""At most this many files travel in one Dask task (the scheduler's cost is per task)."""
BATCH_BYTES = 4 * 1024**2
"""A batch is closed once its files add up to this many bytes: a big file travels alone."""
BATCHES_PER_THREAD = 4
"""Batches are cut small enough that each worker thread gets at least this many (when there
are files enough): the work stays spread evenly to the end."""

WORKER_PRELOAD = ("distributed", "docmigrate.executors")
"""Imported once by the fork server that local worker processes are forked from."""
IMPORT_PRELOAD = ("docmigrate.transfer",)
"""Also imported for ``import`` (SQLAlchemy and the store: a tenth of a second the other
commands do not spend)."""

SHARED_PATHS = (
    "the family folders, the files and the working directory must be visible to every worker "
    "at the same paths"
)


def parse_scheduler(value: str) -> str | int | None:
    """Read ``--scheduler``: an address, ``local[:N]`` (N worker processes) or ``none``.

    Returns the address, the number of local workers (0: one per CPU), or None for ``none``
    (the local pool, e.g. to override ``[tool.docmigrate] scheduler``). Raises
    :class:`UsageError` for ``local:`` followed by anything but a positive number.
    """
    text = value.strip()
    if text.lower() == "none":
        return None
    if text == LOCAL:
        return 0
    if text.startswith(LOCAL + ":"):
        count = text[len(LOCAL) + 1 :]
        if not count.isdigit() or int(count) < 1:
            raise UsageError(
                f"--scheduler {value}: local:N needs a number of workers of 1 or more, such as "
                "local:4"
            )
        return int(count)
    if not text:
        raise UsageError("--scheduler needs an address such as tcp://HOST:8786, or local[:N]")
    return text


@contextlib.contextmanager
def open_executor(
    scheduler: str | None,
    *,
    workers: int,
    registry: Registry,
    source: RegistrySource,
    timeout: float = DEFAULT_TIMEOUT,
    announce: Callable[[str], None] = lambda _: None,
    connection: Connection | None = None,
) -> Iterator[Executor]:
    """The executor to run tasks on: the local pool of ``workers``, or the Dask cluster asked for.

    ``connection`` is the :class:`Connection` to that cluster if the caller started it early;
    else it is made here. ``announce`` is told where the Dask dashboard is, when there is one.
    Raises :class:`ClusterError` (or :class:`ConfigurationError` for families a worker cannot
    load) before anything is run when the cluster cannot do the work.
    """
    chosen = None if scheduler is None else parse_scheduler(scheduler)
    if scheduler is None or chosen is None:
        yield LocalPool(workers)
        return
    with contextlib.ExitStack() as stack:
        if connection is None:
            connection = stack.enter_context(Connection(scheduler, timeout))
        client, address = connection.wait()
        executor = DaskExecutor(client, address)
        executor.check_workers(registry, source)
        link = executor.dashboard_link()
        if link is not None:
            announce(link)
        yield executor


class Connection:
    """A client of the cluster asked for; a local cluster starts in the background once entered.

    Starting a local cluster takes about a second (its worker processes start and import
    docmigrate): the command plans its files meanwhile, and :meth:`wait` is where it needs the
    client. A remote scheduler is reached in :meth:`wait` (so that an unreachable one never
    delays another error). Leaving closes the client and the local cluster, if any.
    """

    def __init__(
        self, scheduler: str, timeout: float = DEFAULT_TIMEOUT, *, preload: Sequence[str] = ()
    ) -> None:
        chosen = parse_scheduler(scheduler)  # a usage error is raised here, at once
        if chosen is None:
            raise UsageError("--scheduler none runs here: there is no cluster to connect to")
        self.chosen: str | int = chosen
        self.timeout = timeout
        self.preload = (*WORKER_PRELOAD, *preload)
        """What local workers import before they start (the modules their work needs)."""
        self._stack = contextlib.ExitStack()
        self._made: tuple[Client, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="docmigrate-local-cluster")

    def __enter__(self) -> Connection:
        if isinstance(self.chosen, int):
            start_fork_server(self.preload)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self._thread.join()
        self._stack.close()

    def _run(self) -> None:
        try:
            connecting = _connect(self.chosen, self.timeout, self.preload)
            self._made = self._stack.enter_context(connecting)
        except BaseException as error:  # handed to the thread that waits for the client
            self._error = error

    def wait(self) -> tuple[Client, str]:
        """The client and the scheduler's address; raises what kept it from connecting."""
        if self._thread.ident is None:  # not started: a remote scheduler, reached now
            self._run()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._made is not None  # set whenever no error was
        return self._made


@contextlib.contextmanager
def _connect(
    chosen: str | int, timeout: float, preload: Sequence[str] = WORKER_PRELOAD
) -> Iterator[tuple[Client, str]]:
    """A client of the scheduler at ``chosen``, or of a new local cluster of ``chosen`` workers.

    ``preload`` is what the fork server of local workers imports.
    """
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError as error:
        raise ClusterError(
            f"--scheduler needs Dask, which is not installed: pip install 'docmigrate[dask]' "
            f"({error})"
        ) from None
    import logging  # Dask's own: a local run never needs it

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet(logging.getLogger("distributed")))
        if isinstance(chosen, int):
            stack.enter_context(_local_workers(distributed, preload))
            cluster = _local_cluster(distributed, chosen or os.cpu_count() or 1)
            stack.callback(cluster.close)
            address = str(cluster.scheduler_address)
        else:
            address = _checked_address(distributed, chosen)
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, ValueError, TypeError) as error:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                f"(--scheduler-timeout): {_one_line(error)}"
            ) from None
        stack.callback(client.close)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as error:
            raise ClusterError(
                f"the Dask scheduler at {address} has no worker (none joined within "
                f"{timeout:g} s): start some with: dask worker {address}"
            ) from error
        yield client, address


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Silence ``logger`` (its errors are reported as this run's own one-line messages)."""
    import logging

    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _checked_address(distributed: Any, address: str) -> str:
    """Refuse an address Dask cannot even try (an unknown scheme such as ``htp://``)."""
    try:
        scheme, _ = distributed.comm.parse_address(address)
        distributed.comm.registry.get_backend(scheme)
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"--scheduler {address} is not a Dask scheduler address such as tcp://HOST:8786: "
            f"{_one_line(error)}"
        ) from None
    return address


LOCAL_SETTINGS: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
}
"""Dask settings of a local cluster. Each worker's event loop wakes for the statistical
profiler every 10 ms and for the tick monitor every 20 ms, and each wake takes the GIL from the
thread doing the work: with as many workers as cores, that made every file about 5 % slower.
(The dashboard's profile page stays empty; the task stream and progress still show.)"""


def start_fork_server(preload: Sequence[str] = WORKER_PRELOAD) -> bool:
    """Start the fork server of the local workers now, preloading ``preload``.

    The server imports Dask and docmigrate (about a third of a second) while this process
    imports Dask to start the scheduler: on two cores or more, the two imports overlap instead
    of following each other. Returns whether a server runs (none where there is no fork
    server, e.g. on Windows, or when Dask is not installed: the connection then says why).
    """
    import importlib.util
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if importlib.util.find_spec("distributed") is None:
        return False
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(list(preload))
    forkserver.ensure_running()
    return True


@contextlib.contextmanager
def _local_workers(distributed: Any, preload: Sequence[str]) -> Iterator[None]:
    """Start local worker processes as the local pool's: forked, with the usual allocator.

    Dask spawns each worker process by default: a new interpreter that imports Dask and, at
    the start-up check, docmigrate, once per worker. Forked from one fork server that did it
    once, a worker starts in a fraction of that time, and stops at once (where there is no
    fork server, Windows, workers are spawned as before). Dask also has its workers' allocator
    return freed memory to the system at once (MALLOC_TRIM_THRESHOLD_=65536), which makes
    reading a big document about a tenth slower; the local pool's workers do not do that. And
    the workers run with :data:`LOCAL_SETTINGS`.
    """
    import multiprocessing  # here: validate without a scheduler must not import it

    dask: Any = importlib.import_module("dask")
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    settings: dict[str, Any] = {"distributed.nanny.pre-spawn-environ": environ, **LOCAL_SETTINGS}
    forked = "forkserver" in multiprocessing.get_all_start_methods()
    if forked:
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(settings):
        context = getattr(distributed.utils, "get_mp_context", None)
        if forked and context is not None:
            # Dask sets the server's preload list the first time it is asked for the context;
            # ours replaces it (before the server starts) so that docmigrate is preloaded too.
            context().set_forkserver_preload(list(preload))
        yield


def _local_cluster(distributed: Any, workers: int) -> Any:
    """Worker processes on this machine, one thread each (the work holds the GIL)."""
    import logging

    try:
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: a fixed one may be taken
            silence_logs=logging.ERROR,
        )
    except Exception as error:  # whatever keeps the cluster from starting ends the run
        raise ClusterError(f"cannot start a local Dask cluster: {_one_line(error)}") from None
    return cluster


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


class DaskExecutor:
    """Runs file tasks as Dask tasks on the cluster a client is connected to."""

    def __init__(self, client: Client, address: str) -> None:
        self.client = client
        self.address = address
        self.cwd = Path.cwd()
        """Where the workers resolve relative paths (the client's working directory)."""

    def dashboard_link(self) -> str | None:
        """Where the scheduler's dashboard is, if it serves one."""
        services = self.client.scheduler_info().get("services", {})
        return str(self.client.dashboard_link) if "dashboard" in services else None

    def threads(self) -> int:
        """How many tasks the cluster's workers run at once."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def check_workers(self, registry: Registry, source: RegistrySource) -> None:
        """Refuse workers without this docmigrate, or that cannot load the same families."""
        expected = fingerprint(registry)
        answers = self.client.run(
            _make_probe(),
            __version__,
            [str(p) for p in source.family_paths],
            str(source.cwd),
            on_error="return",
        )
        for worker, answer in sorted(answers.items()):
            _check_answer(worker, answer, expected)

    def run_tasks(
        self,
        tasks: Sequence[FileTask],
        registry: Registry,
        source: RegistrySource,
        *,
        fail_fast: bool = False,
        progress: Callable[[FileReport], None] = lambda _: None,
    ) -> Iterator[FileReport]:
        """Run every task on the cluster, yielding reports in task order as they arrive.

        Raises :class:`ClusterError` when the scheduler is lost, saying how many files were
        done, and :class:`ConfigurationError` when a worker cannot load the families.
        """
        from concurrent.futures import CancelledError  # it imports logging: Dask runs only

        done = 0
        reports = self._reports(tasks, source)
        try:
            for report in stream(reports, fail_fast=fail_fast, progress=progress):
                done += 1
                yield report
        except CancelledError:  # the client gave up on the scheduler and cancelled the rest
            raise self._lost(done, len(tasks)) from None
        except OSError:
            if self.client.status == "running":
                raise  # not the scheduler: e.g. the backup manifest could not be written
            raise self._lost(done, len(tasks)) from None

    def _lost(self, done: int, total: int) -> ClusterError:
        return ClusterError(
            f"lost the Dask scheduler at {self.address} after {done} of {total} files; run the "
            "same command again to finish (upgrade skips files already at the target, import "
            "skips files already imported)"
        )

    def _reports(
        self, tasks: Sequence[FileTask], source: RegistrySource
    ) -> Generator[FileReport, None, None]:
        distributed: Any = importlib.import_module("distributed")
        batches = _batches(tasks, self.threads())
        window = self.threads() * 4  # bounded, so that --fail-fast stops soon
        # Results are fetched as soon as each batch is done, not when its turn to be reported
        # comes: a result left on a worker that then dies is lost, and Dask runs its batch again
        # (which then finds its files already at the target).
        arrivals = distributed.as_completed(loop=self.client.loop)
        position: dict[str, int] = {}
        arrived: dict[int, Any] = {}
        submitted = 0
        try:
            for turn, batch in enumerate(batches):
                while submitted < len(batches) and submitted - turn < window:
                    future = self._submit(batches[submitted], source)
                    position[future.key] = submitted
                    arrivals.add(future)
                    submitted += 1
                while turn not in arrived:
                    future = next(arrivals)
                    arrived[position.pop(future.key)] = _outcome(future)
                yield from self._collect(batch, arrived.pop(turn), source)
        finally:
            if self.client.status == "running":  # not once the scheduler is lost
                self.client.cancel(list(arrivals.futures))

    def _submit(self, batch: list[FileTask], source: RegistrySource) -> Future:
        return self.client.submit(run_batch, __version__, source, self.cwd, batch, pure=False)

    def _collect(
        self, batch: list[FileTask], result: Any, source: RegistrySource
    ) -> Iterator[FileReport]:
        """The reports of a finished batch: its result, or what its failure means."""
        killed_worker: type[Exception] = importlib.import_module("distributed").KilledWorker
        if isinstance(result, killed_worker):
            if len(batch) == 1:
                yield batch[0].died()
                return
            # One of these files kills its workers: run each alone so that only it fails.
            for task in batch:
                alone = self._submit([task], source)
                yield from self._collect([task], _outcome(alone), source)
            return
        if isinstance(result, BaseException):  # lost scheduler, workers that cannot do the work
            raise result
        yield from result


def _outcome(future: Future) -> Any:
    """A future's result, or the exception it ended with."""
    try:
        return future.result()
    except Exception as error:
        return error


def _batches(tasks: Sequence[FileTask], threads: int) -> list[list[FileTask]]:
    """Cut the tasks, in order, into batches: small enough to keep every worker busy."""
    spread = -(-len(tasks) // (threads * BATCHES_PER_THREAD))  # rounded up
    limit = max(1, min(BATCH_FILES, spread))
    batches: list[list[FileTask]] = []
    current: list[FileTask] = []
    size = 0
    for task in tasks:
        current.append(task)
        size += _size(task.path)
        if len(current) >= limit or size >= BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the worker reports why it cannot be read


# --- on the workers ------------------------------------------------------------------------------

_REGISTRIES: dict[RegistrySource, Registry] = {}
_LOADING = threading.Lock()  # a worker may run several tasks at once: load each source once


def registry_on_worker(source: RegistrySource) -> Registry:
    """The families of ``source``, loaded once per worker process."""
    with _LOADING:
        if source not in _REGISTRIES:
            _REGISTRIES[source] = source.load()
        return _REGISTRIES[source]


def run_batch(
    version: str, source: RegistrySource, cwd: Path, tasks: Sequence[FileTask]
) -> list[FileReport]:
    """Run ``tasks`` on a Dask worker as if in ``cwd``; return their reports in order.

    Raises :class:`ClusterError` on a worker of another docmigrate version and
    :class:`ConfigurationError` when the families do not load here (both stop the run).
    """
    if version != __version__:
        raise ClusterError(
            f"Dask worker {_worker_address()} runs docmigrate {__version__}, the client "
            f"{version}: install the same version everywhere"
        )
    try:
        registry = registry_on_worker(source)
    except DocmigrateError as error:
        raise ConfigurationError(
            f"Dask worker {_worker_address()} cannot load the families: {error} ({SHARED_PATHS})"
        ) from None
    reports = []
    for task in tasks:
        anchored, given = task.anchored(cwd)
        reports.append(as_given(anchored.run(registry), given))
    return reports


def _worker_address() -> str:
    distributed: Any = importlib.import_module("distributed")
    try:
        return str(distributed.get_worker().address)
    except ValueError:  # not on a worker (called directly)
        return "(none)"


def fingerprint(registry: Registry) -> list[tuple[str, tuple[str, ...]]]:
    """What must be the same on every worker: each family's name and versions."""
    return sorted((family.name, tuple(family.versions)) for family in registry)


def worker_families(family_paths: list[str], cwd: str) -> list[tuple[str, tuple[str, ...]]]:
    """Load the families on a worker as the client did; return their fingerprint."""
    source = RegistrySource(tuple(Path(p) for p in family_paths), Path(cwd))
    return fingerprint(registry_on_worker(source))


def _make_probe() -> Callable[..., tuple[str, Any]]:
    """Make the function that each worker runs at the start.

    Defined inside, so that it travels by value: it must run, and say what is wrong, on a worker
    where docmigrate cannot be imported.
    """

    def probe(version: str, family_paths: list[str], cwd: str) -> tuple[str, Any]:
        import importlib

        try:
            package = importlib.import_module("docmigrate")
        except ImportError as error:
            return "missing", f"{type(error).__name__}: {error}"
        theirs = str(getattr(package, "__version__", "unknown"))
        if theirs != version:
            return "version", theirs
        executors = importlib.import_module("docmigrate.executors")
        try:
            return "families", executors.worker_families(family_paths, cwd)
        except Exception as error:
            return "broken", " ".join(str(error).split()) or type(error).__name__

    return probe


def _check_answer(worker: str, answer: Any, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    if isinstance(answer, BaseException):
        raise ClusterError(f"Dask worker {worker} failed the start-up check: {_one_line(answer)}")
    kind, detail = answer
    if kind == "missing":
        raise ClusterError(
            f"Dask worker {worker} cannot import docmigrate ({detail}); this client runs "
            f"docmigrate {__version__}: install it on every worker (pip install "
            f"'docmigrate[dask]=={__version__}')"
        )
    if kind == "version":
        raise ClusterError(
            f"Dask worker {worker} runs docmigrate {detail}, this client docmigrate "
            f"{__version__}: install the same version everywhere"
        )
    if kind == "broken":
        raise ConfigurationError(
            f"Dask worker {worker} cannot load the families: {detail} ({SHARED_PATHS})"
        )
    found = [(name, tuple(versions)) for name, versions in detail]
    if found != expected:
        raise ConfigurationError(
            f"Dask worker {worker} loads other families than this client (worker: "
            f"{_describe(found)}; client: {_describe(expected)}); {SHARED_PATHS}"
        )


def _describe(families: list[tuple[str, tuple[str, ...]]]) -> str:
    return ", ".join(f"{name} {'/'.join(versions)}" for name, versions in families) or "none"
