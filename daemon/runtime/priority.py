"""Thread priorities: the pointer's path first, face checks behind it.

The hand model, gestures, mapping and output run at the process's own priority. Face
checks (the face model, the body model, the search near faces, and the thread that feeds
them) are background work: on a busy two-core machine the kernel should give a core to
the pointer's path first, and to a face check only what is left. MediaPipe starts each
model's own worker threads when the model is created, so the models are created inside
``background()``, which lowers every thread started in it.

Linux only (threads are listed in ``/proc/self/task`` and each has its own nice value);
elsewhere nothing changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

#: How many nice steps below the process background threads run (CFS gives a nice-10
#: thread about a tenth of the share of a nice-0 one when they want the same core).
BACKGROUND_NICE = 10

TASKS = Path("/proc/self/task")

#: The variables that size numpy's BLAS thread pool (OpenBLAS, and OpenMP builds).
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def single_threaded_blas(env: MutableMapping[str, str] | None = None) -> None:
    """Keep numpy's BLAS on the calling thread (unless the user set these variables).

    The pose model's products are tiny (one hand at a time): a second BLAS thread
    halves nothing and spins on the other core, the one the face checks and the
    look-ahead need (measured: a ``classify`` call cost twice its wall time in CPU).
    Must run before numpy is imported; the command line calls it first.
    """
    target: MutableMapping[str, str] = os.environ if env is None else env
    for name in BLAS_THREAD_VARS:
        target.setdefault(name, "1")


def thread_ids() -> set[int]:
    """This process's threads (kernel thread ids); empty where the kernel does not list them."""
    try:
        return {int(name) for name in os.listdir(TASKS)}
    except (OSError, ValueError):
        return set()


def thread_nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@contextmanager
def background(nice: int = BACKGROUND_NICE) -> Iterator[None]:
    """Threads started inside this block run ``nice`` steps below the process.

    Threads another thread starts meanwhile would be lowered too: use it where models
    are built, not while the daemon's loop runs."""
    before = thread_ids()
    try:
        yield
    finally:
        if before and hasattr(os, "setpriority"):
            base = os.getpriority(os.PRIO_PROCESS, 0)
            for tid in thread_ids() - before:
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, min(base + nice, 19))
                except OSError as exc:  # it ended meanwhile
                    log.debug("thread %d keeps its priority (%s)", tid, exc)
