"""The dry-run backend writes exactly the CONTRACTS.md JSON Lines stream, downs always paired."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from handmap.daemon.outputs import OutputUnavailable, choose_output, select_output
from handmap.daemon.outputs.dryrun import DryRunOutput
from handmap.mappings.actions import (
    Button,
    KeyDown,
    KeyUp,
    MouseDown,
    MouseMove,
    MouseUp,
    ReportFaceTouch,
    ReportPaused,
    ReportPose,
    ReportProfile,
    ReportResumed,
    Scroll,
    Stamped,
    TypeText,
)

PROJECT = Path(__file__).resolve().parents[4]

#: The contract's event types and their fields (CONTRACTS.md, "handmap run --output dry-run").
CONTRACT_FIELDS = {
    "pose": {"hand", "pose", "score"},
    "mouse_move": {"x", "y"},
    "mouse_down": {"button"},
    "mouse_up": {"button"},
    "scroll": {"dx", "dy"},
    "key_down": {"key"},
    "key_up": {"key"},
    "face_touch": {"state", "hand"},
    "profile": {"name"},
    "paused": set(),
    "resumed": set(),
}


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_contract(events: list[dict]) -> None:
    """Every line has t, frame, a known type and exactly its fields; downs are paired."""
    down: list[tuple[str, str]] = []
    for event in events:
        assert set(event) == {"t", "frame", "type"} | CONTRACT_FIELDS[event["type"]], event
        assert isinstance(event["frame"], int)
        assert round(event["t"], 3) == event["t"]
        kind = event["type"]
        if kind in ("mouse_down", "key_down"):
            down.append((kind[:-5], event.get("button") or event.get("key")))
        elif kind in ("mouse_up", "key_up"):
            down.remove((kind[:-3], event.get("button") or event.get("key")))
    assert down == [], f"downs never released: {down}"


def test_every_contract_type_is_written_with_its_fields():
    out = io.StringIO()
    o = DryRunOutput(out)
    items = [
        Stamped(0.5, 15, ReportProfile("desktop")),
        Stamped(1.0, 30, ReportPose("right", "pinch", 0.93456)),
        Stamped(1.2344, 37, MouseMove(100, 200)),
        Stamped(1.2346, 37, MouseDown(Button.LEFT)),
        Stamped(1.3, 39, MouseMove(120, 210)),
        Stamped(1.4, 42, MouseUp(Button.LEFT)),
        Stamped(1.5, 45, Scroll(0, -3)),
        Stamped(1.6, 48, KeyDown("ctrl")),
        Stamped(1.6, 48, KeyDown("t")),
        Stamped(1.7, 51, KeyUp("t")),
        Stamped(1.7, 51, KeyUp("ctrl")),
        Stamped(2.0, 60, ReportFaceTouch("start", "left")),
        Stamped(2.5, 75, ReportFaceTouch("end", None)),
        Stamped(3.0, 90, ReportPaused()),
        Stamped(4.0, 120, ReportResumed()),
    ]
    for item in items:
        o.emit(item)
    events = lines(out)
    assert_contract(events)
    assert [e["type"] for e in events] == [
        "profile", "pose", "mouse_move", "mouse_down", "mouse_move", "mouse_up", "scroll", "key_down", "key_down",
        "key_up", "key_up", "face_touch", "face_touch", "paused", "resumed",
    ]
    assert events[3] == {"t": 1.235, "frame": 37, "type": "mouse_down", "button": "left"}
    assert events[2] == {"t": 1.234, "frame": 37, "type": "mouse_move", "x": 100, "y": 200}
    assert events[1]["score"] == pytest.approx(0.935)
    assert events[6] == {"t": 1.5, "frame": 45, "type": "scroll", "dx": 0, "dy": -3}
    assert events[12]["hand"] is None
    assert set(CONTRACT_FIELDS) == {e["type"] for e in events}


def test_release_all_lets_go_in_reverse_order_and_only_once():
    out = io.StringIO()
    o = DryRunOutput(out)
    o.emit(Stamped(1.0, 30, MouseDown(Button.LEFT)))
    o.emit(Stamped(1.1, 33, KeyDown("shift")))
    o.emit(Stamped(1.2, 36, KeyDown("a")))
    o.release_all(1.25, 37)
    o.release_all(1.3, 38)  # idempotent: nothing more
    events = lines(out)
    assert_contract(events)
    assert [(e["type"], e.get("key") or e.get("button"), e["frame"]) for e in events[3:]] == [
        ("key_up", "a", 37), ("key_up", "shift", 37), ("mouse_up", "left", 37),
    ]


def test_downs_and_ups_are_idempotent():
    out = io.StringIO()
    o = DryRunOutput(out)
    o.emit(Stamped(1.0, 1, MouseDown(Button.LEFT)))
    o.emit(Stamped(1.1, 2, MouseDown(Button.LEFT)))  # already down: no second down
    o.emit(Stamped(1.2, 3, MouseUp(Button.LEFT)))
    o.emit(Stamped(1.3, 4, MouseUp(Button.LEFT)))  # not down: no stray up
    o.emit(Stamped(1.4, 5, KeyUp("x")))
    assert [e["type"] for e in lines(out)] == ["mouse_down", "mouse_up"]


def test_close_releases_with_time_that_never_goes_back():
    out = io.StringIO()
    o = DryRunOutput(out)
    o.emit(Stamped(7.5, 225, KeyDown("space")))
    o.close()  # an exit path that does not know the source time
    o.close()
    events = lines(out)
    assert events[-1] == {"t": 7.5, "frame": 225, "type": "key_up", "key": "space"}
    with pytest.raises(RuntimeError):
        o.emit(Stamped(8.0, 240, KeyDown("a")))


def test_typed_text_becomes_key_pairs():
    out = io.StringIO()
    DryRunOutput(out).emit(Stamped(2.0, 60, TypeText("Hi !\n")))
    events = lines(out)
    assert_contract(events)
    assert [(e["type"], e["key"]) for e in events] == [
        ("key_down", "H"), ("key_up", "H"), ("key_down", "i"), ("key_up", "i"), ("key_down", "space"),
        ("key_up", "space"), ("key_down", "!"), ("key_up", "!"), ("key_down", "enter"), ("key_up", "enter"),
    ]


def test_selector_builds_dry_run_anywhere():
    out = io.StringIO()
    o = select_output("dry-run", {}, stream=out, platform="linux")
    assert o.name == "dry-run" and "JSON Lines" in o.reason
    assert choose_output("dry_run", {}, platform="linux").name == "dry-run"
    with pytest.raises(OutputUnavailable, match="unknown output 'xinput'.*pynput, uinput, dry-run"):
        select_output("xinput", {})


def test_each_line_reaches_a_pipe_before_the_next_event(tmp_path):
    """Flushed per line: a reader of the pipe sees an event while the writer is still running."""
    script = textwrap.dedent("""
        import sys
        from handmap.daemon.outputs.dryrun import DryRunOutput
        from handmap.mappings.actions import KeyDown, Stamped
        o = DryRunOutput()
        o.emit(Stamped(0.1, 3, KeyDown("a")))
        sys.stdin.readline()  # block until the test has read the line
        o.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
    try:
        first = proc.stdout.readline()
        assert json.loads(first) == {"t": 0.1, "frame": 3, "type": "key_down", "key": "a"}
        proc.stdin.write("\n")
        proc.stdin.flush()
        rest = proc.stdout.read()
        assert json.loads(rest) == {"t": 0.1, "frame": 3, "type": "key_up", "key": "a"}
    finally:
        proc.kill()
        proc.wait()


def test_sigterm_inside_guard_still_pairs_every_down(tmp_path):
    """A dry run stopped by SIGTERM mid-hold ends its stream with the matching ups."""
    script = textwrap.dedent("""
        import sys, time
        from handmap.daemon.outputs import guard, select_output
        from handmap.mappings.actions import Button, KeyDown, MouseDown, Stamped
        with guard(select_output("dry-run", {})) as o:
            o.emit(Stamped(1.0, 30, MouseDown(Button.LEFT)))
            o.emit(Stamped(1.1, 33, KeyDown("w")))
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": _pythonpath()})
    try:
        first = [proc.stdout.readline(), proc.stdout.readline()]
        proc.terminate()
        rest = proc.stdout.read()
        assert proc.wait(timeout=10) == 128 + 15
    finally:
        proc.kill()
    events = [json.loads(x) for x in first + rest.splitlines()]
    assert_contract(events)
    assert [e["type"] for e in events] == ["mouse_down", "key_down", "key_up", "mouse_up"]


def _pythonpath() -> str:
    """This test run's import path, so a child Python imports the same ``handmap``."""
    return os.pathsep.join(p for p in sys.path if p)
