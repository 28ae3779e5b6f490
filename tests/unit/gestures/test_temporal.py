"""Pose debouncing (gestures.temporal): hysteresis, hold time, pinch thresholds, confidence gate.

The input here is per-frame classifier output (PoseResult), written out as a timeline,
so each case states exactly what the classifier said and when.
"""

from __future__ import annotations

import pytest

from handmap.gestures.temporal import DebounceParams, PoseDebouncer
from handmap.gestures.types import Handedness, LandmarkQuality, PoseEntered, PoseExited, PoseResult

RIGHT = Handedness.RIGHT


def result(label: str, score: float = 0.9, pinch: float = float("nan")) -> PoseResult:
    return PoseResult(label=label, score=score, pinch_distance=pinch)


DOUBTFUL = LandmarkQuality.DOUBTFUL


def play(segments, fps: float, params: DebounceParams | None = None):
    """Play ``[(duration_ms, PoseResult), ...]`` at ``fps``; returns the events. A segment
    may carry a third item, its frames' ``LandmarkQuality``."""
    deb = PoseDebouncer(1, params or DebounceParams())
    events = []
    frame, start = 0, 0.0
    for duration_ms, res, *quality in segments:
        end = start + duration_ms / 1000.0
        while frame / fps < end - 1e-9:
            upd = deb.update(frame / fps, frame, RIGHT, res, *quality)
            events += [e for e in (upd.exited, upd.entered) if e is not None]
            frame += 1
        start = end
    return events


def entered(events):
    return [e.pose for e in events if isinstance(e, PoseEntered)]


def flicker_timeline():
    """Open, closed, point, open for about a second each, with one-frame-long (at 15 fps,
    67 ms) flickers of other labels inside each, as a real classifier gives."""
    seq = []
    for pose, flickers in (("open", ("hand", "closed")), ("closed", ("hand", "point")),
                           ("point", ("closed", "hand")), ("open", ("point", "hand"))):
        seq += [(300, result(pose)), (67, result(flickers[0])), (300, result(pose)),
                (67, result(flickers[1])), (300, result(pose))]
    return seq


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_flickers_are_ignored_and_each_pose_reported_once(fps):
    events = play(flicker_timeline(), fps)
    assert entered(events) == ["open", "closed", "point", "open"]
    exits = [e.pose for e in events if isinstance(e, PoseExited)]
    assert exits == ["open", "closed", "point"]
    # Each change arrives the hold time after the first frame showing it (rounded up to
    # a frame), whatever the frame rate.
    starts = [0.0, 1.034, 2.068, 3.102]
    for ev, start in zip([e for e in events if isinstance(e, PoseEntered)], starts):
        assert start + 0.12 - 1e-6 <= ev.t <= start + 0.12 + 2.0 / fps + 1e-6


def test_same_events_at_15_and_60_fps():
    slow, fast = play(flicker_timeline(), 15), play(flicker_timeline(), 60)
    assert [(type(e), e.pose) for e in slow] == [(type(e), e.pose) for e in fast]
    for a, b in zip(slow, fast):
        assert abs(a.t - b.t) <= 2.0 / 15 + 1e-6


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_sweeping_through_a_pose_does_not_fire_it(fps):
    # Open hand closing into a fist: for 90 ms on the way the thumb passes the index
    # (pinch) and then only the index is still out (point).
    seq = [(500, result("open")), (90, result("pinch", pinch=0.15)), (90, result("point")), (500, result("closed"))]
    events = play(seq, fps)
    assert entered(events) == ["open", "closed"]


def test_a_pose_held_just_over_hold_time_fires():
    seq = [(500, result("open")), (200, result("point")), (500, result("open"))]
    assert entered(play(seq, 30)) == ["open", "point", "open"]


@pytest.mark.parametrize("fps", [15, 60])
def test_pinch_enter_and_exit_thresholds(fps):
    # The hand closes slowly into a pinch and opens again: the classifier says "pinch"
    # below its own 0.25 and "hand" above it; the debouncer holds the pinch until the
    # distance passes 0.40 (hysteresis), so the wobble between 0.25 and 0.40 is one pinch.
    seq = [(400, result("open", pinch=0.9)), (200, result("hand", pinch=0.35)),
           (300, result("pinch", pinch=0.2)), (100, result("hand", pinch=0.3)),
           (200, result("pinch", pinch=0.22)), (200, result("hand", pinch=0.38)),
           (300, result("open", pinch=0.7))]
    events = play(seq, fps)
    assert entered(events) == ["open", "hand", "pinch", "open"]
    pinch_in = next(e for e in events if isinstance(e, PoseEntered) and e.pose == "pinch")
    pinch_out = next(e for e in events if isinstance(e, PoseExited) and e.pose == "pinch")
    assert 0.6 + 0.12 - 1e-6 <= pinch_in.t <= 0.6 + 0.12 + 2 / fps + 1e-6
    # It ends only once the distance is above 0.40 (the "open" frames from 1.4 s on).
    assert 1.4 + 0.12 - 1e-6 <= pinch_out.t <= 1.4 + 0.12 + 2 / fps + 1e-6


def test_pinch_needs_the_enter_threshold_not_just_the_label():
    params = DebounceParams(pinch_enter=0.2, pinch_exit=0.35)
    loose = [(300, result("open", pinch=0.8)), (500, result("pinch", pinch=0.23)), (300, result("open", pinch=0.8))]
    assert "pinch" not in entered(play(loose, 30, params))
    tight = [(300, result("open", pinch=0.8)), (500, result("pinch", pinch=0.15)), (300, result("open", pinch=0.8))]
    assert entered(play(tight, 30, params)) == ["open", "pinch", "open"]


def test_closing_a_pinch_into_a_fist_ends_the_pinch():
    seq = [(300, result("pinch", pinch=0.1)), (500, result("closed", pinch=0.3))]
    assert entered(play(seq, 30)) == ["pinch", "closed"]


def test_confidence_gate():
    params = DebounceParams(min_score=0.6)
    # A confident open hand, then a long run of unsure "closed" frames: never a fist,
    # and the open hand is not left either.
    seq = [(400, result("open")), (1000, result("closed", score=0.4)), (300, result("open"))]
    events = play(seq, 30, params)
    assert entered(events) == ["open"]
    assert not [e for e in events if isinstance(e, PoseExited)]
    # Unsure frames interleaved with a confident new pose do not add up to the hold time:
    # every other frame confident, each run of confident frames shorter than the hold.
    flip = []
    for _ in range(10):
        flip += [(66, result("closed")), (34, result("closed", score=0.3))]
    events = play([(400, result("open"))] + flip, 30, params)
    assert entered(events) == ["open"]
    # The same frames, all confident, do make a fist.
    events = play([(400, result("open")), (1000, result("closed"))], 30, params)
    assert entered(events) == ["open", "closed"]


def test_per_pose_hold_override():
    params = DebounceParams(hold_ms=100, pose_hold_ms={"closed": 400})
    seq = [(300, result("open")), (300, result("closed")), (300, result("open")), (600, result("closed"))]
    assert entered(play(seq, 30, params)) == ["open", "closed"]


def test_release_exits_the_stable_pose():
    deb = PoseDebouncer(7)
    for i in range(10):
        deb.update(i / 30, i, RIGHT, result("point"))
    assert deb.stable == "point"
    ev = deb.release(0.5, 15, RIGHT)
    assert ev == PoseExited(t=0.5, frame=15, hand_id=7, hand=RIGHT, pose="point")
    assert deb.stable is None and deb.release(0.6, 16, RIGHT) is None


@pytest.mark.parametrize("fps", [5, 10, 30])
def test_doubtful_frames_after_a_jump_neither_end_nor_start_a_pose(fps):
    """A fist tracked across a jump: the frames right after it read as pinch and point
    with confident scores, but their landmarks are marked doubtful. The fist stays the
    stable pose, and nothing else is entered."""
    jump = [(400, result("pinch", score=0.95, pinch=0.1), DOUBTFUL), (400, result("point", score=0.9), DOUBTFUL)]
    seq = [(600, result("closed"))] + jump + [(600, result("closed"))] + jump + [(400, result("closed"))]
    events = play(seq, fps)
    assert entered(events) == ["closed"]
    assert not [e for e in events if isinstance(e, PoseExited)]
    # The same readings taken as evidence do leave the fist (the failure this prevents).
    trusted = [(ms, res) for ms, res, *_ in seq]
    assert len(entered(play(trusted, fps))) > 1


def test_a_doubtful_frame_does_not_interrupt_a_new_pose_settling():
    """Open, then a fist whose second frame comes after a jump: the fist still enters
    within its hold time of steady frames (the doubtful frame neither counts nor restarts
    the count), where an unsure low-score frame restarts it."""
    params = DebounceParams(hold_ms=300)
    steady = [(400, result("open")), (100, result("closed")), (100, result("hand"), DOUBTFUL), (400, result("closed"))]
    events = play(steady, 10, params)
    assert entered(events) == ["open", "closed"]
    fist = next(e for e in events if isinstance(e, PoseEntered) and e.pose == "closed")
    assert fist.t == pytest.approx(0.7)  # 0.4 s + the 300 ms hold
    unsure = [(400, result("open")), (100, result("closed")), (100, result("hand", score=0.2)), (400, result("closed"))]
    later = next(e for e in play(unsure, 10, params) if isinstance(e, PoseEntered) and e.pose == "closed")
    assert later.t == pytest.approx(0.9)
