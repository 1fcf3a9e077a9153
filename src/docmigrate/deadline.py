"""A time limit on user code: steps that never return become a failure of their file.

The limit uses ``SIGALRM`` and an interval timer, so it interrupts a step that loops in Python
code or sleeps, in the main thread of this process or of a worker process. It cannot interrupt
a step blocked inside a C extension that never returns to the interpreter, and it is not
enforced outside the main thread (signals are delivered there only).
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
    if (
        seconds is None
        or not hasattr(signal, "SIGALRM")
        or threading.current_thread() is not threading.main_thread()
    ):
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
