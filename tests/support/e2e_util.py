"""Helpers for the end-to-end tests: the real ``handmap`` daemon as a child process in
a private home, real X client windows, and what the X server says is held.

Everything here starts real processes; nothing is mocked. Test modules load this file
as a plugin (``pytest_plugins = ["e2e_util"]``) so that the session35 replay, the one
MediaPipe run they share, is made once per test session. (They import it before pytest
loads it as a plugin, too late for assertion rewriting: PYTEST_DONT_REWRITE. Its own
checks raise AssertionError with their message.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli import json_lines

TESTS = Path(__file__).resolve().parent
XCLIENT = TESTS / "xclient_log.py"
HANDMAP = (sys.executable, "-m", "handmap.daemon.cli")
#: The model bundles are built once into the user's cache; tests keep that cache.
REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
PRESS_TYPES = {"mouse_down": "mouse_up", "key_down": "key_up"}


def wait_until(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.02):
    """Poll ``predicate`` until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def private_env(home: Path, desktop=None, **extra: str) -> dict[str, str]:
    """The environment of a user with an empty home (config, data, runtime dir), on the
    test desktop if given; the model cache is the real one so bundles are not rebuilt."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(desktop.env if desktop is not None else os.environ)
    if desktop is None:  # headless: nothing of the machine's own session leaks in
        for var in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
            env.pop(var, None)
    runtime = Path(desktop.runtime_dir) if desktop is not None else home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(REAL_CACHE), XDG_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def profiles_dir(env: dict) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "handmap" / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_profile(env: dict, name: str, text: str) -> Path:
    """Write a user profile atomically (as an editor that renames would)."""
    path = profiles_dir(env) / f"{name}.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def header_only_trace(path: Path) -> Path:
    """A valid trace with no frames: the cheapest source that starts the daemon."""
    from handmap.gestures.trace import encode_header

    path.write_text(encode_header(source="empty") + "\n")
    return path


#: Frames a second of an idle trace, and how long it lasts by default: long enough for
#: any test, which stops the daemon itself.
IDLE_FPS = 10
IDLE_SECONDS = 120


def idle_trace(path: Path, seconds: float = IDLE_SECONDS, fps: float = IDLE_FPS) -> Path:
    """A trace of frames with no hand in them: the cheapest long-running daemon."""
    from handmap.gestures.trace import encode_header

    lines = [encode_header(source="idle")]
    for i in range(int(seconds * fps)):
        lines.append(json.dumps({"t": i / fps, "frame": i, "width": 640, "height": 480, "hands": [],
                                 "faces": None, "body": None}))
    path.write_text("\n".join(lines) + "\n")
    return path


def photo_clip(path: Path, photos: Iterable[tuple[Path, float]], fps: float, size: tuple[int, int]) -> Path:
    """An mp4 at ``path`` showing each photo for its seconds, letterboxed into ``size``
    (faces keep their shape)."""
    import cv2
    import numpy as np

    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for photo, seconds in photos:
            image = cv2.imread(str(photo))
            assert image is not None, f"cannot read {photo}"
            scale = min(width / image.shape[1], height / image.shape[0])
            w, h = int(image.shape[1] * scale), int(image.shape[0] * scale)
            frame = np.zeros((height, width, 3), np.uint8)
            x, y = (width - w) // 2, (height - h) // 2
            frame[y:y + h, x:x + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            for _ in range(round(seconds * fps)):
                writer.write(frame)
    finally:
        writer.release()
    return path


class HandmapProcess:
    """``handmap run ...`` in the background; stdout and stderr go to files."""

    def __init__(self, args: Iterable[str], env: dict, workdir: Path, name: str = "handmap",
                 verbose: bool = False) -> None:
        self.env = env
        self.stdout_path = workdir / f"{name}.out.jsonl"
        self.stderr_path = workdir / f"{name}.err.txt"
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([*HANDMAP, *(["-v"] if verbose else []), "run", *args], env=env,
                                     stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)

    @property
    def socket(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "handmap.sock"

    def status(self) -> dict | None:
        """The daemon's status over its control socket, or None while it does not answer."""
        from handmap.daemon.control import ControlClient, ControlError, StatusRequest

        try:
            with ControlClient(self.socket, timeout=2.0) as client:
                reply = client.request(StatusRequest())
        except (ControlError, OSError):
            return None
        return reply.get("status") if reply.get("ok") else None

    def wait_ready(self, timeout: float = 60) -> dict:
        """Wait until the control socket answers with a running daemon."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"handmap exited with {self.proc.returncode} before it was ready:\n{self.stderr()}")
            status = self.status()
            return status if status and status.get("state") not in ("starting",) else None

        return wait_until(ready, timeout, "the daemon's control socket", every=0.05)

    def events(self) -> list[dict]:
        text = self.stdout_path.read_text()
        complete = text[: text.rfind("\n") + 1]  # a line being written is left out
        return json_lines(complete)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._close_files()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        """End the process if it still runs (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


class XClient:
    """A Tk window (tests/xclient_log.py) of a given WM_CLASS logging its input."""

    def __init__(self, desktop, klass: str, title: str | None = None, workdir: Path | None = None) -> None:
        self.desktop = desktop
        self.klass = klass
        self.log_path = (workdir or Path(desktop.runtime_dir)) / f"xclient-{klass}.jsonl"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(XCLIENT), klass, title or klass], env=desktop.env,
                                     stdout=self._log, stderr=subprocess.DEVNULL, stdin=subprocess.PIPE)
        wait_until(lambda: self._ready(), 20, f"the X client window {klass}", every=0.05)
        found = desktop.run("xdotool", "search", "--sync", "--classname", f"^{klass}$").split()
        assert len(found) == 1, f"windows of class {klass}: {found}"
        self.wid = int(found[0])

    def _ready(self) -> dict | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"X client {self.klass} exited with {self.proc.returncode}")
        return next((e for e in self.events() if e["type"] == "ready"), None)

    def events(self, kind: str | None = None) -> list[dict]:
        self._log.flush()
        text = self.log_path.read_text()
        events = json_lines(text[: text.rfind("\n") + 1])
        return [e for e in events if kind is None or e["type"] == kind]

    def activate(self, timeout: float = 5.0) -> float:
        """Ask the window manager to focus the window, as ``xdotool windowactivate`` and
        pagers do (an EWMH ``_NET_ACTIVE_WINDOW`` client message), and wait until it has;
        returns the monotonic time the request was sent."""
        from Xlib import X, display, protocol

        dpy = display.Display(self.desktop.display)
        try:
            root = dpy.screen().root
            atom = dpy.intern_atom("_NET_ACTIVE_WINDOW")
            event = protocol.event.ClientMessage(window=dpy.create_resource_object("window", self.wid),
                                                 client_type=atom, data=(32, [2, X.CurrentTime, 0, 0, 0]))
            t0 = time.monotonic()
            root.send_event(event, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
            dpy.flush()

            def active() -> bool:
                prop = root.get_full_property(atom, X.AnyPropertyType)
                return prop is not None and int(prop.value[0]) == self.wid

            wait_until(active, timeout, f"the window manager to activate {self.klass}", every=0.005)
            return t0
        finally:
            dpy.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self._log.close()


class XState:
    """What the X server itself says is held: pointer buttons and keys (python-xlib)."""

    def __init__(self, display: str) -> None:
        from Xlib import display as xdisplay

        self._display = xdisplay.Display(display)
        self._root = self._display.screen().root

    def buttons_down(self) -> set[int]:
        """Pointer buttons (1 left, 2 middle, 3 right) the server has down."""
        from Xlib import X

        mask = self._root.query_pointer().mask
        masks = {1: X.Button1Mask, 2: X.Button2Mask, 3: X.Button3Mask, 4: X.Button4Mask, 5: X.Button5Mask}
        return {button for button, bit in masks.items() if mask & bit}

    def keys_down(self) -> set[str]:
        """Key names (keysyms of the keycodes) the server has down."""
        from Xlib import XK

        keysym_names = {getattr(XK, n): n[3:] for n in dir(XK) if n.startswith("XK_")}
        keymap = self._display.query_keymap()
        names = set()
        for byte_index, byte in enumerate(keymap):
            for bit in range(8):
                if byte & (1 << bit):
                    keycode = byte_index * 8 + bit
                    keysym = self._display.keycode_to_keysym(keycode, 0)
                    names.add(keysym_names.get(keysym, f"keycode {keycode}"))
        return names

    def pointer(self) -> tuple[int, int]:
        reply = self._root.query_pointer()
        return reply.root_x, reply.root_y

    def close(self) -> None:
        self._display.close()


def unmatched_presses(events: list[dict]) -> list[dict]:
    """Downs (mouse_down/key_down) in a dry-run stream with no later matching up."""
    open_downs: dict[tuple, list[dict]] = {}
    for event in events:
        kind = event["type"]
        if kind in PRESS_TYPES:
            open_downs.setdefault((kind, event.get("button") or event.get("key")), []).append(event)
        elif kind in ("mouse_up", "key_up"):
            down = "mouse_down" if kind == "mouse_up" else "key_down"
            pending = open_downs.get((down, event.get("button") or event.get("key")))
            if pending:
                pending.pop()
    return [e for downs in open_downs.values() for e in downs]


def looped_trace(trace: Path, dest: Path, times: int) -> Path:
    """``trace`` played ``times`` times in a row, as one trace (times and frame numbers
    carry on), for tests that need a long-running daemon on real landmarks."""
    lines = trace.read_text().splitlines()
    header, frames = lines[0], [json.loads(line) for line in lines[1:] if line.strip()]
    period = frames[-1]["t"] + (frames[-1]["t"] - frames[-2]["t"])
    out = [header]
    for lap in range(times):
        for frame in frames:
            frame = dict(frame, t=round(frame["t"] + lap * period, 6), frame=frame["frame"] + lap * len(frames))
            out.append(json.dumps(frame, separators=(",", ":")))
    dest.write_text("\n".join(out) + "\n")
    return dest


@dataclass(frozen=True)
class Replay:
    """``handmap run`` over webcam_session35's video with the desktop profile, dry-run."""

    returncode: int
    events: list
    stderr: str
    trace: Path  # the landmark trace it recorded (--record), a source for later runs
    seconds: float


@pytest.fixture(scope="session")
def session35_replay(session35, tmp_path_factory) -> Replay:
    """The session35 video through the real daemon once (MediaPipe on every frame), with
    ``--record``: the JSON Lines stream for the replay test and a trace for the others."""
    work = tmp_path_factory.mktemp("session35")
    env = private_env(work / "home")
    trace = work / "session35.trace.jsonl"
    video = session35 / "subhih_session35_10fps_x5.mp4"
    started = time.monotonic()
    out = subprocess.run([*HANDMAP, "run", "--source", str(video), "--output", "dry-run", "--profile", "desktop",
                          "--no-tray", "--record", str(trace)], env=env, capture_output=True, text=True, timeout=600)
    return Replay(out.returncode, json_lines(out.stdout), out.stderr, trace, time.monotonic() - started)


def tray_icons(display: str) -> dict[int, str]:
    """Icons docked in the system tray: window id -> WM_NAME (the tooltip), for every
    window below a trayer panel that carries _XEMBED_INFO."""
    from Xlib import X, error
    from Xlib import display as xdisplay

    dpy = xdisplay.Display(display)
    try:
        root = dpy.screen().root
        xembed = dpy.intern_atom("_XEMBED_INFO")
        icons: dict[int, str] = {}

        def walk(window, in_tray: bool) -> None:
            try:
                klass = window.get_wm_class() or ()
                in_tray = in_tray or "trayer" in klass
                if in_tray and window.get_full_property(xembed, X.AnyPropertyType) is not None:
                    name = window.get_wm_name()
                    icons[window.id] = name.decode() if isinstance(name, bytes) else (name or "")
                children = window.query_tree().children
            except error.XError:  # a window went away meanwhile
                return
            for child in children:
                walk(child, in_tray)

        walk(root, False)
        return icons
    finally:
        dpy.close()


def tray_manager_ready(display: str) -> bool:
    """Whether a system-tray manager owns ``_NET_SYSTEM_TRAY_S0`` (trayer takes the
    selection a moment after its window appears)."""
    from Xlib import X
    from Xlib import display as xdisplay

    dpy = xdisplay.Display(display)
    try:
        return dpy.get_selection_owner(dpy.intern_atom("_NET_SYSTEM_TRAY_S0")) != X.NONE
    finally:
        dpy.close()
