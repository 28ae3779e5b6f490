"""Real Wayland compositors for tests: a headless sway with real clients (foot).

sway refuses to run as root, so under root (CI) it runs as ``nobody`` in a private
runtime folder handed to that user; the test process (root) still reaches its IPC socket.
Needs the Debian packages ``sway`` and ``foot`` (``scripts/setup.sh --tests`` installs
them as root); tests skip with what is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: Issue 21: the profile follows within 100 ms of the focus change. Judged on the median
#: of several switches after a first, untimed round (a compositor's first activation of a
#: window also draws it for the first time: about 0.6 s for GNOME Shell in software
#: rendering here), with every switch within ``SWITCH_CEILING_S``: on a loaded 2-core
#: machine GNOME Shell, drawing in software, now and then takes a second before it says
#: focus moved. handmap's own share, from hearing of the change to the switch, is held to
#: the budget on every switch.
SWITCH_BUDGET_S = 0.1
SWITCH_CEILING_S = 2.0
SWAY_PROGRAMS = ("sway", "foot")
#: The user a compositor runs as when the tests run as root.
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 15.0

_I3_HEADER = struct.Struct("=6sII")
_RUN_COMMAND = 0
_GET_TREE = 4

_SWAY_CONFIG = """output HEADLESS-1 resolution 1024x768
focus_follows_mouse no
"""


def switch_after(switcher, current: str, t0: float, timeout: float = 5.0) -> tuple[str, float]:
    """Poll an ``AutoSwitcher`` like the daemon loop until it names a profile; that name and
    the time from ``t0`` (the focus command sent) to the switch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = switcher.poll(current)
        if name is not None:
            return name, time.monotonic() - t0
        time.sleep(0.002)
    raise AssertionError(f"no profile switch within {timeout} s (still {current})")


def assert_follows_within_budget(latencies: list[float], own: list[float]) -> None:
    """``latencies``: focus command to switch; ``own``: the watcher hearing of it to the switch."""
    ordered = sorted(latencies)
    median = ordered[len(ordered) // 2]
    shown = ", ".join(f"{x * 1000:.0f}" for x in latencies)
    assert median < SWITCH_BUDGET_S and ordered[-1] < SWITCH_CEILING_S, f"switch latencies (ms): {shown}"
    assert max(own) < SWITCH_BUDGET_S, f"handmap's share of the switches (ms): {[round(x * 1000) for x in own]}"


def window_matcher():
    """The profiles every compositor test switches between: two by window class, one by title."""
    from handmap.daemon.desktop.switching import ProfileMatcher

    return ProfileMatcher([("editor", {"class": "handmap-editor"}),
                           ("game", {"class": "handmap-game"}),
                           ("boss", {"title": "(?i)boss"})], default="desktop")


def assert_profile_follows_focus(focus, switcher, watcher, profile: str, first: str = "handmap-editor") -> str:
    """Move the focus between the editor and the game four times (``focus(window_class)``
    sends the command and returns when it was sent, as ``time.monotonic()``), starting with
    ``first``; each switch must name the window's profile, within the budget (the first
    round untimed). Returns the profile in force at the end."""
    second = "handmap-game" if first == "handmap-editor" else "handmap-editor"
    wanted_for = {"handmap-editor": "editor", "handmap-game": "game"}
    latencies, own = [], []
    for wm_class in (first, second) * 4:
        t0 = focus(wm_class)
        profile, latency = switch_after(switcher, profile, t0)
        assert profile == wanted_for[wm_class]
        latencies.append(latency)
        own.append(t0 + latency - watcher.last_change_at)
    assert_follows_within_budget(latencies[2:], own[2:])
    return profile


def assert_title_change_is_followed(session, switcher, watcher, profile: str) -> str:
    """The focused game's title changes to "Boss level": the title rule's profile follows
    (a title rule wins over the class). Returns that profile."""
    t0 = session.retitle_now("handmap-game")
    profile, latency = switch_after(switcher, profile, t0)
    assert profile == "boss" and watcher.current().title == "Boss level"
    assert latency < SWITCH_CEILING_S, latency
    return profile


def missing_sway() -> list[str]:
    return [p for p in SWAY_PROGRAMS if shutil.which(p) is None]


def wait_until(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}\n{tail}")
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not happen within {timeout} s")


def _kill(proc: subprocess.Popen) -> None:
    """End a process started here and its process group (it was started in its own)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def ipc(path: str, kind: int, payload: str = "") -> object:
    """One request on sway's IPC socket (i3-ipc framing); returns the decoded reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        body = payload.encode()
        sock.sendall(_I3_HEADER.pack(b"i3-ipc", len(body), kind) + body)
        header = b""
        while len(header) < _I3_HEADER.size:
            header += sock.recv(_I3_HEADER.size - len(header))
        _, length, _ = _I3_HEADER.unpack(header)
        data = b""
        while len(data) < length:
            data += sock.recv(length - len(data))
    return json.loads(data)


def _views(node: dict) -> list[dict]:
    found = [node] if node.get("type") in ("con", "floating_con") and node.get("pid") else []
    for child in list(node.get("nodes") or ()) + list(node.get("floating_nodes") or ()):
        found += _views(child)
    return found


@dataclass
class Sway:
    """A running headless sway; ``socket`` is its IPC socket (SWAYSOCK), ``env`` what a
    Wayland client needs to reach it."""

    runtime_dir: Path
    user: str | None
    proc: subprocess.Popen | None = None
    socket: str = ""
    wayland_display: str = ""
    clients: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.runtime_dir), "XDG_RUNTIME_DIR": str(self.runtime_dir),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WAYLAND_DISPLAY": self.wayland_display,
                "SWAYSOCK": self.socket, "LANG": "C.UTF-8"}

    def _popen(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.runtime_dir, user=self.user,
                                    group=pwd.getpwnam(self.user).pw_gid if self.user else None,
                                    extra_groups=[] if self.user else None, start_new_session=True)

    def start(self) -> None:
        """Start sway (again, after ``kill``) and wait for its IPC socket; a new sway names a new socket."""
        before = set(self.runtime_dir.glob("sway-ipc.*.sock"))
        env = {"HOME": str(self.runtime_dir), "XDG_RUNTIME_DIR": str(self.runtime_dir),
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WLR_BACKENDS": "headless",
               "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman", "LANG": "C.UTF-8"}
        log = self.runtime_dir / "sway.log"
        self.proc = self._popen(["sway", "-c", str(self.runtime_dir / "sway.config")], env, log)
        path = wait_until(lambda: next(iter(set(self.runtime_dir.glob("sway-ipc.*.sock")) - before), None),
                          START_TIMEOUT_S, "sway's IPC socket", self.proc, log)
        self.socket = str(path)
        wait_until(lambda: self._answers(), START_TIMEOUT_S, "sway's IPC answering", self.proc, log)
        displays = sorted(p.name for p in self.runtime_dir.glob("wayland-*") if not p.name.endswith(".lock"))
        self.wayland_display = displays[-1]

    def _answers(self) -> bool:
        try:
            return isinstance(ipc(self.socket, _GET_TREE), dict)
        except OSError:
            return False

    def kill(self) -> None:
        """End sway (its clients go with it)."""
        if self.proc is not None:
            _kill(self.proc)
        for client in self.clients:
            _kill(client)
        self.clients.clear()

    def tree(self) -> dict:
        tree = ipc(self.socket, _GET_TREE)
        assert isinstance(tree, dict)
        return tree

    def views(self) -> list[dict]:
        return _views(self.tree())

    def command(self, text: str) -> float:
        """Run a sway command over IPC (as ``swaymsg`` does); returns the time it was sent."""
        t0 = time.monotonic()
        replies = ipc(self.socket, _RUN_COMMAND, text)
        assert isinstance(replies, list) and all(r.get("success") for r in replies), replies
        return t0

    def open_client(self, app_id: str, title: str, retitle: str = "") -> dict:
        """Open a real Wayland client (foot) with this app id and title; returns its view once
        sway maps it. With ``retitle``, the terminal sets that title itself (an OSC 2 escape,
        as shells and editors do) once ``retitle_now(app_id)`` is called."""
        log = self.runtime_dir / f"client-{app_id}.log"
        script = "sleep 3600"
        if retitle:
            script = (f"while [ ! -e retitle-{app_id} ]; do sleep 0.005; done; "
                      f"printf '\\033]2;%s\\007' '{retitle}'; sleep 3600")
        proc = self._popen(["foot", "--app-id", app_id, "--title", title, "sh", "-c", script], self.env, log)
        self.clients.append(proc)
        return wait_until(lambda: next((v for v in self.views() if v.get("app_id") == app_id), None),
                          START_TIMEOUT_S, f"sway mapping {app_id}", proc, log)

    def retitle_now(self, app_id: str) -> float:
        """Let the client opened with ``retitle`` change its title; returns the time."""
        t0 = time.monotonic()
        (self.runtime_dir / f"retitle-{app_id}").touch()
        return t0

    def close_client(self, app_id: str) -> None:
        self.command(f'[app_id="{app_id}"] kill')
        wait_until(lambda: all(v.get("app_id") != app_id for v in self.views()), START_TIMEOUT_S, f"{app_id} closing")

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_sway() -> Sway:
    """Start a headless sway (as ``nobody`` when root) in a fresh runtime folder."""
    runtime = Path(tempfile.mkdtemp(prefix="handmap-sway-"))
    user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
    (runtime / "sway.config").write_text(_SWAY_CONFIG)
    if user is not None:
        shutil.chown(runtime, user=user)
        shutil.chown(runtime / "sway.config", user=user)
    runtime.chmod(0o700)
    sway = Sway(runtime, user)
    try:
        sway.start()
    except BaseException:
        sway.stop()
        raise
    return sway


# --------------------------------------------------------------------------- GNOME and KDE

GNOME_PROGRAMS = ("gnome-shell", "dbus-daemon", "gsettings")
KWIN_PROGRAMS = ("kwin_wayland", "dbus-daemon")
#: A tiny real Wayland client (GTK 3 through PyGObject, run by the system Python): its
#: app id and title from the command line; it sets ``retitle`` as its title once the
#: file ``trigger`` exists. foot does not run under KWin's virtual backend (it dies of a
#: floating-point exception on the virtual output), GTK does.
GTK_CLIENT = r"""
import os, sys
import gi
gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk
app_id, title, retitle, trigger = sys.argv[1:5]
GLib.set_prgname(app_id)
win = Gtk.Window(title=title)
win.set_default_size(320, 200)
win.connect("destroy", Gtk.main_quit)
win.show_all()
def check():
    if retitle and os.path.exists(trigger):
        win.set_title(retitle)
        return False
    return True
GLib.timeout_add(5, check)
Gtk.main()
"""
SYSTEM_PYTHON = "/usr/bin/python3"
#: GNOME Shell as the tests run it: headless Wayland; ``--unsafe-mode`` opens its ``Eval``.
SHELL = ["gnome-shell", "--headless", "--wayland", "--no-x11", "--virtual-monitor", "1024x768", "--unsafe-mode"]
GNOME_DISPLAY = "wayland-0"
#: A folder named in this environment variable keeps each desktop session's logs.
KEEP_LOGS = "HANDMAP_TEST_KEEP_LOGS"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _has_python_module(*modules: str) -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    code = "import " + ", ".join(modules)
    return subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, timeout=30).returncode == 0


def missing_gnome() -> list[str]:
    missing = [p for p in GNOME_PROGRAMS if shutil.which(p) is None]
    if not _has_python_module("dbusmock", "gi"):
        missing.append("python3-dbusmock and python3-gi")
    return missing


def missing_kwin() -> list[str]:
    missing = [p for p in KWIN_PROGRAMS if shutil.which(p) is None]
    if not _has_python_module("gi"):
        missing.append("python3-gi")
    return missing


@dataclass
class DesktopSession:
    """A headless desktop compositor with its own session bus (and, for GNOME, a system bus
    with a stand-in logind from python-dbusmock), run as ``nobody`` under root."""

    runtime_dir: Path
    user: str | None
    procs: list[subprocess.Popen] = field(default_factory=list)
    compositor: subprocess.Popen | None = None
    clients: list[subprocess.Popen] = field(default_factory=list)
    session_bus: str = ""
    system_bus: str = ""
    wayland_display: str = ""

    @property
    def home(self) -> Path:
        return self.runtime_dir / "home"

    @property
    def env(self) -> dict[str, str]:
        """The user's session environment (what handmap sees in it)."""
        env = {"HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.runtime_dir), "LANG": "C.UTF-8",
               # Named, so that a runner's own XDG folders cannot send the extension elsewhere.
               "XDG_DATA_HOME": str(self.home / ".local/share"), "XDG_CONFIG_HOME": str(self.home / ".config"),
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DBUS_SESSION_BUS_ADDRESS": self.session_bus,
               "GSETTINGS_BACKEND": "keyfile", "XDG_SESSION_TYPE": "wayland"}
        if self.system_bus:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.system_bus
        if self.wayland_display:
            env["WAYLAND_DISPLAY"] = self.wayland_display
        if os.environ.get("G_MESSAGES_DEBUG"):  # e.g. "Ubuntu-AppIndicators": the extension's debug log
            env["G_MESSAGES_DEBUG"] = os.environ["G_MESSAGES_DEBUG"]
        return env

    def popen(self, args: list[str], log: str, env: dict[str, str] | None = None,
              as_user: bool = True) -> subprocess.Popen:
        user = self.user if as_user else None
        with open(self.runtime_dir / log, "ab") as out:
            return subprocess.Popen(args, env=env or self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.runtime_dir, user=user,
                                    group=pwd.getpwnam(user).pw_gid if user else None,
                                    extra_groups=[] if user else None, start_new_session=True)

    def start_bus(self, name: str, as_user: bool) -> str:
        socket_path = self.runtime_dir / f"{name}_bus"
        config = self.runtime_dir / f"{name}_bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket_path))
        proc = self.popen(["dbus-daemon", f"--config-file={config}", "--nofork"], f"{name}_bus.log",
                          as_user=as_user)
        self.procs.append(proc)
        wait_until(socket_path.exists, START_TIMEOUT_S, f"the {name} D-Bus", proc)
        return f"unix:path={socket_path}"

    def start_logind(self) -> None:
        """A system bus (run by root, as the real one) with python-dbusmock's logind on it."""
        self.system_bus = self.start_bus("system", as_user=False)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DBUS_SYSTEM_BUS_ADDRESS": self.system_bus}
        proc = self.popen([SYSTEM_PYTHON, "-m", "dbusmock", "--system", "-t", "logind"], "logind.log",
                          env=env, as_user=False)
        self.procs.append(proc)
        wait_until(lambda: self._bus_has(self.system_bus, "org.freedesktop.login1"), START_TIMEOUT_S,
                   "the stand-in logind", proc, self.runtime_dir / "logind.log")

    def _bus_has(self, address: str, name: str) -> bool:
        out = subprocess.run(["dbus-send", f"--bus={address}", "--print-reply", "--dest=org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
                             capture_output=True, text=True, timeout=10)
        return "boolean true" in out.stdout

    def has_name(self, name: str) -> bool:
        return self._bus_has(self.session_bus, name)

    def start_compositor(self, args: list[str], display: str, ready_name: str) -> None:
        """Start the compositor (again, after ``kill_compositor``); wait for its Wayland socket
        and for ``ready_name`` on the session bus."""
        (self.runtime_dir / f"{display}.lock").unlink(missing_ok=True)
        (self.runtime_dir / display).unlink(missing_ok=True)
        log = f"{Path(args[0]).name}.log"
        self.compositor = self.popen(args, log)
        wait_until(lambda: (self.runtime_dir / display).exists() and self.has_name(ready_name), START_TIMEOUT_S * 4,
                   f"{args[0]} starting", self.compositor, self.runtime_dir / log)
        self.wayland_display = display

    def kill_compositor(self) -> None:
        for client in self.clients:
            _kill(client)
        self.clients.clear()
        if self.compositor is not None:
            _kill(self.compositor)
            self.compositor = None

    def open_client(self, app_id: str, title: str, retitle: str = "") -> subprocess.Popen:
        """Open a real Wayland client (a GTK window) with this app id and title."""
        script = self.runtime_dir / "client.py"
        if not script.exists():
            script.write_text(GTK_CLIENT)
            script.chmod(0o644)
        env = dict(self.env, GDK_BACKEND="wayland")
        proc = self.popen([SYSTEM_PYTHON, str(script), app_id, title, retitle,
                           str(self.runtime_dir / f"retitle-{app_id}")], f"client-{app_id}.log", env=env)
        self.clients.append(proc)
        return proc

    def retitle_now(self, app_id: str) -> float:
        t0 = time.monotonic()
        (self.runtime_dir / f"retitle-{app_id}").touch()
        return t0

    def stop(self) -> None:
        self.kill_compositor()
        for proc in reversed(self.procs):
            _kill(proc)
        self.procs.clear()
        keep = os.environ.get(KEEP_LOGS)
        if keep:  # the compositor's and the buses' output, kept for a closer look
            folder = Path(keep) / self.runtime_dir.name
            folder.mkdir(parents=True, exist_ok=True)
            for log in self.runtime_dir.glob("*.log"):
                shutil.copy(log, folder / log.name)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def new_desktop_session() -> DesktopSession:
    """A fresh runtime folder and home for a compositor run as ``nobody`` under root, with its session bus."""
    runtime = Path(tempfile.mkdtemp(prefix="handmap-wl-"))
    user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
    session = DesktopSession(runtime, user)
    session.home.mkdir()
    if user is not None:
        shutil.chown(runtime, user=user)
        shutil.chown(session.home, user=user)
    runtime.chmod(0o700)
    try:
        session.session_bus = session.start_bus("session", as_user=True)
        if os.environ.get(KEEP_LOGS) and shutil.which("dbus-monitor"):  # the session bus's traffic too
            session.procs.append(session.popen(["dbus-monitor", "--address", session.session_bus],
                                               "session_bus_traffic.log"))
    except BaseException:
        session.stop()
        raise
    return session


def chown_tree(folder: Path, user: str | None) -> None:
    """Give ``folder`` and what is in it to ``user`` (files handmap wrote as root for the session's user)."""
    if user is None:
        return
    for path in [folder, *folder.rglob("*")]:
        shutil.chown(path, user=user)


class ShellEvalError(RuntimeError):
    """GNOME Shell answered ``Eval`` with a D-Bus error."""


def shell_eval(address: str, code: str) -> tuple[str, float]:
    """Run JavaScript in GNOME Shell (``org.gnome.Shell.Eval``); its result and the time it was sent."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    async def run() -> tuple[str, float]:
        bus = await MessageBus(bus_address=address).connect()
        try:
            t0 = time.monotonic()
            reply = await bus.call(Message(destination="org.gnome.Shell", path="/org/gnome/Shell",
                                           interface="org.gnome.Shell", member="Eval", signature="s", body=[code]))
        finally:
            bus.disconnect()
        if reply.message_type == MessageType.ERROR:
            raise ShellEvalError(f"Eval answered {reply.error_name}: {reply.body}")
        assert reply.body and reply.body[0], f"Eval failed: {reply.body}"
        return reply.body[1], t0

    return asyncio.run(run())


def start_gnome_shell(session: DesktopSession, ready_name: str = "org.gnome.Shell") -> None:
    """Start GNOME Shell (waiting for ``ready_name`` on the bus) and close the overview it
    starts in, where no window has focus; a hide() during the start-up animation is
    ignored, so it asks until the overview is gone."""
    session.start_compositor(SHELL, GNOME_DISPLAY, ready_name)
    deadline = time.monotonic() + 20
    last_error = ""
    while time.monotonic() < deadline:
        try:
            state, _ = shell_eval(session.session_bus, "Main.layoutManager._startingUp || Main.overview.animationInProgress"
                                                       " ? 'busy' : (Main.overview.hide(), Main.overview.visible)")
        except ShellEvalError as exc:  # the bus name can come before Eval answers, on a busy machine
            state, last_error = "busy", str(exc)
        if state.strip('"') == "false":
            return
        time.sleep(0.1)
    raise AssertionError(f"GNOME Shell's overview did not close {last_error}".strip())


def gnome_session(what: str, missing: list[str]):
    """A desktop session with logind's stand-in running, for GNOME Shell to start in (a
    generator for a pytest fixture); skips naming ``missing`` (plus GNOME's own packages)
    when something ``what`` needs is not installed."""
    import pytest

    missing = missing_gnome() + missing
    if missing:
        pytest.skip(f"{what} need{'s' if what.endswith('test') else ''} " + ", ".join(missing)
                    + " (run scripts/setup.sh --tests as root)")
    desktop = new_desktop_session()
    try:
        desktop.start_logind()
        yield desktop
    finally:
        desktop.stop()
