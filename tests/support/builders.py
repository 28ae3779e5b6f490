"""Builders the tests share, so each test names only what it varies.

- Gesture side (for the mapping engine): ``hand`` (a tracked hand), ``Clock`` (gesture
  frames at 30 fps), ``entered``/``exited`` (pose events), ``profile`` (a profile from
  plain fields, as a YAML file would give them), ``profile_file`` (a profile file as a
  user writes it).
- Keypoint side: ``flat_hand`` (a flat 2D hand, fingers up, optionally bent back).
- Perception side (real MediaPipe on real images): ``read_rgb`` (an image file as the
  tracker's RGB array), ``rgb_frames`` (a video's frames, likewise) and ``track_hands``
  (handmap's own tracker in VIDEO mode over a run of frames, hands only).

OpenCV, MediaPipe and the tracker are imported inside the builders that need them, so
the pure tests never load them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from handmap.gestures.types import (
    FrameObservation,
    GestureEvent,
    GestureFrame,
    Handedness,
    PoseEntered,
    PoseExited,
    PoseResult,
    TrackedHand,
)
from handmap.mappings.schema import Profile

#: Gesture frames per second in the mapping tests (the camera's usual rate).
FPS = 30.0
#: The pose classifier's score the mapping tests give every hand and pose event.
SCORE = 0.9
#: A hand's landmark array: 21 landmarks, x y z.
LANDMARKS_SHAPE = (21, 3)


def hand(hid: int = 1, pose: str | None = "open", x: float = 0.5, y: float = 0.5,
         side: Handedness = Handedness.RIGHT, locked: bool = False, score: float = SCORE) -> TrackedHand:
    """A tracked hand ``hid`` holding ``pose`` (None: no pose) with its pointer at (x, y)."""
    return TrackedHand(hid, side, pose, PoseResult(pose or "hand", score), (x, y), locked, np.zeros(LANDMARKS_SHAPE))


class Clock:
    """Gesture frames at 30 fps with increasing frame numbers."""

    def __init__(self) -> None:
        self.n = 0

    def frame(self, hands: Iterable[TrackedHand] = (), events: Iterable[GestureEvent] = ()) -> GestureFrame:
        self.n += 1
        return GestureFrame(self.n / FPS, self.n, tuple(hands), tuple(events))


def entered(pose: str, hid: int = 1, side: Handedness = Handedness.RIGHT, prev: str | None = None) -> PoseEntered:
    """Hand ``hid`` entered ``pose`` (from ``prev``), at time 0."""
    return PoseEntered(0.0, 0, hid, side, pose, SCORE, prev)


def exited(pose: str, hid: int = 1, side: Handedness = Handedness.RIGHT) -> PoseExited:
    """Hand ``hid`` left ``pose``, at time 0."""
    return PoseExited(0.0, 0, hid, side, pose)


def profile(**fields: object) -> Profile:
    """A profile validated from plain fields (version 1, named "test" unless given)."""
    fields.setdefault("version", 1)
    fields.setdefault("name", "test")
    return Profile.model_validate(fields)


def profile_file(folder: Path, name: str, text: str) -> Path:
    """``folder/NAME.yaml`` holding ``text`` (dedented, so tests can indent it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def flat_hand(bend: float = 0.0, thumb_out: bool = True) -> np.ndarray:
    """A flat hand in the image plane as (21, 2) keypoint-set points, fingers up; ``bend``
    folds each finger's last two bones back towards the palm by that many radians a joint."""
    points = np.zeros((21, 2))
    points[1:5] = [(-0.3, -0.2), (-0.6, -0.4), (-0.8, -0.6), (-1.0, -0.8)] if thumb_out else [(-0.2, -0.3), (-0.1, -0.5), (0.0, -0.6), (0.1, -0.65)]
    for f, x in enumerate((-0.3, 0.0, 0.3, 0.6)):
        base = 5 + 4 * f
        points[base] = (x, -1.0)
        angle, at = 0.0, np.array([x, -1.0])
        for k in range(1, 4):
            if k >= 2:
                angle += bend
            at = at + 0.4 * np.array([np.sin(angle), -np.cos(angle)])
            points[base + k] = at
    return points


def read_rgb(path: Path) -> np.ndarray:
    """The image file as the RGB array the tracker takes (OpenCV reads BGR)."""
    import cv2

    bgr = cv2.imread(str(path))
    assert bgr is not None, f"cannot read the image {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_frames(capture: Any) -> Iterator[np.ndarray]:
    """The frames an OpenCV ``VideoCapture`` has left, as RGB arrays (the caller
    releases the capture)."""
    import cv2

    while True:
        ok, bgr = capture.read()
        if not ok:
            return
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def track_hands(frames: Iterable[np.ndarray], fps: float, max_hands: int, cache: Path) -> list[FrameObservation]:
    """Each RGB frame through handmap's own tracker with the full hand model (built in
    ``cache``), in VIDEO mode at ``fps`` as a camera would give them: hands only."""
    from handmap.daemon.perception.models import hand_bundle
    from handmap.daemon.perception.tracker import Tracker, TrackerSettings

    tracker = Tracker(TrackerSettings(hand_model=hand_bundle("full", cache), face_model=None,
                                      max_hands=max_hands, video=True))
    try:
        return [tracker.observe(rgb, i / fps, i, with_faces=False) for i, rgb in enumerate(frames)]
    finally:
        tracker.close()
