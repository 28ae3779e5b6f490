"""Landmark quality (gestures.quality): when two readings of one hand in one frame
disagree, on MediaPipe's own test landmarks (hands/mediapipe_testdata_landmarks.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmap.gestures.quality import TRACK_DISAGREES, disagreement, disagrees
from handmap.gestures.tracking import hand_size


@pytest.fixture(scope="module")
def hands(data_dir) -> dict[str, np.ndarray]:
    doc = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    return {f["name"]: np.array(f["landmarks"], dtype=float) for f in doc["fixtures"]}


def _placed(points: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``points`` moved and scaled onto ``like``'s wrist and size (the same hand, in
    another shape, where a tracked reading would put it)."""
    scale = hand_size(like) / hand_size(points)
    out = points.copy()
    out[:, :2] = (points[:, :2] - points[0, :2]) * scale + like[0, :2]
    return out


def test_the_same_reading_agrees_and_jitter_stays_under_the_bound(hands):
    fist = hands["fist"]
    assert disagreement(fist, fist) == 0.0 and not disagrees(fist, fist)
    rng = np.random.default_rng(5)
    size = hand_size(fist)
    jittered = fist + np.column_stack([rng.normal(0, 0.02 * size, (21, 2)), np.zeros(21)])  # 2% of a hand
    assert disagreement(jittered, fist) < TRACK_DISAGREES / 2


@pytest.mark.parametrize("shape", ["pointing_up", "thumb_up", "victory"])
def test_another_hand_shape_at_the_same_place_disagrees(hands, shape):
    """A tracked reading that fits another shape where the fist is (a fist read as a
    point): its fingertips are hand sizes away from the fist's."""
    fist = hands["fist"]
    other = _placed(hands[shape], fist)
    assert disagrees(other, fist) and disagreement(other, fist) > 2 * TRACK_DISAGREES


def test_distances_are_in_hand_sizes_whatever_the_aspect(hands):
    victory = hands["victory"]
    shifted = victory.copy()
    shifted[:, 1] += 0.3 * hand_size(victory, 16 / 9)  # the whole hand down by 0.3 hand sizes
    assert disagreement(shifted, victory, 16 / 9) == pytest.approx(0.3)
    assert disagrees(shifted, victory, 16 / 9)
    sideways = victory.copy()
    sideways[:, 0] += 0.1 * hand_size(victory, 16 / 9) / (16 / 9)
    assert disagreement(sideways, victory, 16 / 9) == pytest.approx(0.1)


def test_a_collapsed_fresh_hand_or_nan_always_disagrees(hands):
    fist = hands["fist"]
    assert disagrees(fist, np.zeros((21, 3)))
    broken = fist.copy()
    broken[8] = np.nan
    assert disagrees(broken, fist)
    assert disagrees(fist[:, :2], fist[:, :2] + 1.0)  # 2D readings too
