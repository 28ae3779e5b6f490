"""Per-app profiles on a real KWin 5.27 (``kwin_wayland --virtual``, started here) with the
script handmap loads over D-Bus: the profile follows focus and title changes between
real Wayland clients (GTK windows) within 100 ms, the script is unloaded on stop, and the
watcher loads it again when KWin comes back.

Focus is moved the way KWin lets a program move it: a one-line KWin script of the test's
own, loaded and run over the same D-Bus interface. The kwin_wayland binary carries a file
capability (cap_sys_resource) that a container without it cannot exec, so the test runs
a copy without the capability.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time

import pytest
from compositors import (
    assert_profile_follows_focus,
    assert_title_change_is_followed,
    missing_kwin,
    new_desktop_session,
    switch_after,
    window_matcher,
)

from handmap.daemon.desktop.switching import AutoSwitcher, ProfileMatcher
from handmap.daemon.desktop.windows import kwin
from handmap.daemon.desktop.windows.kwin import KWinWatcher
from handmap.daemon.desktop.windows.selector import select_window_watcher

DISPLAY = "wayland-kwin"
FOCUS_SCRIPT = """
function text(v) { return v instanceof ArrayBuffer ? String.fromCharCode.apply(null, new Uint8Array(v)) : String(v); }
const list = workspace.windowList ? workspace.windowList() : workspace.clientList();
const w = list.find(c => text(c.resourceClass) === "%s");
if (workspace.activeWindow !== undefined) workspace.activeWindow = w; else workspace.activeClient = w;
"""
_script_ids = itertools.count()


@pytest.fixture()
def session():
    missing = missing_kwin()
    if missing:
        pytest.skip("the real-KWin tests need " + ", ".join(missing) + " (run scripts/setup.sh --tests as root)")
    desktop = new_desktop_session()
    try:
        shutil.copy(shutil.which("kwin_wayland") or "kwin_wayland", desktop.runtime_dir)  # without the capability
        yield desktop
    finally:
        desktop.stop()


@pytest.fixture()
def matcher() -> ProfileMatcher:
    return window_matcher()


def start_kwin(session) -> None:
    session.start_compositor([str(session.runtime_dir / "kwin_wayland"), "--virtual", "--no-lockscreen",
                              "--no-global-shortcuts", "--width", "1024", "--height", "768", "--socket", DISPLAY],
                             DISPLAY, kwin.KWIN_NAME)


def call(address: str, path: str, interface: str, member: str, signature: str = "", body=None):
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    async def run():
        bus = await MessageBus(bus_address=address).connect()
        try:
            reply = await bus.call(Message(destination=kwin.KWIN_NAME, path=path, interface=interface,
                                           member=member, signature=signature, body=body or []))
        finally:
            bus.disconnect()
        return reply.body

    return asyncio.run(run())


def script_loaded(session, name: str = kwin.PLUGIN_NAME) -> bool:
    return bool(call(session.session_bus, kwin.SCRIPTING_PATH, kwin.SCRIPTING_INTERFACE, "isScriptLoaded",
                     "s", [name])[0])


def focus(session, resource_class: str) -> float:
    """Activate the window of this class with a KWin script; returns when it was run."""
    name = f"handmap-test-focus-{next(_script_ids)}"
    path = session.runtime_dir / f"{name}.js"
    path.write_text(FOCUS_SCRIPT % resource_class)
    path.chmod(0o644)
    (script_id,) = call(session.session_bus, kwin.SCRIPTING_PATH, kwin.SCRIPTING_INTERFACE, "loadScript", "ss",
                        [str(path), name])
    assert script_id >= 0
    t0 = time.monotonic()
    call(session.session_bus, f"/{script_id}", kwin.SCRIPT_INTERFACE, "run")  # KWin 5's path for it
    return t0


def wait_current(watcher, wm_class: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = watcher.current()
        if current is not None and current.wm_class == wm_class:
            return
        time.sleep(0.01)
    raise AssertionError(f"the watcher did not report {wm_class}; current: {watcher.current()}")


def test_kwin_script_profile_follows_focus_within_100ms(session, matcher):
    start_kwin(session)
    watcher = select_window_watcher(env=dict(session.env, XDG_CURRENT_DESKTOP="KDE"), platform="linux")
    assert isinstance(watcher, KWinWatcher)
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        assert watcher.reason == "" and script_loaded(session)
        session.open_client("handmap-editor", "notes.txt - editor")
        wait_current(watcher, "handmap-editor")  # a new window takes focus: reported by the script
        game = session.open_client("handmap-game", "Game", retitle="Boss level")
        wait_current(watcher, "handmap-game")
        current = watcher.current()
        assert current.title == "Game" and current.pid == game.pid and current.process == "python3"
        profile = switcher.poll("desktop") or "desktop"
        assert profile == "game"
        profile = assert_profile_follows_focus(lambda wm_class: focus(session, wm_class), switcher, watcher, profile)
        assert_title_change_is_followed(session, switcher, watcher, profile)
    finally:
        watcher.stop()
    assert not script_loaded(session)  # handmap leaves nothing behind in KWin


def test_kwin_watcher_says_so_without_kwin_and_loads_its_script_when_kwin_comes_back(session, matcher):
    watcher = select_window_watcher(env=dict(session.env, XDG_CURRENT_DESKTOP="KDE"), platform="linux")
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        assert watcher.reason == kwin.MISSING_REASON and "handmap profile NAME" in watcher.reason
        start_kwin(session)
        session.open_client("handmap-game", "Game")
        profile, _ = switch_after(switcher, "desktop", time.monotonic(), timeout=10)
        assert profile == "game" and watcher.reason == ""

        session.kill_compositor()
        deadline = time.monotonic() + 5
        while "KWin left the session bus" not in watcher.reason and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "KWin left the session bus" in watcher.reason
        start_kwin(session)
        session.open_client("handmap-editor", "notes.txt - editor")
        wait_current(watcher, "handmap-editor")
        assert switcher.poll(profile) == "editor" and watcher.reason == "" and script_loaded(session)
    finally:
        watcher.stop()
