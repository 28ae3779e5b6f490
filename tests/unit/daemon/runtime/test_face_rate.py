"""Face checks at the rate face touch needs: full rate (10 Hz) while a hand is near a
face, a check every half second while every hand is well away from it (pipeline.py).

Real frames of webcam_session35: in frame 0 the hand is at the chin (0.8 face radii from
the face's centre), in frame 8 it is held out beside the head (2.7 radii). Each is
played for 3 s at 30 fps through the real models, in line, so the counts repeat."""

from __future__ import annotations

import numpy as np
import pytest
from faulty import make_home

from handmap.daemon.runtime.assemble import RunOptions, build
from handmap.daemon.runtime.face_checks import FACES_FAR_INTERVAL_S, FACES_FAR_RADIUS
from handmap.gestures.face_touch import nearest_face_radius
from handmap.gestures.types import FaceObservation, Handedness, HandObservation

FACES_ON = """\
faces:
  enabled: true
pause_hotkey: null
tray: false
"""
SECONDS = 3.0
FPS = 30


def still_clip(session35, index: int, path):
    import cv2

    image = cv2.resize(cv2.imread(str(session35 / "frames" / f"35_pic{index:05d}.jpg")), (640, 480))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for _ in range(int(SECONDS * FPS)):
        writer.write(image)
    writer.release()
    return path


def face_checks(clip, tmp_path) -> int:
    built = build(RunOptions(source=str(clip), output="dry-run", profile="desktop", tray=False, control_socket=False,
                             hotkey=False, window_switching=False, history=False, alerts=False),
                  env=make_home(tmp_path, config=FACES_ON))
    try:
        built.daemon.run()
        return int(built.pipeline.clock.samples("faces").size)
    finally:
        built.close()


def test_faces_are_checked_less_often_while_the_hand_is_far_from_the_face(session35, tmp_path):
    near = face_checks(still_clip(session35, 0, tmp_path / "near.avi"), tmp_path / "a")
    far = face_checks(still_clip(session35, 8, tmp_path / "far.avi"), tmp_path / "b")
    # Near: every 100 ms of source time (30 frames a second, 10 Hz).
    assert near >= SECONDS * 10 - 2, near
    # Far: after the first check, one every FACES_FAR_INTERVAL_S.
    assert far <= SECONDS / FACES_FAR_INTERVAL_S + 2, far
    assert far >= SECONDS / FACES_FAR_INTERVAL_S - 1, far  # still refreshed, not stopped


def hand_at(x: float, y: float) -> HandObservation:
    """A 21-point hand, all points within 0.02 of (x, y) in normalised coordinates."""
    rng = np.random.default_rng(0)
    points = np.column_stack([x + rng.uniform(-0.02, 0.02, 21), y + rng.uniform(-0.02, 0.02, 21), np.zeros(21)])
    return HandObservation(landmarks=points, handedness=Handedness.RIGHT, score=0.9)


FACE = FaceObservation(bbox=(0.4, 0.3, 0.2, 0.26), score=0.9)  # centre (0.5, 0.43)


def test_nearest_face_radius_measures_in_face_radii():
    on_face = nearest_face_radius([hand_at(0.5, 0.45)], [FACE], 640, 480)
    beside = nearest_face_radius([hand_at(0.9, 0.8)], [FACE], 640, 480)
    assert on_face < 0.3
    assert beside > FACES_FAR_RADIUS
    # The nearest of several hands counts.
    assert nearest_face_radius([hand_at(0.9, 0.8), hand_at(0.5, 0.45)], [FACE], 640, 480) == pytest.approx(on_face)
    assert nearest_face_radius([], [FACE], 640, 480) == float("inf")
    assert nearest_face_radius([hand_at(0.5, 0.45)], [], 640, 480) == float("inf")


def test_a_source_whose_clock_starts_over_gets_face_checks_again(session35, tmp_path):
    """A camera that comes back may number its frames from 0 again. The face gate then
    starts over: the far gate measures half seconds from the last check on the new
    clock, not on the old one (which would hold every check back while the hand is
    away from where the old session's face was)."""
    import cv2

    from handmap.daemon.capture import Frame

    image = cv2.resize(cv2.imread(str(session35 / "frames" / "35_pic00008.jpg")), (640, 480))  # hand beside the head
    built = build(RunOptions(source=str(still_clip(session35, 8, tmp_path / "far.avi")), output="dry-run",
                             profile="desktop", tray=False, control_socket=False, hotkey=False,
                             window_switching=False, history=False, alerts=False),
                  env=make_home(tmp_path, config=FACES_ON))
    pipeline = built.pipeline
    try:
        def play(start: float) -> int:
            before = pipeline.clock.samples("faces").size
            for i in range(int(SECONDS * FPS)):
                pipeline.submit(Frame(t=start + i / FPS, index=i, image=image))
                pipeline.completed()
            return int(pipeline.clock.samples("faces").size - before)

        first = play(1000.0)
        again = play(0.0)
    finally:
        built.close()
    assert first >= SECONDS / FACES_FAR_INTERVAL_S - 1, first
    assert again >= SECONDS / FACES_FAR_INTERVAL_S - 1, again  # not held back by the old clock
