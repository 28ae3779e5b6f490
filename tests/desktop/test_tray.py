"""The tray icon (daemon/tray.py) on a real X desktop (tests/desktop.py) with trayer as
the tray manager: it docks (XEMBED), shows the state, and its menu actions reach the
daemon's Controller. No tray (no display, no tray manager): start() says why, no crash.

pystray's X11 backend has no visible menu and clicks do not reach menu windows in a
test, so the menu actions are invoked through pystray's API on the real Icon's items
(``item(icon)``, what pystray's backends call when a user picks the item)."""

from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from handmap.daemon.desktop.tray import STATE_COLOURS, Tray, available, draw_icon
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

PROFILES = ("desktop", "game", "slides")


class RecordingController:
    """A small, real Controller: keeps the state the tray asks to change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple] = []
        self.snap = StatusSnapshot(state=DaemonState.RUNNING, profile="desktop", fps=30.0, hands_seen=1,
                                   output="dry-run", uptime_s=5.0, face_touches_today=3, profiles=PROFILES)

    def status(self) -> StatusSnapshot:
        with self._lock:
            return self.snap

    def _set(self, call: tuple, **changes) -> None:
        with self._lock:
            self.calls.append(call)
            self.snap = replace(self.snap, **changes)

    def pause(self, by="") -> None:
        self._set(("pause",), state=DaemonState.PAUSED)

    def resume(self) -> None:
        self._set(("resume",), state=DaemonState.RUNNING)

    def toggle_pause(self, by="") -> None:
        if self.status().state is DaemonState.PAUSED:
            self._set(("toggle_pause",), state=DaemonState.RUNNING)
        else:
            self._set(("toggle_pause",), state=DaemonState.PAUSED)

    def switch_profile(self, name: str) -> None:
        if name not in PROFILES:
            raise KeyError(f"no profile named {name!r}")
        self._set(("switch_profile", name), profile=name)

    def set_alerts_muted(self, muted: bool) -> None:
        self._set(("set_alerts_muted", muted), alerts_muted=muted)

    def quit(self) -> None:
        self._set(("quit",), state=DaemonState.STOPPING)


def _wait_for(predicate, timeout=15.0, what="condition"):  # generous: the CI machine is shared
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last: {value})")


def _item(menu, prefix: str):
    matches = [i for i in menu if i.text.startswith(prefix)]
    assert matches, f"no menu item starting with {prefix!r} in {[i.text for i in menu]}"
    return matches[0]


def _shown_colour(display_name: str, window_id: int) -> tuple[int, int, int]:
    """The colour the X server shows inside the icon's disc, left of the glyph, snapped
    to the nearest state colour when close (pystray resizes with LANCZOS, which shifts
    colours by a few units)."""
    import Xlib.display
    import Xlib.error
    import Xlib.X

    display = Xlib.display.Display(display_name)
    try:
        win = display.create_resource_object("window", window_id)
        geom = win.get_geometry()
        img = win.get_image(geom.width // 6, geom.height // 2, 1, 1, Xlib.X.ZPixmap, 0xFFFFFFFF)
        rgb = (img.data[2], img.data[1], img.data[0])  # BGRX on this 24-bit visual
    except Xlib.error.XError:  # not viewable for a moment while trayer (re)docks it
        return (-1, -1, -1)
    finally:
        display.close()
    nearest = min(STATE_COLOURS.values(), key=lambda c: sum(abs(a - b) for a, b in zip(c, rgb)))
    return nearest if sum(abs(a - b) for a, b in zip(nearest, rgb)) <= 24 else rgb


def _docked_in_trayer(d, wid: int) -> bool:
    try:
        root = d.run("xwininfo", "-root").split("Window id: ")[1].split()[0]
        panels = {int(w) for w in d.run("xdotool", "search", "--class", "trayer").split()}
        ancestors = []
        w = d.run("xwininfo", "-id", str(wid), "-tree").split("Parent window id: ")[1].split()[0]
        while w != root:
            ancestors.append(int(w, 16))
            w = d.run("xwininfo", "-id", w, "-tree").split("Parent window id: ")[1].split()[0]
    except RuntimeError:  # a window in the chain went away while trayer was re-parenting
        return False
    return bool(panels & set(ancestors))


@contextmanager
def docked(d, ctl):
    """A started tray whose icon trayer has docked: (tray, icon window id); stopped after."""
    tray = Tray(ctl, list(PROFILES))
    assert tray.start() is True, tray.reason
    try:
        wid = tray.icon._window.id
        # Docked: trayer re-parented the icon window (into its panel). Docking is
        # asynchronous: wait for it to settle.
        _wait_for(lambda: _docked_in_trayer(d, wid), what="the icon to dock into trayer")
        yield tray, wid
    finally:
        tray.stop()


def _wait_colour(d, wid: int, state: DaemonState, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = _shown_colour(d.display, wid)
        if seen == STATE_COLOURS[state]:
            return
        time.sleep(0.02)
    raise AssertionError(f"the icon never showed the {state.value} colour {STATE_COLOURS[state]} (last seen {seen})")


@pytest.fixture()
def tray_desktop(desktop, monkeypatch):
    desktop.start_tray()
    monkeypatch.setenv("DISPLAY", desktop.display)  # the icon connects to this process's DISPLAY
    yield desktop
    # pystray's X11 icon is in reference cycles: collect it while its X server still
    # runs, so its X connection closes cleanly.
    gc.collect()


def test_icon_docks_and_menu_drives_the_controller(tray_desktop):
    d = tray_desktop
    ctl = RecordingController()
    with docked(d, ctl) as (tray, wid):
        assert "_XEMBED_INFO(_XEMBED_INFO) = 0x0, 0x1" in d.run("xprop", "-id", str(wid), "_XEMBED_INFO")
        assert "running, profile desktop" in d.run("xprop", "-id", str(wid), "WM_NAME")
        _wait_colour(d, wid, DaemonState.RUNNING)

        menu = tray.icon.menu
        assert _item(menu, "handmap:").text == "handmap: running"
        assert not _item(menu, "handmap:").enabled
        assert _item(menu, "Profile:").text == "Profile: desktop"
        assert _item(menu, "Face touches today").text == "Face touches today: 3"

        # Pause, then resume.
        pause = _item(menu, "Pause")
        assert pause.default
        pause(tray.icon)
        assert ctl.calls[-1] == ("toggle_pause",) and ctl.status().state is DaemonState.PAUSED
        assert _item(menu, "Resume").text == "Resume"
        _wait_for(lambda: "paused" in d.run("xprop", "-id", str(wid), "WM_NAME"), what="the paused tooltip")
        _wait_colour(d, wid, DaemonState.PAUSED)
        _item(menu, "Resume")(tray.icon)
        assert ctl.status().state is DaemonState.RUNNING
        assert _item(menu, "Pause").text == "Pause"

        # Switch profile through the radio items.
        profiles_menu = _item(menu, "Profiles").submenu
        radios = {i.text: i for i in profiles_menu}
        assert list(radios) == list(PROFILES)
        assert all(i.radio for i in radios.values())
        assert radios["desktop"].checked and not radios["game"].checked
        radios["game"](tray.icon)
        assert ctl.calls[-1] == ("switch_profile", "game")
        assert {i.text: i.checked for i in _item(menu, "Profiles").submenu} == {
            "desktop": False, "game": True, "slides": False}
        assert _item(menu, "Profile:").text == "Profile: game"
        _wait_for(lambda: "profile game" in d.run("xprop", "-id", str(wid), "WM_NAME"), what="the new profile")

        # Mute alerts: a checkbox.
        mute = _item(menu, "Mute alerts")
        assert mute.checked is False
        mute(tray.icon)
        assert ctl.calls[-1] == ("set_alerts_muted", True) and _item(menu, "Mute alerts").checked is True
        _item(menu, "Mute alerts")(tray.icon)
        assert ctl.calls[-1] == ("set_alerts_muted", False)

        # The daemon pushes a new count and a lost camera.
        tray.update(replace(ctl.status(), face_touches_today=7, state=DaemonState.CAMERA_LOST))
        assert _item(menu, "Face touches today").text == "Face touches today: 7"
        _wait_for(lambda: "camera lost" in d.run("xprop", "-id", str(wid), "WM_NAME"), what="camera lost")
        _wait_colour(d, wid, DaemonState.CAMERA_LOST)

        _item(menu, "Quit")(tray.icon)
        assert ctl.calls[-1] == ("quit",)
    assert not tray.running
    _wait_for(lambda: d.run("xwininfo", "-id", str(wid), check=False) == "", what="the icon window to go")


def _centre(d, wid: int) -> tuple[str, str]:
    """The middle of the icon's window (its disc; the window is shaped to it)."""
    geometry = d.run("xwininfo", "-id", str(wid))
    width = int(geometry.split("Width: ")[1].split()[0])
    height = int(geometry.split("Height: ")[1].split()[0])
    return str(width // 2), str(height // 2)


def test_left_click_on_the_docked_icon_toggles_pause(tray_desktop):
    d = tray_desktop
    ctl = RecordingController()
    with docked(d, ctl) as (_tray, wid):
        _wait_for(lambda: "IsViewable" in d.run("xwininfo", "-id", str(wid)), what="the icon to be shown")
        d.run("xdotool", "mousemove", "--window", str(wid), *_centre(d, wid), "click", "1")  # on the disc
        _wait_for(lambda: ("toggle_pause",) in ctl.calls, what="the click to reach the tray")
        assert ctl.status().state is DaemonState.PAUSED


def test_icon_docks_again_when_the_tray_manager_restarts(tray_desktop):
    d = tray_desktop
    with docked(d, RecordingController()) as (_tray, wid):
        old_trayer = d.procs.pop()
        old_trayer.terminate()
        old_trayer.wait(5)
        d.start_tray()  # a new tray manager, as after a desktop-panel restart
        _wait_for(lambda: _docked_in_trayer(d, wid), timeout=30, what="the icon to dock into the new trayer")
        _wait_colour(d, wid, DaemonState.RUNNING)


def test_bad_profile_from_the_menu_is_logged_not_raised(tray_desktop, caplog):
    ctl = RecordingController()
    tray = Tray(ctl, ["desktop", "gone"])
    # The daemon's own list wins when it has one; here it has none.
    ctl.snap = replace(ctl.snap, profiles=())
    assert tray.start() is True, tray.reason
    try:
        radios = {i.text: i for i in _item(tray.icon.menu, "Profiles").submenu}
        radios["gone"](tray.icon)
        assert ctl.status().profile == "desktop"
        assert any("no profile named 'gone'" in r.getMessage() for r in caplog.records)
    finally:
        tray.stop()


def test_no_tray_manager_means_no_tray(desktop, monkeypatch):
    monkeypatch.setenv("DISPLAY", desktop.display)
    ok, why = available()
    assert not ok and "no system tray" in why
    tray = Tray(RecordingController(), list(PROFILES))
    assert tray.start() is False
    assert "no system tray" in tray.reason
    tray.stop()  # harmless


def test_headless_means_no_tray(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    ok, why = available()
    assert not ok and "DISPLAY" in why
    tray = Tray(RecordingController(), list(PROFILES))
    assert tray.start() is False and "DISPLAY" in tray.reason
    tray.update(RecordingController().status())  # the daemon may still call it: harmless
    tray.stop()


def test_icon_image_per_state():
    seen = set()
    for state in DaemonState:
        img = draw_icon(state)
        assert img.size == (64, 64) and img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 0  # transparent corner
        assert img.getpixel((12, 32))[:3] == STATE_COLOURS[state]
        seen.add(img.tobytes())
    # running, no hand, paused and camera lost look different from each other
    looks = {draw_icon(s).tobytes() for s in (DaemonState.RUNNING, DaemonState.NO_HAND,
                                               DaemonState.PAUSED, DaemonState.CAMERA_LOST)}
    assert len(looks) == 4
    assert draw_icon(DaemonState.RUNNING, muted=True).getpixel((60, 60))[:3] != STATE_COLOURS[DaemonState.RUNNING]




def test_dock_check_runs_while_the_daemon_keeps_updating_the_icon(tray_desktop, monkeypatch):
    """The daemon refreshes the tray every second. The check that docks the icon again
    (a tray manager that came late, a dock request left unanswered) must still run
    between those refreshes. A lost dock request cannot be provoked on demand here, so
    the test counts the checks the real icon's refresh thread makes (the check itself
    is the real one)."""
    import threading

    from handmap.daemon.desktop import tray as tray_module

    monkeypatch.setattr(tray_module, "DOCK_CHECK_S", 0.5)
    d = tray_desktop
    with docked(d, RecordingController()) as (tray, _wid):
        checks = []
        real_check = tray._check_docked
        monkeypatch.setattr(tray, "_check_docked", lambda driver: (checks.append(time.monotonic()), real_check(driver)))
        stop = threading.Event()

        def refresh() -> None:
            while not stop.wait(0.2):  # more often than the dock check's own period
                tray.update(tray._current())

        refresher = threading.Thread(target=refresh, daemon=True)
        refresher.start()
        try:
            time.sleep(2.6)
        finally:
            stop.set()
            refresher.join(5)
    assert len(checks) >= 3, checks  # one every 0.5 s, refreshes or not


def _on_screen(d, wid: int, margin: int = 20):
    """What the X server shows at the icon's place and ``margin`` pixels left of it (the
    panel): (RGB array, the icon's left edge in it, its width, its height)."""
    import numpy as np
    import Xlib.display
    import Xlib.X

    display = Xlib.display.Display(d.display)
    try:
        root = display.screen().root
        win = display.create_resource_object("window", wid)
        geom = win.get_geometry()
        at = win.translate_coords(root, 0, 0)
        x, y = -at.x, -at.y
        left = min(margin, x)
        img = root.get_image(x - left, y, geom.width + left, geom.height, Xlib.X.ZPixmap, 0xFFFFFFFF)
        shot = np.frombuffer(img.data, np.uint8).reshape(geom.height, geom.width + left, 4)[:, :, 2::-1]
        return shot, left, geom.width, geom.height
    finally:
        display.close()


def test_docked_icon_is_a_round_disc_on_the_panel_never_stretched(tray_desktop):
    """trayer gives the icon a slot much taller than wide: the icon shows as a disc as
    wide as the slot, as tall as it is wide, with the panel's own colour around it
    (no black square corners)."""
    import numpy as np

    d = tray_desktop
    with docked(d, RecordingController()) as (_tray, wid):
        _wait_colour(d, wid, DaemonState.RUNNING)

        def corner_is_panel() -> bool:
            shot, left, _, _ = _on_screen(d, wid)
            return int(np.abs(shot[0, left].astype(int) - shot[0, 0].astype(int)).sum()) <= 30

        _wait_for(corner_is_panel, what="the panel's colour at the icon's corner")
        shot, left, width, height = _on_screen(d, wid)
        panel = shot[0, 0].astype(int)
        slot = shot[:, left:left + width].astype(int)
        drawn = np.abs(slot - panel).sum(axis=2) > 30
        ys, xs = np.nonzero(drawn)
        disc_w, disc_h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        assert height != width  # a slot the icon could be stretched to fill
        assert abs(disc_w - disc_h) <= 2, (disc_w, disc_h, width, height)
        assert disc_w >= width - 4  # as large as the slot allows
        for corner in (slot[ys.min(), xs.min()], slot[ys.min(), xs.max()], slot[ys.max(), xs.min()], slot[ys.max(), xs.max()]):
            assert np.abs(corner - panel).sum() <= 30, (corner, panel)  # the panel shows, not black


def test_fit_icon_keeps_the_aspect_in_a_40_px_panel():
    """The picture for a 24 x 38 slot (trayer's in a 40 px panel): a 24 px disc in the
    middle, and a shape that keeps only the disc."""
    from handmap.daemon.desktop.tray import fit_icon

    picture, runs = fit_icon(draw_icon(DaemonState.RUNNING), 24, 38)
    assert picture.size == (24, 38)
    top = min(y for _, y, _, _ in runs)
    bottom = max(y for _, y, _, _ in runs)
    widest = max(w for _, _, w, _ in runs)
    assert 18 <= widest <= 24 and abs((bottom - top + 1) - widest) <= 1  # round, not 24 x 38
    assert abs((top + bottom) / 2 - 18.5) <= 1  # in the middle
    assert all(x > 0 for x, y, _, _ in runs if y in (top, bottom))  # corners left out


def test_tooltip_shows_while_the_pointer_rests_on_the_icon(tray_desktop):
    """Plain X11 trays (trayer here) show no tooltip for XEmbed icons: the icon shows its
    own, with its status, while the pointer is on it, and removes it when it leaves.
    The title is also the icon's _NET_WM_NAME."""
    d = tray_desktop
    with docked(d, RecordingController()) as (_tray, wid):
        _wait_for(lambda: "IsViewable" in d.run("xwininfo", "-id", str(wid)), what="the icon to be shown")
        assert "running, profile desktop" in d.run("xprop", "-id", str(wid), "_NET_WM_NAME")
        d.run("xdotool", "mousemove", "--window", str(wid), *_centre(d, wid))

        def tips() -> list[str]:
            return d.run("xdotool", "search", "--onlyvisible", "--classname", "^handmap-tooltip$", check=False).split()

        found = _wait_for(tips, what="the tooltip")
        assert "handmap: running, profile desktop, 3 face touches today" in d.run("xprop", "-id", found[0], "WM_NAME")
        shot, _, width, height = _on_screen(d, int(found[0]), margin=0)
        assert width > 150 and height >= 12  # a line of text
        dark = (shot.sum(axis=2) < 200).mean()
        assert 0.02 < dark < 0.5  # text on a pale box
        d.run("xdotool", "mousemove", "0", "500")
        _wait_for(lambda: not tips(), what="the tooltip to go")
