"""A time limit on user code: steps that never return become a failure of their file.

In the main thread (this process, or a local worker process) the limit uses ``SIGALRM`` and an
interval timer, so it interrupts a step that loops in Python code or sleeps. Signals reach the
main thread only, so in another thread (a Dask worker runs tasks in threads) a timer thread
raises the error asynchronously in the limited thread instead: that interrupts a step looping
in Python code, and a step sleeping when its sleep returns. Neither can interrupt a step blocked
inside a C extension that never returns to the interpreter.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Expired(BaseException):
    """Raised inside the limited code when its time is up.

    A ``BaseException``, so that a step's own ``except Exception`` cannot swallow it.
    """


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`Expired` inside the body if it runs longer than ``seconds``.

    ``None`` (or a limit that cannot be enforced here: not the main thread, no SIGALRM) runs
    the body without a limit.
    """
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        with _thread_limit(seconds):
            yield
        return
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Expired(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _thread_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Expired` in this (non-main) thread if the body runs past ``seconds``."""
    import ctypes  # noqa: F401 - here, so that the timer thread never waits on an import

    target = threading.get_ident()
    lock = threading.Lock()
    state = {"inside": True, "fired": False}

    def expire() -> None:
        with lock:  # never fire once the body is left
            if state["inside"]:
                state["fired"] = True
                _raise_in(target, Expired)

    timer = threading.Timer(max(seconds, 1e-3), expire)
    timer.daemon = True
    try:
        timer.start()  # inside: it may fire before start() returns
        yield
    finally:
        timer.cancel()
        with lock:
            state["inside"] = False
            if state["fired"]:
                _raise_in(target, None)  # drop it if not delivered yet: it must not leak out
        if state["fired"]:
            raise Expired(seconds)


def _raise_in(thread_id: int, error: type[BaseException] | None) -> None:
    """Have ``thread_id`` raise ``error`` at its next Python instruction (None: cancel that)."""
    # None travels as NULL, which cancels; py_object(None) would raise None instead.
    import ctypes  # imported already by _thread_limit, in the step's own thread

    pending = None if error is None else ctypes.py_object(error)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), pending)
