"""Stage: pose over time. Debounces one tracked hand's per-frame poses into a stable pose.

A per-frame label becomes *evidence* for a pose only if the classifier is confident
enough (``min_score``); pinch gets hysteresis on the pinch distance (enter below
``pinch_enter``, stay until above ``pinch_exit``). A new pose becomes the stable pose only
after it has been the evidence continuously for ``hold_ms`` (any other confident label
restarts the count), so a one-frame flicker changes nothing and a hand sweeping through
a pose on its way to another never fires it. A frame whose landmarks are doubtful
(``LandmarkQuality.DOUBTFUL``: tracked across a jump, unconfirmed) is no evidence at all:
it neither confirms, ends nor interrupts anything. All durations are in milliseconds of the
observations' own time, so behaviour is the same at 15 and 60 fps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from handmap.gestures.types import Handedness, LandmarkQuality, Pose, PoseEntered, PoseExited, PoseResult

#: Labels that end a stable pinch even while the pinch distance is inside the hysteresis
#: band: in a fist the thumb lies close to the curled index, which is not a pinch.
PINCH_BREAKING_LABELS = frozenset({Pose.CLOSED.value})


@dataclass(frozen=True)
class DebounceParams:
    hold_ms: float = 120.0  # a new pose must be seen this long before it is reported
    #: Per-pose override of ``hold_ms`` (e.g. a longer one for a pose bound to a key).
    pose_hold_ms: Mapping[str, float] = field(default_factory=dict)
    min_score: float = 0.5  # a frame classified with a lower score is not evidence
    pinch_enter: float = 0.25  # pinch distance (hand sizes) below which a pinch starts
    pinch_exit: float = 0.40  # pinch distance above which a stable pinch ends

    def hold_s(self, pose: str) -> float:
        return float(self.pose_hold_ms.get(pose, self.hold_ms)) / 1000.0


@dataclass(frozen=True)
class DebounceUpdate:
    """What one frame did to a hand's stable pose."""

    evidence: str | None  # the label this frame counted as (None: not evidence)
    exited: PoseExited | None = None
    entered: PoseEntered | None = None


class PoseDebouncer:
    """The stable pose of one tracked hand (hysteresis + minimum hold + confidence gate)."""

    def __init__(self, hand_id: int, params: DebounceParams = DebounceParams()) -> None:
        self.hand_id = hand_id
        self.params = params
        self.stable: str | None = None
        self.stable_since: float | None = None
        self._stable_score = 0.0
        self._candidate: str | None = None
        self._candidate_since = 0.0
        self._candidate_score = 0.0

    def evidence(self, result: PoseResult) -> str | None:
        """The pose this frame's classification counts for, or None if it is not evidence."""
        p = self.params
        if not (math.isfinite(result.score) and result.score >= p.min_score):
            return None
        label = result.label
        distance = result.pinch_distance
        pinch = Pose.PINCH.value
        if self.stable == pinch:
            if label != pinch and label not in PINCH_BREAKING_LABELS and math.isfinite(distance) and distance < p.pinch_exit:
                return pinch  # inside the hysteresis band: still pinching
            return label
        if label == pinch and math.isfinite(distance) and distance >= p.pinch_enter:
            return Pose.HAND.value  # closing in, not yet a pinch
        return label

    def update(self, t: float, frame: int, hand: Handedness, result: PoseResult,
               quality: LandmarkQuality = LandmarkQuality.GOOD) -> DebounceUpdate:
        if quality is LandmarkQuality.DOUBTFUL:
            # The landmarks may not be the hand's: this frame says nothing about the pose
            # (a candidate's run goes on, as if the frame had not been seen).
            return DebounceUpdate(None)
        label = self.evidence(result)
        if label is None:
            # Not evidence: it neither confirms a new pose nor ends the current one, but
            # it does break a candidate's run (a new pose needs confident frames only).
            self._candidate = None
            return DebounceUpdate(None)
        if label == self.stable:
            self._candidate = None
            self._stable_score = max(self._stable_score, result.score)
            return DebounceUpdate(label)
        if label != self._candidate:
            self._candidate, self._candidate_since, self._candidate_score = label, t, result.score
        else:
            self._candidate_score = max(self._candidate_score, result.score)
        if t - self._candidate_since + 1e-9 < self.params.hold_s(label):
            return DebounceUpdate(label)
        previous = self.stable
        exited = None
        if previous is not None:
            exited = PoseExited(t=t, frame=frame, hand_id=self.hand_id, hand=hand, pose=previous)
        entered = PoseEntered(
            t=t, frame=frame, hand_id=self.hand_id, hand=hand, pose=label,
            score=float(self._candidate_score), previous=previous,
        )
        self.stable, self.stable_since, self._stable_score = label, t, self._candidate_score
        self._candidate = None
        return DebounceUpdate(label, exited, entered)

    def release(self, t: float, frame: int, hand: Handedness) -> PoseExited | None:
        """The hand is gone: exit its stable pose (if any) and forget it."""
        previous = self.stable
        self.stable = self.stable_since = self._candidate = None
        if previous is None:
            return None
        return PoseExited(t=t, frame=frame, hand_id=self.hand_id, hand=hand, pose=previous)
