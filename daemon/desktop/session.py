"""Desktop stage: what kind of session this is, the one place that reads the display variables.

Every part that depends on the desktop (the output selector, the window watcher, the
tray, the pause hotkey, ``doctor``, the service installer, the wait for the display) asks
:func:`detect` (or the helpers below) instead of reading ``DISPLAY``, ``WAYLAND_DISPLAY``
or ``XDG_SESSION_TYPE`` itself. Functions take the environment as a mapping, so tests
pass their own.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

#: The X display (also Xwayland's, under Wayland).
X_DISPLAY_VAR = "DISPLAY"
#: The Wayland compositor's socket name.
WAYLAND_DISPLAY_VAR = "WAYLAND_DISPLAY"
#: What logind says the session is (``x11``, ``wayland``, ``tty``...).
SESSION_TYPE_VAR = "XDG_SESSION_TYPE"
#: The desktop's names, colon-separated (``GNOME``, ``ubuntu:GNOME``, ``KDE``, ``sway``...).
CURRENT_DESKTOP_VAR = "XDG_CURRENT_DESKTOP"

#: The display manager's session name (``gnome``, ``plasmawayland``, ``sway``...), a fallback.
DESKTOP_SESSION_VAR = "DESKTOP_SESSION"
#: Set by sway (its IPC socket) and Hyprland (its instance) for their clients.
SWAY_SOCKET_VAR = "SWAYSOCK"
HYPRLAND_VAR = "HYPRLAND_INSTANCE_SIGNATURE"

MACOS_PLATFORM = "darwin"
WINDOWS_PLATFORM = "win32"


class SessionKind(str, Enum):
    X11 = "x11"
    WAYLAND = "wayland"
    MACOS = "macos"
    WINDOWS = "windows"
    NONE = "none"  # Linux without a graphical session (console, ssh, service before login)


@dataclass(frozen=True)
class Session:
    """The desktop session ``env`` belongs to; display names are "" when unset."""

    kind: SessionKind
    x_display: str = ""
    wayland_display: str = ""

    @property
    def has_display(self) -> bool:
        """A display to talk to (X or Wayland) is named."""
        return bool(self.x_display or self.wayland_display)

    @property
    def display_name(self) -> str:
        """The display the session is on: Wayland's socket name, else the X display ("" when none)."""
        return self.wayland_display or self.x_display


def session_kind(env: Mapping[str, str], platform: str = sys.platform) -> SessionKind:
    """The kind of desktop session ``env`` belongs to."""
    if platform == MACOS_PLATFORM:
        return SessionKind.MACOS
    if platform == WINDOWS_PLATFORM:
        return SessionKind.WINDOWS
    session_type = env.get(SESSION_TYPE_VAR, "").lower()
    if env.get(WAYLAND_DISPLAY_VAR) or session_type == "wayland":
        return SessionKind.WAYLAND
    if env.get(X_DISPLAY_VAR) or session_type == "x11":
        return SessionKind.X11
    return SessionKind.NONE


def detect(env: Mapping[str, str], platform: str = sys.platform) -> Session:
    """The session ``env`` belongs to, with its display names."""
    return Session(session_kind(env, platform), x_display(env), wayland_display(env))


def current_desktops(env: Mapping[str, str]) -> tuple[str, ...]:
    """The desktop's names from ``XDG_CURRENT_DESKTOP``, lower-cased (``("ubuntu", "gnome")``)."""
    return tuple(name.strip().lower() for name in env.get(CURRENT_DESKTOP_VAR, "").split(":") if name.strip())


class Desktop(str, Enum):
    """The desktop environment or compositor, as ``handmap doctor`` names it."""

    GNOME = "GNOME"
    KDE = "KDE Plasma"
    SWAY = "sway"
    HYPRLAND = "Hyprland"
    MACOS = "macOS"
    WINDOWS = "Windows"
    OTHER = "other"
    NONE = "none"


#: Names in ``XDG_CURRENT_DESKTOP`` or ``DESKTOP_SESSION`` (lower-cased) that say which desktop it is.
DESKTOP_NAMES: Mapping[str, Desktop] = {
    "gnome": Desktop.GNOME, "gnome-classic": Desktop.GNOME, "gnome-xorg": Desktop.GNOME, "ubuntu": Desktop.GNOME,
    "ubuntu-wayland": Desktop.GNOME, "kde": Desktop.KDE, "plasma": Desktop.KDE, "plasmawayland": Desktop.KDE,
    "plasmax11": Desktop.KDE, "sway": Desktop.SWAY, "hyprland": Desktop.HYPRLAND,
}


def desktop(env: Mapping[str, str], platform: str = sys.platform) -> Desktop:
    """Which desktop ``env`` belongs to: sway's or Hyprland's own variables first (they
    are certain), then ``XDG_CURRENT_DESKTOP``, then ``DESKTOP_SESSION``."""
    kind = session_kind(env, platform)
    if kind is SessionKind.MACOS:
        return Desktop.MACOS
    if kind is SessionKind.WINDOWS:
        return Desktop.WINDOWS
    if kind is SessionKind.NONE:
        return Desktop.NONE
    if env.get(SWAY_SOCKET_VAR):
        return Desktop.SWAY
    if env.get(HYPRLAND_VAR):
        return Desktop.HYPRLAND
    session_name = env.get(DESKTOP_SESSION_VAR, "").strip().lower().rsplit("/", 1)[-1]
    for name in current_desktops(env) + (session_name,):
        if name in DESKTOP_NAMES:
            return DESKTOP_NAMES[name]
    return Desktop.OTHER


def desktop_label(env: Mapping[str, str]) -> str:
    """What the environment calls the desktop (``ubuntu:GNOME``), "" when it says nothing."""
    return env.get(CURRENT_DESKTOP_VAR) or env.get(DESKTOP_SESSION_VAR) or ""


def x_display(env: Mapping[str, str]) -> str:
    """The X display name (``DISPLAY``; Xwayland's under Wayland), "" when unset."""
    return env.get(X_DISPLAY_VAR) or ""


def wayland_display(env: Mapping[str, str]) -> str:
    """The Wayland socket name (``WAYLAND_DISPLAY``), "" when unset."""
    return env.get(WAYLAND_DISPLAY_VAR) or ""


def has_display(env: Mapping[str, str]) -> bool:
    """An X or Wayland display is named in ``env``."""
    return bool(x_display(env) or wayland_display(env))


def needs_x_display(platform: str = sys.platform) -> bool:
    """Whether pynput and pystray need an X display here (Linux and the BSDs: no Quartz, no Win32)."""
    return platform.startswith("linux") or "bsd" in platform


def window_display_problem(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why a window (the preview: OpenCV's HighGUI, which draws through X, Xwayland under
    Wayland) cannot be opened here, in one sentence; None when it can. The X display is
    connected to, because HighGUI aborts the whole process on one it cannot reach."""
    if not needs_x_display(platform):
        return None
    display = x_display(env)
    if not display:
        wayland = wayland_display(env)
        if wayland:
            return (f"no X display (DISPLAY is not set; WAYLAND_DISPLAY={wayland} is, but the preview window "
                    "draws through X or Xwayland)")
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set: a console, ssh or a service)"
    try:
        import Xlib.display

        Xlib.display.Display(display).close()
    except Exception as exc:  # Xlib.error.DisplayError and friends: the reason is in the message
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return f"cannot open the X display {display} ({reason})"
    return None
