"""End to end, issue 4: the running daemon (``handmap run`` in a child process, dry-run,
on webcam_session35's landmarks played in real time) on a real X desktop with a window
manager switches profile with the focused window, and hot-reloads an edited profile,
keeping the last good version while the file is broken.
"""

from __future__ import annotations

import signal
import time

from cli import handmap
from e2e_util import (
    HandmapProcess,
    XClient,
    XState,
    looped_trace,
    private_env,
    unmatched_presses,
    wait_until,
    write_profile,
)

pytest_plugins = ["e2e_util"]

GAMEA = """\
version: 1
name: gamea
extends: game-wasd
match: {class: [gamea]}
"""
GAMEB = """\
version: 1
name: gameb
extends: presenter
match: {class: [gameb]}
"""
#: Within this of a focus change the status shows the new profile (the issue promises
#: 200 ms for the watcher itself, tests/test_window.py; here the daemon applies switches
#: between frames, at 10 frames a second, and the status is polled over the socket on a
#: loaded machine).
SWITCH_LIMIT_S = 1.5


def test_focused_window_picks_the_profile_and_back_to_default(desktop, session35_replay, tmp_path):
    env = private_env(tmp_path / "home", desktop)
    write_profile(env, "gamea", GAMEA)
    write_profile(env, "gameb", GAMEB)
    source = looped_trace(session35_replay.trace, tmp_path / "long.trace.jsonl", 3)
    windows = {klass: XClient(desktop, klass, workdir=tmp_path) for klass in ("gamea", "gameb", "e2eother")}
    run = None
    try:
        windows["e2eother"].activate()
        run = HandmapProcess(["--source", str(source), "--realtime", "--output", "dry-run", "--no-tray"],
                             env, tmp_path, verbose=True)
        assert run.wait_ready()["profile"] == "desktop"
        latencies = []
        for klass, expected in (("gamea", "gamea"), ("gameb", "gameb"), ("e2eother", "desktop"),
                                ("gamea", "gamea"), ("e2eother", "desktop")):
            t0 = windows[klass].activate()
            wait_until(lambda expected=expected: (run.status() or {}).get("profile") == expected, 10,
                       f"profile {expected} after focusing {klass}", every=0.01)
            latencies.append(time.monotonic() - t0)
        print("\nprofile switch latency (focus request -> status), ms: "
              + ", ".join(f"{1000 * s:.0f}" for s in latencies))
        assert max(latencies) < SWITCH_LIMIT_S, latencies
        # What users see: `handmap status --json` and the dry-run `profile` events.
        windows["gameb"].activate()
        wait_until(lambda: (run.status() or {}).get("profile") == "gameb", 10, "profile gameb")
        out = handmap("status", "--json", env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        assert '"profile": "gameb"' in out.stdout
        run.signal(signal.SIGTERM)
        assert run.wait(20) == 0, run.stderr()
        switches = [e["name"] for e in run.events() if e["type"] == "profile"]
        assert switches == ["gamea", "gameb", "desktop", "gamea", "desktop", "gameb"], switches
        assert "(active window)" in run.stderr()
        assert unmatched_presses(run.events()) == []
    finally:
        if run is not None:
            run.stop()
        for window in windows.values():
            window.close()


def _reload_profile(key: str) -> str:
    """Every pose taps ``key``: which version of the file is in force shows in the stream."""
    triggers = "\n".join(f"  - enter: {pose}\n    do: {{key: {key}}}" for pose in ("open", "closed", "point", "hand", "two"))
    return ("version: 1\nname: e2e-reload\npointer: {mode: none}\nposes:\n"
            "  two:\n    fingers: {index: extended, middle: extended, ring: curled, pinky: curled}\n"
            f"bindings:\n{triggers}\n")


def test_hot_reload_applies_edits_keeps_last_good_on_broken_file(desktop, session35_replay, tmp_path):
    env = private_env(tmp_path / "home", desktop)
    path = write_profile(env, "e2e-reload", _reload_profile("a"))
    source = looped_trace(session35_replay.trace, tmp_path / "long.trace.jsonl", 4)
    run = HandmapProcess(["--source", str(source), "--realtime", "--output", "dry-run", "--no-tray",
                          "--profile", "e2e-reload"], env, tmp_path, verbose=True)

    def keys() -> list[str]:
        return [e["key"] for e in run.events() if e["type"] == "key_down"]

    def wait_key(key: str, after: int) -> int:
        """Wait for ``key`` tapped after the first ``after`` taps; its index."""
        def found():
            taps = keys()
            return next((i + 1 for i in range(after, len(taps)) if taps[i] == key), None)
        return wait_until(found, 20, f"a tap of {key!r} from the profile in force", every=0.05) - 1

    try:
        run.wait_ready()
        first_a = wait_key("a", 0)
        # An edit that is valid applies: the poses now tap "b".
        t0 = time.monotonic()
        write_profile(env, "e2e-reload", _reload_profile("b"))
        wait_until(lambda: "profile e2e-reload reloaded" in run.stderr(), 10, "the reload to be logged")
        print(f"\nreload applied {1000 * (time.monotonic() - t0):.0f} ms after the edit")
        first_b = wait_key("b", first_a)
        # A broken edit (an unknown key name) is reported and the last good version stays.
        log_before = len(run.stderr())
        path.write_text(_reload_profile("b").replace("{key: b}", "{key: notakey}", 1))
        report = wait_until(lambda: run.stderr()[log_before:] if "notakey" in run.stderr()[log_before:] else None,
                            10, "the broken file to be reported")
        assert "ERROR" in report and "keeping the last good version" in report, report
        assert "e2e-reload.yaml:9:" in report and "unknown key name 'notakey'" in report, report  # where and what
        taps_at_break = len(keys())
        wait_key("b", taps_at_break)  # still the good version's key
        assert run.status()["profile"] == "e2e-reload"
        # Fixed: the new version applies.
        write_profile(env, "e2e-reload", _reload_profile("c"))
        first_c = wait_key("c", taps_at_break)
        taps = keys()
        assert set(taps[:first_b]) == {"a"} and set(taps[first_b:first_c]) == {"b"}, taps
        assert set(taps[first_c:]) == {"c"}, taps
        run.signal(signal.SIGTERM)
        assert run.wait(20) == 0, run.stderr()
        assert unmatched_presses(run.events()) == []
    finally:
        run.stop()


#: A fist holds the left button (a drag) and shift; an open hand drops it.
DRAG_PROFILE = """\
version: 1
name: e2e-drag
pointer: {mode: absolute, hand: any}
bindings:
  - enter: closed
    do: [{mouse_down: left, sticky: true}, {hold: shift}]
  - enter: open
    do: {mouse_up: left}
"""


def test_focus_change_and_pause_mid_drag_let_go_on_the_x_server(desktop, session35_replay, tmp_path):
    """Issues 4 and 5 together: pynput output, a drag in progress (the X server has the
    button and shift down); focusing a window of another profile releases them, saving
    another profile's file does not, and ``handmap pause`` during the next drag does."""
    env = private_env(tmp_path / "home", desktop)
    write_profile(env, "e2e-drag", DRAG_PROFILE)
    write_profile(env, "gamea", GAMEA)
    source = looped_trace(session35_replay.trace, tmp_path / "long.trace.jsonl", 3)
    windows = {klass: XClient(desktop, klass, workdir=tmp_path) for klass in ("gamea", "e2eother")}
    xstate = XState(desktop.display)
    run = None

    def dragging() -> bool:
        return 1 in xstate.buttons_down() and "Shift_L" in xstate.keys_down()

    def released() -> bool:
        return not xstate.buttons_down() and "Shift_L" not in xstate.keys_down()

    try:
        windows["e2eother"].activate()
        run = HandmapProcess(["--source", str(source), "--realtime", "--output", "pynput", "--no-tray",
                              "--profile", "e2e-drag"], env, tmp_path, verbose=True)
        run.wait_ready()
        wait_until(dragging, 30, "a drag on the X server", every=0.01)
        t0 = windows["gamea"].activate()
        wait_until(released, 5, "the drag released after the focus change", every=0.005)
        print(f"\nfocus change -> drag released on the X server: {1000 * (time.monotonic() - t0):.0f} ms")
        assert run.status()["profile"] == "gamea"
        windows["e2eother"].activate()  # back to the --profile one
        wait_until(lambda: (run.status() or {}).get("profile") == "e2e-drag", 5, "profile e2e-drag again")
        wait_until(dragging, 30, "the next drag on the X server", every=0.01)
        # Saving another profile reloads that one only: the drag goes on.
        write_profile(env, "gameb", GAMEB)
        wait_until(lambda: "gameb.yaml" in run.stderr(), 10, "the new profile file to be loaded")
        assert 1 in xstate.buttons_down(), "saving another profile dropped the drag"
        out = handmap("pause", env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        wait_until(released, 5, "the drag released on pause", every=0.005)
        assert run.status()["state"] == "paused"
        run.signal(signal.SIGTERM)
        assert run.wait(20) == 0, run.stderr()
        assert not xstate.buttons_down() and not xstate.keys_down()
    finally:
        if run is not None:
            run.stop()
        xstate.close()
        for window in windows.values():
            window.close()
