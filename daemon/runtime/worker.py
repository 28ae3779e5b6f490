"""The single-slot worker: one job at a time on a thread of its own.

Used twice by the pipeline: the ``handmap-after`` thread (the second half of a frame:
gestures, mapping, output) and the ``handmap-faces`` thread (face checks). A job never
queues behind another: ``offer`` hands one over only when the worker is free, ``put``
waits until it is. Finished jobs' results are picked up with ``take``, in order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Generic, TypeVar

from handmap.daemon.runtime.priority import background

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

#: What ``take`` returns when nothing finished (shared: no allocation per frame).
_NOTHING: tuple = ()


class WorkerClosed(RuntimeError):
    """A job handed to a worker that was closed."""


class SingleSlotWorker(Generic[J, R]):
    """Runs ``work(job)`` on its own thread, one job at a time.

    ``work`` returns the job's result (kept for ``take``) or None (nothing to keep); it
    should handle its own errors: one that escapes is logged and the job counts as done.
    With ``low_priority`` the thread runs behind the pointer's path (``priority``).
    """

    def __init__(self, work: Callable[[J], R | None], name: str, low_priority: bool = False) -> None:
        self._work = work
        self._cond = threading.Condition()
        self._job: J | None = None
        self._busy = False  # a job handed over and not finished yet
        self._closed = False
        self._done: list[R] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        with background() if low_priority else nullcontext():
            self._thread.start()

    def offer(self, job: J) -> bool:
        """Hand ``job`` over if the worker is free; False (job not taken) if it is busy."""
        with self._cond:
            if self._busy or self._closed:
                return False
            self._job = job
            self._busy = True
            self._cond.notify_all()
            return True

    def put(self, job: J) -> None:
        """Hand ``job`` over once the job before is done (jobs finish in order)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._busy or self._closed)
            if self._closed:
                raise WorkerClosed(f"{self._thread.name} is closed")
            self._job = job
            self._busy = True
            self._cond.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the job in flight is done; False on a timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def take(self) -> Sequence[R]:
        """Results of the jobs finished since the last call, in order."""
        with self._cond:
            if not self._done:
                return _NOTHING
            done, self._done = self._done, []
            return done

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._job is None:  # closed, nothing left to do
                    return
                job, self._job = self._job, None
            result: R | None = None
            try:
                result = self._work(job)
            except Exception:
                log.exception("%s: a job failed", self._thread.name)
            finally:
                with self._cond:
                    if result is not None:
                        self._done.append(result)
                    self._busy = False
                    self._cond.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Let the job in flight finish (up to ``timeout``), then stop the thread."""
        self.settle(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
