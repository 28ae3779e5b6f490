"""Which hands in a frame are one hand: MediaPipe's two rules for more than one hand,
as pure functions over regions and landmarks.

- ``new_regions``: a palm that palm detection finds where a hand is already tracked is
  that hand, not a new one (MediaPipe's ``HandAssociationCalculator``: the regions'
  upright boxes overlap by more than ``min_tracking_confidence`` in IoU).
- ``duplicates``: two tracked regions that converged onto one hand read the same
  landmarks; the later one is dropped (MediaPipe's ``HandLandmarksDeduplicationCalculator``:
  at least 10 of the 21 landmarks within a fifth of the larger hand's baseline, and
  their bounding boxes overlapping by more than 0.2 in IoU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar

import numpy as np

from handmap.gestures.landmarks import HandLandmark


class Rect(Protocol):
    """A normalised rectangle as MediaPipe passes regions (``NormalizedRect``)."""

    @property
    def x_center(self) -> float: ...

    @property
    def y_center(self) -> float: ...

    @property
    def width(self) -> float: ...

    @property
    def height(self) -> float: ...


#: The landmarks whose pairwise distances make a hand's baseline (MediaPipe's measure
#: of a hand's size for telling duplicates apart).
BASELINE_POINTS = (HandLandmark.WRIST, HandLandmark.INDEX_MCP, HandLandmark.PINKY_MCP)
#: Landmarks closer than this share of the larger baseline count as the same point.
SAME_POINT = 0.2
#: This many landmarks (of 21) at the same points, with bounding boxes overlapping
#: more than ``SAME_BOX_IOU``, make two readings one hand.
SAME_POINTS_FOR_DUPLICATE = 10
SAME_BOX_IOU = 0.2

R = TypeVar("R", bound=Rect)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two (left, top, right, bottom) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _box(rect: Rect) -> tuple[float, float, float, float]:
    # Upright, as MediaPipe compares regions (their rotation is left out).
    left, top = rect.x_center - rect.width / 2.0, rect.y_center - rect.height / 2.0
    return left, top, left + rect.width, top + rect.height


def region_iou(a: Rect, b: Rect) -> float:
    """How much two regions overlap (their upright boxes' IoU)."""
    return _iou(_box(a), _box(b))


def new_regions(palms: Sequence[R], tracked: Sequence[Rect], min_similarity: float) -> tuple[R, ...]:
    """The palms that are new hands: those not overlapping a tracked region, nor a palm
    taken before them, by more than ``min_similarity`` (in order of detection)."""
    taken: list[Rect] = list(tracked)
    new: list[R] = []
    for palm in palms:
        if all(region_iou(palm, other) <= min_similarity for other in taken):
            taken.append(palm)
            new.append(palm)
    return tuple(new)


def _baseline(points: np.ndarray) -> float:
    a, b, c = (points[int(i)] for i in BASELINE_POINTS)
    return max(math.dist(a, b), math.dist(b, c), math.dist(c, a))


def duplicates(hands: Sequence[np.ndarray], width: int, height: int) -> frozenset[int]:
    """The indices of hands (arrays of normalised landmarks) that repeat a hand earlier
    in ``hands``, measured in pixels of a ``width`` x ``height`` frame."""
    scale = np.array([width, height], dtype=np.float64)
    pixels = [np.asarray(hand, dtype=np.float64)[:, :2] * scale for hand in hands]
    baselines = [_baseline(points) for points in pixels]
    boxes = [(float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())) for p in pixels]
    kept: list[int] = []
    dropped: set[int] = set()
    for i, points in enumerate(pixels):
        for j in kept:
            near = max(baselines[i], baselines[j]) * SAME_POINT
            same = int(np.count_nonzero(np.linalg.norm(points - pixels[j], axis=1) < near))
            if same >= SAME_POINTS_FOR_DUPLICATE and _iou(boxes[i], boxes[j]) > SAME_BOX_IOU:
                dropped.add(i)
                break
        else:
            kept.append(i)
    return frozenset(dropped)
