"""Stage: the pointer. One tracked hand's control point, filtered, with a click lock.

The control point is, by default, the palm centre (mean of the wrist and the four
knuckles): it is the steadiest point of the hand (five rigid landmarks averaged, about
half the jitter of a fingertip, measured on real MediaPipe output) and, unlike the index
tip or the pinch point, it barely moves when the fingers close into a click pose. The
index tip (precise pointing with a "point" pose) and the pinch point (midpoint of thumb
and index tips, handtrack.js' "pinchtip") are the alternatives.

The point is smoothed with a One Euro filter (time-based). The *click lock* freezes the
pointer while the hand is closing into a pinch or a fist (pinch distance falling fast or
the fingers curling fast), so clicking does not drag the cursor; the frozen position is
the filtered one from just before the closing began. The lock ends when the stable pose
changes (the click pose was established or given up) or after ``lock_max_ms``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from handmap.gestures.filters import OneEuroFilter, OneEuroParams
from handmap.gestures.landmarks import FINGER_JOINTS, Finger, HandLandmark
from handmap.gestures.tracking import hand_size, palm_point


class ControlPoint(str, Enum):
    PALM = "palm"  # mean of the wrist and the four knuckles
    INDEX_TIP = "index_tip"
    PINCH_POINT = "pinch_point"  # midpoint of the thumb and index tips


#: The fingers whose curl (tip to wrist distance) the click lock watches.
CURL_FINGERS = (Finger.INDEX, Finger.MIDDLE, Finger.RING, Finger.PINKY)


def control_point(landmarks: np.ndarray, which: ControlPoint) -> np.ndarray:
    """The control point (x, y) in normalised image coordinates."""
    pts = np.asarray(landmarks, dtype=float)[:, :2]
    if which is ControlPoint.INDEX_TIP:
        return pts[HandLandmark.INDEX_TIP].copy()
    if which is ControlPoint.PINCH_POINT:
        return (pts[HandLandmark.THUMB_TIP] + pts[HandLandmark.INDEX_TIP]) / 2.0
    return np.array(palm_point(pts))


_CURL_TIPS = tuple(int(FINGER_JOINTS[f][-1]) for f in CURL_FINGERS)
_WRIST = int(HandLandmark.WRIST)


def curl_extent(landmarks: np.ndarray, aspect: float = 1.0) -> float:
    """Mean fingertip-to-wrist distance over the four fingers, in hand sizes (about 2
    for an open hand, under 1 for a fist); falls as the fingers curl."""
    pts = np.asarray(landmarks, dtype=float)
    size = max(hand_size(pts, aspect), 1e-6)
    item = pts.item
    wx, wy = item(_WRIST, 0), item(_WRIST, 1)
    total = 0.0
    for tip in _CURL_TIPS:  # four distances: plain floats cost less than numpy's calls
        total += math.hypot((item(tip, 0) - wx) * aspect, item(tip, 1) - wy)
    return total / (len(_CURL_TIPS) * size)


@dataclass(frozen=True)
class PointerParams:
    control_point: ControlPoint = ControlPoint.PALM
    #: One Euro parameters, in normalised image units (1.0 = the image's width/height).
    filter: OneEuroParams = OneEuroParams(min_cutoff=0.5, beta=8.0, d_cutoff=1.0)
    click_lock: bool = True
    #: Lock when the pinch distance falls faster than this (hand sizes per second) ...
    lock_pinch_rate: float = 1.5
    #: ... or the mean fingertip-to-wrist distance falls faster than this (hand sizes/s).
    lock_curl_rate: float = 2.0
    lock_window_ms: float = 80.0  # the rates are measured over this much recent time
    lock_max_ms: float = 400.0  # the lock ends after this long whatever happens
    #: The frozen position is the filtered one from this long before the lock started.
    lock_lookback_ms: float = 60.0


@dataclass(frozen=True)
class PointerState:
    position: tuple[float, float]  # normalised image coordinates
    locked: bool


class PointerTracker:
    """The filtered control point of one tracked hand, with the click lock."""

    def __init__(self, params: PointerParams = PointerParams()) -> None:
        self.params = params
        self._filter = OneEuroFilter(params.filter)
        self._history: deque[tuple[float, float, float, np.ndarray]] = deque()  # t, pinch, curl, filtered
        self._locked_at: float | None = None
        self._frozen: np.ndarray | None = None
        self._rearm_at = -math.inf  # no new lock before this time (after an unlock)

    @property
    def locked(self) -> bool:
        return self._locked_at is not None

    def unlock(self, t: float | None = None) -> None:
        """End the lock; with ``t``, no new lock for one lock window (the closing that
        caused this one must not lock the pointer again)."""
        self._locked_at = None
        self._frozen = None
        if t is not None:
            self._rearm_at = t + self.params.lock_window_ms / 1000.0

    def _rate(self, t: float, index: int, value: float) -> float:
        """Change per second of a history column over the lock window (0 without data)."""
        window = self.params.lock_window_ms / 1000.0
        past = None
        for entry in self._history:
            if t - entry[0] <= window + 1e-9:
                break
            past = entry
        if past is None:
            past = self._history[0] if self._history else None
        if past is None or not t > past[0] or not math.isfinite(past[index]) or not math.isfinite(value):
            return 0.0
        return (value - float(past[index])) / (t - past[0])

    def _position_before(self, t: float) -> np.ndarray:
        target = t - self.params.lock_lookback_ms / 1000.0
        chosen = None
        for entry in self._history:
            if entry[0] <= target + 1e-9:
                chosen = entry[3]
        if chosen is None:
            chosen = self._history[0][3] if self._history else self._filter.value
        return np.array(chosen, dtype=float)

    def update(
        self,
        t: float,
        landmarks: np.ndarray,
        pinch_distance: float,
        aspect: float = 1.0,
        pose_changed: bool = False,
    ) -> PointerState:
        """Feed one frame of the hand; ``pose_changed`` says its stable pose changed."""
        p = self.params
        raw = control_point(landmarks, p.control_point)
        filtered = self._filter(t, raw)
        curl = curl_extent(landmarks, aspect)
        locked_at = self._locked_at
        if locked_at is not None and (pose_changed or (t - locked_at) * 1000.0 >= p.lock_max_ms):
            self.unlock(t)
        if p.click_lock and not self.locked and t >= self._rearm_at and not pose_changed and self._history:
            closing_pinch = self._rate(t, 1, pinch_distance) <= -p.lock_pinch_rate
            closing_fist = self._rate(t, 2, curl) <= -p.lock_curl_rate
            if closing_pinch or closing_fist:
                self._locked_at = t
                self._frozen = self._position_before(t)
        horizon = max(p.lock_window_ms, p.lock_lookback_ms) / 1000.0 * 2.0
        self._history.append((t, pinch_distance, curl, filtered))
        while len(self._history) > 2 and t - self._history[1][0] > horizon:
            self._history.popleft()
        out = self._frozen if self._frozen is not None else filtered
        return PointerState((float(out[0]), float(out[1])), self.locked)
