"""Taught poses on real hands (the shared keypoints): taught from one person's recording,
recognised in other people's hands of the same shape that teaching never saw, while the
built-in poses keep their held-out accuracy; a shape close to ``point`` gets the warning."""

from __future__ import annotations

import re

import numpy as np
import pytest
from keypoint_traces import keypoint_rows, keypoint_split

from handmap.gestures import classify
from handmap.gestures.poses import as_landmarks
from handmap.gestures.taught import (
    CONFUSION_WARNING,
    RESERVED_NAMES,
    TaughtPoseError,
    TaughtSet,
    assess,
    build,
    check_name,
    shipped_negatives,
    train,
)

THUMBS_UP = r"thumb.*up|thu_up|^like$"
#: One training source's recording (its first 240 rows: 8 s at 30 fps).
TEACHER = "Baron105"
FRAMES = 240


@pytest.fixture(scope="module")
def keypoints(data_dir):
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip("the shared keypoints are not there")
    return data_dir


@pytest.fixture(scope="module")
def taught_up(keypoints) -> TaughtSet:
    return TaughtSet((train("thumbs_up", keypoint_rows(keypoints, TEACHER, "thumbs_up")[:FRAMES]),))


@pytest.fixture(scope="module")
def test_split(keypoints):
    return keypoint_split(keypoints, "test")


def _labels(points: np.ndarray, taught: TaughtSet | None) -> np.ndarray:
    return np.array([classify(p, taught=taught).label for p in points], dtype=object)


@pytest.mark.parametrize("name", ["point", "open", "hand", "face", "Thumbs", "1up", "a b", "", "../x"])
def test_bad_names_are_refused(name):
    with pytest.raises(TaughtPoseError):
        check_name(name)
    assert "point" in RESERVED_NAMES


def test_a_taught_thumbs_up_is_recognised_in_other_peoples_hands(taught_up, test_split):
    points, labels, names, sources = test_split
    up = np.array([bool(re.search(THUMBS_UP, n, re.I)) for n in names])
    down = np.array(["down" in n.lower() for n in names])
    assert up.sum() > 300 and len(set(sources[up])) >= 3  # three people teaching never saw
    given = _labels(points, taught_up) == "thumbs_up"
    assert given[up].mean() >= 0.9, given[up].mean()
    for source in set(sources[up]):  # every person, not just on average
        assert given[up & (sources == source)].mean() >= 0.7, source
    assert given[~up & ~down].mean() <= 0.02, given[~up & ~down].mean()


def test_the_built_in_poses_keep_their_held_out_accuracy(taught_up, test_split):
    points, labels, _, _ = test_split
    posed = np.isin(labels, ["open", "closed", "pinch", "point"])
    without = _labels(points[posed], None)
    with_taught = _labels(points[posed], taught_up)
    before, after = np.mean(without == labels[posed]), np.mean(with_taught == labels[posed])
    # before: the built-in poses' held-out accuracy (93.2%, docs/accuracy.md); a taught pose costs at most a point
    assert before >= 0.93 and after >= before - 0.01, (before, after)


def test_classify_reports_the_taught_pose_with_its_score_and_keeps_the_built_in(taught_up, keypoints):
    hand = keypoint_rows(keypoints, "CharlesCai7", "THUMB UP")[0] * 0.2 + 0.5
    plain = classify(hand)
    result = classify(hand, taught=taught_up)
    assert plain.label == "hand"
    assert result.label == "thumbs_up" and 0.5 <= result.score <= 1.0
    assert result.builtin == "hand" and result.fingers == plain.fingers
    assert classify(hand, taught=TaughtSet()).label == "hand"


def test_feedback_on_a_distinct_shape_has_no_warning(keypoints):
    points = keypoint_rows(keypoints, TEACHER, "horns")[:FRAMES]
    feedback = assess("horns", points)
    assert feedback.held_out == 72 and feedback.held_out_recall >= 0.9
    assert feedback.warnings == [], feedback.warnings
    assert all(feedback.negatives_claimed[c] <= 0.05 for c in ("open", "closed", "pinch", "point"))


def test_a_shape_close_to_point_gets_the_warning_naming_point(keypoints):
    points = keypoint_rows(keypoints, TEACHER, "pointing")[:FRAMES]
    feedback = assess("my_point", points)
    assert feedback.builtin_shares["point"] >= CONFUSION_WARNING
    assert any(w.startswith("looks like point in ") and "do not use point" in w for w in feedback.warnings)


def test_two_taught_poses_are_told_apart_and_overlap_is_named(keypoints):
    up = keypoint_rows(keypoints, TEACHER, "thumbs_up")[:FRAMES]
    horns = keypoint_rows(keypoints, TEACHER, "horns")[:FRAMES]
    taught = build({"thumbs_up": up, "horns": horns})
    assert taught.names == ("horns", "thumbs_up")
    other_up = keypoint_rows(keypoints, "BubuPenguin", "thumbs up")[:100] * 0.2 + 0.5
    assert np.mean(_labels(other_up, taught) == "thumbs_up") >= 0.9
    # The same shape taught twice: each claims the other's recording.
    feedback = assess("thumbs_up_again", up[::-1], {"thumbs_up": up})
    assert feedback.taught_shares["thumbs_up"] >= 0.9
    assert any(w.startswith("looks like thumbs_up in ") for w in feedback.warnings)


def test_training_is_deterministic_and_needs_no_retraining_of_the_shipped_model(keypoints):
    points = keypoint_rows(keypoints, TEACHER, "thumbs_up")[:FRAMES]
    a, b = train("t", points), train("t", points)
    assert np.array_equal(a.weight, b.weight) and a.bias == b.bias
    negatives = shipped_negatives()
    assert len(negatives.labels) >= 200 and set(negatives.labels) == {0, 1, 2, 3, 4}


def test_isotropic_points_do_not_depend_on_the_image_aspect(taught_up, keypoints):
    hand = keypoint_rows(keypoints, "CharlesCai7", "THUMB UP")[3] * 0.2 + 0.5
    wide = hand.copy()
    wide[:, 0] = hand[:, 0] / (16 / 9)  # the same hand in a 16:9 image
    assert np.allclose(as_landmarks(wide, 16 / 9)[:, :2], hand)
    assert classify(wide, aspect=16 / 9, taught=taught_up).label == "thumbs_up"
