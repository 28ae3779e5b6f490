"""Teaching a pose through the settings window (issue 22), in a real browser against a
real daemon replaying one person's real hands (a landmark trace of the shared keypoints):
the countdown and the recording show on the page, the pose is stored with its figures
and listed, and the running daemon reports the new pose for that hand."""

from __future__ import annotations

import browser
import numpy as np
import pytest
import ui_daemon
from keypoint_traces import keypoint_rows, observations, write_trace

pytestmark = pytest.mark.desktop
DOCS = ui_daemon.screenshots_dir()


@pytest.fixture(scope="module")
def chromium():
    b = browser.started()
    yield b
    b.close()


def test_teach_a_pose_from_the_replayed_hands(chromium, data_dir, tmp_path):
    thumbs = keypoint_rows(data_dir, "Baron105", "thumbs_up")[:240]
    frames = observations(np.concatenate([thumbs] * 6), fps=30.0)  # 48 s of the one shape
    daemon = ui_daemon.start(write_trace(tmp_path / "thumbs.jsonl", frames), tmp_path / "home")
    try:
        ui_daemon.login(chromium, daemon, "/poses")
        chromium.wait_for(lambda: chromium.find("#none").prop("hidden") is False, what="no taught poses yet")

        # A bad name is refused at its field, and nothing starts.
        chromium.find("#t-name").type("Thumbs Up")
        chromium.find("#start").click()
        chromium.wait_for(lambda: chromium.find("#t-name").attr("aria-invalid") == "true", what="the name's error")
        name = chromium.find("#t-name")
        name.clear()
        name.type("thumbs_up")
        seconds = chromium.find("#t-seconds")
        seconds.clear()
        seconds.type("4")
        chromium.find("#start").click()
        phases = set()

        def finished():
            phases.add(chromium.run("return document.body.dataset.teach"))
            return phases & {"done", "failed"}

        chromium.wait_for(finished, timeout=60, every=0.2, what="the teaching to finish")
        assert "done" in phases, chromium.find("#phase").text
        assert {"countdown", "recording"} <= phases
        assert "held-out check" in chromium.find("#result").text
        chromium.wait_for(lambda: "thumbs_up" in chromium.find("#poses").text, what="the pose in the list")
        row = chromium.find("#poses tr").text
        assert "%" in row  # its held-out figure
        chromium.screenshot(DOCS / "ui-poses.png")
        assert (daemon.home / "data" / "handmap" / "poses" / "thumbs_up.json").exists()

        def reported():  # the running daemon picks the new pose up (its reload, then the hand's next frames)
            return any(e["type"] == "pose" and e["pose"] == "thumbs_up" for e in daemon.events())

        chromium.wait_for(reported, timeout=25, every=0.5, what="the daemon reporting thumbs_up")
    finally:
        daemon.stop()
