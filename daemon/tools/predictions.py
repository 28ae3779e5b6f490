"""handtrack.js-style predictions for one image: hands with poses, faces, tips.

The shape is CONTRACTS.md's ``handmap detect --json``: ``bbox`` is ``[x, y, w, h]`` in
pixels; classes as handtrack.js numbers them (0 hand, 1 open, 2 closed, 3 pinch,
4 point, 5 face, 6 tip, 7 pinchtip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmap.gestures.landmarks import Finger, HandLandmark
from handmap.gestures.types import (
    FACE_CLASS_ID,
    FACE_LABEL,
    PINCHTIP_CLASS_ID,
    PINCHTIP_LABEL,
    POSE_CLASS_IDS,
    TIP_CLASS_ID,
    TIP_LABEL,
    FrameObservation,
    Pose,
    PoseResult,
)

#: A hand's box is its landmarks' box grown by this share of its size on each side, so
#: it covers the fingers' thickness and the palm's edge, not only the joint centres.
HAND_BOX_MARGIN = 0.10
#: Tip boxes are squares this share of the hand's size across.
TIP_BOX_SIZE = 0.18


@dataclass(frozen=True)
class Prediction:
    class_id: int
    label: str
    score: float
    bbox: tuple[float, float, float, float]  # pixels
    handedness: str | None = None
    landmarks: np.ndarray | None = None  # normalised (21, 3)
    hand: int | None = None  # for tips: which hand (index among hands)

    def to_json(self) -> dict:
        out: dict = {
            "class": self.class_id,
            "label": self.label,
            "score": round(float(self.score), 4),
            "bbox": [round(float(v), 1) for v in self.bbox],
        }
        if self.handedness is not None:
            out["handedness"] = self.handedness
        if self.landmarks is not None:
            out["landmarks"] = [[round(float(c), 5) for c in point] for point in self.landmarks]
        if self.hand is not None:
            out["hand"] = self.hand
        return out


def _box(points_px: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    lo, hi = points_px.min(axis=0), points_px.max(axis=0)
    grow = margin * float(max(hi - lo))
    return (float(lo[0] - grow), float(lo[1] - grow), float(hi[0] - lo[0] + 2 * grow), float(hi[1] - lo[1] + 2 * grow))


def _square(center: np.ndarray, size: float) -> tuple[float, float, float, float]:
    return (float(center[0] - size / 2), float(center[1] - size / 2), float(size), float(size))


def predictions_for(obs: FrameObservation, poses: list[PoseResult]) -> list[Prediction]:
    """Predictions for the hands (with their poses), faces and tips of one observation."""
    scale = np.array([obs.width, obs.height], dtype=float)
    out: list[Prediction] = []
    tips: list[Prediction] = []
    for number, (hand, pose) in enumerate(zip(obs.hands, poses)):
        px = hand.landmarks[:, :2] * scale
        box = _box(px, HAND_BOX_MARGIN)
        label = pose.label if pose.label in POSE_CLASS_IDS else Pose.HAND.value
        out.append(Prediction(POSE_CLASS_IDS[label], label, hand.score * pose.score, box,
                              handedness=hand.handedness.value, landmarks=hand.landmarks))
        size = TIP_BOX_SIZE * float(max(box[2], box[3]))
        index_state = pose.fingers.get(Finger.INDEX)
        if label == Pose.PINCH.value:
            middle = (px[HandLandmark.THUMB_TIP] + px[HandLandmark.INDEX_TIP]) / 2
            tips.append(Prediction(PINCHTIP_CLASS_ID, PINCHTIP_LABEL, hand.score * pose.score, _square(middle, size), hand=number))
        elif index_state is not None and index_state.extended:
            tips.append(Prediction(TIP_CLASS_ID, TIP_LABEL, hand.score * index_state.confidence,
                                   _square(px[HandLandmark.INDEX_TIP], size), hand=number))
    for face in obs.faces or ():
        x, y, w, h = face.bbox
        out.append(Prediction(FACE_CLASS_ID, FACE_LABEL, face.score, (x * obs.width, y * obs.height, w * obs.width, h * obs.height)))
    return out + tips


def detect_json(image: str, obs: FrameObservation, predictions: list[Prediction], face_touch: bool) -> dict:
    return {
        "image": image,
        "width": obs.width,
        "height": obs.height,
        "face_touch": bool(face_touch),
        "predictions": [p.to_json() for p in predictions],
    }
