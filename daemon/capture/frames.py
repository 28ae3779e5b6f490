"""Frames and the source contract: what every capture source hands the run loop.

``Frame`` is one picture (or, from a trace, one recorded observation); ``Source`` is
everything the run loop (``handmap.daemon.runtime.daemon``) asks of a source; ``Pacer``
plays file sources at their own rate when asked (``--realtime``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handmap.gestures.types import FrameObservation


class SourceError(Exception):
    """A source that cannot be opened or read; the message says which and what to do."""


class SourceLost(Exception):
    """A live source stopped delivering frames (the camera was unplugged...)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame: a BGR image as OpenCV decodes it, or (from a trace) an observation."""

    t: float  # the source's time, seconds
    index: int  # the source's frame number
    image: np.ndarray | None = None
    observation: FrameObservation | None = None
    available_at: float = 0.0  # time.perf_counter() when the frame became available


class Source(Protocol):
    """Everything the run loop uses of a source. Every source has every member; one
    that cannot do something cheaply says so (``can_skip``)."""

    name: str
    #: A camera (retried when lost) rather than a file (which ends).
    live: bool
    #: Frames come at the source's own pace (a camera; a file with ``--realtime``), not
    #: as fast as they are read: only then is there an idle rate to fall back to.
    realtime: bool
    #: ``skip`` passes a frame over for less than ``read`` (undecoded); False: ``skip``
    #: is a ``read`` whose frame is thrown away, and the loop does not idle on it.
    can_skip: bool
    #: Set by the loop while no hand is in view: a camera then converts only the
    #: frames that are read, not the ones skipped.
    idle: bool

    def read(self) -> Frame | None:
        """The next frame, None at the end of a file; raises SourceLost for a camera."""
        ...

    def skip(self) -> bool:
        """Pass over the next frame (the idle rate); False at the end of a file."""
        ...

    @property
    def dropped(self) -> int:
        """Frames the source let go by unread because a newer one came (stale frames)."""
        ...

    def close(self) -> None: ...


class Pacer:
    """Plays file sources at their own rate when asked (``--realtime``)."""

    def __init__(self, realtime: bool) -> None:
        self.realtime = realtime
        self._start: float | None = None

    def wait(self, t: float) -> None:
        """Sleep until source time ``t`` is due (at once when not real-time)."""
        if not self.realtime:
            return
        now = time.perf_counter()
        if self._start is None:
            self._start = now - t
        delay = self._start + t - now
        if delay > 0:
            time.sleep(delay)
