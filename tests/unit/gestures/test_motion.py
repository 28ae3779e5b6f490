"""Motion gestures (gestures.motion): swipes in hand sizes per second, and hold timers.

The moving hand is MediaPipe's own expected landmarks for its "pointing_up" test photo
(hands/mediapipe_testdata_landmarks.json), translated along synthetic paths.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmap.gestures.motion import HoldTimer, SwipeDetector, SwipeParams
from handmap.gestures.tracking import hand_size, palm_centre
from handmap.gestures.types import Handedness, PoseHeld, SwipeDirection

R = Handedness.RIGHT


@pytest.fixture(scope="module")
def hand(data_dir) -> np.ndarray:
    data = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    pts = np.array(next(f for f in data["fixtures"] if f["name"] == "pointing_up")["landmarks"], dtype=float)
    # Scale it to a typical webcam size (about 0.12 of the image from wrist to knuckle).
    centre = pts[:, :2].mean(axis=0)
    pts[:, :2] = 0.5 + (pts[:, :2] - centre) * (0.12 / hand_size(pts))
    return pts


def path_play(hand, path, fps, params=None):
    """Move the hand along ``path(t) -> (dx, dy)`` in hand sizes for its duration."""
    params = params or SwipeParams()
    det = SwipeDetector(1, params)
    size = hand_size(hand)
    swipes = []
    duration, fn = path
    for i in range(int(duration * fps) + 1):
        t = i / fps
        dx, dy = fn(t)
        pts = hand.copy()
        pts[:, 0] += dx * size
        pts[:, 1] += dy * size
        s = det.update(t, i, R, pts)
        if s is not None:
            swipes.append(s)
    return swipes


def stroke(direction, speed=8.0, distance=3.0, rest=0.4):
    """Rest, move ``distance`` hand sizes at ``speed`` hand sizes/s, rest."""
    unit = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[direction]
    move = distance / speed

    def fn(t):
        k = min(max(t - rest, 0.0), move) * speed
        return unit[0] * k, unit[1] * k

    return rest + move + rest, fn


@pytest.mark.parametrize("fps", [15, 30, 60])
@pytest.mark.parametrize("direction", ["left", "right", "up", "down"])
def test_each_swipe_fires_once(hand, direction, fps):
    swipes = path_play(hand, stroke(direction), fps)
    assert [s.direction for s in swipes] == [SwipeDirection(direction)]
    assert swipes[0].speed == pytest.approx(8.0, rel=0.25)


@pytest.mark.parametrize("fps", [15, 60])
def test_slow_drift_fires_nothing(hand, fps):
    # 1.5 hand sizes per second for 3 s: the hand crosses a good part of the image.
    assert path_play(hand, (3.0, lambda t: (1.5 * t, -0.5 * t)), fps) == []


def test_short_flick_fires_nothing(hand):
    # Fast but only one hand size of travel.
    assert path_play(hand, stroke("right", speed=10.0, distance=1.0), 30) == []


def test_swipe_and_return_fires_once(hand):
    # Right, then straight back within the refractory period.
    def fn(t):
        if t < 0.3:
            return 0.0, 0.0
        if t < 0.675:
            return (t - 0.3) * 8, 0.0
        return max(3.0 - (t - 0.675) * 8, 0.0), 0.0

    swipes = path_play(hand, (1.3, fn), 30)
    assert [s.direction for s in swipes] == [SwipeDirection.RIGHT]


def test_two_swipes_apart_fire_twice(hand):
    def fn(t):
        k = min(max(t - 0.3, 0), 0.375) * 8 - min(max(t - 1.5, 0), 0.375) * 8
        return k, 0.0

    swipes = path_play(hand, (2.3, fn), 30)
    assert [s.direction for s in swipes] == [SwipeDirection.RIGHT, SwipeDirection.LEFT]


def test_diagonal_is_not_a_swipe(hand):
    assert path_play(hand, (1.2, lambda t: (min(t, 0.5) * 6, min(t, 0.5) * 6)), 30) == []


def test_disabled(hand):
    assert path_play(hand, stroke("left"), 30, SwipeParams(enabled=False)) == []


def test_speed_is_in_hand_sizes(hand):
    # The same motion with a hand twice as large (nearer the camera) is half as fast in
    # hand sizes: a swipe for the small hand, nothing for the big one.
    big = hand.copy()
    big[:, :2] = 0.5 + (big[:, :2] - 0.5) * 2
    size = hand_size(hand)

    def image_path(t):  # 3 small-hand sizes in 0.375 s
        k = min(max(t - 0.3, 0), 0.375) * 8
        return k, 0.0

    assert len(path_play(hand, (1.0, image_path), 30)) == 1
    big_path = (1.0, lambda t: (image_path(t)[0] * size / hand_size(big), 0.0))
    assert path_play(big, big_path, 30) == []
    assert palm_centre(big)[0] == pytest.approx(palm_centre(hand)[0], abs=0.05)


@pytest.mark.parametrize("fps", [15, 60])
def test_held_for_fires_each_duration_once_per_hold(fps):
    timer = HoldTimer(3, (1000, 500))
    events = []
    since = None
    prev = None
    for i in range(int(4.0 * fps)):
        t = i / fps
        # point from 0.1 s to 1.8 s; open from 1.8 s to 2.2 s; point again from 2.2 s on
        pose = "point" if t < 1.8 or t >= 2.2 else "open"
        if i == 0 or pose != prev:
            since = t
        prev = pose
        events += timer.update(t, i, R, pose, since)
    got = [(e.pose, e.held_ms) for e in events]
    assert got == [("point", 500.0), ("point", 1000.0), ("point", 500.0), ("point", 1000.0)]
    first = events[0]
    assert isinstance(first, PoseHeld) and first.hand_id == 3
    assert 0.5 - 1e-6 <= first.t <= 0.5 + 1 / fps + 1e-6


def test_held_for_resets_when_the_pose_ends():
    timer = HoldTimer(1, (300,))
    assert timer.update(0.0, 0, R, "closed", 0.0) == []
    assert timer.update(0.2, 6, R, None, None) == []
    assert timer.update(0.4, 12, R, "closed", 0.4) == []
    assert [e.held_ms for e in timer.update(0.71, 21, R, "closed", 0.4)] == [300.0]
    assert timer.update(2.0, 60, R, "closed", 0.4) == []
