"""A real X11 desktop for tests: Xvfb, a window manager, a private session D-Bus,
dunst and (on request) a tray, started as child processes and stopped in reverse.

Needs the Debian packages that ``scripts/setup.sh`` installs when run as root:
xvfb xdotool x11-utils matchbox-window-manager dbus-daemon dunst libnotify-bin trayer.
Tests that use it skip with the list of what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The test desktop's runtime directory (XDG_RUNTIME_DIR), removed when it stops.
RUNTIME_PREFIX = "handmap-desktop-"

REQUIRED_PROGRAMS = ("Xvfb", "xdotool", "xprop", "matchbox-window-manager", "dbus-daemon", "dunst", "dunstctl")

_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class _Exited(Exception):
    """A child process of the test desktop exited during start-up."""


def missing_programs(extra: tuple[str, ...] = ()) -> list[str]:
    return [p for p in REQUIRED_PROGRAMS + extra if shutil.which(p) is None]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"test desktop: {what} did not come up within {timeout} s")


@dataclass
class Desktop:
    """A running test desktop; ``env`` is what code under test needs to reach it."""

    display: str
    dbus_address: str
    runtime_dir: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 10) -> str:
        """Run an X client (xdotool, xprop...) against this desktop; return stdout."""
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def pointer(self) -> tuple[int, int]:
        """The real X pointer position, read with ``xdotool getmouselocation``."""
        fields = dict(kv.split(":") for kv in self.run("xdotool", "getmouselocation").split())
        return int(fields["x"]), int(fields["y"])

    def start_tray(self) -> None:
        # Not typed as a dock window: with that type, matchbox now and then left trayer's
        # panel unmapped once an icon docked (the icon docked but never viewable; about
        # one tray test file run in four failed so, none in 24 runs without it).
        proc = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200",
             "--SetDockType", "false"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        # trayer's window appears before it owns the tray selection: wait for the owner.
        _wait(lambda: _tray_owned(self), 5, "trayer")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        if self.runtime_dir.name.startswith(RUNTIME_PREFIX):  # ours (tempfile.mkdtemp below)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def _tray_owned(desktop: Desktop) -> bool:
    """Whether a tray manager owns the system tray selection on screen 0."""
    from Xlib import X, display

    conn = display.Display(desktop.display)
    try:
        return conn.get_selection_owner(conn.intern_atom("_NET_SYSTEM_TRAY_S0")) != X.NONE
    finally:
        conn.close()


def start_desktop(width: int = 1920, height: int = 1080, notifications: bool = True) -> Desktop:
    procs: list[subprocess.Popen] = []
    runtime_dir = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX))
    os.chmod(runtime_dir, 0o700)
    try:
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(xvfb)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("test desktop: Xvfb did not report a display number")
        display = f":{number}"
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY",)}
        env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime_dir), XDG_SESSION_TYPE="x11")

        def wm_ready() -> bool:
            if wm.poll() is not None:
                raise _Exited()
            out = subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True)
            return "window id" in out.stdout

        # Under load matchbox now and then exits at once ("can't open display") while
        # the display is fine: start it again rather than fail the test.
        for attempt in range(4):
            wm = subprocess.Popen(["matchbox-window-manager", "-use_titlebar", "no"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(wm)
            try:
                _wait(wm_ready, 30, "the window manager")
                break
            except _Exited:
                time.sleep(0.2 * (attempt + 1))
        else:
            raise RuntimeError("test desktop: the window manager kept exiting at start-up")

        dbus_address = ""
        if notifications:
            config = runtime_dir / "session.conf"
            config.write_text(_DBUS_CONFIG.format(socket=runtime_dir / "bus"))
            bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            procs.append(bus)
            dbus_address = bus.stdout.readline().strip()
            env["DBUS_SESSION_BUS_ADDRESS"] = dbus_address
            dunst = subprocess.Popen(["dunst"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(dunst)

            def dunst_ready() -> bool:
                out = subprocess.run(
                    ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                     "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Notifications"],
                    env=env, capture_output=True, text=True)
                return "boolean true" in out.stdout

            _wait(dunst_ready, 30, "dunst")
        return Desktop(display=display, dbus_address=dbus_address, runtime_dir=runtime_dir, env=env, procs=procs)
    except Exception:
        Desktop("", "", runtime_dir, {}, procs).stop()
        raise
