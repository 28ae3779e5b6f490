"""Stage: hand motion. Swipes from a tracked hand's velocity, and "held for T ms" timers.

Speeds and distances are in hand sizes (wrist to middle knuckle, about a palm's width),
so a swipe means the same near the camera and far from it. Directions are in image
coordinates as the tracker delivers them (right = increasing x, down = increasing y);
a mirrored (selfie) view must be flipped by the source, not here.

A swipe is a *stroke*: it starts when the hand's speed (measured over
``velocity_window_ms``) rises above ``stroke_speed`` and ends when it falls below it. A
stroke fires one :class:`Swipe` once its travel along its main axis reaches
``min_travel``, its peak speed has reached ``min_speed`` and the main axis dominates the
other by ``axis_ratio``; then the hand is ignored for ``refractory_ms`` (so the hand's
return movement does not swipe back).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handmap.gestures.tracking import hand_size, palm_point
from handmap.gestures.types import Handedness, PoseHeld, Swipe, SwipeDirection


@dataclass(frozen=True)
class SwipeParams:
    enabled: bool = True
    min_speed: float = 5.0  # hand sizes per second, the stroke's peak speed
    stroke_speed: float = 2.5  # hand sizes per second: above this the hand is in a stroke
    min_travel: float = 1.5  # hand sizes along the main axis within one stroke
    axis_ratio: float = 1.5  # main-axis travel over cross-axis travel, at least
    velocity_window_ms: float = 100.0
    refractory_ms: float = 600.0


class SwipeDetector:
    """Swipes of one tracked hand."""

    def __init__(self, hand_id: int, params: SwipeParams = SwipeParams()) -> None:
        self.hand_id = hand_id
        self.params = params
        self._history: deque[tuple[float, tuple[float, float], float]] = deque()  # t, centre (x, y), size
        self._stroke_start: tuple[float, float] | None = None
        self._stroke_peak = 0.0
        self._stroke_fired = False
        self._quiet_until = -np.inf

    def reset(self) -> None:
        self._history.clear()
        self._stroke_start = None

    def update(
        self, t: float, frame: int, hand: Handedness, landmarks: np.ndarray, aspect: float = 1.0
    ) -> Swipe | None:
        p = self.params
        # Plain floats: a handful of 2-vector operations cost more in numpy than in Python.
        pts = np.asarray(landmarks, dtype=float)
        centre = palm_point(pts, aspect)
        size = max(hand_size(pts, aspect), 1e-6)
        window = p.velocity_window_ms / 1000.0
        self._history.append((t, centre, size))
        while len(self._history) > 2 and t - self._history[1][0] >= window - 1e-9:
            self._history.popleft()
        if not p.enabled or len(self._history) < 2:
            return None
        t0, c0, _ = self._history[0]
        if not t > t0:
            return None
        scale = statistics.median([s for _, _, s in self._history])
        speed = math.hypot(centre[0] - c0[0], centre[1] - c0[1]) / (t - t0) / scale  # hand sizes per second
        if t < self._quiet_until:
            self._stroke_start = None
            return None
        if speed < p.stroke_speed:
            self._stroke_start = None
            return None
        if self._stroke_start is None:
            # The stroke began where the velocity window began.
            self._stroke_start, self._stroke_peak, self._stroke_fired = c0, 0.0, False
        self._stroke_peak = max(self._stroke_peak, speed)
        if self._stroke_fired:
            return None
        travel = ((centre[0] - self._stroke_start[0]) / scale, (centre[1] - self._stroke_start[1]) / scale)
        ax, ay = abs(travel[0]), abs(travel[1])
        main, cross = (ax, ay) if ax >= ay else (ay, ax)
        if main < p.min_travel or self._stroke_peak < p.min_speed or main < p.axis_ratio * cross:
            return None
        if ax >= ay:
            direction = SwipeDirection.RIGHT if travel[0] > 0 else SwipeDirection.LEFT
        else:
            direction = SwipeDirection.DOWN if travel[1] > 0 else SwipeDirection.UP
        self._stroke_fired = True
        self._quiet_until = t + p.refractory_ms / 1000.0
        return Swipe(t=t, frame=frame, hand_id=self.hand_id, hand=hand, direction=direction,
                     speed=round(self._stroke_peak, 3))


class HoldTimer:
    """``PoseHeld`` once for each configured duration while a stable pose lasts."""

    def __init__(self, hand_id: int, durations_ms: Sequence[float] = ()) -> None:
        self.hand_id = hand_id
        self.durations_ms = tuple(sorted(set(float(d) for d in durations_ms)))
        self._pose: str | None = None
        self._since = 0.0
        self._fired: set[float] = set()

    def update(self, t: float, frame: int, hand: Handedness, pose: str | None, since: float | None) -> list[PoseHeld]:
        """Feed the hand's stable pose and when it became stable; returns the held events."""
        if pose is None or since is None:
            self._pose = None
            return []
        if pose != self._pose or since != self._since:
            self._pose, self._since, self._fired = pose, since, set()
        held_ms = (t - since) * 1000.0
        events = []
        for duration in self.durations_ms:
            if duration not in self._fired and held_ms + 1e-6 >= duration:
                self._fired.add(duration)
                events.append(PoseHeld(t=t, frame=frame, hand_id=self.hand_id, hand=hand, pose=pose, held_ms=duration))
        return events
