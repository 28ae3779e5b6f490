"""Model bundles are built offline from the mediapipe wheel; users can bring their own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest
from cli import handmap, json_lines

from handmap.daemon.perception.models import HAND_BUNDLE_MEMBERS, ModelError, check_hand_task_file, hand_bundle


@pytest.mark.parametrize("size", ["full", "lite"])
def test_bundle_is_built_once_from_the_wheel(tmp_path, size):
    path = hand_bundle(size, tmp_path)
    with zipfile.ZipFile(path) as bundle:
        assert sorted(bundle.namelist()) == sorted(HAND_BUNDLE_MEMBERS)
    stamp = path.stat().st_mtime_ns
    assert hand_bundle(size, tmp_path) == path and path.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert check_hand_task_file(path) == path


def test_unknown_size_and_bad_task_files(tmp_path):
    with pytest.raises(ModelError, match="'huge'"):
        hand_bundle("huge", tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        check_hand_task_file(tmp_path / "missing.task")
    partial = tmp_path / "partial.task"
    with zipfile.ZipFile(partial, "w") as z:
        z.writestr("hand_detector.tflite", b"")
    with pytest.raises(ModelError, match="hand_landmarks_detector.tflite"):
        check_hand_task_file(partial)


def test_lite_model_and_a_user_task_file_find_hands(tmp_path, data_dir):
    image = str(data_dir / "hands" / "ht" / "9.jpg")
    lite = tmp_path / "lite.yaml"
    lite.write_text("model:\n  size: lite\n")
    done = handmap("detect", "--json", "--config", str(lite), image, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert any(p["label"] == "open" for p in json_lines(done.stdout)[0]["predictions"])
    assert list((tmp_path / "cache" / "handmap" / "models").glob("hand_landmarker_lite-*.task"))

    own = tmp_path / "my_hand_landmarker.task"
    shutil.copy(hand_bundle("full", tmp_path / "other"), own)
    custom = tmp_path / "custom.yaml"
    custom.write_text(f"model:\n  task_file: {own}\n")
    done = handmap("detect", "--json", "--config", str(custom), image)
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout)[0]["predictions"]


def test_detect_runs_with_no_network_at_all(tmp_path, data_dir):
    """In a network namespace with no interfaces, a first run (empty cache) still works."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("needs `unshare -n` (root, util-linux) to cut the network off")
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "handmap.daemon.cli", "detect", "--json", str(data_dir / "hands" / "ht" / "9.jpg")],
        capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout)[0]["predictions"]
