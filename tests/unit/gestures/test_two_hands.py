"""Two-hand measurements: pinch points, distance and angle in true proportions, and steps
with a full step of hysteresis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handmap.gestures.landmarks import PALM_KNUCKLES, HandLandmark
from handmap.gestures.two_hands import angle_change, hand_point, rotate_steps, span, zoom_steps


def test_a_hand_is_at_its_palm_centre_whatever_its_fingertips_do():
    pts = np.full((21, 3), 0.9)  # fingertips anywhere
    pts[HandLandmark.WRIST] = (0.2, 0.6, 0.0)
    for knuckle in PALM_KNUCKLES:
        pts[knuckle] = (0.325, 0.35, 0.0)
    assert hand_point(pts) == pytest.approx((0.3, 0.4))


def test_span_stretches_x_by_the_aspect_ratio():
    s = span((0.25, 0.5), (0.75, 0.5), aspect=4 / 3)
    assert s.distance == pytest.approx(2 / 3) and s.angle == pytest.approx(0.0)
    # Down-right on the image (y grows downwards) is clockwise: a positive angle.
    assert span((0.0, 0.0), (0.3, 0.4), aspect=4 / 3).angle == pytest.approx(45.0)
    assert span((0.5, 0.5), (0.2, 0.5)).angle == pytest.approx(180.0)


@pytest.mark.parametrize("before, after, turn", [(170, -170, 20), (-170, 170, -20), (10, 40, 30), (0, 180, 180)])
def test_angle_change_goes_the_short_way(before, after, turn):
    assert angle_change(before, after) == pytest.approx(turn)


def test_zoom_steps_are_ratios_with_hysteresis():
    assert zoom_steps(0.2, 0.239, 0.2) == (0, 0.2)
    n, anchor = zoom_steps(0.2, 0.3, 0.2)  # 1.5 = 1.2 ** 2.22
    assert n == 2 and anchor == pytest.approx(0.288)
    # Jitter just under the last step does not undo it: back needs a whole step.
    assert zoom_steps(anchor, 0.2881 * 0.9, 0.2)[0] == 0
    assert zoom_steps(anchor, 0.239, 0.2)[0] == -1
    # The same move far from the camera (everything half size) gives the same steps.
    assert zoom_steps(0.1, 0.15, 0.2)[0] == 2
    assert zoom_steps(0.2, 0.2 * 1.2 ** 3, 0.2)[0] == 3  # exact multiples count
    assert zoom_steps(0.0, 0.3, 0.2) == (0, 0.0)


def test_rotate_steps_with_hysteresis():
    assert rotate_steps(0.0, 14.9, 15.0) == (0, 0.0)
    assert rotate_steps(0.0, 31.0, 15.0) == (2, 30.0)
    assert rotate_steps(30.0, 16.0, 15.0) == (0, 30.0)
    assert rotate_steps(30.0, 14.0, 15.0) == (-1, 15.0)
    assert rotate_steps(0.0, -45.0, 15.0) == (-3, -45.0)
    assert not math.isnan(rotate_steps(0.0, 0.0, 15.0)[1])
