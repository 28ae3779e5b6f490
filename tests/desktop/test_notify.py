"""Face-touch alerts (daemon/notify.py) through a real private session D-Bus to dunst
(tests/desktop.py): what dunst received, the cooldown, muting, no bus at all, sound."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
import wave

import pytest

from handmap.daemon.desktop.notify import (
    ALERT_TITLE,
    DesktopNotifications,
    FaceTouchAlerts,
    NullNotifier,
    SoundPlayer,
)
from handmap.gestures.types import Handedness

COOLDOWN_S = 30.0


def dunst_received(desktop) -> list[dict]:
    """Every notification dunst got so far (closing the open ones moves them to its
    history, the only list dunstctl prints)."""
    desktop.run("dunstctl", "close-all")
    deadline = time.monotonic() + 2
    while True:
        history = json.loads(desktop.run("dunstctl", "history"))
        items = [{k: v["data"] for k, v in n.items()} for group in history["data"] for n in group]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


@pytest.fixture()
def session_bus(desktop, monkeypatch):
    """The notifier runs in-process: point this process at the test desktop's bus."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.dbus_address)
    monkeypatch.setenv("DISPLAY", desktop.display)
    return desktop


def test_cooldown_one_notification_per_window(session_bus):
    notifier = DesktopNotifications()
    try:
        alerts = FaceTouchAlerts(notifier, cooldown_s=COOLDOWN_S)
        t0 = time.time()
        # Five episode starts within the cooldown (a fidgety minute): one alert.
        raised = [alerts.on_episode_start(Handedness.RIGHT, t0 + i * 5.0) for i in range(5)]
        assert raised == [True, False, False, False, False]
        assert notifier.flush(5)
        got = dunst_received(session_bus)
        assert len(got) == 1
        assert got[0]["summary"] == ALERT_TITLE
        assert "right hand" in got[0]["body"]
        assert got[0]["appname"] == "handmap"
        # After the cooldown: another one.
        assert alerts.on_episode_start(Handedness.LEFT, t0 + COOLDOWN_S + 1.0, touches_today=6)
        assert notifier.flush(5)
        got = dunst_received(session_bus)
        assert len(got) == 2
        assert any("left hand" in n["body"] and "today: 6" in n["body"] for n in got)
    finally:
        notifier.close()


def test_muted_sends_nothing_and_unmute_restores(session_bus):
    notifier = DesktopNotifications()
    try:
        alerts = FaceTouchAlerts(notifier, cooldown_s=COOLDOWN_S, muted=True)
        t0 = time.time()
        assert not alerts.on_episode_start("left", t0)
        assert not alerts.on_episode_start("left", t0 + 100)
        assert notifier.flush(5)
        assert dunst_received(session_bus) == []
        alerts.set_muted(False)
        # Muted episodes did not consume the cooldown: the first unmuted one alerts.
        assert alerts.on_episode_start("left", t0 + 101)
        assert notifier.flush(5)
        assert len(dunst_received(session_bus)) == 1
    finally:
        notifier.close()


def test_notify_never_blocks_the_caller(session_bus):
    notifier = DesktopNotifications()
    try:
        start = time.perf_counter()
        for i in range(20):
            notifier.notify(ALERT_TITLE, f"burst {i}")
        queued_s = time.perf_counter() - start
        assert queued_s < 0.05, f"notify() took {queued_s * 1000:.1f} ms for 20 calls"
        assert notifier.flush(10)
        assert notifier.sent == 20
        assert len(dunst_received(session_bus)) == 20
    finally:
        notifier.close()


def test_no_session_bus_logs_once_and_keeps_going(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-bus'}")
    notifier = DesktopNotifications()
    try:
        alerts = FaceTouchAlerts(notifier, cooldown_s=0)
        with caplog.at_level(logging.WARNING, logger="handmap"):
            for i in range(3):
                assert alerts.on_episode_start("right", 1000.0 + i)
            assert notifier.flush(5)
        warnings = [r for r in caplog.records if "notifications unavailable" in r.getMessage()]
        assert len(warnings) == 1
        assert notifier.sent == 0
    finally:
        notifier.close()


def test_null_notifier_applies_the_same_cooldown():
    alerts = FaceTouchAlerts(NullNotifier(), cooldown_s=10)
    raised = [alerts.on_episode_start("left", t) for t in (0, 3, 9.9, 10, 15, 25, 100)]
    assert raised == [True, False, False, True, False, True, True]
    assert alerts.alerts == 4
    # A wall clock stepped backwards does not silence alerts for the size of the step.
    assert alerts.on_episode_start("left", 50)


def test_sound_missing_player_is_silent(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no paplay/aplay/afplay here
    player = SoundPlayer(None, tmp_path / "cache")
    assert not player.enabled
    player.play()  # must not raise
    alerts = FaceTouchAlerts(NullNotifier(), cooldown_s=1, sound=True, cache_dir=tmp_path / "cache")
    assert alerts.on_episode_start("left", 0.0)


def test_sound_plays_a_valid_wav_with_the_system_player(monkeypatch, tmp_path):
    # This machine has no sound card or player: a stand-in `aplay` on PATH records the
    # command line it was given, so the real subprocess path runs end to end.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log_file = tmp_path / "played.txt"
    fake = bin_dir / "aplay"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log_file}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + "/usr/bin:/bin")
    alerts = FaceTouchAlerts(NullNotifier(), cooldown_s=5, sound=True, cache_dir=tmp_path / "cache")
    assert alerts.on_episode_start("left", 0.0)
    assert not alerts.on_episode_start("left", 1.0)  # cooldown: no second beep
    deadline = time.monotonic() + 5
    while not log_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    args = log_file.read_text().split()
    assert args[0] == "-q" and args[1].endswith("alert.wav")
    with wave.open(args[1]) as w:
        assert w.getnchannels() == 1 and w.getnframes() > 1000
    assert len(log_file.read_text().splitlines()) == 1
