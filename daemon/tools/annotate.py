"""Draw predictions on an image (the equivalent of handtrack.js ``renderPredictions``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handmap.daemon.tools.predictions import Prediction
from handmap.gestures.landmarks import FINGER_JOINTS, PALM_KNUCKLES, HandLandmark

#: BGR colours per class id (hand, open, closed, pinch, point, face, tip, pinchtip).
CLASS_COLOURS = {
    0: (200, 200, 200),
    1: (80, 200, 60),
    2: (40, 40, 230),
    3: (230, 160, 30),
    4: (30, 200, 230),
    5: (230, 60, 200),
    6: (255, 255, 255),
    7: (0, 140, 255),
}


def _hand_segments() -> list[tuple[int, int]]:
    segments = []
    for joints in FINGER_JOINTS.values():
        chain = (HandLandmark.WRIST, *joints)
        segments += [(int(a), int(b)) for a, b in zip(chain, chain[1:])]
    segments += [(int(a), int(b)) for a, b in zip(PALM_KNUCKLES, PALM_KNUCKLES[1:])]
    return segments


HAND_SEGMENTS = _hand_segments()


def draw_predictions(image: np.ndarray, predictions: Sequence[Prediction]) -> np.ndarray:
    """A copy of ``image`` (BGR) with boxes, labels, scores and landmarks drawn."""
    import cv2

    out = image.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(min(width, height) / 300))
    font_scale = max(0.4, min(width, height) / 900)
    for pred in predictions:
        colour = CLASS_COLOURS.get(pred.class_id, (255, 255, 255))
        x, y, w, h = (int(round(v)) for v in pred.bbox)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        text = f"{pred.label} {pred.score:.2f}"
        if pred.handedness:
            text = f"{pred.handedness} {text}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = max(th + base, y)
        cv2.rectangle(out, (x, top - th - base), (x + tw, top), colour, cv2.FILLED)
        cv2.putText(out, text, (x, top - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
        if pred.landmarks is not None:
            pts = [(int(p[0] * width), int(p[1] * height)) for p in pred.landmarks]
            for a, b in HAND_SEGMENTS:
                cv2.line(out, pts[a], pts[b], colour, thickness, cv2.LINE_AA)
            for p in pts:
                cv2.circle(out, p, thickness + 1, (255, 255, 255), cv2.FILLED)
    return out
