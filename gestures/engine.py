"""Stage: the gesture engine. Observations in, tracked hands and gesture events out.

Per frame (:meth:`GestureEngine.update`): hands are matched to stable ids
(``tracking``), classified (``poses.classify``), debounced into a stable pose
(``temporal``), their control point filtered with the click lock (``pointer``), and their
motion turned into swipes and hold timers (``motion``); an optional face-touch detector
adds its events. Pure and deterministic: the same observations give the same frames.

Events in a frame are ordered: first the hands lost this frame (ascending id; each
``PoseExited`` then ``HandLost``; then any merged away, see ``tracking``), then each tracked hand in ascending id
(``PoseExited``, ``PoseEntered``, ``PoseHeld`` by duration, ``Swipe``), then the
face-touch events in the detector's order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from handmap.gestures import poses
from handmap.gestures.filters import OneEuroParams
from handmap.gestures.landmarks import NUM_HAND_LANDMARKS
from handmap.gestures.motion import HoldTimer, SwipeDetector, SwipeParams
from handmap.gestures.pointer import ControlPoint, PointerParams, PointerTracker
from handmap.gestures.poses import LandmarkError, classify
from handmap.gestures.taught import TaughtSet
from handmap.gestures.temporal import DebounceParams, PoseDebouncer
from handmap.gestures.tracking import HandIdentities, IdentityParams
from handmap.gestures.types import (
    FaceTouch,
    FrameObservation,
    GestureEvent,
    GestureFrame,
    HandLost,
    HandObservation,
    PoseSpec,
    TrackedHand,
)

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------
# Face touch: implemented by gestures/face_touch.py (FaceTouchTracker).
# ---------------------------------------------------------------------------------


@runtime_checkable
class FaceTouchDetector(Protocol):
    """What the engine needs of a face-touch detector.

    ``update`` is called once per frame, after the hands are processed, with the whole
    observation (``obs.faces``/``obs.body`` are None on frames where those models did
    not run: keep the last decision then). It returns whether a hand touches the face in
    this frame (debounced as the detector sees fit; it becomes
    ``GestureFrame.face_touching``) and the episode events of this frame (``FaceTouch``
    with state START when an episode begins, END when it ends), in time order.
    """

    def update(self, obs: FrameObservation) -> tuple[bool, Sequence[FaceTouch]]: ...


@runtime_checkable
class ClosableFaceTouchDetector(FaceTouchDetector, Protocol):
    """Optionally (``FaceTouchTracker`` does), a detector can also end an open episode at
    once and forget its state: :meth:`GestureEngine.lost_all` (pause, camera loss) calls
    ``close`` and reports the END it returns; :meth:`GestureEngine.reset` calls ``reset``."""

    def close(self, t: float, frame: int) -> Sequence[FaceTouch]: ...

    def reset(self) -> None: ...


# ---------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GestureConfig:
    """Every gesture-engine parameter. Durations in ms, distances in hand sizes (wrist to
    middle knuckle) unless said otherwise; the filter works in normalised image units."""

    # temporal (pose debouncing)
    hold_ms: float = 120.0  # a new pose must last this long to become the stable pose
    pose_hold_ms: Mapping[str, float] = field(default_factory=dict)  # per-pose override
    min_score: float = 0.5  # classifications below this score are not evidence
    pinch_enter: float = 0.25  # pinch distance below which a pinch starts
    pinch_exit: float = 0.40  # pinch distance above which a pinch ends
    # tracking
    grace_ms: float = 150.0  # an unseen hand is kept this long before HandLost
    track_max_jump: float = 1.5  # hand sizes a hand may move between frames and keep its id
    track_max_speed: float = 40.0  # ... plus this many hand sizes per second of gap
    # pointer
    control_point: str = ControlPoint.PALM.value  # palm | index_tip | pinch_point
    filter_min_cutoff: float = 0.5  # One Euro, Hz (the cutoff at rest)
    filter_beta: float = 8.0  # One Euro, Hz per (image widths per second)
    filter_d_cutoff: float = 1.0  # One Euro, Hz
    click_lock: bool = True
    lock_pinch_rate: float = 1.5  # lock when the pinch distance falls this fast (per s)
    lock_curl_rate: float = 2.0  # ... or the fingertips approach the wrist this fast (per s)
    lock_window_ms: float = 80.0
    lock_max_ms: float = 400.0
    lock_lookback_ms: float = 60.0
    # motion
    swipe: bool = True
    swipe_min_speed: float = 5.0  # hand sizes per second (peak)
    swipe_stroke_speed: float = 2.5  # hand sizes per second (a stroke is under way)
    swipe_min_travel: float = 1.5  # hand sizes
    swipe_axis_ratio: float = 1.5
    swipe_velocity_window_ms: float = 100.0
    swipe_refractory_ms: float = 600.0
    hold_durations_ms: tuple[float, ...] = (500.0, 1000.0)  # PoseHeld after these

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _BOOL_KEYS:
                if not isinstance(value, bool):
                    raise ValueError(f"gesture setting {f.name} must be true or false, got {value!r}")
            elif f.name == "control_point":
                choices = [c.value for c in ControlPoint]
                if value not in choices:
                    raise ValueError(f"gesture setting control_point must be one of {', '.join(choices)}, got {value!r}")
            elif f.name == "hold_durations_ms":
                if not isinstance(value, tuple) or not all(_is_number(v) and v > 0 for v in value):
                    raise ValueError(f"gesture setting hold_durations_ms must be a list of positive numbers of ms, got {value!r}")
            elif f.name == "pose_hold_ms":
                if not isinstance(value, Mapping) or not all(isinstance(k, str) and _is_number(v) and v >= 0 for k, v in value.items()):
                    raise ValueError(f"gesture setting pose_hold_ms must map pose names to numbers of ms (0 or more), got {value!r}")
            else:
                if not _is_number(value):
                    raise ValueError(f"gesture setting {f.name} must be a number, got {value!r}")
                positive = f.name not in _ZERO_OK
                if value < 0 or (positive and value == 0):
                    raise ValueError(f"gesture setting {f.name} must be {'positive' if positive else 'zero or more'}, got {value!r}")
        if self.min_score > 1:
            raise ValueError(f"gesture setting min_score must be between 0 and 1, got {self.min_score!r}")
        if not self.pinch_enter < self.pinch_exit:
            raise ValueError(
                f"gesture setting pinch_enter ({self.pinch_enter}) must be below pinch_exit ({self.pinch_exit})")

    # The stage parameter objects this config stands for.

    def debounce_params(self) -> DebounceParams:
        return DebounceParams(hold_ms=self.hold_ms, pose_hold_ms=dict(self.pose_hold_ms), min_score=self.min_score,
                              pinch_enter=self.pinch_enter, pinch_exit=self.pinch_exit)

    def identity_params(self) -> IdentityParams:
        return IdentityParams(grace_ms=self.grace_ms, max_jump=self.track_max_jump, max_speed=self.track_max_speed)

    def pointer_params(self) -> PointerParams:
        return PointerParams(
            control_point=ControlPoint(self.control_point),
            filter=OneEuroParams(self.filter_min_cutoff, self.filter_beta, self.filter_d_cutoff),
            click_lock=self.click_lock, lock_pinch_rate=self.lock_pinch_rate, lock_curl_rate=self.lock_curl_rate,
            lock_window_ms=self.lock_window_ms, lock_max_ms=self.lock_max_ms, lock_lookback_ms=self.lock_lookback_ms,
        )

    def swipe_params(self) -> SwipeParams:
        return SwipeParams(
            enabled=self.swipe, min_speed=self.swipe_min_speed, stroke_speed=self.swipe_stroke_speed,
            min_travel=self.swipe_min_travel, axis_ratio=self.swipe_axis_ratio,
            velocity_window_ms=self.swipe_velocity_window_ms, refractory_ms=self.swipe_refractory_ms,
        )


_BOOL_KEYS = frozenset({"click_lock", "swipe"})
_ZERO_OK = frozenset({"hold_ms", "min_score", "pinch_enter", "lock_pinch_rate", "lock_curl_rate",
                      "lock_lookback_ms", "filter_beta", "track_max_jump", "track_max_speed", "grace_ms",
                      "swipe_refractory_ms", "lock_max_ms"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------


@dataclass
class _HandState:
    debouncer: PoseDebouncer
    pointer: PointerTracker
    swipe: SwipeDetector
    hold: HoldTimer
    last: TrackedHand | None = None  # as it stood the last time it was seen


def _usable(hand: HandObservation) -> bool:
    pts = np.asarray(hand.landmarks)
    if not (pts.ndim == 2 and pts.shape[0] == NUM_HAND_LANDMARKS and pts.shape[1] in (2, 3)):
        return False
    # One min and one max: a NaN fails both comparisons, an infinity one of them.
    try:
        return bool(-1e3 <= pts.min()) and bool(pts.max() <= 1e3)
    except TypeError:  # not numbers
        return False


class GestureEngine:
    """Turns :class:`FrameObservation` values into :class:`GestureFrame` values."""

    def __init__(
        self,
        config: GestureConfig = GestureConfig(),
        classify_custom: Sequence[PoseSpec] = (),
        face_touch: FaceTouchDetector | None = None,
    ) -> None:
        self.config = config
        self._custom: tuple[PoseSpec, ...] = ()
        self.set_custom_poses(classify_custom)
        self._taught: TaughtSet | None = None
        self._face_touch = face_touch
        self._identities = HandIdentities(config.identity_params())
        self._hands: dict[int, _HandState] = {}
        self._hold_durations = tuple(config.hold_durations_ms)
        self._last_t: float | None = None

    # -- configuration --------------------------------------------------------------

    def set_custom_poses(self, specs: Sequence[PoseSpec]) -> None:
        """Profile-defined poses, classified from the next frame on. A spec the classifier
        cannot use raises its ValueError here, not on every frame."""
        specs = tuple(specs)
        for spec in specs:
            poses.check_pose_spec(spec)
        self._custom = specs

    def set_taught_poses(self, taught: TaughtSet | None) -> None:
        """The user's taught poses, classified from the next frame on (None: none)."""
        self._taught = taught

    def set_hold_durations(self, durations_ms: Sequence[float]) -> None:
        """The ``PoseHeld`` durations (e.g. those a profile binds), from the next frame on."""
        if not all(_is_number(d) and d > 0 for d in durations_ms):
            raise ValueError(f"hold durations must be positive numbers of ms, got {list(durations_ms)!r}")
        self._hold_durations = tuple(durations_ms)
        for state in self._hands.values():
            state.hold.durations_ms = tuple(sorted(set(float(d) for d in durations_ms)))

    @property
    def hand_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._hands))

    # -- per frame ------------------------------------------------------------------

    def _new_hand(self, hand_id: int) -> _HandState:
        c = self.config
        return _HandState(
            debouncer=PoseDebouncer(hand_id, c.debounce_params()),
            pointer=PointerTracker(c.pointer_params()),
            swipe=SwipeDetector(hand_id, c.swipe_params()),
            hold=HoldTimer(hand_id, self._hold_durations),
        )

    def _classify(self, hand: HandObservation, aspect: float):
        return classify(hand.landmarks, aspect=aspect, custom=self._custom, taught=self._taught, checked=True)

    def update(self, obs: FrameObservation) -> GestureFrame:
        """One analysed frame. ``hands`` in the result are the live tracks (ascending id):
        those seen in this frame, and those missing for less than the grace time, as they
        stood when last seen with ``visible=False`` (they keep their id, pose and pointer). If time runs backwards (a new source without
        :meth:`reset`), every hand is first reported lost, so nothing stays held."""
        t, frame, aspect = obs.t, obs.frame, obs.aspect
        events: list[GestureEvent] = []
        if self._last_t is not None and t < self._last_t:
            log.warning("frame %d: time went back from %.3f s to %.3f s; starting over", frame, self._last_t, t)
            events.extend(self.lost_all(t, frame).events)
        self._last_t = t
        usable = []
        for i, hand in enumerate(obs.hands):
            if _usable(hand):
                usable.append(hand)
            else:
                log.warning("frame %d: ignoring hand %d with unusable landmarks (shape %s)",
                            frame, i, np.shape(hand.landmarks))
        result = self._identities.update(t, usable, aspect)
        for lost in result.lost:
            events.extend(self._drop(lost.hand_id, lost.handedness, t, frame))
        for young, _old in result.merged:
            state = self._hands.get(young)
            if state is not None and state.debouncer.stable is not None:
                # Only if the young track already reported a pose (a hold time shorter
                # than a frame): say it is gone, so nothing it started stays held.
                events.extend(self._drop(young, self._identities.handedness(_old), t, frame))
            else:
                self._hands.pop(young, None)
        tracked: list[TrackedHand] = []
        for hand_id, j in result.matched:
            hand = usable[j]
            handedness = self._identities.handedness(hand_id) or hand.handedness
            state = self._hands.get(hand_id)
            if state is None:
                state = self._hands[hand_id] = self._new_hand(hand_id)
            try:
                raw = self._classify(hand, aspect)
            except LandmarkError as exc:
                log.warning("frame %d: hand %d not classified: %s", frame, hand_id, exc)
                continue
            change = state.debouncer.update(t, frame, handedness, raw, hand.quality)
            if change.exited is not None:
                events.append(change.exited)
            if change.entered is not None:
                events.append(change.entered)
            events.extend(state.hold.update(t, frame, handedness, state.debouncer.stable, state.debouncer.stable_since))
            swipe = state.swipe.update(t, frame, handedness, hand.landmarks, aspect)
            if swipe is not None:
                events.append(swipe)
            pointer = state.pointer.update(t, hand.landmarks, raw.pinch_distance, aspect,
                                           pose_changed=change.entered is not None)
            landmarks = np.asarray(hand.landmarks, dtype=float)
            if landmarks.shape[1] == 2:
                landmarks = np.hstack([landmarks, np.zeros((landmarks.shape[0], 1))])
            state.last = TrackedHand(
                hand_id=hand_id, handedness=handedness, pose=state.debouncer.stable, raw=raw,
                pointer=pointer.position, pointer_locked=pointer.locked, landmarks=landmarks,
            )
            tracked.append(state.last)
        seen = {h.hand_id for h in tracked}
        for hand_id, state in self._hands.items():
            if hand_id not in seen and state.last is not None:
                tracked.append(replace(state.last, visible=False))
        tracked.sort(key=lambda h: h.hand_id)
        touching = False
        if self._face_touch is not None:
            touching, face_events = self._face_touch.update(obs)
            events.extend(face_events)
        return GestureFrame(t=t, frame=frame, hands=tuple(tracked), events=tuple(events), face_touching=bool(touching),
                            aspect=aspect)

    def _drop(self, hand_id: int, handedness, t: float, frame: int) -> list[GestureEvent]:
        state = self._hands.pop(hand_id, None)
        if state is None:
            return [HandLost(t=t, frame=frame, hand_id=hand_id, hand=handedness, last_pose=None)]
        last = state.debouncer.stable
        out: list[GestureEvent] = []
        exited = state.debouncer.release(t, frame, handedness)
        if exited is not None:
            out.append(exited)
        out.append(HandLost(t=t, frame=frame, hand_id=hand_id, hand=handedness, last_pose=last))
        return out

    def lost_all(self, t: float, frame: int) -> GestureFrame:
        """Every tracked hand is gone (pause, camera loss): ``PoseExited`` and ``HandLost``
        for each (ascending id), and the face-touch episode ended if the detector can."""
        events: list[GestureEvent] = []
        for lost in self._identities.drop_all():
            events.extend(self._drop(lost.hand_id, lost.handedness, t, frame))
        self._hands.clear()
        if isinstance(self._face_touch, ClosableFaceTouchDetector):
            events.extend(self._face_touch.close(t, frame))
        return GestureFrame(t=t, frame=frame, hands=(), events=tuple(events), face_touching=False)

    def reset(self) -> None:
        """Forget every hand (and the face-touch state) without reporting anything (e.g. a
        new source starts)."""
        self._identities.reset()
        self._hands.clear()
        self._last_t = None
        if isinstance(self._face_touch, ClosableFaceTouchDetector):
            self._face_touch.reset()
