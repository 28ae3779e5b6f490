"""scripts/train_poses.py: deterministic training on the training sources only.

Training runs for real in subprocesses (one short epoch, so the test stays quick); the
shipped weights file is checked against the training data it says it was trained on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scripts_loader import load_script

from handmap.gestures.pose_model import WEIGHTS_FILE, PoseModel, load_model, shape_features, shipped_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_poses.py"


@pytest.fixture(scope="module")
def keypoints_dir(data_dir):
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip(f"keypoint set not found under {data_dir}")
    return data_dir


def _train(data: Path, out: Path, seed: int) -> str:
    cmd = [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out), "--seed", str(seed)]
    cmd += ["--set", "epochs=1", "--temperature", "1.5", "--no-test"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_same_data_and_seed_give_the_same_weights_byte_for_byte(keypoints_dir, tmp_path):
    out = _train(keypoints_dir, tmp_path / "a.json", seed=3)
    _train(keypoints_dir, tmp_path / "b.json", seed=3)
    _train(keypoints_dir, tmp_path / "c.json", seed=4)
    a, b, c = ((tmp_path / f"{n}.json").read_bytes() for n in "abc")
    assert a == b
    assert a != c  # the seed is used
    model = load_model(tmp_path / "a.json")
    assert model.temperature == 1.5
    assert model.info["training_rows"] == 18227  # the 25 training sources, no test row
    assert "training rows: 18227 from 25 sources" in out


def test_shipped_weights_were_trained_on_this_training_data(keypoints_dir):
    train_poses = load_script("train_poses.py", "handmap_train_poses_script")
    train_set = train_poses.accuracy.load_keypoints(keypoints_dir, "train")
    info = shipped_model().info
    assert info["training_data_sha256"] == train_poses.data_digest(train_set)
    assert info["training_rows"] == len(train_set.labels)


def test_weights_file_round_trips_exactly():
    text = (ROOT / "gestures" / WEIGHTS_FILE).read_text()
    model = PoseModel.from_json(text)
    assert model.to_json() == text
    assert len(text) < 200_000  # a small file in the package


def test_single_hand_path_matches_the_batch_path(keypoints_dir):
    from handmap.gestures.pose_model import predict

    train_poses = load_script("train_poses.py", "handmap_train_poses_script2")
    rows = train_poses.accuracy.load_keypoints(keypoints_dir, "train").points[::97]
    model = shipped_model()
    probs = model.probabilities(shape_features(rows))
    for pts, p in zip(rows, probs):
        label, score = predict(model, pts)
        assert label == model.classes[int(np.argmax(p))]
        assert score == pytest.approx(float(p.max()), abs=1e-9)


def test_classify_reads_each_hand_as_the_batch_evaluation_does(keypoints_dir):
    """accuracy.py scores the keypoint rows with builtin_probabilities; classify must give
    the same pose and score hand by hand, folded thumbs included."""
    from handmap.gestures.poses import builtin_probabilities, classify

    train_poses = load_script("train_poses.py", "handmap_train_poses_script3")
    rows = train_poses.accuracy.load_keypoints(keypoints_dir, "train").points[::53]
    probs = builtin_probabilities(rows)
    for pts, p in zip(rows, probs):
        result = classify(pts)  # the keypoint rows are isotropic 2D points within the image
        assert result.builtin == shipped_model().classes[int(np.argmax(p))]
        assert result.score == pytest.approx(float(p.max()), abs=1e-9)


def test_an_open_hand_with_its_thumb_folded_in_is_not_open(keypoints_dir):
    """Real open hands from the training sources, their thumbs moved across the palm to
    the ring knuckle (a "four"): the model alone reads some as open; classify does not."""
    from handmap.gestures.landmarks import HandLandmark as L
    from handmap.gestures.poses import classify

    train_poses = load_script("train_poses.py", "handmap_train_poses_script4")
    keypoints = train_poses.accuracy.load_keypoints(keypoints_dir, "train")
    opened = [pts for pts, label in zip(keypoints.points, keypoints.labels) if label == 0][::40]
    assert sum(classify(pts).builtin == "open" for pts in opened) >= 0.95 * len(opened)
    folded = []
    for pts in opened:
        four = pts.copy()
        four[L.THUMB_IP] = pts[L.THUMB_MCP] * 0.4 + pts[L.RING_MCP] * 0.6
        four[L.THUMB_TIP] = pts[L.RING_MCP]
        folded.append(four)
    model_alone = [shipped_model().classes[int(np.argmax(p))] for p in shipped_model().probabilities(shape_features(np.array(folded)))]
    read = [classify(pts).builtin for pts in folded]
    assert read.count("open") <= len(folded) // 10, read  # a few side views keep the thumb clear of the palm
    assert model_alone.count("open") > 2 * read.count("open"), model_alone  # the folded thumb's rule decides these


def test_a_damaged_weights_file_is_refused(tmp_path):
    doc = json.loads((ROOT / "gestures" / WEIGHTS_FILE).read_text())
    doc["classes"] = ["open", "closed"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    from handmap.gestures.pose_model import ModelFileError

    with pytest.raises(ModelFileError, match="classes"):
        load_model(bad)
    bad.write_text("{}")
    with pytest.raises(ModelFileError):
        load_model(bad)


def test_an_ensemble_ships_as_one_network_giving_its_members_mean_logits(keypoints_dir):
    """Settings.members: networks from different seeds merged into one wider network."""
    train_poses = load_script("train_poses.py", "handmap_train_poses_script5")
    rng = np.random.default_rng(0)
    sizes = [210, 16, 8, 5]
    members = [
        [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(sizes, sizes[1:])] for _ in range(3)
    ]
    features = shape_features(train_poses.accuracy.load_keypoints(keypoints_dir, "train").points[::211])
    ones = np.ones(210)

    def logits(layers):
        return PoseModel(mean=0 * ones, scale=ones, layers=tuple(layers), temperature=1.0).logits(features)

    merged = train_poses.merge_layers(members)
    assert [w.shape for w, _ in merged] == [(210, 48), (48, 24), (24, 5)]
    expected = np.mean([logits(m) for m in members], axis=0)
    assert np.allclose(logits(merged), expected, rtol=1e-5, atol=1e-4)
    assert not np.allclose(logits(members[0]), expected, atol=1e-2)  # the members differ


def test_curl_noise_bends_finger_joints_and_keeps_bones_and_palm(keypoints_dir):
    from handmap.gestures.landmarks import FINGER_JOINTS, HandLandmark

    train_poses = load_script("train_poses.py", "handmap_train_poses_script6")
    rows = train_poses.accuracy.load_keypoints(keypoints_dir, "train").points[::301]
    bent = train_poses.curl(rows, np.random.default_rng(1), 0.15)
    bases = [HandLandmark.WRIST] + [chain[0] for chain in FINGER_JOINTS.values()]
    assert np.array_equal(bent[:, bases], rows[:, bases])  # wrist and finger bases stay
    for chain in FINGER_JOINTS.values():
        for a, b in zip(chain, chain[1:]):
            assert np.allclose(
                np.linalg.norm(bent[:, b] - bent[:, a], axis=1), np.linalg.norm(rows[:, b] - rows[:, a], axis=1)
            )
    tips = [chain[-1] for chain in FINGER_JOINTS.values()]
    hand = np.median(np.linalg.norm(rows[:, HandLandmark.MIDDLE_TIP] - rows[:, HandLandmark.WRIST], axis=1))
    moved = np.median(np.linalg.norm(bent[:, tips] - rows[:, tips], axis=2))
    assert 0.02 * hand < moved < 0.2 * hand  # the fingertips move a few percent of the hand's length
