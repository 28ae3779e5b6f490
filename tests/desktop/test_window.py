"""Per-app profile switching: the active-window watchers, the backend selector and the
profile matcher, against a real X server (Xvfb + matchbox, the ``desktop`` fixture)."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from handmap.daemon.desktop.switching import AutoSwitcher, ProfileMatcher, rule_from
from handmap.daemon.desktop.windows.base import ActiveWindow, NoneWatcher
from handmap.daemon.desktop.windows.selector import select_window_watcher
from handmap.daemon.desktop.windows.sway import SwayWatcher
from handmap.daemon.desktop.windows.x11 import X11Watcher
from handmap.mappings.window_match import WindowRule

SWITCH_BUDGET_S = 0.2  # the issue: switch within 200 ms of a focus change

# A real Tk window in its own process. Tk sets no _NET_WM_PID, so the watcher must find
# the pid through the X-Resource extension, as it would for any plain Xlib program.
TK_WINDOW = r"""
import sys, tkinter as tk
root = tk.Tk(className=sys.argv[1])
root.title(sys.argv[2])
root.geometry("320x200")
root.update()
print("ready", flush=True)
root.mainloop()
"""


class App:
    """A Tk window run from an executable named ``exe`` (a symlink to Python), so that
    /proc/PID/comm, the process name users match on, is ``exe``."""

    def __init__(self, desktop, tmp_path: Path, class_name: str, title: str, exe: str) -> None:
        link = tmp_path / exe
        if not link.exists():
            link.symlink_to(Path(sys.executable).resolve())
        env = dict(desktop.env)
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen([str(link), "-c", TK_WINDOW, class_name, title], env=env,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        found = desktop.run("xdotool", "search", "--sync", "--classname", f"^{class_name}$").split()
        assert len(found) == 1, found
        self.wid = found[0]
        self.desktop = desktop

    def activate(self) -> float:
        """Ask the window manager to focus the window, as ``xdotool windowactivate`` and
        pagers do (an EWMH ``_NET_ACTIVE_WINDOW`` client message to the root window), and
        wait until it has; returns the time the request was sent. Sent from this process
        so that the measured latency does not include starting a program."""
        from Xlib import X, display, protocol

        dpy = display.Display(self.desktop.display)
        try:
            root = dpy.screen().root
            atom = dpy.intern_atom("_NET_ACTIVE_WINDOW")
            event = protocol.event.ClientMessage(window=dpy.create_resource_object("window", int(self.wid)),
                                                 client_type=atom, data=(32, [2, X.CurrentTime, 0, 0, 0]))
            t0 = time.monotonic()
            root.send_event(event, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
            dpy.flush()
            deadline = t0 + 5
            while time.monotonic() < deadline:
                prop = root.get_full_property(atom, X.AnyPropertyType)
                if prop is not None and int(prop.value[0]) == int(self.wid):
                    return t0
                time.sleep(0.005)
            raise AssertionError(f"the window manager did not activate window {self.wid}")
        finally:
            dpy.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture()
def apps(desktop, tmp_path):
    made: list[App] = []

    def make(class_name: str, title: str, exe: str) -> App:
        app = App(desktop, tmp_path, class_name, title, exe)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def wait_for(watcher, predicate, t0: float, timeout: float = 2.0) -> tuple[ActiveWindow, float]:
    """Drain ``watcher.poll()`` like the daemon loop until a window satisfies
    ``predicate``; returns it and the latency from ``t0`` to the watcher seeing it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = watcher.poll()
        if window is not None and predicate(window):
            return window, watcher.last_change_at - t0
        time.sleep(0.002)
    raise AssertionError(f"watcher did not report the window within {timeout} s; current: {watcher.current()}")


# Profiles as users write them (the match section of mappings/schema.py), loaded through
# the real ProfileStore from a user profiles folder.
PROFILE_FILES = {
    "desktop": "",  # the default: no match section
    "game-a": "match:\n  class: Gamea\n",
    "game-a-boss": "match:\n  title: '(?i)boss'\n",
    "editor": "match:\n  process: [editorproc, editor.exe]\n",
}


@pytest.fixture()
def matcher(tmp_path) -> ProfileMatcher:
    from handmap.mappings.loader import ProfileStore
    from handmap.mappings.schema import SCHEMA_VERSION

    folder = tmp_path / "profiles"
    folder.mkdir()
    for name, body in PROFILE_FILES.items():
        (folder / f"{name}.yaml").write_text(f"version: {SCHEMA_VERSION}\n{body}")
    store = ProfileStore(folder)
    for name in PROFILE_FILES:
        assert store.validate_file(folder / f"{name}.yaml") == []
    return ProfileMatcher.from_store(store, default="desktop")


def test_x11_watcher_follows_focus_within_200ms_and_matcher_picks_profiles(desktop, apps, matcher):
    game = apps("gamea", "Game A", "gameproc")
    editor = apps("editorb", "Editor B", "editorproc")
    other = apps("otherc", "Calculator", "otherproc")

    watcher = select_window_watcher(env=desktop.env)
    assert isinstance(watcher, X11Watcher) and watcher.reason == ""
    watcher.start()
    try:
        assert watcher.current() is not None  # the window focused at start is read at once
        expected = [
            (game, ActiveWindow("Gamea", "Game A", "gameproc", game.proc.pid, "gamea"), "game-a"),
            (editor, ActiveWindow("Editorb", "Editor B", "editorproc", editor.proc.pid, "editorb"), "editor"),
            (other, ActiveWindow("Otherc", "Calculator", "otherproc", other.proc.pid, "otherc"), "desktop"),
            (game, ActiveWindow("Gamea", "Game A", "gameproc", game.proc.pid, "gamea"), "game-a"),
        ]
        latencies = []
        for app, window, profile in expected:
            t0 = app.activate()
            seen, latency = wait_for(watcher, lambda w, app=app: w.pid == app.proc.pid, t0)
            latencies.append(latency)
            assert seen == window
            assert matcher.pick(seen) == profile
            assert latency < SWITCH_BUDGET_S, f"focus change seen after {latency * 1000:.0f} ms"
        print(f"\nX11 focus-change latency (activation request → watcher): "
              f"{', '.join(f'{x * 1000:.1f}' for x in latencies)} ms")

        # A title change of the focused window is followed too (title rules).
        t0 = time.monotonic()
        desktop.run("xdotool", "set_window", "--name", "Game A - Boss fight", game.wid)
        seen, latency = wait_for(watcher, lambda w: w.title == "Game A - Boss fight", t0)
        assert latency < SWITCH_BUDGET_S
        assert matcher.pick(seen) == "game-a-boss"
        print(f"X11 title-change latency: {latency * 1000:.1f} ms")
        current = watcher.current()
        assert current is not None and current.to_json()["class"] == "Gamea"
    finally:
        watcher.stop()


def test_x11_watcher_survives_the_focused_window_closing(desktop, apps):
    game = apps("gamea", "Game A", "gameproc")
    editor = apps("editorb", "Editor B", "editorproc")
    watcher = X11Watcher(desktop.display)
    watcher.start()
    try:
        t0 = game.activate()
        wait_for(watcher, lambda w: w.wm_class == "Gamea", t0)
        game.close()  # the WM focuses what is left (or nothing); the watcher must live on
        t0 = editor.activate()
        seen, _ = wait_for(watcher, lambda w: w.wm_class == "Editorb", t0)
        assert seen.process == "editorproc"
        assert watcher.reason == ""
    finally:
        watcher.stop()


def test_auto_switcher_switches_on_focus_and_returns_to_default(desktop, apps, matcher):
    game = apps("gamea", "Game A", "gameproc")
    other = apps("otherc", "Calculator", "otherproc")
    changes: list[ActiveWindow] = []
    watcher = select_window_watcher(env=desktop.env, on_change=changes.append)
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        profile = "desktop"
        for app, wanted in ((game, "game-a"), (other, "desktop"), (game, "game-a")):
            t0 = app.activate()
            deadline = t0 + SWITCH_BUDGET_S
            while time.monotonic() < deadline:
                name = switcher.poll(profile)
                if name is not None:
                    profile = name
                    break
                time.sleep(0.005)
            assert profile == wanted, f"after focusing {app.wid}: {profile}"
        assert [w.wm_class for w in changes][-3:] == ["Gamea", "Otherc", "Gamea"]  # the callback ran too

        # A manual switch holds until the next focus change.
        assert switcher.poll("manual") is None
        # After a reload the current window is matched again with the new rules.
        switcher.set_matcher(ProfileMatcher([("only-game", {"process": "gameproc"})], default="desktop"))
        assert switcher.poll("game-a") == "only-game"
        # handmap's own windows (its preview) never switch the profile.
        own = AutoSwitcher(watcher, ProfileMatcher([], "desktop"), own_pid=game.proc.pid)
        own.set_matcher(ProfileMatcher([], "desktop"))
        assert own.poll("game-a") is None
    finally:
        watcher.stop()


def _switched(switcher: AutoSwitcher, current: str, timeout: float = 2.0) -> str | None:
    """Poll like the daemon loop until the switcher names a profile (None if it never does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = switcher.poll(current)
        if name is not None:
            return name
        time.sleep(0.005)
    return None


def test_auto_switcher_returns_to_default_when_no_window_has_focus(desktop, apps, matcher):
    """The only window closes and nothing has focus (the bare desktop): the matched
    profile must not stay on; the default profile comes back, as for a window no
    profile matches."""
    from Xlib import X, display

    game = apps("gamea", "Game A", "gameproc")
    watcher = select_window_watcher(env=desktop.env)
    switcher = AutoSwitcher(watcher, matcher)
    watcher.start()
    try:
        game.activate()
        assert _switched(switcher, "desktop") == "game-a"
        game.close()
        dpy = display.Display(desktop.display)
        try:  # the window manager says so: nothing is active now
            root = dpy.screen().root
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                prop = root.get_full_property(dpy.intern_atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
                if prop is None or not len(prop.value) or not int(prop.value[0]):
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the window manager kept a window active")
        finally:
            dpy.close()
        assert _switched(switcher, "game-a") == "desktop"
        assert switcher.poll("desktop") is None  # and it stays there, no switching back and forth
    finally:
        watcher.stop()


# --------------------------------------------------------------------------- selector


def test_wayland_without_a_supported_compositor_selects_none_with_a_reason(tmp_path, caplog):
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": str(tmp_path), "DISPLAY": ":0"}
    with caplog.at_level("WARNING", logger="handmap"):
        watcher = select_window_watcher(env=env, platform="linux")
    assert isinstance(watcher, NoneWatcher) and watcher.name == "none"
    assert "Wayland" in watcher.reason and "handmap profile" in watcher.reason
    assert any("Wayland" in r.getMessage() for r in caplog.records)  # said clearly in the log
    assert watcher.reason and watcher.current() is None
    watcher.start()
    assert watcher.poll() is None and watcher.current() is None
    watcher.stop()


def test_wayland_desktops_are_told_apart_by_xdg_current_desktop(tmp_path):
    bus = tmp_path / "bus"
    bus.touch()  # the user's session bus at its default place
    base = {"WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert select_window_watcher(env={**base, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, platform="linux").name == "gnome"
    assert select_window_watcher(env={**base, "XDG_CURRENT_DESKTOP": "KDE"}, platform="linux").name == "kde"
    plasma = {**base, "DESKTOP_SESSION": "/usr/share/wayland-sessions/plasmawayland"}
    assert select_window_watcher(env=plasma, platform="linux").name == "kde"  # as doctor names it
    other = select_window_watcher(env={**base, "XDG_CURRENT_DESKTOP": "Wayfire"}, platform="linux")
    assert other.name == "none" and "wlroots" in other.reason and "handmap profile NAME" in other.reason
    # On X11, GNOME and KDE publish the active window (EWMH): the X11 watcher serves them.
    x11 = select_window_watcher(env={"DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "GNOME"}, platform="linux")
    assert x11.name == "x11"


def test_selector_override_and_fallbacks(desktop, tmp_path):
    assert select_window_watcher(env=desktop.env, platform="linux").name == "x11"
    off = select_window_watcher(env={**desktop.env, "HANDMAP_WINDOW_BACKEND": "none"}, platform="linux")
    assert off.name == "none" and "turned off" in off.reason
    assert select_window_watcher(env={}, platform="linux").reason.startswith("no display")
    with pytest.raises(ValueError, match="unknown window backend"):
        select_window_watcher(env={}, override="wayfire", platform="linux")
    # A backend that cannot be built here degrades to none with the reason.
    for name in ("sway", "gnome", "kde", "macos", "windows"):
        watcher = select_window_watcher(env={}, override=name, platform="linux")
        assert watcher.name == "none" and name in watcher.reason
    # An X display that does not exist: start() raises a clear OSError.
    watcher = select_window_watcher(env={"DISPLAY": ":987"}, platform="linux")
    with pytest.raises(OSError, match="cannot open X display"):
        watcher.start()


# --------------------------------------------------------------------------- sway


class FakeSway:
    """A stand-in for sway's IPC socket (i3-ipc framing, get_tree, subscribe, window
    events), for the protocol's edge cases in isolation; the real sway, with real clients,
    is in test_compositor_sway.py."""

    HEADER = struct.Struct("=6sII")

    def __init__(self, path: Path, tree: dict) -> None:
        self.path = path
        self.tree = tree
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.subscribers: list[socket.socket] = []
        self.subscribed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _reply(self, conn, kind, payload) -> None:
        data = json.dumps(payload).encode()
        conn.sendall(self.HEADER.pack(b"i3-ipc", len(data), kind) + data)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            header = conn.recv(self.HEADER.size)
            _, length, kind = self.HEADER.unpack(header)
            body = conn.recv(length) if length else b""
            if kind == 4:
                self._reply(conn, 4, self.tree)
                conn.close()
            elif kind == 2 and json.loads(body) == ["window"]:
                self._reply(conn, 2, {"success": True})
                self.subscribers.append(conn)
                self.subscribed.set()

    def focus(self, container: dict, change: str = "focus") -> None:
        for conn in self.subscribers:
            self._reply(conn, 0x80000003, {"change": change, "container": container})

    def close(self) -> None:
        self.server.close()
        for conn in self.subscribers:
            conn.close()


def test_sway_backend_follows_window_events(short_tmp, matcher):
    path = short_tmp / "sway-ipc.sock"
    firefox = {"type": "con", "focused": True, "app_id": "firefox", "name": "Mozilla Firefox", "pid": os.getpid()}
    tree = {"type": "root", "nodes": [{"type": "output", "nodes": [{"type": "workspace", "nodes": [firefox]}]}]}
    fake = FakeSway(path, tree)
    env = {"WAYLAND_DISPLAY": "wayland-1", "SWAYSOCK": str(path)}
    watcher = select_window_watcher(env=env, platform="linux")
    assert isinstance(watcher, SwayWatcher) and watcher.reason == ""
    watcher.start()
    try:
        first = watcher.poll()
        assert first.wm_class == "firefox" and first.title == "Mozilla Firefox" and first.pid == os.getpid()
        assert first.process == Path(f"/proc/{os.getpid()}/comm").read_text().strip()
        assert fake.subscribed.wait(2)
        t0 = time.monotonic()
        fake.focus({"type": "con", "focused": True, "app_id": None, "name": "Game A",
                    "window_properties": {"class": "Gamea", "instance": "gamea"}, "pid": None})
        seen, latency = wait_for(watcher, lambda w: w.wm_class == "Gamea", t0)
        assert seen == ActiveWindow("Gamea", "Game A", "", None, "gamea")
        assert latency < SWITCH_BUDGET_S
        fake.focus({"type": "con", "focused": True, "app_id": "gamea", "name": "Game A - Boss"}, change="title")
        seen, _ = wait_for(watcher, lambda w: w.title == "Game A - Boss", t0)
        assert matcher.pick(seen) == "game-a-boss"
        fake.close()  # the compositor went away: the watcher says so
        deadline = time.monotonic() + 2
        while not watcher.reason and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "sway" in watcher.reason
    finally:
        watcher.stop()
        fake.close()


# --------------------------------------------------------------------------- matcher


def test_matcher_most_specific_match_wins_then_order():
    matcher = ProfileMatcher([
        ("any-game", {"class": "Gamea"}),
        ("boss", {"title": "Boss"}),
        ("boss-of-game", {"class": ["GAMEA"], "title": "Boss"}),
        ("second-game", {"class": "gamea"}),  # same as any-game but later: never wins
        ("by-process", {"process": "game"}),
        ("notepad", {"process": ["notepad.exe"]}),
        ("broken", {"title": "(unclosed"}),  # invalid regex: ignored with a warning
        ("default-like", {}),  # no rule: never matches
    ], default="desktop")
    assert matcher.pick(ActiveWindow("Gamea", "Boss level", "game", 1, "gamea")) == "boss-of-game"  # 2 fields
    assert matcher.pick(ActiveWindow("Other", "Boss level", "game", 1)) == "boss"  # title over process
    assert matcher.pick(ActiveWindow("Gamea", "boss level", "game", 1, "gamea")) == "any-game"  # class over process
    assert matcher.pick(ActiveWindow("x", "", "game", 1, "gamea")) == "any-game"  # the X11 instance counts
    assert matcher.pick(ActiveWindow("x", "", "GAME", 1)) == "by-process"
    assert matcher.pick(ActiveWindow("other", "", "Notepad", 2)) == "notepad"  # .exe and case ignored
    assert matcher.pick(ActiveWindow("other", "(unclosed", "x", 3)) == "desktop"
    assert matcher.pick(ActiveWindow()) == "desktop"  # an empty window matches nothing
    assert matcher.pick(None) == "desktop"
    assert [name for name, _ in matcher.rules] == ["any-game", "boss", "boss-of-game", "second-game",
                                                   "by-process", "notepad"]


def test_rule_from_accepts_schema_models_and_dicts():
    from handmap.mappings.schema import Match

    assert rule_from(Match.model_validate({"class": "A", "title": "t", "process": ["p", "q"]})) == \
        WindowRule(("A",), "t", ("p", "q"))
    assert rule_from({"class": "A", "title": "t", "process": "p"}) == WindowRule(("A",), "t", ("p",))
    assert rule_from({"wm_class": "A", "process": ["writer"]}) == WindowRule(("A",), None, ("writer",))
    assert rule_from(None).is_empty() and rule_from(Match()).is_empty()


# --------------------------------------------------------------------------- Hyprland


class FakeHyprland:
    """A stand-in for Hyprland's two sockets (``.socket.sock`` answers ``j/activewindow``
    with JSON, ``.socket2.sock`` streams ``event>>data`` lines). A mock: Hyprland is not
    packaged in Debian 12, so it cannot be installed on these machines."""

    def __init__(self, folder: Path, active: dict) -> None:
        folder.mkdir(parents=True)
        self.active = active
        self.requests = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.requests.bind(str(folder / ".socket.sock"))
        self.requests.listen(4)
        self.events = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.events.bind(str(folder / ".socket2.sock"))
        self.events.listen(4)
        self.listeners: list[socket.socket] = []
        self.listening = threading.Event()
        threading.Thread(target=self._answer, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _answer(self) -> None:
        while True:
            try:
                conn, _ = self.requests.accept()
            except OSError:
                return
            if conn.recv(100) == b"j/activewindow":
                conn.sendall(json.dumps(self.active).encode())
            conn.close()

    def _accept(self) -> None:
        try:
            conn, _ = self.events.accept()
        except OSError:
            return
        self.listeners.append(conn)
        self.listening.set()

    def focus(self, active: dict) -> None:
        self.active = active
        for conn in self.listeners:  # sent in two pieces: the watcher must reassemble lines
            conn.sendall(b"workspace>>2\nactivewindow>>" + active["class"].encode())
            conn.sendall(b"," + active["title"].encode() + b"\nactivewindowv2>>abc\n")

    def close(self) -> None:
        for s in [self.requests, self.events, *self.listeners]:
            s.close()


def test_hyprland_backend_follows_active_window_events(short_tmp, matcher):
    signature = "v0.45_1700000000"
    fake = FakeHyprland(short_tmp / "hypr" / signature,
                        {"class": "kitty", "initialClass": "kitty", "title": "~", "pid": os.getpid()})
    env = {"WAYLAND_DISPLAY": "wayland-1", "HYPRLAND_INSTANCE_SIGNATURE": signature,
           "XDG_RUNTIME_DIR": str(short_tmp)}
    watcher = select_window_watcher(env=env, platform="linux")
    assert watcher.name == "hyprland" and watcher.reason == ""
    watcher.start()
    try:
        first = watcher.poll()
        assert (first.wm_class, first.title, first.pid) == ("kitty", "~", os.getpid())
        assert fake.listening.wait(2)
        t0 = time.monotonic()
        fake.focus({"class": "Gamea", "initialClass": "gamea", "title": "Game A", "pid": 0})
        seen, latency = wait_for(watcher, lambda w: w.wm_class == "Gamea", t0)
        assert seen == ActiveWindow("Gamea", "Game A", "", None, "gamea")
        assert latency < SWITCH_BUDGET_S
        assert matcher.pick(seen) == "game-a"

        # Hyprland restarts: a new instance signature, a new socket folder beside the old one.
        fake.close()
        deadline = time.monotonic() + 2
        while not watcher.reason and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "lost Hyprland's event socket" in watcher.reason and "reconnecting" in watcher.reason
        fake = FakeHyprland(short_tmp / "hypr" / "v0.45_1700000999",
                            {"class": "kitty", "initialClass": "kitty", "title": "restarted", "pid": 0})
        seen, _ = wait_for(watcher, lambda w: w.title == "restarted", time.monotonic(), timeout=3)
        assert seen.wm_class == "kitty" and watcher.reason == ""
        assert fake.listening.wait(2)
        fake.focus({"class": "Gamea", "initialClass": "gamea", "title": "Game A", "pid": 0})
        seen, _ = wait_for(watcher, lambda w: w.wm_class == "Gamea", time.monotonic())
        assert matcher.pick(seen) == "game-a"
    finally:
        watcher.stop()
        fake.close()
