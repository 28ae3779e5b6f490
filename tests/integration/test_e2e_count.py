"""End to end, issue 17: one count of today's face touches everywhere. The whole daemon
(``handmap run`` in a child process, on a private session D-Bus with dunst) replays a
clip of real photos (hands touching faces between a portrait with no hand) twice: with
``--alerts --history``, then with ``--alerts --no-history``. While each run is in the
clip's last, touch-free stretch, the status over the control socket, the tray's title
and menu line (the tray's own text functions), the last notification dunst received
and ``handmap stats`` must all give the same number: the first run's episodes, then
those plus the second run's, which it keeps in no history."""

from __future__ import annotations

import json
import re
import time

import pytest
from cli import handmap
from e2e_util import HandmapProcess, photo_clip, private_env, wait_until

from handmap.daemon.desktop.tray import tooltip, touches_text
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

FT = "hands/ft"
NO_HAND = "mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"
TOUCHES = ("parvathi_1.jpg", "DhanushAyogya750.jpg", "kamal_eyes.jpg")
FPS = 10
FRAME_SIZE = (640, 480)
#: Touch, none, touch, none, touch, then a touch-free stretch to read the counts in.
LAYOUT = ((NO_HAND, 1.0), (TOUCHES[0], 1.0), (NO_HAND, 1.0), (TOUCHES[1], 1.0), (NO_HAND, 1.0), (TOUCHES[2], 1.0),
          (NO_HAND, 8.0))
LAST_TOUCH_END_S = sum(seconds for _, seconds in LAYOUT[:-1])
ALERT_TITLE = "Face touch"
COUNT_IN_BODY = re.compile(r"Face touches today: (\d+)\.")
#: Where a user reads today's count.
SURFACES = ("status", "status text", "tray title", "tray menu", "notification", "stats")


@pytest.fixture()
def touch_video(data_dir, tmp_path):
    return photo_clip(tmp_path / "touches.mp4", [(data_dir / FT / name, seconds) for name, seconds in LAYOUT],
                      FPS, FRAME_SIZE)


def _alert_counts(desktop) -> list[int]:
    """The counts in the face-touch notifications dunst has received so far."""
    desktop.run("dunstctl", "close-all")
    data = json.loads(desktop.run("dunstctl", "history"))
    bodies = [n["body"]["data"] for group in data["data"] for n in group if n["summary"]["data"] == ALERT_TITLE]
    return [int(m.group(1)) for m in map(COUNT_IN_BODY.search, bodies) if m]


def _stats_today(env) -> int:
    done = handmap("stats", "--days", "1", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    today = next(line for line in done.stdout.splitlines() if re.match(r"\s+\d{4}-\d\d-\d\d ", line))
    return int(today.split()[2])


def _counts_in_the_quiet_stretch(run: HandmapProcess, env, desktop) -> dict[str, int]:
    """Every surface's count, once the clip's last touch has ended."""
    ready = run.wait_ready()
    started = time.monotonic()

    def settled() -> bool:
        touches = [e["state"] for e in run.events() if e["type"] == "face_touch"]
        return (time.monotonic() - started > LAST_TOUCH_END_S + 1.0 and touches.count("start") >= 1
                and touches.count("start") == touches.count("end"))

    wait_until(settled, 60, "the clip's touches to end")
    status = run.status()
    assert status is not None and status["state"] != "stopping", run.stderr()
    snapshot = StatusSnapshot(state=DaemonState(status["state"]), profile=status["profile"], fps=status["fps"],
                              hands_seen=status["hands_seen"], output=status["output"], uptime_s=status["uptime_s"],
                              face_touches_today=status["face_touches_today"])
    title = re.search(r"(\d+) face touches today", tooltip(snapshot))
    menu = re.fullmatch(r"Face touches today: (\d+)", touches_text(snapshot))
    assert title and menu and ready
    alerts = _alert_counts(desktop)
    text = handmap("status", env=env, timeout=60).stdout
    said = re.search(r"face touches:\s+(\d+) today", text)
    assert said, text
    if status["face_touches_unrecorded"]:
        assert f"({status['face_touches_unrecorded']} of them this run's, kept in no history)" in text, text
    return {"status": status["face_touches_today"], "status text": int(said.group(1)), "tray title": int(title.group(1)), "tray menu": int(menu.group(1)),
            "notification": max(alerts, default=-1), "stats": _stats_today(env),
            "episodes": sum(e["type"] == "face_touch" and e["state"] == "start" for e in run.events()),
            "unrecorded": status["face_touches_unrecorded"]}


@pytest.mark.slow
def test_status_tray_notification_and_stats_give_one_count(desktop, touch_video, tmp_path):
    env = private_env(tmp_path / "home", desktop)
    config = tmp_path / "config.yaml"
    config.write_text("alerts:\n  cooldown_s: 0\n  notify: true\n")
    args = ["--source", str(touch_video), "--realtime", "--config", str(config), "--alerts",
            "--profile", "face-touch-only", "--output", "dry-run", "--no-tray"]

    def counts(history: str) -> dict[str, int]:
        run = HandmapProcess([*args, history], env, tmp_path, name=history.lstrip("-"))
        try:
            return _counts_in_the_quiet_stretch(run, env, desktop)
        finally:
            run.stop()

    first = counts("--history")
    print(f"\nwith history: {first}")
    assert first["episodes"] >= 1
    assert {first[k] for k in SURFACES} == {first["episodes"]}
    assert first["unrecorded"] == 0

    second = counts("--no-history")
    print(f"without history: {second}")
    assert {second[k] for k in SURFACES} == {first["episodes"] + second["episodes"]}
    assert second["unrecorded"] == second["episodes"]
    assert _stats_today(env) == first["episodes"]  # that run is over: what it did not record is gone
