"""Draw predictions on an image (the equivalent of handtrack.js ``renderPredictions``),
with labels laid out so that none covers another or is cut at the image's edge, and
the face-touch verdict; ``put_label`` is the one way the preview writes text too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handmap.daemon.tools.predictions import Prediction
from handmap.gestures.landmarks import FINGER_JOINTS, PALM_KNUCKLES, HandLandmark

BGR = tuple[int, int, int]
#: ``(x, y, width, height)`` in pixels.
Rect = tuple[int, int, int, int]

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
TEXT_COLOUR: BGR = (0, 0, 0)
FONT_SCALE_PER_PIXEL = 1 / 900  # of the image's shorter side
MIN_FONT_SCALE = 0.35
#: Labels are this many pixels apart and away from the image's edge at least.
LABEL_GAP = 1
TOUCH_COLOUR: BGR = (40, 40, 230)
NO_TOUCH_COLOUR: BGR = (90, 90, 90)
VERDICT_TEXT_COLOUR: BGR = (255, 255, 255)
LABEL_EDGE_COLOUR: BGR = (60, 60, 60)


def _hand_segments() -> list[tuple[int, int]]:
    segments = []
    for joints in FINGER_JOINTS.values():
        chain = (HandLandmark.WRIST, *joints)
        segments += [(int(a), int(b)) for a, b in zip(chain, chain[1:])]
    segments += [(int(a), int(b)) for a, b in zip(PALM_KNUCKLES, PALM_KNUCKLES[1:])]
    return segments


HAND_SEGMENTS = _hand_segments()


@dataclass(frozen=True)
class Label:
    """A text drawn on the image, on a filled box of ``colour``."""

    text: str
    rect: Rect
    colour: BGR


@dataclass(frozen=True)
class Annotated:
    image: np.ndarray
    labels: tuple[Label, ...]


def font_scale(width: int, height: int) -> float:
    return max(MIN_FONT_SCALE, min(width, height) * FONT_SCALE_PER_PIXEL)


def _overlaps(a: Rect, b: Rect) -> bool:
    return (a[0] < b[0] + b[2] + LABEL_GAP and b[0] < a[0] + a[2] + LABEL_GAP
            and a[1] < b[1] + b[3] + LABEL_GAP and b[1] < a[1] + a[3] + LABEL_GAP)


def _clamp(x: int, y: int, w: int, h: int, width: int, height: int) -> Rect:
    return (min(max(0, x), max(0, width - w)), min(max(0, y), max(0, height - h)), w, h)


def place(size: tuple[int, int], box: Rect, taken: Sequence[Rect], width: int, height: int) -> Rect:
    """Where a label of ``size`` (w, h) goes for ``box``: above its top-left corner when
    that is free, else another spot at the box's corners, else the free spot nearest to
    it; always inside the image and clear of ``taken`` when the image has room."""
    w, h = size
    x, y, bw, bh = box
    wanted = [(x, y - h), (x, y), (x, y + bh), (x, y + bh - h), (x + bw - w, y - h), (x + bw - w, y + bh)]
    for cx, cy in wanted:
        rect = _clamp(cx, cy, w, h, width, height)
        if not any(_overlaps(rect, t) for t in taken):
            return rect
    first = _clamp(*wanted[0], w, h, width, height)
    step = max(2, h // 3)
    best: tuple[int, Rect] | None = None
    for ty in range(0, max(1, height - h + 1), step):
        for tx in range(0, max(1, width - w + 1), step):
            rect = (tx, ty, w, h)
            if any(_overlaps(rect, t) for t in taken):
                continue
            distance = (tx - first[0]) ** 2 + (ty - first[1]) ** 2
            if best is None or distance < best[0]:
                best = (distance, rect)
    return best[1] if best is not None else first


def _fitted(text: str, scale: float, thickness: int, width: int) -> tuple[float, int, int, int]:
    """The font scale that fits ``text`` in ``width`` (at most ``scale``), and the
    text's width, height and baseline at it."""
    import cv2

    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    if tw + 2 > width:
        scale *= (width - 2) / (tw + 2)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return scale, tw, th, base


def label_size(image: np.ndarray, text: str, scale: float | None = None, thickness: int | None = None) -> tuple[int, int]:
    height, width = image.shape[:2]
    thickness = thickness or _thickness(width, height)
    _, tw, th, base = _fitted(text, scale or font_scale(width, height), thickness, width)
    return tw + 2 * thickness, th + base + thickness


def put_label(image: np.ndarray, text: str, rect: Rect, colour: BGR, text_colour: BGR = TEXT_COLOUR,
              scale: float | None = None, thickness: int | None = None) -> Label:
    """Draw ``text`` on a filled box at ``rect`` (from ``place`` or ``label_size``, with
    the same ``scale`` and ``thickness``), in place."""
    import cv2

    height, width = image.shape[:2]
    thickness = thickness or _thickness(width, height)
    scale, _, th, _ = _fitted(text, scale or font_scale(width, height), thickness, width)
    x, y, w, h = rect
    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, cv2.FILLED)
    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), LABEL_EDGE_COLOUR, 1)  # seen on any background
    cv2.putText(image, text, (x + thickness, y + th + thickness // 2 + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                text_colour, thickness, cv2.LINE_AA)
    return Label(text, rect, colour)


def _thickness(width: int, height: int) -> int:
    return max(1, round(min(width, height) / 300))


def _prediction_text(pred: Prediction) -> str:
    text = f"{pred.label} {pred.score:.2f}"
    return f"{pred.handedness} {text}" if pred.handedness else text


def _join(image: np.ndarray, rect: Rect, box: Rect, colour: BGR, thickness: int) -> None:
    """A thin line from a label that had to move away from its box to the box."""
    import cv2

    x, y, w, h = rect
    bx, by, bw, bh = box
    if _overlaps(rect, (bx, by, bw, bh)):
        return
    lx, ly = min(max(bx, x), x + w), min(max(by, y), y + h)  # the label's point nearest the box
    px, py = min(max(lx, bx), bx + bw), min(max(ly, by), by + bh)
    cv2.line(image, (lx, ly), (px, py), colour, max(1, thickness // 2), cv2.LINE_AA)


def annotate(image: np.ndarray, predictions: Sequence[Prediction], face_touch: bool | None = None,
             taken: Sequence[Rect] = ()) -> Annotated:
    """A copy of ``image`` (BGR) with boxes, landmarks, labels (with scores) and, when
    ``face_touch`` is given, the face-touch verdict in the top-left corner. Labels keep
    clear of each other and of ``taken`` (rectangles the caller draws into)."""
    import cv2

    out = image.copy()
    height, width = out.shape[:2]
    thickness = _thickness(width, height)
    placed: list[Rect] = list(taken)
    labels: list[Label] = []
    if face_touch is not None:
        text = f"face touch: {'yes' if face_touch else 'no'}"
        rect = (0, 0, *label_size(out, text))
        labels.append(put_label(out, text, rect, TOUCH_COLOUR if face_touch else NO_TOUCH_COLOUR, VERDICT_TEXT_COLOUR))
        placed.append(rect)
    boxes = []
    for pred in predictions:
        colour = CLASS_COLOURS.get(pred.class_id, (255, 255, 255))
        x, y, w, h = (int(round(v)) for v in pred.bbox)
        boxes.append((x, y, w, h))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        if pred.landmarks is not None:
            pts = [(int(p[0] * width), int(p[1] * height)) for p in pred.landmarks]
            for a, b in HAND_SEGMENTS:
                cv2.line(out, pts[a], pts[b], colour, thickness, cv2.LINE_AA)
            for p in pts:
                cv2.circle(out, p, thickness + 1, (255, 255, 255), cv2.FILLED)
    # Labels last, over every box and landmark, each where no other label is.
    for pred, box in zip(predictions, boxes):
        colour = CLASS_COLOURS.get(pred.class_id, (255, 255, 255))
        text = _prediction_text(pred)
        rect = place(label_size(out, text), box, placed, width, height)
        _join(out, rect, box, colour, thickness)
        labels.append(put_label(out, text, rect, colour))
        placed.append(rect)
    return Annotated(out, tuple(labels))


def draw_predictions(image: np.ndarray, predictions: Sequence[Prediction], face_touch: bool | None = None) -> np.ndarray:
    """A copy of ``image`` (BGR) with boxes, labels, scores and landmarks drawn (and the
    face-touch verdict when given)."""
    return annotate(image, predictions, face_touch).image
