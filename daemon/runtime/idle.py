"""The idle rate: with no hand in view for a while, the daemon looks at a few frames a
second only, and runs the hand model on them only when something moved.

``IdlePolicy`` decides, frame by frame, for the run loop: after ``IDLE_AFTER_S`` without
a hand, a source that can pass frames over cheaply (a camera, a ``--realtime`` file) has
``IDLE_RATE_HZ`` frames a second read and the rest skipped undecoded; of those read, the
hand model sees one only when ``MotionGate`` says the view changed, or ``IDLE_LOOK_S``
after the last look. A hand seen brings the full rate back at once.
"""

from __future__ import annotations

import numpy as np

from handmap.daemon.capture.frames import Frame, Source

#: With no hand in view for this long, look for hands at the idle rate only.
IDLE_AFTER_S = 1.0
#: How often the view is checked while idle (frames in between pass undecoded); the hand
#: model runs on a check only when something moved, or at least IDLE_LOOK_S apart.
IDLE_RATE_HZ = 5.0
IDLE_LOOK_S = 1.0


class MotionGate:
    """Has anything moved since the last look? A hand coming into view changes a
    visible share of a small grey thumbnail; sensor noise does not."""

    SIZE = (64, 48)
    PIXEL_DELTA = 24  # grey levels
    CHANGED_SHARE = 0.004  # of the thumbnail's pixels

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def moved(self, bgr: np.ndarray) -> bool:
        import cv2

        small = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), self.SIZE, interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, small
        if previous is None:
            return True
        changed = np.count_nonzero(cv2.absdiff(small, previous) > self.PIXEL_DELTA)
        return bool(changed > self.CHANGED_SHARE * small.size)

    def reset(self) -> None:
        self._previous = None


class IdlePolicy:
    """Whether the loop reads, skips or lets go of a frame while no hand is in view.
    ``now`` is always ``time.monotonic()``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        #: Frames passed over at the idle rate (skipped unread, or read and not looked at).
        self.skipped = 0
        self._last_hand: float | None = None  # None: not started, never idle
        self._next_check = 0.0
        self._next_look = 0.0
        self._motion = MotionGate()

    def hand_seen(self, now: float) -> None:
        """A hand is in view (or the run starts): full rate for IDLE_AFTER_S at least."""
        self._last_hand = now

    def idle(self, now: float) -> bool:
        return self.enabled and self._last_hand is not None and now - self._last_hand >= IDLE_AFTER_S

    @staticmethod
    def applies_to(source: Source) -> bool:
        """Only a source whose frames come at their own pace, and that can pass one over
        for less than reading it, has an idle rate."""
        return (source.live or source.realtime) and source.can_skip

    def skip_next(self, source: Source, now: float) -> bool:
        """Before a read: tells the source whether the daemon idles (a camera then
        converts only the frames read), and whether this frame is skipped rather than
        read (all but IDLE_RATE_HZ a second while idle)."""
        idle = source.idle = self.idle(now)
        if not idle or not self.applies_to(source):
            return False
        if now >= self._next_check:
            self._next_check = now + 1.0 / IDLE_RATE_HZ
            return False
        return True

    def still(self, source: Source, frame: Frame, now: float) -> bool:
        """After a read: True when, idle, the view has not moved since the last look and
        the next look is not due (no hand to look for: the frame is let go)."""
        if frame.image is None or not self.applies_to(source) or not self.idle(now):
            return False
        try:
            moved = self._motion.moved(frame.image)
        except Exception:  # a corrupt frame: the pipeline drops it, with the reason
            moved = True
        if not moved and now < self._next_look:
            self.skipped += 1
            return True
        self._next_look = now + IDLE_LOOK_S
        return False
