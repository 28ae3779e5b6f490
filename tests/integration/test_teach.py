"""``handmap teach`` and ``handmap poses`` as users run them, on real hands (the shared
keypoints rendered to landmark traces at test time): a pose taught from one person's
recording, bound in a profile, fires on another person's hands in a dry-run replay; bad
input gets one line and changes nothing; the running daemon picks up a new and a removed
taught pose without a restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from cli import handmap
from e2e_util import HandmapProcess, private_env, wait_until, write_profile
from keypoint_traces import empty_frames, keypoint_rows, observations, write_trace

from handmap.daemon.poses_store import PoseStore, TaughtPose

THUMBS = """\
version: 1
name: thumbs
pointer: {mode: none}
bindings:
  - enter: thumbs_up
    do: {key: space}
  - enter: open
    do: {key: o}
"""


@pytest.fixture(scope="module")
def keypoints(data_dir) -> Path:
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip("the shared keypoints are not there")
    return data_dir


@pytest.fixture(scope="module")
def clips(keypoints, tmp_path_factory) -> dict[str, Path]:
    """Teaching recordings from one person (a training source) and a clip of another
    person (a test source) the teaching never saw."""
    folder = tmp_path_factory.mktemp("clips")
    up = keypoint_rows(keypoints, "Baron105", "thumbs_up")[:240]
    point = keypoint_rows(keypoints, "Baron105", "pointing")[:240]
    other = {name: keypoint_rows(keypoints, "BubuPenguin", name) for name in ("thumbs up", "hi-five", "fist")}
    mixed = np.concatenate([other["hi-five"][:60], other["thumbs up"][:90], other["fist"][:60],
                            other["thumbs up"][90:150]])
    return {"teach_up": write_trace(folder / "teach_up.jsonl", observations(up)),
            "teach_point": write_trace(folder / "teach_point.jsonl", observations(point)),
            "empty": write_trace(folder / "empty.jsonl", empty_frames(60)),
            "other_person": write_trace(folder / "other.jsonl", observations(mixed))}


def _poses_dir(env: dict) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "handmap" / "poses"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def test_a_taught_pose_bound_in_a_profile_fires_on_another_persons_hands(clips, tmp_path):
    env = private_env(tmp_path / "home")
    taught = handmap("teach", "thumbs_up", "--source", str(clips["teach_up"]), env=env)
    assert taught.returncode == 0, taught.stderr
    assert "held-out check: recognised in" in taught.stdout and "stored " in taught.stdout, taught.stdout
    assert "warning" not in taught.stderr, taught.stderr
    stored = json.loads((_poses_dir(env) / "thumbs_up.json").read_text())
    assert set(stored) == {"format", "name", "hand", "source", "times", "points"} and len(stored["points"]) == 240

    write_profile(env, "thumbs", THUMBS)
    checked = handmap("profiles", "validate", "thumbs", env=env)
    assert checked.returncode == 0 and "thumbs: ok" in checked.stdout, checked.stderr
    run = handmap("run", "--source", str(clips["other_person"]), "--profile", "thumbs", "--output", "dry-run",
                  "--no-tray", env=env)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    poses = [e["pose"] for e in events if e["type"] == "pose"]
    assert poses == ["open", "thumbs_up", "closed", "thumbs_up"], poses
    assert all(0.5 <= e["score"] <= 1 for e in events if e["type"] == "pose")
    assert [e["key"] for e in events if e["type"] == "key_down"] == ["o", "space", "space"]


def test_a_shape_like_point_is_stored_with_a_warning_naming_point(clips, tmp_path):
    env = private_env(tmp_path / "home")
    taught = handmap("teach", "my_point", "--source", str(clips["teach_point"]), env=env)
    assert taught.returncode == 0, taught.stderr
    assert "warning: my_point looks like point in 100% of frames: bind it in profiles that do not use point" \
        in taught.stderr, taught.stderr


def test_bad_input_gets_one_line_and_changes_nothing(clips, tmp_path):
    env = private_env(tmp_path / "home")
    assert handmap("teach", "thumbs_up", "--source", str(clips["teach_up"]), env=env).returncode == 0
    corrupt = _poses_dir(env) / "broken.json"
    corrupt.write_text('{"format": 1, "name": "broken", "times": [], "points": [')
    before = _snapshot(_poses_dir(env))
    cases = {
        ("teach", "waving", "--source", str(clips["empty"])): "no hand in view long enough",
        ("teach", "point", "--source", str(clips["teach_up"])): "'point' is a built-in pose",
        ("teach", "Thumbs Up", "--source", str(clips["teach_up"])): "is not a pose name",
        ("teach", "thumbs_up", "--source", str(clips["teach_up"])): "already taught; add to it with --add",
        ("teach", "peace", "--add", "--source", str(clips["teach_up"])): "no taught pose named 'peace'",
        ("teach", "broken", "--add", "--source", str(clips["teach_up"])): "broken.json: not valid JSON",
        ("poses", "remove", "open"): "'open' is a built-in pose",
        ("poses", "remove", "peace"): "no taught pose named 'peace'",
    }
    for args, says in cases.items():
        result = handmap(*args, env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("handmap: error: ") and says in lines[0], (args, lines)
    assert _snapshot(_poses_dir(env)) == before


def test_poses_list_show_remove_and_profiles_validate(clips, tmp_path):
    env = private_env(tmp_path / "home")
    assert handmap("teach", "thumbs_up", "--source", str(clips["teach_up"]), env=env).returncode == 0
    added = handmap("teach", "thumbs_up", "--add", "--source", str(clips["teach_up"]), env=env)
    assert added.returncode == 0 and "(now 480 in all)" in added.stdout, added.stdout + added.stderr
    (_poses_dir(env) / "broken.json").write_text("{")
    listed = handmap("poses", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()}
    assert rows["open"] == rows["hand"] == "built-in" and rows["thumbs_up"] == "taught" and rows["two"] == "profile"
    assert "broken" not in rows and "broken.json" in listed.stderr  # the corrupt file named, the rest listed
    shown = handmap("poses", "show", "thumbs_up", env=env)
    assert shown.returncode == 0 and "taught, 480 hands" in shown.stdout and "no images" in shown.stdout

    write_profile(env, "thumbs", THUMBS)
    assert handmap("profiles", "validate", "thumbs", env=env).returncode == 0
    legend = handmap("profiles", "show", "thumbs", env=env)
    assert "#   thumbs_up: your taught pose (handmap poses show thumbs_up)" in legend.stdout, legend.stdout
    removed = handmap("poses", "remove", "thumbs_up", env=env)
    assert removed.returncode == 0 and not (_poses_dir(env) / "thumbs_up.json").exists()
    checked = handmap("profiles", "validate", "thumbs", env=env)
    assert checked.returncode == 1
    assert "bindings[0].enter: unknown pose 'thumbs_up'" in checked.stderr
    assert "or teach it with 'handmap teach thumbs_up'" in checked.stderr, checked.stderr


def test_the_daemon_picks_up_a_new_and_a_removed_taught_pose_without_a_restart(keypoints, tmp_path):
    env = private_env(tmp_path / "home")
    write_profile(env, "plain", "version: 1\nname: plain\npointer: {mode: none}\n")
    thumbs = keypoint_rows(keypoints, "BubuPenguin", "thumbs up")[:150]
    long = write_trace(tmp_path / "long.jsonl", observations(np.concatenate([thumbs, thumbs[::-1]] * 8)))  # 80 s
    run = HandmapProcess(["--source", str(long), "--realtime", "--output", "dry-run", "--no-tray",
                          "--profile", "plain"], env, tmp_path, verbose=True)

    def poses() -> list[str]:
        return [e["pose"] for e in run.events() if e["type"] == "pose"]

    try:
        run.wait_ready()
        wait_until(lambda: "hand" in poses(), 20, "the untaught shape reported as hand")
        teach = keypoint_rows(keypoints, "Baron105", "thumbs_up")[:240]
        store = PoseStore(_poses_dir(env))
        store.write(TaughtPose("thumbs_up", teach * 0.2, np.arange(240) / 30.0))
        wait_until(lambda: "thumbs_up" in poses(), 20, "the new taught pose reported")
        assert "taught poses: thumbs_up" in run.stderr()
        count = len(poses())
        store.remove("thumbs_up")
        wait_until(lambda: "hand" in poses()[count:], 20, "the removed pose no longer reported")
        assert "taught poses: none" in run.stderr()
        run.signal(signal.SIGTERM)
        assert run.wait(20) == 0, run.stderr()
    finally:
        run.stop()
    assert poses()[:3] == ["hand", "thumbs_up", "hand"], poses()


def test_teach_from_real_photos_runs_the_hand_model_and_names_the_built_in_pose(session35, tmp_path):
    """An image folder (webcam_session35's fist frames, linked, not copied): the frames
    go through the hand model; a fist taught as a pose is stored with the warning that
    it looks like closed."""
    import csv

    folder = tmp_path / "fists"
    folder.mkdir()
    with open(session35 / "timeline.csv", newline="") as f:
        fists = [row["file"] for row in csv.DictReader(f) if row["expected_pose"] == "closed"]
    for i, name in enumerate(fists):
        (folder / f"{i:03d}.jpg").symlink_to(session35 / name)
    env = private_env(tmp_path / "home")
    taught = handmap("teach", "my_fist", "--source", str(folder), env=env)
    assert taught.returncode == 0, taught.stderr
    assert f"my_fist: {len(fists)} hands from {len(fists)} frames" in taught.stdout, taught.stdout
    assert "warning: my_fist looks like closed in " in taught.stderr, taught.stderr
    stored = json.loads((_poses_dir(env) / "my_fist.json").read_text())
    assert len(stored["points"]) == len(fists) and stored["source"] == str(folder)


def test_preview_without_a_display_is_one_line_and_stores_nothing(clips, tmp_path):
    env = private_env(tmp_path / "home")
    result = handmap("teach", "thumbs_up", "--preview", "--source", str(clips["teach_up"]), env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "--preview needs a display" in lines[0], result.stderr
    assert not _poses_dir(env).exists()


def test_a_name_a_bundled_profile_defines_by_finger_states_is_taught_with_a_warning(clips, tmp_path):
    env = private_env(tmp_path / "home")
    taught = handmap("teach", "two", "--source", str(clips["teach_up"]), env=env)
    assert taught.returncode == 0, taught.stderr
    assert "warning: profiles desktop, game-aim also define a pose 'two' by finger states" in taught.stderr
    assert (_poses_dir(env) / "two.json").exists()
