"""Landmark quality: whether a hand's tracked landmarks still follow the hand.

A tracked hand's landmarks come from the landmark model run where the hand was on the
frame before. After a jump (a fast move, a low frame rate) it may fit a hand shape that
is not the hand's: a fist read as a pinch. A fresh detection of the same frame (palm
detection, then the landmarks) does not depend on the frame before. ``disagreement``
measures how far two readings of one hand are apart; above ``TRACK_DISAGREES`` the
tracked reading is taken to have lost the hand's shape.
"""

from __future__ import annotations

import numpy as np

from handmap.gestures.tracking import hand_size

#: Hand sizes (wrist to middle knuckle) by which one landmark of two readings of the same
#: hand in the same frame may differ before they disagree. Two good readings differ by
#: under 0.1 (the full and lite models' landmarks included); a tracked fist read as a
#: pinch or an open hand differs from the fresh reading by 0.4 or more.
TRACK_DISAGREES = 0.25


def disagreement(tracked: np.ndarray, fresh: np.ndarray, aspect: float = 1.0) -> float:
    """The largest distance between the same landmark in two readings of one hand, in
    hand sizes of the ``fresh`` reading; x is stretched by ``aspect`` (width over height)
    so that distances are isotropic. Infinite when the fresh hand has no size."""
    a = np.asarray(tracked, dtype=float)[:, :2]
    b = np.asarray(fresh, dtype=float)[:, :2]
    size = hand_size(b, aspect)
    if not size > 0.0:
        return float("inf")
    dx = (a[:, 0] - b[:, 0]) * aspect
    dy = a[:, 1] - b[:, 1]
    return float(np.sqrt(dx * dx + dy * dy).max()) / size


def disagrees(tracked: np.ndarray, fresh: np.ndarray, aspect: float = 1.0) -> bool:
    """Whether the tracked reading has lost the hand's shape, by the fresh one."""
    return not disagreement(tracked, fresh, aspect) <= TRACK_DISAGREES
