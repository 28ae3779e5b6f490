"""The live view's frames: while a settings page is open, the newest analysed frame is
kept (in memory, never written) and drawn as the preview draws it when a page asks; with
no page open the pipeline hands it nothing (one clock read per frame)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handmap.daemon.tools.preview import Preview, PreviewState
from handmap.gestures.types import FrameObservation, GestureFrame

#: A page that has not asked for anything for this long is taken to be closed.
OPEN_FOR_S = 3.0
JPEG_QUALITY = 70


class Listener(Protocol):
    @property
    def active(self) -> bool: ...

    def observe(self, obs: FrameObservation) -> None: ...


@dataclass(frozen=True)
class HandNow:
    """One hand in the newest frame, as the live page lists it."""

    hand: str
    pose: str
    score: float

    def to_json(self) -> dict:
        return {"hand": self.hand, "pose": self.pose, "score": round(self.score, 3)}


class FrameTap:
    """Takes frames from the pipeline (its thread) while :attr:`wanted`; pages read the
    newest one as JPEG (the server's threads)."""

    def __init__(self, state: Callable[[], PreviewState], clock: Callable[[], float] = time.monotonic) -> None:
        self._state = state
        self._clock = clock
        self._asked = -OPEN_FOR_S * 2
        self._lock = threading.Lock()
        self._newest: tuple[np.ndarray, FrameObservation | None, GestureFrame | None, bool] | None = None
        self._hands: tuple[HandNow, ...] = ()
        self._seq = 0
        self._renderer: Preview | None = None
        #: Told every analysed frame's observation while it is active (teaching a pose).
        self.listener: Listener | None = None
        self._render_lock = threading.Lock()

    @property
    def wanted(self) -> bool:
        listener = self.listener
        return self._clock() - self._asked < OPEN_FOR_S or (listener is not None and listener.active)

    def asked(self) -> None:
        """A page asked for something: frames are kept for a while."""
        self._asked = self._clock()

    def offer(self, image: np.ndarray | None, obs: FrameObservation | None, gframe: GestureFrame | None,
              mirror: bool) -> None:
        """The pipeline's frame (``gframe`` None: not analysed, the daemon is paused)."""
        listener = self.listener
        if listener is not None and obs is not None and listener.active:
            listener.observe(obs)
        if image is None or not self.wanted:
            return
        hands = tuple(HandNow(h.handedness.value, h.pose or "hand", h.raw.score)
                      for h in (gframe.hands if gframe is not None else ()))
        with self._lock:
            self._newest = (image.copy(), obs, gframe, mirror)
            self._hands = hands
            self._seq += 1

    def hands(self) -> tuple[int, tuple[HandNow, ...]]:
        """The newest frame's number (counting from the page's opening) and its hands."""
        with self._lock:
            return self._seq, self._hands

    def jpeg(self) -> bytes | None:
        """The newest frame drawn as the preview draws it, None before the first."""
        import cv2

        with self._lock:
            newest = self._newest
        if newest is None:
            return None
        image, obs, gframe, mirror = newest
        with self._render_lock:
            if self._renderer is None:
                self._renderer = Preview(self._state, window=False)
            picture = self._renderer.render(image, obs, gframe, mirror)
        ok, data = cv2.imencode(".jpg", picture, [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
        return data.tobytes() if ok else None

    def forget(self) -> None:
        """Drop the kept frame (no page open)."""
        with self._lock:
            self._newest = None
            self._hands = ()
