"""Desktop stage, window watchers: the selector that picks the watcher for this session.

Backends (override with ``HANDMAP_WINDOW_BACKEND`` or the ``override`` argument): ``x11``
(EWMH ``_NET_ACTIVE_WINDOW`` through python-xlib, event driven), ``sway`` (sway's IPC
socket, ``SWAYSOCK``), ``hyprland`` (Hyprland's event socket), ``gnome`` (GNOME Shell, through handmap's
extension on the session bus), ``kde`` (KWin, through a script handmap loads over D-Bus), ``macos`` (AppKit
``NSWorkspace`` through pyobjc, when importable), ``windows`` (``GetForegroundWindow``
through ctypes) and ``none`` (no automatic switching; its ``reason`` says why, for
``handmap status`` and ``doctor``). Under Wayland with no supported compositor interface
the selector returns ``none``: X11 clients under XWayland would only show the XWayland
windows, so the X11 backend is not used there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from handmap.daemon.desktop.session import Desktop, SessionKind, desktop, detect, x_display
from handmap.daemon.desktop.windows.base import NoneWatcher, OnChange, WindowWatcher
from handmap.daemon.desktop.windows.dbus_watch import session_bus_address
from handmap.daemon.desktop.windows.gnome import GnomeWatcher
from handmap.daemon.desktop.windows.hyprland import HyprlandWatcher, hyprland_socket_dir
from handmap.daemon.desktop.windows.kwin import KWinWatcher
from handmap.daemon.desktop.windows.polling import PollingWatcher
from handmap.daemon.desktop.windows.sway import SwayWatcher
from handmap.daemon.desktop.windows.x11 import X11Watcher

log = logging.getLogger(__name__)

ENV_OVERRIDE = "HANDMAP_WINDOW_BACKEND"
BACKEND_NAMES = ("x11", "sway", "hyprland", "gnome", "kde", "macos", "windows", "none")
_NO_BACKEND = "none:"  # prefix of an automatic choice that found no backend; the reason follows


def select_window_watcher(env: Mapping[str, str] | None = None, override: str | None = None,
                          on_change: OnChange | None = None,
                          platform: str | None = None) -> WindowWatcher:
    """Pick the watcher for this session (not started yet).

    ``override`` (or ``env["HANDMAP_WINDOW_BACKEND"]``) names one of ``BACKEND_NAMES``;
    otherwise: macOS → ``macos``, Windows → ``windows``; a Wayland session
    (``WAYLAND_DISPLAY``) → ``sway`` or ``hyprland`` when their socket is found, ``gnome``
    or ``kde`` when the session names that desktop (``session.desktop``: ``XDG_CURRENT_DESKTOP``
    or ``DESKTOP_SESSION``), else ``none`` with a reason; ``DISPLAY`` → ``x11``; otherwise
    ``none``. A backend that cannot be used returns ``none`` whose ``reason`` says why (and logs a warning).
    Raises ValueError for an unknown override name.
    """
    env = dict(os.environ if env is None else env)
    platform = platform or sys.platform
    choice = (override or env.get(ENV_OVERRIDE) or "").strip().lower()
    if choice and choice not in BACKEND_NAMES:
        raise ValueError(f"unknown window backend {choice!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if not choice:
        choice = _auto_choice(env, platform)
        if choice.startswith(_NO_BACKEND):
            reason = choice[len(_NO_BACKEND):]
            log.warning("automatic profile switching is not available: %s", reason)
            return NoneWatcher(reason, on_change)
    if choice == "none":
        return NoneWatcher("automatic profile switching is turned off (window backend 'none')", on_change)
    try:
        return _build(choice, env, on_change)
    except (ImportError, AttributeError, OSError) as exc:
        reason = f"the {choice} window backend is not available here: {exc}"
        log.warning("automatic profile switching is not available: %s", reason)
        return NoneWatcher(reason, on_change)


def _auto_choice(env: Mapping[str, str], platform: str) -> str:
    session = detect(env, platform)
    if session.kind is SessionKind.MACOS:
        return "macos"
    if session.kind is SessionKind.WINDOWS:
        return "windows"
    if session.kind is SessionKind.WAYLAND:
        if env.get("SWAYSOCK") and Path(env["SWAYSOCK"]).exists():
            return "sway"
        if hyprland_socket_dir(env) is not None:
            return "hyprland"
        named = desktop(env, platform)  # as doctor names it
        if named is Desktop.GNOME:
            return "gnome"
        if named is Desktop.KDE:
            return "kde"
        return (_NO_BACKEND + "this is a Wayland session and no supported compositor interface was found "
                "(sway's SWAYSOCK, Hyprland's event socket, GNOME or KDE Plasma; other wlroots compositors "
                "are not supported yet); Wayland does not let other programs see the focused window, so "
                "switch profiles by hand: handmap profile NAME")
    if session.x_display:
        return "x11"
    return _NO_BACKEND + "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def _build(choice: str, env: Mapping[str, str], on_change: OnChange | None) -> WindowWatcher:
    if choice == "x11":
        display = x_display(env)
        if not display:
            raise OSError("DISPLAY is not set")
        import Xlib.display  # noqa: F401  (ImportError when python-xlib is missing)
        return X11Watcher(display, on_change)
    if choice == "sway":
        path = env.get("SWAYSOCK", "")
        if not path or not Path(path).exists():
            raise OSError("SWAYSOCK does not name sway's IPC socket")
        return SwayWatcher(path, on_change)
    if choice == "hyprland":
        folder = hyprland_socket_dir(env)
        if folder is None:
            raise OSError("Hyprland's event socket was not found (HYPRLAND_INSTANCE_SIGNATURE)")
        return HyprlandWatcher(folder, on_change)
    if choice in ("gnome", "kde"):
        address = session_bus_address(env)
        if address is None:
            raise OSError("no session D-Bus (DBUS_SESSION_BUS_ADDRESS is unset)")
        return GnomeWatcher(address, on_change) if choice == "gnome" else KWinWatcher(address, on_change)
    if choice == "macos":
        from handmap.daemon.desktop.windows import macos

        return PollingWatcher("macos", macos.reader(), on_change)
    if choice == "windows":
        from handmap.daemon.desktop.windows import win32

        return PollingWatcher("windows", win32.reader(), on_change)
    raise ValueError(choice)
