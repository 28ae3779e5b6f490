"""The pynput backend drives a real X server (Xvfb): pointer, a Tk window's events, held state.

Every test reads the effect on the X server itself: the pointer with xdotool, events
with a real Tk window (a child process logging what it receives), held buttons and keys
with python-xlib's QueryPointer and QueryKeymap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from handmap.daemon.outputs import OutputUnavailable, recover_stale_held, select_output
from handmap.mappings.actions import (
    Button,
    KeyDown,
    KeyUp,
    MouseDown,
    MouseMove,
    MouseUp,
    ReportPose,
    Scroll,
    Stamped,
    TypeText,
)

TK_LOGGER = textwrap.dedent("""
    import json, sys, tkinter as tk
    log = open(sys.argv[1], "a", buffering=1)
    root = tk.Tk(className="handmaptest")
    root.title("handmap-test")
    root.geometry("1000x700+0+0")
    def record(kind):
        def handler(e):
            log.write(json.dumps({"kind": kind, "x": e.x_root, "y": e.y_root, "num": getattr(e, "num", None),
                                  "keysym": getattr(e, "keysym", None), "state": e.state}) + "\\n")
        return handler
    for seq, kind in (("<ButtonPress>", "press"), ("<ButtonRelease>", "release"), ("<B1-Motion>", "drag"),
                      ("<KeyPress>", "key_down"), ("<KeyRelease>", "key_up")):
        root.bind(seq, record(kind))
    def ready():
        root.focus_force()
        print("ready", flush=True)
    root.after(50, ready)
    root.mainloop()
""")

BUTTON_MASKS = {"left": 1 << 8, "middle": 1 << 9, "right": 1 << 10}  # X Button1Mask...Button3Mask


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


@pytest.fixture()
def x_desktop(desktop, monkeypatch):
    """The test desktop, with this process's DISPLAY pointing at it (pynput reads os.environ)."""
    monkeypatch.setenv("DISPLAY", desktop.display)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(desktop.runtime_dir))
    return desktop


@pytest.fixture()
def output(x_desktop):
    o = select_output("pynput", x_desktop.env, platform="linux")
    yield o
    o.close()


class TkWindow:
    def __init__(self, desktop, log: Path):
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-c", TK_LOGGER, str(log)], env=desktop.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready", self.proc.stderr.read()
        wid = desktop.run("xdotool", "search", "--sync", "--name", "handmap-test").split()[0]
        desktop.run("xdotool", "windowactivate", "--sync", wid)
        desktop.run("xdotool", "windowfocus", "--sync", wid)

    def events(self, until, timeout: float = 5.0) -> list[dict]:
        """Logged events, once ``until(event)`` holds for one of them (or at the timeout)."""
        return self.events_until(lambda events: any(until(e) for e in events), timeout)

    def events_until(self, done, timeout: float = 5.0) -> list[dict]:
        """Logged events, once ``done(events)`` holds (or at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            events = [json.loads(x) for x in self.log.read_text().splitlines()] if self.log.exists() else []
            if done(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.02)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture()
def window(x_desktop, tmp_path):
    w = TkWindow(x_desktop, tmp_path / "tk-events.jsonl")
    yield w
    w.close()


def x_held(display: str) -> tuple[int, list[int]]:
    """The X server's view: pointer button mask, and the keycodes it considers down."""
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        mask = d.screen().root.query_pointer().mask
        keymap = d.query_keymap()
        keys = [byte * 8 + bit for byte, bits in enumerate(keymap) for bit in range(8) if bits & (1 << bit)]
        return mask & sum(BUTTON_MASKS.values()), keys
    finally:
        d.close()


def at(t: float, action) -> Stamped:
    return Stamped(t, int(t * 30), action)


def test_moves_the_real_pointer(output, x_desktop):
    assert "XTest" in output.reason or "requested" in output.reason
    for x, y in ((10, 20), (1919, 1079), (960, 540)):
        output.emit(at(0.1, MouseMove(x, y)))
        assert x_desktop.pointer() == (x, y)


def test_auto_picks_pynput_on_x11(x_desktop):
    o = select_output(None, x_desktop.env, platform="linux")
    try:
        assert o.name == "pynput"
        assert o.reason.startswith("X11 session")
    finally:
        o.close()


def test_clicks_drag_scroll_and_keys_reach_a_window(output, window, x_desktop):
    emit = output.emit
    # a right click
    emit(at(0.0, MouseMove(200, 150)))
    emit(at(0.1, MouseDown(Button.RIGHT)))
    emit(at(0.2, MouseUp(Button.RIGHT)))
    # a drag: press, move, release
    emit(at(0.3, MouseMove(300, 300)))
    emit(at(0.4, MouseDown(Button.LEFT)))
    emit(at(0.5, MouseMove(400, 350)))
    emit(at(0.6, MouseMove(500, 400)))
    emit(at(0.7, MouseUp(Button.LEFT)))
    # scroll down 2 steps, then right 1 step (X buttons 5 and 7)
    emit(at(0.8, Scroll(0, -2)))
    emit(at(0.9, Scroll(1, 0)))
    # a combo: ctrl+shift+t, released in reverse
    emit(at(1.0, KeyDown("ctrl")))
    emit(at(1.0, KeyDown("shift")))
    emit(at(1.0, KeyDown("t")))
    emit(at(1.1, KeyUp("t")))
    emit(at(1.1, KeyUp("shift")))
    emit(at(1.1, KeyUp("ctrl")))
    emit(at(1.2, KeyDown("f5")))
    emit(at(1.2, KeyUp("f5")))
    emit(at(1.3, TypeText("Hi!")))
    # "!" is typed as shift down, ! down, ! up, shift up: wait for that last shift.
    events = window.events_until(lambda events: any(e["kind"] == "key_up" and e["keysym"] == "exclam" for e in events)
                                 and sum(e["kind"] == "key_up" and e["keysym"].startswith("Shift") for e in events) >= 3)
    buttons = [(e["kind"], e["num"], e["x"], e["y"]) for e in events if e["kind"] in ("press", "release")]
    assert buttons[:4] == [("press", 3, 200, 150), ("release", 3, 200, 150),
                           ("press", 1, 300, 300), ("release", 1, 500, 400)]
    drags = [(e["x"], e["y"]) for e in events if e["kind"] == "drag"]
    # Tk may compress motion events: the button-1 motion ends where the drag was released
    assert drags and drags[-1] == (500, 400) and set(drags) <= {(400, 350), (500, 400)}
    # Tk 8.6 reports the horizontal wheel (X buttons 6 and 7) as Shift + button 4 / 5.
    wheel = [(e["kind"], e["num"], bool(e["state"] & 1)) for e in events if e["kind"] in ("press", "release")][4:]
    assert wheel == [("press", 5, False), ("release", 5, False), ("press", 5, False), ("release", 5, False),
                     ("press", 5, True), ("release", 5, True)]
    keys = [(e["kind"], e["keysym"]) for e in events if e["kind"].startswith("key")]
    assert keys[:6] == [("key_down", "Control_L"), ("key_down", "Shift_L"), ("key_down", "T"),
                        ("key_up", "T"), ("key_up", "Shift_L"), ("key_up", "Control_L")]
    t_press = next(e for e in events if e["kind"] == "key_down" and e["keysym"] == "T")
    assert t_press["state"] & 0x5 == 0x5  # ShiftMask | ControlMask held while t went down
    assert keys[6:8] == [("key_down", "F5"), ("key_up", "F5")]
    typed = [k for kind, k in keys[8:] if not k.startswith("Shift")]
    assert typed == ["H", "H", "i", "i", "exclam", "exclam"]
    assert [kind for kind, k in keys[8:] if k.startswith("Shift")] == ["key_down", "key_up"] * 2
    assert x_held(x_desktop.display) == (0, [])


def test_release_all_leaves_nothing_held_on_the_x_server(output, x_desktop):
    output.emit(at(0.0, MouseMove(500, 500)))
    output.emit(at(0.1, MouseDown(Button.LEFT)))
    output.emit(at(0.1, MouseDown(Button.MIDDLE)))
    output.emit(at(0.2, KeyDown("shift")))
    output.emit(at(0.2, KeyDown("a")))
    output.emit(at(0.2, KeyDown("space")))
    mask, keys = x_held(x_desktop.display)
    assert mask == BUTTON_MASKS["left"] | BUTTON_MASKS["middle"]
    assert len(keys) == 3
    journal = x_desktop.runtime_dir / "handmap-held.json"
    assert json.loads(journal.read_text())["backend"] == "pynput"
    output.release_all(0.3, 9)
    assert x_held(x_desktop.display) == (0, [])
    assert not journal.exists()
    output.release_all()  # idempotent
    assert x_held(x_desktop.display) == (0, [])


def test_unknown_key_is_a_clear_error_and_holds_nothing(output, x_desktop):
    with pytest.raises(ValueError, match="unknown key name 'flux'.*'space', 'ctrl'"):
        output.emit(at(0.0, KeyDown("flux")))
    assert len(output.held) == 0
    output.emit(at(0.0, ReportPose("right", "open", 0.9)))  # reports inject nothing
    assert x_held(x_desktop.display) == (0, [])


def test_without_display_the_error_says_what_to_do():
    with pytest.raises(OutputUnavailable, match="DISPLAY is not set; run handmap inside your X11 session"):
        select_output("pynput", {}, platform="linux")


HOLDER = textwrap.dedent("""
    import sys, time
    from handmap.daemon.outputs import guard, select_output
    from handmap.mappings.actions import Button, KeyDown, MouseDown, MouseMove, Stamped
    use_guard = sys.argv[1] == "guard"
    output = select_output("pynput")
    def hold():
        output.emit(Stamped(0.0, 0, MouseMove(700, 400)))
        output.emit(Stamped(0.0, 0, MouseDown(Button.LEFT)))
        output.emit(Stamped(0.0, 0, KeyDown("shift")))
        output.emit(Stamped(0.0, 0, KeyDown("w")))
        print("held", flush=True)
        time.sleep(60)
    if use_guard:
        with guard(output):
            hold()
    else:
        hold()
""")


def start_holder(desktop, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, mode], env={**desktop.env, **_pythonpath_env()},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line == "held", proc.stderr.read()
    return proc


def _pythonpath_env() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_sigterm_releases_held_input_through_guard(x_desktop):
    proc = start_holder(x_desktop, "guard")
    try:
        mask, keys = x_held(x_desktop.display)
        assert mask == BUTTON_MASKS["left"] and len(keys) == 2
        proc.terminate()
        assert proc.wait(timeout=10) == 128 + 15
    finally:
        proc.kill()
    assert x_held(x_desktop.display) == (0, [])
    assert not (x_desktop.runtime_dir / "handmap-held.json").exists()


def test_sigkill_leaves_input_held_until_the_next_start_recovers_it(x_desktop):
    proc = start_holder(x_desktop, "guard")
    proc.kill()  # nothing can run in the killed process
    proc.wait()
    mask, keys = x_held(x_desktop.display)
    assert mask == BUTTON_MASKS["left"] and len(keys) == 2  # stuck, as a user would see it
    output = select_output("pynput", x_desktop.env, platform="linux")
    try:
        released = recover_stale_held(output)
        assert [h.name for h in released] == ["left", "shift", "w"]
        assert x_held(x_desktop.display) == (0, [])
        assert not (x_desktop.runtime_dir / "handmap-held.json").exists()
    finally:
        output.close()


def test_every_profile_key_name_presses_and_releases(output, x_desktop):
    """Whatever key a valid profile names (mappings/keys.py), pynput presses and releases it on
    X, or refuses it with a clear error when the X keyboard map lacks it (Xvfb has no F13-F20)."""
    from handmap.mappings.keys import ALL_KEY_NAMES

    names = sorted(ALL_KEY_NAMES - {"caps_lock", "num_lock", "scroll_lock"})  # locks would toggle state
    refused = []
    for name in names:
        try:
            output.emit(at(0.0, KeyDown(name)))
        except ValueError as exc:
            assert "is not on this X server's keyboard map" in str(exc)
            refused.append(name)
            continue
        _, keys = x_held(x_desktop.display)
        assert keys, f"{name} is not held on the X server"
        output.emit(at(0.0, KeyUp(name)))
        assert x_held(x_desktop.display) == (0, []), f"{name} stayed down"
    assert set(refused) <= {f"f{i}" for i in range(13, 21)}
    output.emit(at(0.0, KeyDown("a")))  # the X connection still works after a refusal
    output.release_all()
    assert x_held(x_desktop.display) == (0, [])
