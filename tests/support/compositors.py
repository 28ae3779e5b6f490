"""Real Wayland compositors for tests: a headless sway with real clients (foot).

sway refuses to run as root, so under root (CI) it runs as ``nobody`` in a private
runtime folder handed to that user; the test process (root) still reaches its IPC socket.
Needs the Debian packages ``sway`` and ``foot`` (``scripts/setup.sh --tests`` installs
them as root); tests skip with what is missing.
"""

from __future__ import annotations

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


def missing_sway() -> list[str]:
    return [p for p in SWAY_PROGRAMS if shutil.which(p) is None]


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
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
        path = _wait(lambda: next(iter(set(self.runtime_dir.glob("sway-ipc.*.sock")) - before), None),
                     START_TIMEOUT_S, "sway's IPC socket", self.proc, log)
        self.socket = str(path)
        _wait(lambda: self._answers(), START_TIMEOUT_S, "sway's IPC answering", self.proc, log)
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
        return _wait(lambda: next((v for v in self.views() if v.get("app_id") == app_id), None),
                     START_TIMEOUT_S, f"sway mapping {app_id}", proc, log)

    def retitle_now(self, app_id: str) -> float:
        """Let the client opened with ``retitle`` change its title; returns the time."""
        t0 = time.monotonic()
        (self.runtime_dir / f"retitle-{app_id}").touch()
        return t0

    def close_client(self, app_id: str) -> None:
        self.command(f'[app_id="{app_id}"] kill')
        _wait(lambda: all(v.get("app_id") != app_id for v in self.views()), START_TIMEOUT_S, f"{app_id} closing")

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
