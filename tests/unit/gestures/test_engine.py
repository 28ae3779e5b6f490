"""The gesture engine (gestures.engine) over a real webcam session, and its configuration.

webcam_session35 is 38 real webcam stills of one person showing poses in turn; its mp4
shows each still 5 times at 10 fps. Landmarks come from the real HandLandmarker (VIDEO
mode, two hands, through handmap's own tracker), computed once per test session.
"""

from __future__ import annotations

import csv
import logging
from itertools import groupby

import numpy as np
import pytest
from builders import rgb_frames, track_hands

from handmap.gestures.engine import (
    ClosableFaceTouchDetector,
    FaceTouchDetector,
    GestureConfig,
    GestureEngine,
)
from handmap.gestures.landmarks import Finger
from handmap.gestures.types import (
    FaceTouch,
    FaceTouchState,
    FrameObservation,
    HandLost,
    HandObservation,
    PoseEntered,
    PoseExited,
    PoseHeld,
    PoseSpec,
    Swipe,
)

FRAMES_PER_STILL = 5


@pytest.fixture(scope="module")
def session(session35, tmp_path_factory) -> list[FrameObservation]:
    cv2 = pytest.importorskip("cv2")
    cap = cv2.VideoCapture(str(session35 / "subhih_session35_10fps_x5.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    try:
        out = track_hands(rgb_frames(cap), fps, max_hands=2, cache=tmp_path_factory.mktemp("models"))
    finally:
        cap.release()
    assert len(out) == 190
    return out


@pytest.fixture(scope="module")
def segments(session35) -> list[tuple[str, int, int]]:
    """(expected pose, first frame, last frame) for each run of stills in one pose."""
    with open(session35 / "timeline.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for pose, group in groupby(rows, key=lambda r: "hand" if r["expected_pose"] == "other" else r["expected_pose"]):
        group = list(group)
        first = int(group[0]["video_frames"].split("-")[0])
        last = int(group[-1]["video_frames"].split("-")[1])
        out.append((pose, first, last))
    return out


def play(engine: GestureEngine, observations):
    frames = [engine.update(o) for o in observations]
    return frames, [e for f in frames for e in f.events]


@pytest.mark.slow
def test_session35_poses_each_reported_once_per_segment(session, segments):
    frames, events = play(GestureEngine(), session)
    entered = [e for e in events if isinstance(e, PoseEntered)]
    report = [(e.frame, e.pose) for e in entered]
    for pose, first, last in segments:
        inside = [e for e in entered if first <= e.frame <= last]
        assert [e.pose for e in inside] == [pose], f"frames {first}-{last} should show {pose} once; got {report}"
        # Promptly: within the still's first half second (the hold time is 120 ms).
        assert inside[0].frame < first + FRAMES_PER_STILL, report
    assert len(entered) == len(segments), report  # no flicker anywhere
    exited = [e for e in events if isinstance(e, PoseExited)]
    assert [e.pose for e in exited] == [pose for pose, _, _ in segments[:-1]]
    # One person's one hand all along: one identity for every pose event.
    assert {e.hand_id for e in entered + exited} == {entered[0].hand_id}
    # The stable pose in each frame is the segment's pose from its first report on.
    for frame in frames:
        pose, first, _ = next(s for s in segments if s[1] <= frame.frame <= s[2])
        main = [h for h in frame.hands if h.hand_id == entered[0].hand_id]
        if main and frame.frame >= first + FRAMES_PER_STILL:
            assert main[0].pose == pose, (frame.frame, main[0].pose, pose)


def _right_frames(frames, segments) -> int:
    right = 0
    for frame in frames:
        pose = next(s[0] for s in segments if s[1] <= frame.frame <= s[2])
        right += any(h.visible and h.pose == pose for h in frame.hands)
    return right


@pytest.mark.slow
def test_session35_per_frame_figure_is_bounded_by_the_hold_not_the_reading(session, segments):
    """The issue asks for 95% of session35's video frames with the right stable pose. Its
    15 runs of one pose start 15 times; a debouncer that needs the new pose on two frames
    (any hold over 0 ms at 10 fps) misses at least each run's first frame: at most 175 of
    190, 92.1%; with the default 120 ms hold, three frames, its first two: at most 160,
    84.2%, which is what the engine reaches. With no hold at all the same readings give
    95% and more, so what is missing is the hold's delay, not the reading."""
    assert len(segments) == 15 and len(session) == 190
    default, _ = play(GestureEngine(), session)
    assert _right_frames(default, segments) == 190 - 2 * len(segments)  # 160, 84.2%: the bound
    shorter, _ = play(GestureEngine(GestureConfig(hold_ms=100.0)), session)
    assert _right_frames(shorter, segments) <= 190 - len(segments)
    none, _ = play(GestureEngine(GestureConfig(hold_ms=0.0)), session)
    assert _right_frames(none, segments) >= 0.95 * 190


@pytest.mark.slow
def test_session35_replay_is_deterministic(session):
    _, a = play(GestureEngine(), session)
    _, b = play(GestureEngine(), session)
    assert a == b


@pytest.mark.slow
def test_events_are_ordered_and_held_events_follow_their_pose(session):
    frames, events = play(GestureEngine(GestureConfig(hold_durations_ms=(300.0,))), session)
    order = {HandLost: 0, PoseExited: 1, PoseEntered: 2, PoseHeld: 3, Swipe: 4, FaceTouch: 5}
    for f in frames:
        lost = {e.hand_id for e in f.events if isinstance(e, HandLost)}
        rest = [e for e in f.events if not (isinstance(e, (HandLost, PoseExited)) and e.hand_id in lost)]
        keys = [(e.hand_id, order[type(e)]) for e in rest]
        assert keys == sorted(keys), f.events
    held = [e for e in events if isinstance(e, PoseHeld)]
    entered = [e for e in events if isinstance(e, PoseEntered)]
    # Every still run of 0.5 s or more holds its pose past 300 ms, once.
    assert len(held) == len(entered)
    for h in held:
        start = max(e.t for e in entered if e.t <= h.t)
        assert 0.3 - 1e-6 <= h.t - start <= 0.3 + 0.1 + 1e-6


@pytest.mark.slow
def test_lost_all_and_reset(session):
    engine = GestureEngine()
    play(engine, session[:25])  # open, closed, open
    out = engine.lost_all(2.5, 25)
    assert out.hands == ()
    assert [(type(e), getattr(e, "pose", None)) for e in out.events] == [(PoseExited, "open"), (HandLost, None)]
    assert out.events[1].last_pose == "open"
    assert engine.lost_all(2.5, 25).events == ()  # nothing is left to lose
    # After the pause the hand comes back as a new hand, its pose reported again.
    frames, events = play(engine, session[25:40])
    assert frames[0].hands[0].hand_id != out.events[1].hand_id
    assert [e.pose for e in events if isinstance(e, PoseEntered)] == ["hand"]
    # reset forgets silently: no exit for the pose held now, no HandLost ever for it.
    engine.reset()
    frames, events = play(engine, session[40:60])
    assert not [e for e in events if isinstance(e, HandLost)]
    assert [e.pose for e in events if isinstance(e, PoseExited)] == ["point"]  # not "hand"
    assert [e.pose for e in events if isinstance(e, PoseEntered)] == ["point", "closed"]


@pytest.mark.slow
def test_custom_poses(session, segments):
    fist = PoseSpec("fist", fingers={f: False for f in (Finger.INDEX, Finger.MIDDLE, Finger.RING, Finger.PINKY)})
    engine = GestureEngine(classify_custom=[fist])
    _, events = play(engine, session[:25])
    assert [e.pose for e in events if isinstance(e, PoseEntered)] == ["open", "fist", "open"]
    engine.set_custom_poses([])
    _, events = play(engine, session[45:60])
    assert [e.pose for e in events if isinstance(e, PoseEntered)] == ["closed"]


@pytest.mark.slow
def test_unusable_hand_is_skipped_with_a_warning(session, caplog):
    good = session[0].hands[0]
    bad = HandObservation(landmarks=np.full((21, 3), np.nan), handedness=good.handedness, score=0.9)
    short = HandObservation(landmarks=good.landmarks[:20], handedness=good.handedness, score=0.9)
    engine = GestureEngine()
    with caplog.at_level(logging.WARNING, logger="handmap"):
        for o in session[:5]:
            frame = engine.update(FrameObservation(o.t, o.frame, o.width, o.height, hands=(bad, o.hands[0], short)))
            assert len(frame.hands) == 1 and np.array_equal(frame.hands[0].landmarks, o.hands[0].landmarks)
    assert "unusable landmarks" in caplog.text
    assert frame.hands[0].pose == "open"


class ScriptedFaceTouch:
    """A stand-in face-touch detector (not a mock of a real part): it implements the
    engine's FaceTouchDetector protocol with a fixed script, so this test checks only
    the engine's plumbing. The real detector (gestures.face_touch) has its own tests."""

    def __init__(self, start_frame: int) -> None:
        self.start_frame = start_frame
        self.active = False
        self.resets = 0

    def update(self, obs):
        if obs.frame == self.start_frame:
            self.active = True
            return True, [FaceTouch(obs.t, obs.frame, FaceTouchState.START, None)]
        return self.active, []

    def close(self, t, frame):
        if not self.active:
            return []
        self.active = False
        return [FaceTouch(t, frame, FaceTouchState.END, None)]

    def reset(self):
        self.active = False
        self.resets += 1


@pytest.mark.slow
def test_face_touch_detector_plumbing(session):
    detector = ScriptedFaceTouch(start_frame=12)
    assert isinstance(detector, ClosableFaceTouchDetector)
    engine = GestureEngine(face_touch=detector)
    frames, _ = play(engine, session[:20])
    assert [f.face_touching for f in frames] == [False] * 12 + [True] * 8
    # The face-touch event comes after the hand events of its frame.
    assert isinstance(frames[12].events[-1], FaceTouch) and isinstance(frames[12].events[0], PoseExited)
    out = engine.lost_all(2.0, 20)
    assert [type(e) for e in out.events] == [PoseExited, HandLost, FaceTouch]
    assert out.events[-1].state is FaceTouchState.END and not out.face_touching
    engine.reset()
    assert detector.resets == 1


def test_face_touch_tracker_meets_the_protocol():
    face_touch = pytest.importorskip("handmap.gestures.face_touch")
    tracker = face_touch.FaceTouchTracker()
    assert isinstance(tracker, FaceTouchDetector)
    assert isinstance(tracker, ClosableFaceTouchDetector)


# --- configuration -------------------------------------------------------------------


def test_config_stage_parameters():
    """Read from config.yaml's ``gestures:`` section (``daemon.config.GestureSettings``,
    tested with the file:line errors in tests/unit/daemon/test_config.py)."""
    c = GestureConfig(hold_ms=80.0, pinch_enter=0.2, control_point="index_tip", hold_durations_ms=(250.0, 750.0),
                      click_lock=False, pose_hold_ms={"closed": 200.0})
    assert c.debounce_params().hold_s("closed") == pytest.approx(0.2)
    assert c.pointer_params().filter.min_cutoff == GestureConfig().filter_min_cutoff


@pytest.mark.parametrize("values, message", [
    ({"hold_ms": -5.0}, "gesture setting hold_ms must be zero or more, got -5.0"),
    ({"grace_ms": "long"}, "gesture setting grace_ms must be a number, got 'long'"),
    ({"filter_min_cutoff": 0.0}, "gesture setting filter_min_cutoff must be positive, got 0.0"),
    ({"click_lock": "yes"}, "gesture setting click_lock must be true or false, got 'yes'"),
    ({"control_point": "thumb"}, "gesture setting control_point must be one of palm, index_tip, pinch_point, got 'thumb'"),
    ({"pinch_enter": 0.5}, "gesture setting pinch_enter (0.5) must be below pinch_exit (0.4)"),
    ({"min_score": 1.5}, "gesture setting min_score must be between 0 and 1, got 1.5"),
])
def test_config_errors_name_the_setting(values, message):
    with pytest.raises(ValueError) as err:
        GestureConfig(**values)
    assert str(err.value).startswith(message), str(err.value)


def test_set_hold_durations_validates():
    engine = GestureEngine()
    with pytest.raises(ValueError, match="hold durations"):
        engine.set_hold_durations([0])
    engine.set_hold_durations([100, 200])


@pytest.mark.slow
def test_time_running_backwards_releases_everything(session):
    engine = GestureEngine()
    play(engine, session[:15])  # open, then closed held
    frames, events = play(engine, session[:15])  # the source starts over without reset
    first = frames[0].events
    assert [(type(e), getattr(e, "pose", None)) for e in first[:2]] == [(PoseExited, "closed"), (HandLost, None)]
    assert [e.pose for e in events if isinstance(e, PoseEntered)] == ["open", "closed"]
