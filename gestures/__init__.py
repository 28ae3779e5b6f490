"""handmap.gestures: pure code from landmarks to poses, pointer, motion and face touch.

Stages (each its own module, no camera, no input library, no globals):

- ``landmarks``: named landmark indices and fingers.
- ``types``: the frozen values passed between stages.
- ``poses``: one hand in one frame to a pose (``classify``), with finger states.
"""

from .poses import classify
from .types import (
    FrameObservation,
    GestureFrame,
    HandObservation,
    Handedness,
    Pose,
    PoseResult,
    PoseSpec,
)

__all__ = [
    "classify",
    "FrameObservation",
    "GestureFrame",
    "HandObservation",
    "Handedness",
    "Pose",
    "PoseResult",
    "PoseSpec",
]
