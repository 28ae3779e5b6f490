"""``handmap teach --preview``: the recording shown in the preview window on a real X
server, its bar saying what to do and how far it is."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _fists(session35: Path, folder: Path) -> int:
    """webcam_session35's fist frames, linked (not copied) into ``folder``."""
    folder.mkdir()
    with open(session35 / "timeline.csv", newline="") as f:
        fists = [row["file"] for row in csv.DictReader(f) if row["expected_pose"] == "closed"]
    for i, name in enumerate(fists):
        (folder / f"{i:03d}.jpg").symlink_to(session35 / name)
    return len(fists)


@pytest.mark.desktop
def test_teach_with_preview_shows_the_frames_and_stores_the_pose(desktop, session35, tmp_path):
    count = _fists(session35, tmp_path / "fists")
    env = dict(desktop.env, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "handmap.daemon.cli", "teach", "my_fist", "--source",
                             str(tmp_path / "fists"), "--preview"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    found = subprocess.run(["xdotool", "search", "--sync", "--name", "handmap preview"], env=env,
                           capture_output=True, text=True, timeout=60)
    out, err = proc.communicate(timeout=120)
    assert found.returncode == 0, found.stderr  # the window was there while it recorded
    assert proc.returncode == 0, err
    assert f"my_fist: {count} hands from {count} frames" in out, out
    stored = json.loads((tmp_path / "data" / "handmap" / "poses" / "my_fist.json").read_text())
    assert len(stored["points"]) == count


def test_the_preview_bar_says_what_teach_is_doing():
    import cv2

    from handmap.daemon.tools.preview import Preview, PreviewState

    preview = Preview.__new__(Preview)  # the drawing only, no window
    preview._cv2 = cv2
    preview._last = time.perf_counter()
    preview._fps = 0.0
    text = preview._bar_text(PreviewState(note="recording thumbs_up: 3 s of 8, 80 hands"))
    assert text.startswith("recording thumbs_up: 3 s of 8, 80 hands | ") and "profile" not in text
    assert preview._bar_text(PreviewState("desktop")).startswith("running | profile desktop | ")
