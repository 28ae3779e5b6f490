"""The settings window's Settings and Face touch pages in a real browser against a real
daemon (issue 22): a bad value is shown at its field and the config file stays as it
was; a good one is saved into the user's config.yaml with its comments kept, and the
file passes ``handmap config validate``; the face-touch history shows by day and hour
and alerts can be muted. Screenshots of both pages go to docs/."""

from __future__ import annotations

import time

import browser
import pytest
import ui_daemon
from cli import handmap
from keypoint_traces import empty_frames, write_trace

from handmap.daemon.history.store import TouchStore, default_history_path

pytestmark = pytest.mark.desktop
DOCS = ui_daemon.screenshots_dir()
USER_CONFIG = "# my settings\ncamera:\n  index: 0        # the laptop's camera\n  mirror: true\n"


@pytest.fixture(scope="module")
def chromium():
    b = browser.started()
    yield b
    b.close()


@pytest.fixture()
def daemon(tmp_path):
    trace = write_trace(tmp_path / "idle.jsonl", empty_frames(30 * 90))  # 90 s with no hand in view
    env = ui_daemon.private_env(tmp_path / "home")
    now = time.time()
    with TouchStore(default_history_path(env)) as store:  # two touches today, one yesterday
        for start in (now - 60, now - 30, now - 86400):
            store.end_episode(store.start_episode("right", start_wall=start, profile="desktop"), end_wall=start + 2)
    running = ui_daemon.start(trace, tmp_path / "home", config=USER_CONFIG)
    yield running
    running.stop()


def test_settings_are_checked_at_their_field_and_saved_with_the_comments(chromium, daemon):
    config = daemon.home / "config" / "handmap" / "config.yaml"
    ui_daemon.login(chromium, daemon, "/settings")
    width = chromium.find('[data-field="camera.width"]')
    chromium.wait_for(lambda: width.prop("value") == "640", what="the settings filled in")
    width.clear()
    width.type("10")
    chromium.find("#save").click()
    chromium.wait_for(lambda: width.attr("aria-invalid") == "true", what="the error at the width")
    note = chromium.find(f"#{width.attr('aria-describedby')}").text
    assert f"{config}:" in note and "64" in note  # file:line:col and the bound
    assert config.read_text() == USER_CONFIG

    width.clear()
    width.type("1280")
    chromium.find('#model-size option[value="lite"]').click()
    chromium.find('[data-field="camera.mirror"]').click()
    chromium.find("#save").click()
    chromium.wait_for(lambda: "Saved" in chromium.find("#status").text, what="saved")
    text = config.read_text()
    assert "# the laptop's camera" in text and "# my settings" in text
    assert "mirror: false" in text and "width: 1280" in text and 'size: "lite"' in text
    checked = handmap("config", "validate", str(config), env=daemon.env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    chromium.screenshot(DOCS / "ui-settings.png")


def test_face_touch_history_and_muting(chromium, daemon):
    ui_daemon.login(chromium, daemon, "/faces")
    chromium.wait_for(lambda: chromium.find("#today").text == "2", what="today's two touches")
    days = [row.text for row in chromium.find_all("#days tr")]
    assert days[-1].endswith(" 2") and days[-2].endswith(" 1"), days
    assert sum(int(row.text.rsplit(" ", 1)[1]) for row in chromium.find_all("#hours tr")) == 2
    chromium.screenshot(DOCS / "ui-faces.png")
    chromium.find('[data-field="alerts.muted"]').click()
    chromium.find("#save").click()
    chromium.wait_for(lambda: "Saved" in chromium.find("#status").text, what="saved")
    assert daemon.api("GET", "/api/state")["alerts_muted"] is True
    assert "muted: true" in (daemon.home / "config" / "handmap" / "config.yaml").read_text()
