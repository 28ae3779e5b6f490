"""The taught-pose store: one file per pose, landmarks only, atomic writes, a corrupt
file skipped with a warning naming it while the others still load."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from keypoint_traces import keypoint_rows

from handmap.daemon.poses_store import MAX_SAMPLES, PoseStore, TaughtPose, combined
from handmap.gestures.taught import TaughtPoseError


@pytest.fixture(scope="module")
def hands(data_dir) -> dict[str, np.ndarray]:
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip("the shared keypoints are not there")
    return {"up": keypoint_rows(data_dir, "Baron105", "thumbs_up")[:60] * 0.2 + 0.5,
            "horns": keypoint_rows(data_dir, "Baron105", "horns")[:60] * 0.2 + 0.5}


def _pose(name: str, points: np.ndarray) -> TaughtPose:
    return TaughtPose(name, points, np.arange(len(points)) / 30.0, "right", "clip.jsonl")


def test_a_pose_is_written_and_read_back_as_landmarks_only(tmp_path, hands):
    store = PoseStore(tmp_path / "poses")
    path = store.write(_pose("thumbs_up", hands["up"]))
    assert path == tmp_path / "poses" / "thumbs_up.json"
    assert set(json.loads(path.read_text())) == {"format", "name", "hand", "source", "times", "points"}
    back = store.read("thumbs_up")
    assert np.allclose(back.points, hands["up"], atol=1e-5) and back.hand == "right" and len(back.times) == 60
    assert [p.name for p in (tmp_path / "poses").iterdir()] == ["thumbs_up.json"]  # no temporary left
    assert store.names() == ("thumbs_up",)
    assert store.taught_set().names == ("thumbs_up",)


@pytest.mark.parametrize("content, says", [
    ("{not json", "not valid JSON"),
    ('{"format": 1, "name": "other", "times": [], "points": []}', "holds pose 'other'"),
    ('{"format": 1, "name": "broken", "times": [0], "points": [[[0, 0]]]}', "hands of 21 (x, y) points"),
    ('{"format": 9}', "not a taught-pose file"),
    ("\udcff", "not UTF-8"),
])
def test_a_corrupt_file_is_skipped_with_a_warning_naming_it(tmp_path, hands, caplog, content, says):
    store = PoseStore(tmp_path)
    store.write(_pose("horns", hands["horns"]))
    bad = tmp_path / "broken.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    poses, warnings = store.load_all()
    assert list(poses) == ["horns"]
    assert len(warnings) == 1 and warnings[0].startswith(f"{bad}: ") and says in warnings[0], warnings
    with caplog.at_level(logging.WARNING):
        assert store.taught_set().names == ("horns",)
    assert str(bad) in caplog.text
    with pytest.raises(TaughtPoseError, match="broken.json"):
        store.read("broken")


def test_adding_keeps_the_old_hands_first_and_time_going_forward(hands):
    old, new = _pose("up", hands["up"]), _pose("up", hands["up"][:20])
    both = combined(old, new)
    assert len(both.points) == 80 and np.all(np.diff(both.times) > 0)
    assert np.array_equal(both.points[:60], old.points)
    big = _pose("up", np.repeat(hands["up"], MAX_SAMPLES // 60 + 1, axis=0))
    assert len(combined(big, new).points) == MAX_SAMPLES


def test_names_that_are_not_poses_are_not_files(tmp_path):
    store = PoseStore(tmp_path)
    (tmp_path / "Not A Pose.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("x")
    assert store.names() == ()
    for name in ("../escape", "point"):
        with pytest.raises(TaughtPoseError):
            store.path(name)
    with pytest.raises(KeyError):
        store.remove("absent")
