"""One hand in one frame to a pose (provisional rules; the gesture engine refines them)."""

from __future__ import annotations

import numpy as np

from .landmarks import FINGER_JOINTS, NUM_HAND_LANDMARKS, Finger, HandLandmark
from .types import FingerState, Pose, PoseResult


class LandmarkError(ValueError):
    """Landmarks that cannot be a hand: wrong shape, NaN or out of range."""


def as_landmarks(landmarks, aspect: float = 1.0) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=float)
    if pts.ndim != 2 or pts.shape[0] != NUM_HAND_LANDMARKS or pts.shape[1] not in (2, 3):
        raise LandmarkError(f"expected 21 points of (x, y) or (x, y, z), got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise LandmarkError("landmarks contain NaN or infinite values")
    if np.any(np.abs(pts) > 1e3):
        raise LandmarkError("landmarks are out of range (normalised coordinates expected)")
    out = pts[:, :2].copy()
    out[:, 0] *= aspect
    return out


def classify(landmarks, aspect: float = 1.0) -> PoseResult:
    pts = as_landmarks(landmarks, aspect)
    wrist = pts[HandLandmark.WRIST]
    size = float(np.linalg.norm(pts[HandLandmark.MIDDLE_MCP] - wrist)) or 1e-6
    fingers = {}
    for finger, (base, _, _, tip) in FINGER_JOINTS.items():
        ref = pts[HandLandmark.INDEX_MCP] if finger is Finger.THUMB else wrist
        ext = np.linalg.norm(pts[tip] - ref) > np.linalg.norm(pts[base] - ref) * (1.3 if finger is not Finger.THUMB else 1.0)
        fingers[finger] = FingerState(bool(ext), 0.6)
    pinch = float(np.linalg.norm(pts[HandLandmark.THUMB_TIP] - pts[HandLandmark.INDEX_TIP]) / size)
    ext = [fingers[f].extended for f in (Finger.INDEX, Finger.MIDDLE, Finger.RING, Finger.PINKY)]
    if pinch < 0.25:
        label = Pose.PINCH
    elif all(ext):
        label = Pose.OPEN
    elif not any(ext):
        label = Pose.CLOSED
    elif ext == [True, False, False, False]:
        label = Pose.POINT
    else:
        label = Pose.HAND
    return PoseResult(label=label.value, score=0.6, fingers=fingers, pinch_distance=pinch)
