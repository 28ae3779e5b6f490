"""End to end, issue 5: face-touch alerts and history with the whole daemon (``handmap
run`` in a child process) on a private session D-Bus with dunst (tests/desktop.py).

The sequence is made at test time from real photographs (../shared/data/hands/ft: hands
touching faces, and the one portrait with no hand), each shown for a second as a video
played in real time; the alert cooldown is measured on the wall clock, so it is set
between the gaps of the episodes. Dunst's own history is the proof that a notification
arrived; the SQLite history must keep the episodes of a daemon killed with SIGKILL.
"""

from __future__ import annotations

import json
import signal
import sqlite3

import pytest
from cli import handmap
from e2e_util import HandmapProcess, photo_clip, private_env, wait_until

FT = "hands/ft"
NO_HAND = "mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"
TOUCHES = ("parvathi_1.jpg", "DhanushAyogya750.jpg", "kamal_eyes.jpg")
FPS = 10
FRAME_SIZE = (640, 480)
#: Seconds each picture is shown: touch, none, touch, none (longer), touch, none. The
#: episodes start about 0, 2 and 5 s in: with a 3.5 s cooldown the second (2 s after
#: the first alert) raises none and the third (5 s after it) does, with 1.5 s to spare
#: either way.
LAYOUT = ((TOUCHES[0], 1.0), (NO_HAND, 1.0), (TOUCHES[1], 1.0), (NO_HAND, 2.0), (TOUCHES[2], 1.0), (NO_HAND, 1.0))
COOLDOWN_S = 3.5
EPISODES = 3
ALERTS = 2
ALERT_TITLE = "Face touch"


@pytest.fixture()
def touch_video(data_dir, tmp_path):
    """The episodes as an mp4 (real photos, letterboxed so faces keep their shape)."""
    return photo_clip(tmp_path / "face_touches.mp4", [(data_dir / FT / name, seconds) for name, seconds in LAYOUT],
                      FPS, FRAME_SIZE)


def _dunst_history(desktop) -> list[dict]:
    """Notifications dunst has received and closed (``dunstctl history`` lists closed
    ones only, so everything is closed first)."""
    desktop.run("dunstctl", "close-all")
    data = json.loads(desktop.run("dunstctl", "history"))
    return [{k: v.get("data") for k, v in n.items()} for group in data["data"] for n in group]


def _episodes(env) -> list[tuple]:
    from pathlib import Path

    db = Path(env["XDG_DATA_HOME"]) / "handmap" / "history.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT start_wall, end_wall, hand, profile FROM episodes ORDER BY id").fetchall()


@pytest.mark.slow
def test_face_touch_alerts_reach_dunst_with_cooldown_and_history_survives_sigkill(desktop, touch_video, tmp_path):
    env = private_env(tmp_path / "home", desktop)
    config = tmp_path / "config.yaml"
    config.write_text(f"alerts:\n  cooldown_s: {COOLDOWN_S}\n  notify: true\n")
    args = ["--source", str(touch_video), "--realtime", "--config", str(config), "--alerts", "--history",
            "--profile", "face-touch-only", "--output", "dry-run", "--no-tray"]
    assert _dunst_history(desktop) == []

    first = HandmapProcess(args, env, tmp_path, name="first")
    assert first.wait(120) == 0, first.stderr()
    starts = [e for e in first.events() if e["type"] == "face_touch" and e["state"] == "start"]
    assert len(starts) == EPISODES, first.events()
    alerts = [n for n in _dunst_history(desktop) if n.get("summary") == ALERT_TITLE]
    print(f"\n{len(starts)} episodes, {len(alerts)} notifications received by dunst (cooldown {COOLDOWN_S} s)")
    assert len(alerts) == ALERTS, alerts
    assert all("touched your face" in n["body"] for n in alerts), alerts
    episodes = _episodes(env)
    assert len(episodes) == EPISODES and all(end is not None for _, end, _, _ in episodes), episodes
    assert {profile for *_, profile in episodes} == {"face-touch-only"}

    # A second run killed with SIGKILL in its second episode: what was stored stays.
    second = HandmapProcess(args, env, tmp_path, name="second")
    try:
        wait_until(lambda: sum(e["type"] == "face_touch" and e["state"] == "start" for e in second.events()) >= 2,
                   60, "the second run's second episode")
        wait_until(lambda: len(_episodes(env)) >= EPISODES + 2, 10, "the second episode in the store")
        second.signal(signal.SIGKILL)
        assert second.wait(20) == -signal.SIGKILL
    finally:
        second.stop()
    episodes = _episodes(env)
    assert len(episodes) == EPISODES + 2, episodes
    assert episodes[EPISODES][1] is not None  # the killed run's first episode had ended
    stats = handmap("stats", env=env, timeout=60)
    assert stats.returncode == 0, stats.stderr
    total = next(line for line in stats.stdout.splitlines() if line.strip().startswith("total"))
    assert int(total.split()[1]) == EPISODES + 2, stats.stdout
