"""Two-hand gestures end to end: ``handmap run --source TRACE --output dry-run`` on traces
of two real hands (consecutive rows of real MediaPipe keypoints recorded by two different
people, ``../shared/data/keypoints``, from the held-out test sources), placed in a 640x480
view and moved apart, together and round. What a user would see in the event stream:
zoom steps as ctrl+wheel, rotate steps as key taps, both-hands poses as triggers, every
press released by the end, and a second hand that comes, crosses and goes without taking
the first hand's drag.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cli import handmap, json_lines

from handmap.gestures.trace import encode_header, encode_observation
from handmap.gestures.types import FrameObservation, Handedness, HandObservation

FPS = 30.0
WIDTH, HEIGHT = 640, 480
ASPECT = WIDTH / HEIGHT
#: Half a hand's size in the view (keypoints are scaled to at most 1 from the wrist).
HAND_SCALE = 0.11

#: Two people's hands per pose, from the keypoint set's held-out test sources.
SOURCES = {
    "pinch": ("BubuPenguin/OpenCV-Workshop", "yxL05/gesture-based-presentation-helper"),
    "point": ("ksackvil/virtual-trackpad", "AdiosSora/FOCUS"),
    "open": ("00sid/hand_reg_car_control", "BubuPenguin/OpenCV-Workshop"),
    "closed": ("BubuPenguin/OpenCV-Workshop", "terriblepepper/Body_PVZ"),
}


@pytest.fixture(scope="module")
def keypoints(data_dir) -> dict[tuple[str, str], list[np.ndarray]]:
    """(source, pose) -> that source's rows of the pose in recording order, (21, 2) each."""
    path = data_dir / "keypoints" / "keypoints.csv"
    if not path.exists():
        pytest.skip(f"keypoint set not found under {data_dir}")
    wanted = {(src, pose) for pose, pair in SOURCES.items() for src in pair}
    rows: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {k: [] for k in wanted}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["source"], row["label"])
            if key in rows:
                rows[key].append((int(row["row"]), np.array(
                    [(float(row[f"x{i}"]), float(row[f"y{i}"])) for i in range(21)])))
    return {k: [p for _, p in sorted(v, key=lambda r: r[0])] for k, v in rows.items()}


class Hands:
    """Real hands of one pose, frame after frame (each frame the next recorded row)."""

    def __init__(self, keypoints, pose: str, person: int, side: Handedness) -> None:
        self.rows = keypoints[(SOURCES[pose][person], pose)]
        self.side = side
        self.n = 0

    def at(self, x: float, y: float) -> HandObservation:
        """The next row with its wrist at (x, y); the left hand is the right one mirrored."""
        k = self.rows[self.n % len(self.rows)]
        self.n += 1
        sign = -1.0 if self.side is Handedness.LEFT else 1.0
        pts = np.zeros((21, 3))
        pts[:, 0] = x + sign * k[:, 0] * HAND_SCALE / ASPECT
        pts[:, 1] = y + k[:, 1] * HAND_SCALE
        return HandObservation(pts, self.side, 0.95)


def write_trace(path: Path, frames: list[tuple[HandObservation, ...]]) -> Path:
    lines = [encode_header(source="two real hands")]
    for i, hands in enumerate(frames):
        lines.append(encode_observation(FrameObservation(t=i / FPS, frame=i, width=WIDTH, height=HEIGHT, hands=hands)))
    path.write_text("\n".join(lines) + "\n")
    return path


def user_env(root: Path, profiles: dict[str, str], max_hands: int = 2) -> dict[str, str]:
    config = root / "config" / "handmap"
    (config / "profiles").mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"model: {{max_hands: {max_hands}}}\n")
    for name, text in profiles.items():
        (config / "profiles" / f"{name}.yaml").write_text(text)
    runtime = root / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    env.update(HOME=str(root), XDG_CONFIG_HOME=str(root / "config"), XDG_DATA_HOME=str(root / "data"),
               XDG_RUNTIME_DIR=str(runtime))
    return env


def replay(trace: Path, env: dict, profile: str) -> list[dict]:
    done = handmap("run", "--source", str(trace), "--output", "dry-run", "--profile", profile, env=env)
    assert done.returncode == 0, done.stderr
    return json_lines(done.stdout)


def unreleased(events: list[dict]) -> list[str]:
    """Presses with no release after them (and releases of what was not down)."""
    down: list[str] = []
    problems = []
    for e in events:
        what = e.get("key") or e.get("button")
        if e["type"] in ("key_down", "mouse_down"):
            down.append(what)
        elif e["type"] in ("key_up", "mouse_up"):
            if what in down:
                down.remove(what)
            else:
                problems.append(f"{e['type']} {what} with nothing down")
    return problems + [f"{w} never released" for w in down]


def span_frames(n: int, f: Callable[[float], tuple[HandObservation, ...]]) -> list[tuple[HandObservation, ...]]:
    """``n`` frames of ``f(s)``, s going from 0 to 1."""
    return [f(i / max(n - 1, 1)) for i in range(n)]


def test_desktop_zoom_from_two_real_pointing_hands(keypoints, tmp_path):
    """Both hands point, move apart (zoom in), then together (zoom out), then leave."""
    left = Hands(keypoints, "point", 0, Handedness.LEFT)
    right = Hands(keypoints, "point", 1, Handedness.RIGHT)

    def pair(gap: float) -> tuple[HandObservation, ...]:
        return (left.at(0.5 - gap / 2, 0.6), right.at(0.5 + gap / 2, 0.6))

    frames = span_frames(15, lambda s: pair(0.24))  # both hands settle into the pose
    frames += span_frames(30, lambda s: pair(0.24 + 0.36 * s))  # apart: 0.24 to 0.6, x2.5
    frames += span_frames(10, lambda s: pair(0.6))
    frames += span_frames(30, lambda s: pair(0.6 - 0.36 * s))  # together again
    frames += [()] * 10  # both hands leave the view
    events = replay(write_trace(tmp_path / "zoom.jsonl", frames), user_env(tmp_path, {}), "desktop")
    scrolls = [e["dy"] for e in events if e["type"] == "scroll"]
    print(f"\nzoom x2.5 and back, desktop (both pointing, step 0.2): wheel steps {scrolls}")
    # x2.5 at a step per x1.2 is five steps (log 2.5 / log 1.2 = 5.03) each way, give or
    # take one for the real hands' own jitter and pose settling.
    assert 4 <= sum(s for s in scrolls if s > 0) <= 6, scrolls
    assert -6 <= sum(s for s in scrolls if s < 0) <= -4, scrolls
    assert scrolls == sorted(scrolls, reverse=True), "all in, then all out"
    # ctrl goes down with the first step and up when the hands leave; nothing else is pressed.
    keys = [(e["type"], e["key"]) for e in events if e["type"] in ("key_down", "key_up")]
    assert keys == [("key_down", "ctrl"), ("key_up", "ctrl")], keys
    first_scroll = next(i for i, e in enumerate(events) if e["type"] == "scroll")
    assert events[first_scroll - 1]["type"] in ("key_down", "two_hands")
    assert not any(e["type"].startswith("mouse_") and e["type"] != "mouse_move" for e in events), "no click"
    reports = [(e["gesture"], e["state"]) for e in events if e["type"] == "two_hands"]
    assert reports[0] == ("both", "start") and reports[-1] == ("both", "end")
    assert unreleased(events) == []


ROTATE = """\
version: 1
bindings:
  - rotate: pinch
    degrees: 15
    clockwise: ctrl+r
    counterclockwise: ctrl+shift+r
"""


def test_rotate_from_two_real_pinching_hands(keypoints, tmp_path):
    """Both hands pinch and turn like a steering wheel: 40 degrees clockwise, then back
    to 20 degrees the other way."""
    left = Hands(keypoints, "pinch", 0, Handedness.LEFT)
    right = Hands(keypoints, "pinch", 1, Handedness.RIGHT)

    def pair(deg: float) -> tuple[HandObservation, ...]:
        # The wrists on a circle round the view's centre (0.2 of the width from it).
        dx, dy = 0.2 * math.cos(math.radians(deg)), 0.2 * ASPECT * math.sin(math.radians(deg))
        return (left.at(0.5 - dx, 0.6 - dy), right.at(0.5 + dx, 0.6 + dy))

    frames = span_frames(15, lambda s: pair(0))
    frames += span_frames(25, lambda s: pair(40 * s))
    frames += span_frames(35, lambda s: pair(40 - 60 * s))
    frames += [(pair(-20)[0],)] * 10  # the right hand leaves first
    events = replay(write_trace(tmp_path / "rotate.jsonl", frames), user_env(tmp_path, {"wheel": ROTATE}), "wheel")
    taps = []
    for e in events:
        if e["type"] == "key_down" and e["key"] == "r":
            taps.append("ccw" if any(x["type"] == "key_down" and x["key"] == "shift" for x in events[:events.index(e)]
                                     if x["t"] == e["t"]) else "cw")
    steps = [e["steps"] for e in events if e["type"] == "two_hands" and e["gesture"] == "rotate"]
    print(f"\nrotate +40 then -60 degrees, 15 a step: taps {taps}, turned at each step "
          f"{[e['value'] for e in events if e['type'] == 'two_hands' and e['gesture'] == 'rotate']}")
    # 40 degrees at 15 a step: 2 clockwise; then 60 back: 4 counter-clockwise (from 30 to
    # -20 is 3 whole steps past 30, 15, 0, -15 ... with one of hysteresis for jitter).
    assert taps.count("cw") == 2, (taps, steps)
    assert 3 <= taps.count("ccw") <= 4, (taps, steps)
    assert taps == sorted(taps, key=lambda t: t == "ccw"), taps
    assert unreleased(events) == []


BOTH = """\
version: 1
bindings:
  - enter: open
    hand: both
    do: {hold: shift}
  - held: closed
    ms: 1000
    hand: both
    do: {key: f11}
"""


def test_both_hands_poses_trigger_from_two_real_hands(keypoints, tmp_path):
    """Both hands open: shift is held until one hand closes; both fists for a second: f11."""
    lo, ro = Hands(keypoints, "open", 0, Handedness.LEFT), Hands(keypoints, "open", 1, Handedness.RIGHT)
    lc, rc = Hands(keypoints, "closed", 0, Handedness.LEFT), Hands(keypoints, "closed", 1, Handedness.RIGHT)
    frames = [(lo.at(0.3, 0.6), ro.at(0.7, 0.6)) for _ in range(30)]
    frames += [(lo.at(0.3, 0.6), rc.at(0.7, 0.6)) for _ in range(15)]  # the right hand closes
    frames += [(lc.at(0.3, 0.6), rc.at(0.7, 0.6)) for _ in range(45)]  # both fists, 1.5 s
    frames += [(lc.at(0.3, 0.6),)] * 10
    events = replay(write_trace(tmp_path / "both.jsonl", frames), user_env(tmp_path, {"both": BOTH}), "both")
    keys = [(e["type"], e["key"]) for e in events if e["type"] in ("key_down", "key_up")]
    assert keys == [("key_down", "shift"), ("key_up", "shift"), ("key_down", "f11"), ("key_up", "f11")], keys
    shift_up = next(e for e in events if e["type"] == "key_up" and e["key"] == "shift")
    right_closed = next(e for e in events if e["type"] == "pose" and e["hand"] == "right" and e["pose"] == "closed")
    assert shift_up["frame"] == right_closed["frame"]
    f11 = next(e for e in events if e["type"] == "key_down" and e["key"] == "f11")
    both_fists = [e for e in events if e["type"] == "two_hands" and e["pose"] == "closed" and e["state"] == "start"]
    assert len(both_fists) == 1 and 0.99 <= f11["t"] - both_fists[0]["t"] <= 1.0 + 1.5 / FPS
    assert unreleased(events) == []


def test_a_second_hand_coming_crossing_and_going_keeps_the_first_hands_drag(keypoints, tmp_path):
    """desktop: the right fist holds the left button (a drag) while the left hand comes in
    open, crosses in front of it (lower in the view) to the far side, and leaves; the drag
    is dropped only when the right hand opens."""
    fist, opened = Hands(keypoints, "closed", 0, Handedness.RIGHT), Hands(keypoints, "open", 0, Handedness.RIGHT)
    visitor = Hands(keypoints, "open", 1, Handedness.LEFT)
    frames = [(fist.at(0.55, 0.55),) for _ in range(15)]
    frames += span_frames(60, lambda s: (fist.at(0.55, 0.55), visitor.at(0.05 + 0.9 * s, 0.85)))
    frames += [(fist.at(0.55, 0.55),) for _ in range(15)]  # the visitor has gone
    frames += [(opened.at(0.55, 0.55),) for _ in range(15)]  # the drop
    events = replay(write_trace(tmp_path / "visitor.jsonl", frames), user_env(tmp_path, {}), "desktop")
    buttons = [(e["type"], e["frame"]) for e in events if e["type"] in ("mouse_down", "mouse_up")]
    assert [b[0] for b in buttons] == ["mouse_down", "mouse_up"], buttons
    right_open = next(e for e in events if e["type"] == "pose" and e["hand"] == "right" and e["pose"] == "open")
    assert buttons[1][1] == right_open["frame"] >= 90, "released by the open hand, not by the visitor"
    right_poses = [e["pose"] for e in events if e["type"] == "pose" and e["hand"] == "right"]
    assert right_poses == ["closed", "open"], "the right hand kept its identity and its pose"
    assert any(e["type"] == "pose" and e["hand"] == "left" for e in events), "the visitor was seen"
    assert unreleased(events) == []


def test_profiles_validate_warns_a_one_hand_configuration(tmp_path):
    env = user_env(tmp_path, {"wheel": ROTATE}, max_hands=1)
    done = handmap("profiles", "validate", "wheel", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wheel: ok"
    assert "warning: this profile has two-hand bindings, but model.max_hands is 1" in done.stderr
    assert ":3:5: " in done.stderr  # the first two-hand binding's line
    env = user_env(tmp_path / "two", {"wheel": ROTATE}, max_hands=2)
    assert handmap("profiles", "validate", "wheel", env=env).stderr == ""


def test_the_daemon_warns_when_it_tracks_one_hand_and_the_profile_needs_two(tmp_path, caplog):
    """The mapping stage as the daemon builds it: a warning at start and at each switch
    to a profile with two-hand bindings of the user's while model.max_hands is 1; none for
    a trace (which holds as many hands as were recorded), with two hands tracked, or for
    the bundled desktop's zoom."""
    import logging

    from handmap.daemon.runtime.mapping_stage import MappingStage
    from handmap.gestures.engine import GestureEngine
    from handmap.mappings.loader import ProfileStore
    from handmap.mappings.pointer_modes import ScreenGeometry

    user_env(tmp_path, {"wheel": ROTATE})
    store = ProfileStore(tmp_path / "config" / "handmap" / "profiles")
    screen = ScreenGeometry.single(1920, 1080)
    with caplog.at_level(logging.WARNING, logger="handmap"):
        stage = MappingStage(store, "desktop", screen, GestureEngine(), max_hands=1)
        assert not caplog.records
        stage.switch("wheel")
        MappingStage(store, "wheel", screen, GestureEngine(), max_hands=2)
        MappingStage(store, "wheel", screen, GestureEngine(), max_hands=None)
    assert [r.getMessage() for r in caplog.records] == [
        f"{store.user_dir / 'wheel.yaml'}:3:5: warning: this profile has two-hand bindings, but model.max_hands"
        " is 1, so they never fire; set 'model: {max_hands: 2}' in config.yaml to use them"]


HOLD_OPEN = """\
version: 1
bindings:
  - enter: open
    do: {mouse_down: left, sticky: true}
"""


def test_real_frames_a_hand_crossing_never_releases_the_held_hands_button(data_dir, tmp_path):
    """End to end on real frames (``scripts/two_hand_clip.py --kind crossing``, from
    webcam_session35's stills): the held open hand presses the left button; a second open
    hand enters, crosses above it and leaves (it joins the press and lets go of its share
    when it goes). The button goes up once, only when the run ends, and the held hand's
    pose is entered once: it kept its identity through the crossing."""
    from clips import make_clip

    clip = make_clip("two_hand_clip.py", tmp_path / "crossing.mp4", data_dir, "--kind", "crossing")
    env = user_env(tmp_path, {"holdopen": HOLD_OPEN}, max_hands=2)
    done = handmap("run", "--source", str(clip), "--output", "dry-run", "--profile", "holdopen", "--report-frames",
                   env=env)
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    frames = [e for e in events if e["type"] == "hands"]
    assert max(len(e["hands"]) for e in frames) == 2, "the crossing hand was seen"
    buttons = [(e["type"], e["frame"]) for e in events if e["type"] in ("mouse_down", "mouse_up")]
    assert [b[0] for b in buttons] == ["mouse_down", "mouse_up"], buttons
    assert buttons[1][1] >= frames[-1]["frame"], "released only when the run ended"
    held = [e for e in events if e["type"] == "pose" and e["pose"] == "open"]
    sides = {e["hand"] for e in held}
    assert len(held) == 2 and len(sides) == 2, ("one open entry per hand", held)


REAL_ZOOM = """\
version: 1
bindings:
  - zoom: open
    step: 0.1
    scroll: ctrl
  - rotate: open
    degrees: 15
    clockwise: r
    counterclockwise: l
  - zoom: closed
    step: 0.1
    in: i
    out: o
  - held: open
    ms: 1000
    hand: both
    do: {key: h}
"""


def test_real_frames_two_hands_zoom_as_they_move_apart_and_together(data_dir, tmp_path):
    """End to end on real frames (``scripts/two_hand_clip.py --kind side-by-side``: a
    real hand beside its mirror image while the view pans, so the two hands move apart
    and together, open, then closed): zoom steps both ways while open, and while closed,
    each step the way the hands moved; ctrl held only while the open pair lasts; no rotate step (the
    hands stay level); both hands open for a second fires once; all released."""
    from clips import make_clip

    clip = make_clip("two_hand_clip.py", tmp_path / "side.mp4", data_dir, "--kind", "side-by-side", "--seconds", "8")
    env = user_env(tmp_path, {"realzoom": REAL_ZOOM}, max_hands=2)
    done = handmap("run", "--source", str(clip), "--output", "dry-run", "--profile", "realzoom", "--report-frames",
                   env=env)
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    steps = {pose: [e for e in events if e["type"] == "two_hands" and e["gesture"] == "zoom" and e["pose"] == pose]
             for pose in ("open", "closed")}
    print("\nreal frames, side by side: zoom steps (frame, steps, ratio): "
          + "; ".join(f"{p}: {[(e['frame'], e['steps'], e['value']) for e in s]}" for p, s in steps.items()))
    opened = steps["open"]  # the open hands move together, then apart
    assert sum(e["steps"] > 0 for e in opened) >= 2 and sum(e["steps"] < 0 for e in opened) >= 2, opened
    assert len(steps["closed"]) >= 2, steps["closed"]  # the fists, moving together
    for made in steps.values():
        for before, after in zip(made, made[1:]):  # each step goes the way the distance went
            assert (after["value"] - before["value"]) * after["steps"] > 0, (before, after)
    # The steps follow the hands as the daemon reported them (filtered palm centres).
    where = {e["frame"]: e["hands"] for e in events if e["type"] == "hands" and len(e["hands"]) == 2}

    def gap(frame: int) -> float:
        a, b = where[frame]
        return math.hypot((a["x"] - b["x"]) * ASPECT, a["y"] - b["y"])

    first, last = steps["open"][0], steps["open"][-1]
    measured = last["value"] / first["value"]
    reported = gap(last["frame"]) / gap(first["frame"])
    assert abs(math.log(measured / reported)) < math.log(1.15), (measured, reported)
    keys = [(e["type"], e["key"], e["frame"]) for e in events if e["type"] in ("key_down", "key_up")]
    ctrl = [k for k in keys if k[1] == "ctrl"]
    open_end = next(e["frame"] for e in events if e["type"] == "two_hands" and e["gesture"] == "both"
                    and e["state"] == "end" and e["pose"] == "open")
    assert [c[0] for c in ctrl] == ["key_down", "key_up"] and ctrl[0][2] == steps["open"][0]["frame"] \
        and ctrl[1][2] == open_end, ctrl
    assert not any(k[1] in ("r", "l") for k in keys), "moving apart and together is no rotation"
    assert [k[0] for k in keys if k[1] == "h"] == ["key_down", "key_up"]
    assert unreleased(events) == []
