"""Pose accuracy on the keypoint set's held-out sources, real photos and webcam frames.

The keypoint figures are the shipped pose model's on the 10 test sources of
``../shared/data/keypoints`` (people it never saw; never used to train or tune it). The
photo figures go through ``handmap detect --json``: at least 98% of labelled
open/closed/pinch/point hands right, at most 8% of ``other`` hands given one of the four
poses (``also_acceptable`` counts as right). The scoring is scripts/accuracy.py's, so the
figures here are the ones it prints.
"""

from __future__ import annotations

import json
from types import MappingProxyType

import numpy as np
import pytest
from builders import flat_hand
from scripts_loader import load_script

accuracy = load_script("accuracy.py", "handmap_accuracy_script")


@pytest.fixture(scope="module")
def keypoint_test(data_dir):
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip(f"keypoint set not found under {data_dir}")
    keypoints = accuracy.load_keypoints(data_dir, "test")
    return keypoints, accuracy.keypoint_report(accuracy.predict_keypoints(keypoints), keypoints)


def test_keypoint_test_set_is_the_ten_held_out_sources_untouched(keypoint_test):
    keypoints, report = keypoint_test
    assert len(set(keypoints.sources)) == 10 and report.rows == 6837
    assert report.confusion.sum(axis=1).tolist() == [1929, 1027, 371, 584, 2926]  # open closed pinch point other


#: The shipped model on the held-out keypoint sources measured 93.2% over the four poses,
#: lowest recall 87.9% (open), 4.1% of other hands given a pose, worst source 81.6%,
#: calibration error 0.035 (docs/accuracy.md, Poses; the sixth look, with the folded-thumb
#: rule and the geometry veto). Where that meets the issue's target
#: the floor is the target; elsewhere it sits just under the measurement, so a worse
#: model fails (the test below waits for the targets).
KEYPOINT_FLOORS = MappingProxyType(
    dict(accuracy=0.93, recall=0.875, other=0.05, source=0.81, ece=accuracy.KEYPOINT_ECE_CEILING)
)


def test_pose_model_on_people_it_never_saw(keypoint_test):
    _, report = keypoint_test
    text = accuracy.format_keypoint_report(report)
    assert report.accuracy >= KEYPOINT_FLOORS["accuracy"], text
    assert min(report.recall.values()) >= KEYPOINT_FLOORS["recall"], text
    assert report.other_given_pose <= KEYPOINT_FLOORS["other"], text
    assert report.worst_source[1] >= KEYPOINT_FLOORS["source"], text
    assert report.ece <= KEYPOINT_FLOORS["ece"], text


@pytest.mark.xfail(strict=True, reason="the issue's targets on the held-out sources are not all met yet (docs/accuracy.md)")
def test_pose_model_meets_the_issue_targets_on_people_it_never_saw(keypoint_test):
    _, report = keypoint_test
    assert report.passes(), accuracy.format_keypoint_report(report)


def test_accuracy_script_prints_the_keypoint_evaluation(data_dir, keypoint_test, capsys):
    status = accuracy.main(["--data", str(data_dir), "--keypoints", "test"])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[1].split()[-5:] == ["open", "closed", "pinch", "point", "hand"]
    for phrase in ("accuracy over the four poses", "recall: open", "other hands given a pose", "worst source", "expected calibration error"):
        assert phrase in out
    assert sum(1 for line in lines if line.startswith(("00sid/", "ksackvil/", "BubuPenguin/"))) == 3


def test_label_doubts_list_bent_open_rows_and_spread_other_rows():
    rows = [flat_hand(), flat_hand(bend=1.4), flat_hand(), flat_hand(thumb_out=False)]  # open, "open" bent, "other" spread, other
    keypoints = accuracy.KeypointSet(
        points=np.array(rows), labels=np.array([0, 0, 4, 4]),
        sources=np.array(["a", "a", "b", "b"], dtype=object), rows=np.array([10, 11, 20, 21]),
    )
    probs = np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [1.0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0]])
    doubts = accuracy.label_doubts(keypoints, probs)
    assert [(d.source, d.label, d.rows, d.misread) for d in doubts] == [("a", "open", (11,), 1), ("b", "other", (20,), 1)]
    assert "rows 11" in accuracy.format_doubts(doubts)


def test_the_worst_source_target_asks_for_bent_open_rows_read_as_open(keypoint_test):
    """The bound docs/accuracy.md states for the worst-source target: 00sid's test source
    is 456 `open` rows, 78 of which have a finger whose tip is under 1.3 times its
    knuckle's distance from the wrist, below the 1.5 the keypoint set's own curation
    requires of an extended finger (its README, step 4). A reader that keeps to that
    definition can get at most 378 of the 456 right: under the 90% the issue asks of
    every source. Geometry only: no model decision reads these rows."""
    keypoints, report = keypoint_test
    source = "00sid/hand_reg_car_control"
    in_source = keypoints.sources == source
    assert report.per_source[source][0] == int(in_source.sum()) == 456
    assert set(keypoints.labels[in_source].tolist()) == {accuracy.KEYPOINT_CLASSES.index("open")}
    extension, _, _ = accuracy._row_geometry(keypoints.points[in_source])
    bent = extension.min(axis=1) < accuracy.DOUBT_OPEN_BENT
    assert int(bent.sum()) == 78
    assert float(np.median(extension[bent].min(axis=1))) < 1.5  # the keypoint set's own cut for "extended"
    ceiling = (456 - 78) / 456
    assert ceiling < accuracy.KEYPOINT_SOURCE_FLOOR


def test_calibration_error_of_known_scores():
    scores = np.array([0.9] * 10 + [0.6] * 10)
    correct = np.array([True] * 9 + [False] + [True] * 3 + [False] * 7)
    # Bin 0.9: 90% right (no error); bin 0.6: 30% right (0.3 off); half the rows each.
    assert accuracy.expected_calibration_error(scores, correct) == pytest.approx(0.15)


def test_keypoint_report_counts_other_as_hand():
    keypoints = accuracy.KeypointSet(
        points=np.zeros((4, 21, 2)),
        labels=np.array([0, 3, 4, 4]),  # open, point, other, other
        sources=np.array(["a", "a", "b", "b"], dtype=object),
        rows=np.arange(4),
    )
    probs = np.array(
        [[0.9, 0, 0, 0, 0.1], [0, 0, 0, 0.4, 0.6], [0, 0, 0, 0, 1.0], [0.1, 0, 0.7, 0, 0.2]]
    )  # open right, point called hand, other right, other called pinch
    report = accuracy.keypoint_report(probs, keypoints)
    assert report.accuracy == 0.5 and report.recall == {"open": 1.0, "point": 0.0}
    assert report.other_given_pose == 0.5
    assert report.per_source == {"a": (2, 0.5), "b": (2, 0.5)}
    assert report.confusion[3, 4] == 1 and report.confusion[4, 2] == 1


@pytest.fixture(scope="module")
def labelled(data_dir, session35):
    return accuracy.load_labels(data_dir)


@pytest.fixture(scope="module")
def detected(data_dir, labelled):
    """One ``handmap detect --json`` run (MediaPipe, full model) over every labelled image."""
    return accuracy.predict_with_detect(data_dir, (h.image for h in labelled))


#: Measured through ``handmap detect`` with the shipped model: 49/51 = 96.1% of posed
#: hands right and 14/49 = 28.6% of ``other`` hands given a pose, with and without z (the
#: model and its geometry veto do not use z). The issue's targets are 98% and 8%; most misses are incidental
#: hands (typing, claws, a hand over the mouth) that the keypoint set has no examples of
#: (docs/accuracy.md, Poses). The floors sit at the measurements, so a worse model fails.
PHOTO_POSE_FLOOR = 0.96
PHOTO_OTHER_CEILING = 0.29


@pytest.mark.slow
@pytest.mark.parametrize("flat", [False, True], ids=["with z", "2d"])
def test_detect_holds_the_measured_pose_figures(labelled, detected, flat):
    predicted = accuracy.reclassify(detected, flat=True) if flat else detected
    report = accuracy.match_hands(labelled, predicted)
    text = accuracy.format_report(report)
    # Nearly every hand MediaPipe can find is found and matched (the labels say which
    # hands it cannot find).
    assert len(report.matches) >= 95, text
    assert len(report.pose_hands) >= 50 and len(report.other_hands) >= 45, text
    assert report.pose_accuracy >= PHOTO_POSE_FLOOR, text
    assert report.other_false_rate <= PHOTO_OTHER_CEILING, text


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="incidental hands read as poses: 28.6% of other photos (docs/accuracy.md)")
def test_detect_meets_the_issue_targets_on_the_photos(labelled, detected):
    report = accuracy.match_hands(labelled, detected)
    assert report.passes(), accuracy.format_report(report)


@pytest.mark.slow
def test_script_check_passes_and_prints_the_matrix(data_dir, detected, tmp_path, capsys):
    """The script's own entry point on the detected landmarks (--landmarks-json path)."""
    records: dict[str, dict] = {}
    for p in detected:
        record = records.setdefault(p.image, {"file": p.image, "width": 1000, "height": round(1000 / p.aspect), "hands": []})
        record["hands"].append({"landmarks": [list(q) for q in p.landmarks]})
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(list(records.values())))
    passes = accuracy.match_hands(accuracy.load_labels(data_dir), detected).passes()
    assert accuracy.main(["--data", str(data_dir), "--landmarks-json", str(dump), "--check"]) == (0 if passes else 1)
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[-5:] == ["open", "closed", "pinch", "point", "hand"]
    assert "pose accuracy: " in out and "other hands given a pose: " in out


def _hand(image, pose, center, also=""):
    return accuracy.LabelledHand(image, pose, also, center)


def _pred(image, label, center):
    return accuracy.PredictedHand(image, label, 0.9, center)


def test_matching_pairs_nearest_centres_within_an_image():
    labelled = [
        _hand("a.jpg", "open", (0.2, 0.5)),
        _hand("a.jpg", "point", (0.3, 0.5)),
        _hand("a.jpg", "closed", None),  # MediaPipe does not find it
        _hand("b.jpg", "other", (0.5, 0.5), also="point"),
    ]
    predicted = [
        _pred("a.jpg", "point", (0.29, 0.51)),
        _pred("a.jpg", "open", (0.21, 0.49)),
        _pred("a.jpg", "open", (0.8, 0.8)),  # no label near it
        _pred("b.jpg", "point", (0.49, 0.5)),
        _pred("c.jpg", "open", (0.5, 0.5)),  # unlabelled image
    ]
    report = accuracy.match_hands(labelled, predicted)
    pairs = sorted((m.truth.pose, m.predicted.label) for m in report.matches)
    assert pairs == [("open", "open"), ("other", "point"), ("point", "point")]
    assert [h.pose for h in report.missed] == ["closed"]
    assert len(report.extra) == 2
    assert report.pose_accuracy == 1.0
    assert report.other_false_rate == 0.0  # point is acceptable for that hand
    assert report.confusion[("other", "point")] == 1


def test_scoring_counts_other_as_hand_and_wrong_poses_against_the_floors():
    labelled = [_hand(f"{i}.jpg", pose, (0.5, 0.5)) for i, pose in enumerate(["open", "closed", "other", "other"])]
    predicted = [
        _pred("0.jpg", "open", (0.5, 0.5)),
        _pred("1.jpg", "hand", (0.5, 0.5)),  # a fist called hand: wrong
        _pred("2.jpg", "hand", (0.5, 0.5)),  # other called hand: right
        _pred("3.jpg", "pinch", (0.5, 0.5)),  # other called pinch: a false pose
    ]
    report = accuracy.match_hands(labelled, predicted)
    assert report.pose_accuracy == 0.5
    assert report.other_false_rate == 0.5
    assert not report.passes()
    text = accuracy.format_report(report)
    assert "1/2 = 50.0%" in text and "labelled closed, predicted hand" in text


def test_labels_cover_photos_and_session35(labelled):
    images = {h.image.split("/")[0] for h in labelled}
    assert images == {"hands", "sequences"}
    assert {h.pose for h in labelled} == {"open", "closed", "pinch", "point", "other"}
