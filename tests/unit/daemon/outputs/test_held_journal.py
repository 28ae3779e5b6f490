"""Held-input bookkeeping, the journal a killed run leaves, and recovery at the next start."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from handmap.daemon.outputs import HeldInput, HeldInputs, InputKind, guard, recover_stale_held
from handmap.daemon.outputs.dryrun import DryRunOutput
from handmap.daemon.outputs.held import HoldingOutput, journal_path, read_journal
from handmap.mappings.actions import Button, KeyDown, KeyUp, MouseDown, Stamped

SHIFT = HeldInput(InputKind.KEY, "shift")
LEFT = HeldInput(InputKind.BUTTON, "left")
A = HeldInput(InputKind.KEY, "a")


class RecordingOutput(HoldingOutput):
    """An injecting backend whose "device" is a list, to watch what the shared base does.

    Only the bookkeeping is under test here; real injection is tested against Xvfb in
    test_outputs_pynput.py.
    """

    name = "recording"
    injects = True

    def __init__(self, journal=None):
        super().__init__(journal)
        self.log: list[tuple[str, str, bool]] = []
        self.closed = False

    def _button(self, button, down, t, frame):
        self.log.append(("button", button, down))

    def _key(self, key, down, t, frame):
        self.log.append(("key", key, down))

    def _close(self):
        self.closed = True


def test_held_set_is_idempotent_and_releases_newest_first():
    held = HeldInputs()
    assert held.press(LEFT) and held.press(SHIFT) and held.press(A)
    assert not held.press(SHIFT)
    assert held.held() == (LEFT, SHIFT, A)
    assert held.release_order() == (A, SHIFT, LEFT)
    assert held.release(SHIFT) and not held.release(SHIFT)
    assert held.release_order() == (A, LEFT)


def test_journal_follows_the_held_set_and_vanishes_when_empty(tmp_path):
    path = journal_path({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert path == tmp_path / "handmap-held.json"
    held = HeldInputs(path, backend="pynput")
    assert not path.exists()
    held.press(LEFT)
    held.press(SHIFT)
    data = json.loads(path.read_text())
    assert data["pid"] == os.getpid() and data["backend"] == "pynput"
    assert data["held"] == [{"kind": "button", "name": "left"}, {"kind": "key", "name": "shift"}]
    held.release(LEFT)
    assert read_journal(path).held == (SHIFT,)
    held.release(SHIFT)
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary files left behind


def test_no_runtime_dir_means_no_journal():
    assert journal_path({}) is None


def test_unreadable_journal_is_ignored(tmp_path, caplog):
    path = tmp_path / "handmap-held.json"
    path.write_text("{not json")
    assert read_journal(path) is None
    assert "unreadable held-input journal" in caplog.text


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recovery_releases_what_a_killed_run_left_held(tmp_path):
    path = tmp_path / "handmap-held.json"
    path.write_text(json.dumps({"version": 1, "pid": _dead_pid(), "backend": "pynput",
                                "held": [{"kind": "button", "name": "left"}, {"kind": "key", "name": "ctrl"}]}))
    out = RecordingOutput(path)
    released = recover_stale_held(out)
    assert released == (LEFT, HeldInput(InputKind.KEY, "ctrl"))
    assert out.log == [("key", "ctrl", False), ("button", "left", False)]
    assert not path.exists()
    assert recover_stale_held(out) == ()


def test_recovery_leaves_a_live_process_alone(tmp_path):
    path = tmp_path / "handmap-held.json"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(json.dumps({"version": 1, "pid": sleeper.pid, "backend": "pynput",
                                    "held": [{"kind": "key", "name": "w"}]}))
        out = RecordingOutput(path)
        assert recover_stale_held(out) == ()
        assert out.log == [] and path.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_dry_run_neither_journals_nor_recovers(tmp_path):
    path = tmp_path / "handmap-held.json"
    stale = json.dumps({"version": 1, "pid": _dead_pid(), "backend": "pynput", "held": [{"kind": "key", "name": "w"}]})
    path.write_text(stale)
    stream = io.StringIO()
    out = DryRunOutput(stream)
    assert recover_stale_held(out, path) == ()
    out.emit(Stamped(0.0, 0, KeyDown("a")))
    assert path.read_text() == stale  # left for the next injecting run
    assert stream.getvalue().count("\n") == 1


def test_guard_releases_and_closes_on_exception(tmp_path):
    out = RecordingOutput(tmp_path / "j.json")
    with pytest.raises(ZeroDivisionError):
        with guard(out, signals=()):
            out.emit(Stamped(0.0, 0, MouseDown(Button.LEFT)))
            out.emit(Stamped(0.0, 0, KeyDown("shift")))
            raise ZeroDivisionError
    assert out.log[-2:] == [("key", "shift", False), ("button", "left", False)]
    assert out.closed and len(out.held) == 0
    assert not (tmp_path / "j.json").exists()


def test_guard_restores_signal_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with guard(RecordingOutput()):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_release_that_fails_does_not_stop_the_others(caplog):
    class Flaky(RecordingOutput):
        def _key(self, key, down, t, frame):
            if key == "b" and not down:
                raise OSError("device gone")
            super()._key(key, down, t, frame)

    out = Flaky()
    for key in "abc":
        out.emit(Stamped(0.0, 0, KeyDown(key)))
    out.emit(Stamped(0.0, 0, KeyUp("z")))  # never down: ignored
    out.release_all()
    assert [e for e in out.log if not e[2]] == [("key", "c", False), ("key", "a", False)]
    assert "could not release key b: device gone" in caplog.text
    assert len(out.held) == 0


def test_sigkill_leaves_a_journal_the_next_start_recovers(tmp_path):
    """A run killed with SIGKILL cannot clean up; its journal tells the next run what to release."""
    script = textwrap.dedent("""
        import sys, time
        from handmap.daemon.outputs.held import HoldingOutput
        from handmap.mappings.actions import KeyDown, Button, MouseDown, Stamped
        class Quiet(HoldingOutput):
            name = "quiet"
            def _button(self, *a): pass
            def _key(self, *a): pass
        o = Quiet(journal=__import__("pathlib").Path(sys.argv[1]))
        o.emit(Stamped(0.0, 0, KeyDown("w")))
        o.emit(Stamped(0.0, 0, MouseDown(Button.RIGHT)))
        print("held", flush=True)
        time.sleep(30)
    """)
    path = tmp_path / "handmap-held.json"
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    try:
        assert proc.stdout.readline().strip() == "held"
        proc.kill()
        proc.wait()
    finally:
        proc.kill()
    out = RecordingOutput(path)
    assert recover_stale_held(out) == (HeldInput(InputKind.KEY, "w"), HeldInput(InputKind.BUTTON, "right"))
    assert out.log == [("button", "right", False), ("key", "w", False)]
    assert not path.exists()
