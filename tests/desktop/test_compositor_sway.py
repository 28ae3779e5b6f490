"""Per-app profiles on a real sway (headless, started here) with real Wayland clients (foot):
the watcher the selector picks follows focus, the profile follows within 100 ms of the
focus command, and the watcher survives sway restarting."""

from __future__ import annotations

import signal
import time

import pytest
from compositors import (
    assert_profile_follows_focus,
    assert_title_change_is_followed,
    missing_sway,
    start_sway,
    switch_after,
    window_matcher,
)
from e2e_util import HandmapProcess, looped_trace, private_env, wait_until, write_profile

from handmap.daemon.desktop.switching import AutoSwitcher, ProfileMatcher
from handmap.daemon.desktop.windows.base import NO_WINDOW
from handmap.daemon.desktop.windows.selector import select_window_watcher
from handmap.daemon.desktop.windows.sway import SwayWatcher

pytest_plugins = ["e2e_util"]
E2E_SWITCH_LIMIT_S = 1.5


@pytest.fixture()
def sway():
    missing = missing_sway()
    if missing:
        pytest.skip("the real-sway tests need " + ", ".join(missing) + " (run scripts/setup.sh --tests as root)")
    compositor = start_sway()
    try:
        yield compositor
    finally:
        compositor.stop()


@pytest.fixture()
def matcher() -> ProfileMatcher:
    return window_matcher()


def test_profile_follows_focus_between_real_clients_within_100ms(sway, matcher):
    sway.open_client("handmap-editor", "notes.txt - editor")
    game = sway.open_client("handmap-game", "Game", retitle="Boss level")
    watcher = select_window_watcher(env={"WAYLAND_DISPLAY": sway.wayland_display, "SWAYSOCK": sway.socket},
                                    platform="linux")
    assert isinstance(watcher, SwayWatcher) and watcher.reason == ""
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        first = watcher.current()
        # The newest client has focus; the watcher reads it at start, with the client's process.
        assert first is not None and first.wm_class == "handmap-game" and first.pid == game["pid"]
        assert first.process == "foot"
        profile = "game"
        switcher.poll("desktop")
        profile = assert_profile_follows_focus(lambda app_id: sway.command(f'[app_id="{app_id}"] focus'),
                                               switcher, watcher, profile)
        profile = assert_title_change_is_followed(sway, switcher, watcher, profile)

        # The last window closing leaves nothing focused: back to the default profile.
        sway.close_client("handmap-game")
        profile, _ = switch_after(switcher, profile, time.monotonic())
        assert profile == "editor"
        sway.close_client("handmap-editor")
        profile, _ = switch_after(switcher, profile, time.monotonic())
        assert profile == "desktop" and watcher.current() == NO_WINDOW
    finally:
        watcher.stop()


def test_watcher_survives_sway_restarting(sway, matcher):
    sway.open_client("handmap-editor", "notes.txt - editor")
    watcher = select_window_watcher(env={"WAYLAND_DISPLAY": sway.wayland_display, "SWAYSOCK": sway.socket},
                                    platform="linux")
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        assert switcher.poll("desktop") == "editor"
        old_socket = sway.socket
        sway.kill()
        deadline = time.monotonic() + 3
        while not watcher.reason and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "lost sway's IPC socket" in watcher.reason and "reconnecting" in watcher.reason

        sway.start()  # a new sway: a new pid, so a new socket name
        assert sway.socket != old_socket
        game = sway.open_client("handmap-game", "Game")
        profile, _ = switch_after(switcher, "editor", time.monotonic(), timeout=5)
        assert profile == "game" and watcher.current().pid == game["pid"]
        assert watcher.reason == ""
        sway.open_client("handmap-editor", "notes.txt - editor")
        t0 = sway.command('[app_id="handmap-game"] focus')
        profile, _ = switch_after(switcher, "editor", t0)
        assert profile == "game"
    finally:
        watcher.stop()


GAME_PROFILE = """\
version: 1
name: game
extends: game-wasd
match: {class: [handmap-game]}
"""


def test_running_daemon_follows_sway_focus(sway, session35_replay, tmp_path):
    """``handmap run`` itself, on a real sway: the selector picks the sway watcher from the
    session's environment, and the dry-run stream and ``status`` follow focus."""
    sway.open_client("handmap-editor", "notes.txt - editor")
    sway.open_client("handmap-game", "Game")
    sway.command('[app_id="handmap-editor"] focus')
    env = private_env(tmp_path / "home", WAYLAND_DISPLAY=sway.wayland_display, SWAYSOCK=sway.socket,
                      XDG_SESSION_TYPE="wayland")
    write_profile(env, "game", GAME_PROFILE)
    source = looped_trace(session35_replay.trace, tmp_path / "long.trace.jsonl", 3)
    run = HandmapProcess(["--source", str(source), "--realtime", "--output", "dry-run", "--no-tray"],
                         env, tmp_path, verbose=True)
    try:
        assert run.wait_ready()["profile"] == "desktop"
        latencies = []
        for app_id, expected in (("handmap-game", "game"), ("handmap-editor", "desktop"), ("handmap-game", "game")):
            t0 = sway.command(f'[app_id="{app_id}"] focus')
            wait_until(lambda expected=expected: (run.status() or {}).get("profile") == expected, 10,
                       f"profile {expected} after focusing {app_id}", every=0.01)
            latencies.append(time.monotonic() - t0)
        print("\nprofile switch latency on sway (focus command -> status), ms: "
              + ", ".join(f"{1000 * s:.0f}" for s in latencies))
        # The daemon applies a switch between frames (10 a second here) and the status is
        # polled over its socket: the X11 end-to-end test's limit.
        assert max(latencies) < E2E_SWITCH_LIMIT_S, latencies
        run.signal(signal.SIGTERM)
        assert run.wait(20) == 0, run.stderr()
        switches = [e["name"] for e in run.events() if e["type"] == "profile"]
        assert switches == ["game", "desktop", "game"], switches
        assert "(active window)" in run.stderr()
    finally:
        run.stop()
