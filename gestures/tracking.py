"""Stage: hand identity. Gives each hand a stable id from frame to frame.

Each frame's hands are matched to the tracked ones by the distance between palm centres
(greedy, nearest pair first, which is optimal for the one or two hands a webcam sees),
with a penalty when MediaPipe's handedness disagrees (it can flip for a frame, so it
is a penalty, not a veto). An unmatched hand gets a new id. A tracked hand that is not
seen is kept for ``grace_ms`` so a single dropped detection does not lose it; after that
it is reported lost. One person has one hand of each side, so a hand that reappears far
away on the same side, with no other hand of that side in view, keeps its id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from handmap.gestures.landmarks import PALM_KNUCKLES, HandLandmark
from handmap.gestures.types import Handedness, HandObservation

#: The landmarks whose mean is the palm centre: the wrist and the four knuckles.
PALM_POINTS = (HandLandmark.WRIST, *PALM_KNUCKLES)


_PALM_LIST = tuple(int(p) for p in PALM_POINTS)
_WRIST, _KNUCKLE = int(HandLandmark.WRIST), int(HandLandmark.MIDDLE_MCP)
_SIDES = tuple(Handedness)  # iterating the enum class itself costs a generator each time


def palm_centre(landmarks: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """Mean of wrist and knuckles, (x, y), with x stretched by ``aspect`` (isotropic units)."""
    return np.array(palm_point(np.asarray(landmarks, dtype=float), aspect))


def palm_point(pts: np.ndarray, aspect: float = 1.0) -> tuple[float, float]:
    """:func:`palm_centre` of a float landmark array, as two plain floats."""
    x, y = palm_sum(pts)
    return x * aspect / len(PALM_POINTS), y / len(PALM_POINTS)


def palm_sum(pts: np.ndarray) -> tuple[float, float]:
    """The sums of x and of y over :data:`PALM_POINTS` (element by element: for five
    points, numpy's fancy indexing and reduction cost more than the additions)."""
    item = pts.item
    x = y = 0.0
    for i in _PALM_LIST:
        x += item(i, 0)
        y += item(i, 1)
    return x, y


def hand_size(landmarks: np.ndarray, aspect: float = 1.0) -> float:
    """Wrist to middle knuckle (about a palm's width), in the units of :func:`palm_centre`."""
    item = np.asarray(landmarks, dtype=float).item  # two points: plain floats beat numpy's indexing
    return math.hypot((item(_KNUCKLE, 0) - item(_WRIST, 0)) * aspect, item(_KNUCKLE, 1) - item(_WRIST, 1))


@dataclass(frozen=True)
class IdentityParams:
    grace_ms: float = 150.0  # how long an unseen hand is kept before it is lost
    #: Furthest a hand may move between two of its detections and keep its id, in hand
    #: sizes (wrist to middle knuckle) per second of gap, plus a fixed allowance.
    max_speed: float = 40.0
    max_jump: float = 1.5  # hand sizes, allowed whatever the gap
    handedness_penalty: float = 0.5  # hand sizes added to the distance when handedness differs
    #: One person has one left and one right hand: an unmatched hand of one side takes
    #: over the only unmatched track of that side, however far it moved, as long as no
    #: other hand of that side is in view (a re-detection after a fast move, not a new hand).
    same_side_rematch: bool = True
    handedness_flip_frames: int = 3  # consecutive disagreeing detections before a track's handedness changes


@dataclass
class _Track:
    hand_id: int
    handedness: Handedness
    centre: tuple[float, float]  # the palm centre, as palm_centre gives it
    size: float
    last_seen: float
    born: float
    disagree: int = 0  # consecutive detections whose handedness disagrees with the track's


@dataclass(frozen=True)
class LostHand:
    hand_id: int
    handedness: Handedness


@dataclass(frozen=True)
class TrackingResult:
    """One frame's assignment: ``matched`` pairs a hand id with each observation index."""

    matched: tuple[tuple[int, int], ...] = ()  # (hand_id, index into the frame's hands)
    new: tuple[int, ...] = ()  # ids first seen this frame (also in ``matched``)
    lost: tuple[LostHand, ...] = ()  # tracks whose grace time ran out this frame
    missing: tuple[int, ...] = ()  # ids not seen this frame but still within grace time
    #: (young id, old id): a young track found to be an older one re-detected; the young
    #: id is gone (never reported lost), the old one carries on with its hand.
    merged: tuple[tuple[int, int], ...] = ()


@dataclass
class HandIdentities:
    """Matches hands to stable ids. Pure: feed it each frame's hands and time."""

    params: IdentityParams = field(default_factory=IdentityParams)
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _next_id: int = 1

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._tracks))

    def handedness(self, hand_id: int) -> Handedness | None:
        track = self._tracks.get(hand_id)
        return track.handedness if track else None

    def reset(self) -> None:
        """Forget every hand (ids keep counting up, so an old id is never reused)."""
        self._tracks.clear()

    def drop_all(self) -> tuple[LostHand, ...]:
        """Forget every hand and say which were tracked (ascending id)."""
        lost = tuple(LostHand(i, self._tracks[i].handedness) for i in sorted(self._tracks))
        self._tracks.clear()
        return lost

    def update(self, t: float, hands: Sequence[HandObservation], aspect: float = 1.0) -> TrackingResult:
        p = self.params
        centres, sizes = [], []
        for h in hands:  # the palm centre in plain floats: numpy costs more for two numbers
            pts = np.asarray(h.landmarks, dtype=float)
            centres.append(palm_point(pts, aspect))
            sizes.append(max(hand_size(pts, aspect), 1e-6))
        pairs = []
        for hand_id, track in self._tracks.items():
            gap = max(t - track.last_seen, 0.0)
            for j, hand in enumerate(hands):
                scale = max(track.size, sizes[j])
                dist = math.hypot(centres[j][0] - track.centre[0], centres[j][1] - track.centre[1]) / scale
                if dist > p.max_jump + p.max_speed * gap:
                    continue
                if hand.handedness is not track.handedness:
                    dist += p.handedness_penalty
                pairs.append((dist, hand_id, j))
        pairs.sort()
        matched: dict[int, int] = {}
        used_obs: set[int] = set()
        for _, hand_id, j in pairs:
            if hand_id in matched or j in used_obs:
                continue
            matched[hand_id] = j
            used_obs.add(j)
        merged = []
        if p.same_side_rematch:
            for side in _SIDES:
                # A hand re-detected elsewhere can come with a ghost of itself for a frame
                # (the old tracking region): the re-detection gets a young track while the
                # old one matches the ghost. Once only one hand of that side is seen, the
                # old track takes the young one over (if the young one is still younger
                # than the grace time): one person, one hand of each side.
                seen = [j for j, h in enumerate(hands) if h.handedness is side]
                if len(seen) != 1:
                    continue
                young = next((i for i, j in matched.items() if j == seen[0]), None)
                if young is None or (t - self._tracks[young].born) * 1000.0 >= p.grace_ms:
                    continue
                old = [i for i, tr in self._tracks.items()
                       if i not in matched and tr.handedness is side and tr.born < self._tracks[young].born]
                if len(old) == 1:
                    matched[old[0]] = matched.pop(young)
                    del self._tracks[young]
                    merged.append((young, old[0]))
            for side in _SIDES:
                free_obs = [j for j, h in enumerate(hands) if j not in used_obs and h.handedness is side]
                free_tracks = [i for i, tr in self._tracks.items() if i not in matched and tr.handedness is side]
                others = sum(1 for h in hands if h.handedness is side)
                if len(free_obs) == 1 and len(free_tracks) == 1 and others == 1:
                    matched[free_tracks[0]] = free_obs[0]
                    used_obs.add(free_obs[0])
        new = []
        for j, hand in enumerate(hands):
            if j in used_obs:
                continue
            hand_id = self._next_id
            self._next_id += 1
            self._tracks[hand_id] = _Track(hand_id, hand.handedness, centres[j], sizes[j], t, born=t)
            matched[hand_id] = j
            new.append(hand_id)
        for hand_id, j in matched.items():
            track = self._tracks[hand_id]
            track.centre, track.size, track.last_seen = centres[j], sizes[j], t
            # MediaPipe's handedness can flip for a frame or two: a track keeps its own
            # until the detections have disagreed several times in a row.
            if hands[j].handedness is track.handedness:
                track.disagree = 0
            else:
                track.disagree += 1
                if track.disagree >= p.handedness_flip_frames:
                    track.handedness, track.disagree = hands[j].handedness, 0
        lost, missing = [], []
        for hand_id in sorted(self._tracks):
            if hand_id in matched:
                continue
            track = self._tracks[hand_id]
            if (t - track.last_seen) * 1000.0 >= p.grace_ms - 1e-9:
                lost.append(LostHand(hand_id, track.handedness))
            else:
                missing.append(hand_id)
        for item in lost:
            del self._tracks[item.hand_id]
        return TrackingResult(
            matched=tuple(sorted(matched.items())),
            new=tuple(new),
            lost=tuple(lost),
            missing=tuple(missing),
            merged=tuple(merged),
        )
