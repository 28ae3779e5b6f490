"""Stage: two-hand measurements. Where two hands are relative to each other, and steps.

Each hand is measured at its palm centre (the mean of the wrist and the four knuckles,
as the pointer's default control point), not at its fingertips: on the real hands of the
keypoint set's test sources, the pinch point (midpoint of the thumb and index tips)
moves against the wrist from one frame to the next about twice as much as the palm
centre does (median 0.01 to 0.28 hand sizes against 0.006 to 0.18, eight pose runs),
and every such wiggle would be a zoom or a turn. Between two points, :func:`span` gives the
distance and the angle, with x stretched by the image's aspect ratio so that a turn of
the hands reads the same in any direction. Angles are in degrees, measured from the
first hand to the second, growing clockwise on the image (y grows downwards).

Steps turn a continuous measure into whole steps with a full step of hysteresis: a step
is counted each time the measure has moved a whole step past the last counted one, so
jitter around a step boundary never fires in/out/in/out. Zoom steps are ratios (the
distance grown or shrunk by a factor of ``1 + step``), which keeps them the same whether
the hands are near the camera or far from it; rotate steps are degrees. Pure functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from handmap.gestures.tracking import PALM_POINTS

#: Below this distance (normalised) two hands are at one point: no ratio, no angle.
MIN_SPAN = 1e-4


@dataclass(frozen=True)
class Span:
    """The line from one hand's palm centre to the other's."""

    distance: float  # in image heights (x stretched by the aspect ratio)
    angle: float  # degrees, clockwise on the image, from the first hand to the second


def hand_point(landmarks: np.ndarray) -> tuple[float, float]:
    """Where a hand is for two-hand gestures: its palm centre (x, y), normalised."""
    x, y = np.asarray(landmarks, dtype=float)[list(PALM_POINTS), :2].mean(axis=0)
    return (float(x), float(y))


def span(first: tuple[float, float], second: tuple[float, float], aspect: float = 1.0) -> Span:
    """Distance and angle from point ``first`` to point ``second`` (normalised points;
    ``aspect`` is the image's width over its height)."""
    dx = (second[0] - first[0]) * aspect
    dy = second[1] - first[1]
    return Span(math.hypot(dx, dy), math.degrees(math.atan2(dy, dx)))


def angle_change(before: float, after: float) -> float:
    """The turn from angle ``before`` to ``after`` in degrees, the short way round
    (-180 to 180)."""
    d = (after - before) % 360.0
    return d - 360.0 if d > 180.0 else d


def zoom_steps(anchor: float, distance: float, step: float) -> tuple[int, float]:
    """Whole zoom steps from ``anchor`` (the distance at the last step) to ``distance``,
    one per factor of ``1 + step``: positive when the hands moved apart. Returns the steps
    and the new anchor (moved by the steps counted, not to ``distance``)."""
    if anchor < MIN_SPAN or distance < MIN_SPAN:
        return 0, anchor
    factor = math.log1p(step)
    n = int(math.log(distance / anchor) / factor + math.copysign(1e-9, distance - anchor))
    return n, anchor * math.exp(n * factor)


def rotate_steps(anchor: float, turned: float, degrees: float) -> tuple[int, float]:
    """Whole rotate steps of ``degrees`` from ``anchor`` (the turn at the last step) to
    ``turned`` (both in degrees since the pair formed): positive clockwise. Returns the
    steps and the new anchor."""
    n = int((turned - anchor) / degrees + math.copysign(1e-9, turned - anchor))
    return n, anchor + n * degrees
