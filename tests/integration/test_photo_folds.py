"""scripts/photo_folds.py: the labelled photos' hands as training rows, judged out of fold.

The whole run trains five networks (about 2 minutes); its figures are in docs/accuracy.md.
Here: the photo rows' weight in training, the folds of whole photos, the score and the bar.
"""

from __future__ import annotations

import numpy as np
import pytest
from scripts_loader import load_script


@pytest.fixture(scope="module")
def folds():
    return load_script("photo_folds.py", "handmap_photo_folds_script")


def _hand(folds, image: str, pose: str, also: str = ""):
    return folds.PhotoHand(image, pose, also, np.zeros((21, 2)))


def test_photo_rows_weigh_photo_weight_times_their_class_and_leave_the_rest_as_before(folds):
    tp = folds.tp
    settings = tp.Settings(photo_weight=20.0)
    labels = np.array([0, 0, 0, 1, 4, 4, 0, 4])
    sources = np.array(["a", "a", "b", "b", "a", "b", tp.PHOTO_SOURCE, tp.PHOTO_SOURCE], dtype=object)
    w = tp.sample_weights(labels, sources, settings)
    plain = tp.sample_weights(labels[:6], sources[:6], settings)
    keypoint = w[:6]
    # The keypoint rows keep their proportions; each photo row is 20 of its class's rows.
    assert np.allclose(keypoint / keypoint.sum(), plain / plain.sum())
    assert w[6] == pytest.approx(20 * keypoint[labels[:6] == 0].mean())
    assert w[7] == pytest.approx(20 * keypoint[labels[:6] == 4].mean())
    assert w.mean() == pytest.approx(1.0)
    # Without photo rows nothing changes (the shipped weights file stays byte for byte).
    assert np.array_equal(tp.sample_weights(labels[:6], sources[:6], tp.Settings()), plain)
    assert "photo_weight" not in repr(tp.Settings())


def test_folds_keep_each_photos_hands_together(folds):
    hands = [_hand(folds, f"hands/x/{i % 7}.jpg", "open") for i in range(21)]
    assigned = folds.image_folds(hands, 5)
    for image in {h.image for h in hands}:
        assert len({f for h, f in zip(hands, assigned) if h.image == image}) == 1
    assert set(assigned) == set(range(5))


def test_score_counts_second_answers_and_only_poses_given_to_other_hands(folds):
    hands = [_hand(folds, "a", "open"), _hand(folds, "b", "point", also="other"), _hand(folds, "c", "pinch"),
             _hand(folds, "d", "other"), _hand(folds, "e", "other"), _hand(folds, "f", "other", also="point")]
    got = folds.score(hands, ["open", "hand", "open", "hand", "closed", "point"])
    assert (got.posed_right, got.posed, got.other_given_a_pose, got.other) == (2, 3, 1, 3)


def test_the_bar_wants_half_the_other_hands_at_most_one_posed_hand_fewer(folds):
    baseline = folds.Score(21, 23, 15, 39)
    assert folds.clears_the_bar(baseline, folds.Score(20, 23, 7, 39))
    assert not folds.clears_the_bar(baseline, folds.Score(21, 23, 12, 39))  # the measured candidate
    assert not folds.clears_the_bar(baseline, folds.Score(19, 23, 3, 39))
