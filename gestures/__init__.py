"""handmap.gestures: pure code from landmarks to poses, pointer, motion and face touch.

Stages (each its own module, no camera, no input library, no globals):

- ``landmarks``: named landmark indices and fingers.
- ``types``: the frozen values passed between stages.
- ``poses``: one hand in one frame to a pose (``classify``), with finger states.
- ``pose_model``: the learned pose model behind ``classify`` (weights in ``pose_model.json``).
- ``tracking``: a stable identity for each hand from frame to frame.
- ``temporal``: hysteresis and hold time before a pose change is reported.
- ``filters`` and ``pointer``: the One Euro filtered control point, with click lock.
- ``motion``: swipes and "held for T ms".
- ``two_hands``: where two hands are relative to each other (zoom and rotate steps).
- ``face_touch``: per-frame face-touch decisions and episodes with dwell time.
- ``engine``: all of the above, one ``FrameObservation`` in, one ``GestureFrame`` out.
- ``trace``: the landmark trace format (record and replay).
"""

from handmap.gestures.engine import FaceTouchDetector, GestureConfig, GestureEngine
from handmap.gestures.face_touch import FaceTouchConfig, FaceTouchTracker, touch_score
from handmap.gestures.poses import LandmarkError, PoseSpecError, check_pose_spec, classify
from handmap.gestures.trace import TraceError
from handmap.gestures.types import (
    FaceZone,
    FrameObservation,
    GestureFrame,
    Handedness,
    HandObservation,
    LandmarkQuality,
    Pose,
    PoseResult,
    PoseSpec,
)

__all__ = [
    "classify",
    "check_pose_spec",
    "LandmarkError",
    "PoseSpecError",
    "FaceTouchConfig",
    "FaceTouchDetector",
    "FaceTouchTracker",
    "FaceZone",
    "touch_score",
    "GestureConfig",
    "GestureEngine",
    "TraceError",
    "FrameObservation",
    "GestureFrame",
    "HandObservation",
    "Handedness",
    "LandmarkQuality",
    "Pose",
    "PoseResult",
    "PoseSpec",
]
