"""The settings window is plain to use (issue 22): at 200% zoom (half the window's
width in CSS pixels) no page needs sideways scrolling, and the live page's controls
work from the keyboard alone."""

from __future__ import annotations

import browser
import pytest
import ui_daemon
from keypoint_traces import empty_frames, write_trace

pytestmark = pytest.mark.desktop
PAGES = ("/live", "/profiles", "/poses", "/faces", "/settings")
ENTER = "\ue007"
TAB = "\ue004"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    chromium = browser.started(640, 900)  # a 1280-pixel-wide window at 200% zoom
    home = tmp_path_factory.mktemp("ui-access")
    daemon = ui_daemon.start(write_trace(home / "idle.jsonl", empty_frames(30 * 120)), home / "home")
    ui_daemon.login(chromium, daemon)
    yield daemon, chromium
    chromium.close()
    daemon.stop()


@pytest.mark.parametrize("page", PAGES)
def test_no_page_scrolls_sideways_at_200_percent(session, page):
    daemon, chromium = session
    chromium.go(daemon.access.origin + page)
    chromium.wait_for(lambda: chromium.run("return document.readyState") == "complete", what="the page")
    assert chromium.run("return innerWidth") <= 640
    overflow = chromium.run("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page} is {overflow} px wider than the window"


def test_the_live_page_works_from_the_keyboard(session):
    daemon, chromium = session
    chromium.go(daemon.access.origin + "/live")
    chromium.wait_for(lambda: chromium.find("#state").text not in ("", "-"), what="the state")
    focused = []
    for _ in range(12):  # Tab from the top until the pause button has the focus
        chromium.call("POST", "/actions", {"actions": [{"type": "key", "id": "k", "actions": [
            {"type": "keyDown", "value": TAB}, {"type": "keyUp", "value": TAB}]}]})
        focused.append(chromium.run("return document.activeElement.id || document.activeElement.textContent"))
        if focused[-1] == "pause":
            break
    assert focused[-1] == "pause", focused
    assert chromium.run("return getComputedStyle(document.activeElement).outlineStyle") != "none"  # a visible focus
    chromium.call("POST", "/actions", {"actions": [{"type": "key", "id": "k", "actions": [
        {"type": "keyDown", "value": ENTER}, {"type": "keyUp", "value": ENTER}]}]})
    chromium.wait_for(lambda: chromium.find("#state").text.startswith("paused"), what="paused by the keyboard")
    assert daemon.api("GET", "/api/state")["state"] == "paused"


def test_the_pages_follow_the_desktops_dark_scheme(session):
    daemon, chromium = session
    chromium.go(daemon.access.origin + "/settings")

    def background() -> list[int]:
        colour = chromium.run("return getComputedStyle(document.body).backgroundColor")
        return [int(part) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3]]

    assert min(background()) > 200  # light by default
    chromium.call("POST", "/goog/cdp/execute", {"cmd": "Emulation.setEmulatedMedia", "params": {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]}})
    try:
        assert max(background()) < 60
    finally:
        chromium.call("POST", "/goog/cdp/execute", {"cmd": "Emulation.setEmulatedMedia", "params": {"features": []}})
