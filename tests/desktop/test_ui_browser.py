"""The settings window in a real browser (Debian's chromium over chromium-driver) against
a real daemon (issue 22): the live page follows a replayed clip's poses and pauses the
daemon; a profile made through the forms is saved, refused with the problem at its field
when a value is bad (the file unchanged), and used by the running daemon. Each page's
screenshot is written into docs/ for the README."""

from __future__ import annotations

import time
from pathlib import Path

import browser
import numpy as np
import pytest
import ui_daemon
from keypoint_traces import empty_frames, keypoint_rows, observations, write_trace

pytestmark = pytest.mark.desktop
DOCS = ui_daemon.screenshots_dir()
CLIP = "subhih_session35_10fps_x5.mp4"
NO_PAUSE_POSE = """version: 1
name: desktop
extends: desktop
bindings:
  - held: closed
    ms: 2000
    hand: left
    do: none
"""
#: Window size of the screenshots (the README shows them).
SHOT_SIZE = (1100, 820)


@pytest.fixture(scope="module")
def chromium():
    b = browser.started(*SHOT_SIZE)
    yield b
    b.close()


def text(chromium, css: str) -> str:
    return chromium.find(css).text


def test_live_page_follows_the_clip_and_pauses_the_daemon(chromium, data_dir, tmp_path):
    # The clip holds a left fist for 2 s, which pauses the desktop profile: the user's own
    # desktop profile turns that binding off, so only the page pauses.
    profiles = tmp_path / "config" / "handmap" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "desktop.yaml").write_text(NO_PAUSE_POSE)
    daemon = ui_daemon.start(data_dir / "sequences" / "webcam_session35" / CLIP, tmp_path)
    try:
        ui_daemon.login(chromium, daemon)
        chromium.wait_for(lambda: chromium.run("return document.getElementById('view').naturalWidth") > 0,
                          what="the camera view")
        seen: list[str] = []
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and len({s for s in seen if s != "none in view"}) < 3:
            shown = text(chromium, "#hands")
            if not seen or seen[-1] != shown:
                seen.append(shown)
            if "right:" in shown and not (DOCS / "ui-live.png").exists() or len(seen) == 3:
                chromium.screenshot(DOCS / "ui-live.png")
            time.sleep(0.1)
        poses = {s for s in seen if s != "none in view"}
        assert len(poses) >= 2, f"the pose label never changed: {seen}"
        assert text(chromium, "#profile") == "desktop"

        chromium.find("#pause").click()
        chromium.wait_for(lambda: text(chromium, "#state").startswith("paused"), what="paused on the page")
        assert "the settings window" in text(chromium, "#state")
        chromium.find("#resume").click()
        chromium.wait_for(lambda: not text(chromium, "#state").startswith("paused"), what="resumed on the page")
    finally:
        daemon.stop()
    events = daemon.events()
    kinds = [e["type"] for e in events]
    assert kinds.count("paused") == 1 and "resumed" in kinds[kinds.index("paused"):]  # the page's, only
    # What the page showed is what the daemon reported.
    reported = {e["pose"] for e in events if e["type"] == "pose"}
    for label in poses:
        assert {part.split(": ")[1] for part in label.split(", ")} <= reported | {"hand"}


def pinch_trace(data_dir: Path, path: Path, idle_s: float, cycles: int) -> Path:
    """A right hand (one person's real keypoints) idle for ``idle_s`` (nothing in view),
    then opening and pinching ``cycles`` times."""
    pinch = keypoint_rows(data_dir, "Baron105", "^pinch$")[:20]
    open_ = keypoint_rows(data_dir, "Baron105", "open_palm")[:20]
    fps = 30.0
    frames = empty_frames(int(idle_s * fps), fps)
    points = np.concatenate([np.concatenate([open_, pinch]) for _ in range(cycles)])
    frames += observations(points, fps, start=len(frames) / fps)
    for i, frame in enumerate(frames):  # one numbering across both parts
        object.__setattr__(frame, "frame", i)
    return write_trace(path, frames)


def test_a_profile_made_in_the_forms_is_checked_saved_and_used(chromium, data_dir, tmp_path):
    trace = pinch_trace(data_dir, tmp_path / "pinch.jsonl", idle_s=45, cycles=12)
    daemon = ui_daemon.start(trace, tmp_path / "home")
    try:
        ui_daemon.login(chromium, daemon)
        chromium.go(daemon.access.origin + "/profiles")
        chromium.wait_for(lambda: chromium.find_all("#new-template option"), what="the templates")
        chromium.find("#new-name").type("pinch-click")
        chromium.find('#new-template option[value=""]').click()
        chromium.find("#create").click()
        chromium.wait_for(lambda: chromium.find("#editor").prop("hidden") is False, what="the new profile's form")
        saved = daemon.profiles / "pinch-click.yaml"
        chromium.wait_for(saved.exists, what="the new profile's file")
        created = saved.read_bytes()

        # A bad value: a key that does not exist. Shown at its field; the file unchanged.
        chromium.find("#add").click()
        chromium.find('[data-field="bindings.0.action"] option[value="key"]').click()
        value = chromium.find('[data-field="bindings.0.value"]')
        value.clear()
        value.type("ctrl+nosuchkey")
        chromium.find("#save").click()
        action = '[data-field="bindings.0.action"]'
        chromium.wait_for(lambda: chromium.find(action).attr("aria-invalid") == "true", what="the error at the field")
        note = chromium.find(f"#{chromium.find(action).attr('aria-describedby')}").text
        assert "nosuchkey" in note
        assert f"{saved}:" in text(chromium, "#yaml-errors")  # file:line in the YAML view
        assert "file is unchanged" in text(chromium, "#status")
        assert saved.read_bytes() == created

        # Pinch to click, through the forms, and the pointer's region.
        chromium.find('[data-field="bindings.0.action"] option[value="click"]').click()
        value.clear()
        value.type("left")
        for side, share in (("left", "0.1"), ("top", "0.1"), ("right", "0.9"), ("bottom", "0.8")):
            chromium.find(f"#r-{side}").type(share)
        chromium.find("#save").click()
        chromium.wait_for(lambda: "Saved pinch-click" in text(chromium, "#status"), what="saved")
        written = saved.read_text()
        assert "enter: \"pinch\"" in written and "do: click" in written and written.startswith("# pinch-click")
        assert "region: {left: 0.1, top: 0.1, right: 0.9, bottom: 0.8}" in written
        chromium.run("document.getElementById('editor').scrollIntoView()")
        chromium.screenshot(DOCS / "ui-profiles.png")

        # The running daemon has it (hot reload) and switches to it from the live page.
        chromium.go(daemon.access.origin + "/live")
        option = '#profile-choice option[value="pinch-click"]'
        chromium.wait_for(lambda: chromium.find_all(option), what="the new profile in the daemon's list")
        chromium.find(option).click()
        chromium.find("#switch").click()
        chromium.wait_for(lambda: text(chromium, "#profile") == "pinch-click", what="the switch")
        assert daemon.proc.wait(120) == 0
    finally:
        daemon.stop()
    events = daemon.events()
    switched = next(i for i, e in enumerate(events) if e["type"] == "profile" and e["name"] == "pinch-click")
    after = events[switched:]
    downs = [e for e in after if e["type"] == "mouse_down" and e["button"] == "left"]
    ups = [e for e in after if e["type"] == "mouse_up" and e["button"] == "left"]
    assert len(downs) >= 6 and len(ups) == len(downs), [e["type"] for e in after]
