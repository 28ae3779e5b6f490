"""What a newcomer reads from the command line (issue 18): ``--version``, a count that
agrees with its noun, and what the pose names in events mean (the real CLI in a
subprocess)."""

from __future__ import annotations

import json
from importlib.metadata import version

from cli import handmap

from handmap.gestures.trace import encode_header


def test_version():
    out = handmap("--version", timeout=60)
    assert out.returncode == 0 and out.stdout == f"handmap {version('handmap')}\n", out


def test_one_frame_is_one_frame(tmp_path):
    trace = tmp_path / "one.trace.jsonl"
    frame = {"t": 0.0, "frame": 0, "width": 640, "height": 480, "hands": [], "faces": None, "body": None}
    trace.write_text(encode_header(source="one") + "\n" + json.dumps(frame) + "\n")
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    (tmp_path / "run").mkdir(mode=0o700)
    out = handmap("run", "--source", str(trace), "--output", "dry-run", "--no-tray", env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "handmap: 1 frame in " in out.stderr and "handmap: 1 frames" not in out.stderr, out.stderr


def test_profiles_show_explains_the_pose_names(tmp_path):
    out = handmap("profiles", "show", "desktop", env={"XDG_CONFIG_HOME": str(tmp_path)}, timeout=60)
    assert out.returncode == 0, out.stderr
    legend = [line for line in out.stdout.splitlines() if line.startswith("#   ")]
    assert "#   hand: a hand in none of these poses (in between, or unclear)" in legend
    assert "#   two: this profile's own pose (index extended, middle extended, ring curled, pinky curled; " \
           "see poses below)" in legend
    assert {line.split(":")[0].strip("# ") for line in legend} == {"open", "closed", "pinch", "point", "hand", "two"}
