"""Landmark traces made at test time from the shared keypoints' real hands
(``keypoints/keypoints.csv``: consecutive webcam frames of one person's hand), for the
taught-pose tests: a teaching recording and clips of the same shape by other people."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from handmap.gestures.trace import encode_header, encode_observation
from handmap.gestures.types import FrameObservation, Handedness, HandObservation

WIDTH, HEIGHT = 640, 480
#: The hand's size in image heights (wrist-relative rows reach +-1).
HAND_SCALE = 0.2


def keypoint_rows(data_dir: Path, source: str, src_label: str) -> np.ndarray:
    """(n, 21, 2) wrist-relative points of ``source``'s rows whose author's class matches
    the regular expression ``src_label`` (case-insensitive), in recording order."""
    pattern = re.compile(src_label, re.I)
    rows = []
    with open(data_dir / "keypoints" / "keypoints.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"].startswith(source) and pattern.search(row["src_label"]):
                rows.append((int(row["row"]), [(float(row[f"x{i}"]), float(row[f"y{i}"])) for i in range(21)]))
    rows.sort()
    return np.array([r[1] for r in rows], dtype=float).reshape(-1, 21, 2)


def observations(points: np.ndarray, fps: float = 30.0, start: float = 0.0,
                 handedness: Handedness = Handedness.RIGHT) -> list[FrameObservation]:
    """One frame per hand, the hand near the middle of a 640x480 image."""
    aspect = WIDTH / HEIGHT
    out = []
    for i, pts in enumerate(points):
        lm = np.zeros((21, 3))
        lm[:, 0] = (0.5 * aspect + HAND_SCALE * pts[:, 0]) / aspect
        lm[:, 1] = 0.55 + HAND_SCALE * pts[:, 1]
        out.append(FrameObservation(t=start + i / fps, frame=i, width=WIDTH, height=HEIGHT,
                                    hands=(HandObservation(lm, handedness, 0.95),)))
    return out


def write_trace(path: Path, frames: list[FrameObservation]) -> Path:
    lines = [encode_header(source="keypoints")] + [encode_observation(o) for o in frames]
    path.write_text("\n".join(lines) + "\n")
    return path


def empty_frames(count: int, fps: float = 30.0, start: float = 0.0) -> list[FrameObservation]:
    """Frames with no hand in view."""
    return [FrameObservation(t=start + i / fps, frame=i, width=WIDTH, height=HEIGHT) for i in range(count)]


def keypoint_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows of the sources ``sources.csv`` puts in ``split``: (n, 21, 2) points,
    labels (open, closed, pinch, point, other), the authors' class names and sources."""
    folder = data_dir / "keypoints"
    with open(folder / "sources.csv", newline="") as f:
        chosen = {row["source"] for row in csv.DictReader(f) if row["split"] == split}
    points, labels, names, sources = [], [], [], []
    with open(folder / "keypoints.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] in chosen:
                points.append([(float(row[f"x{i}"]), float(row[f"y{i}"])) for i in range(21)])
                labels.append(row["label"])
                names.append(row["src_label"])
                sources.append(row["source"])
    return (np.array(points, dtype=float).reshape(-1, 21, 2), np.array(labels, dtype=object),
            np.array(names, dtype=object), np.array(sources, dtype=object))
