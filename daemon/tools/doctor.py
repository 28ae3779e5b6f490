"""``handmap doctor``: what this machine offers handmap, and how to fix what is missing.

:func:`run_checks` looks at the desktop session (X11 or Wayland, and whether the display
answers), which desktop it is (GNOME, KDE Plasma, sway, Hyprland...) and what works there
(profile switching, tray, output) with the one command that fixes each gap, cameras,
which output backend ``handmap run`` would use and why, uinput access, the macOS
Accessibility permission, the notification server, the system tray and the MediaPipe
models in the wheel. Each :class:`Check` has a status (ok, warn, fail), what was found,
and a fix when something is missing. Nothing here changes the machine, and no check
takes more than a couple of seconds.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from handmap.daemon.desktop.session import Desktop, SessionKind, desktop, desktop_label, detect, session_kind
from handmap.daemon.desktop.tray import x_tray_owner
from handmap.daemon.outputs import DOCTOR_HINT, DRY_RUN, OutputUnavailable, choose_output

log = logging.getLogger(__name__)

NOTIFICATIONS_BUS_NAME = "org.freedesktop.Notifications"
STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"
GNOME_SHELL_BUS_NAME = "org.gnome.Shell"
KWIN_BUS_NAME = "org.kde.KWin"
#: The one command that makes each part work, named in the desktop check's fix.
SETUP_GNOME = "handmap setup gnome"
SETUP_UINPUT = "handmap setup uinput"
#: The AppIndicator extension GNOME needs for a tray (Debian and Ubuntu package it).
GNOME_TRAY_FIX = ("sudo apt install gnome-shell-extension-appindicator && "
                  "gnome-extensions enable ubuntu-appindicators@ubuntu.com (Debian and Ubuntu; from "
                  "extensions.gnome.org it is appindicatorsupport@rgcjonas.gmail.com), then log in again")
DBUS_TIMEOUT_S = 2.0
CAMERA_PROBE_INDICES = range(4)


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    finding: str
    fix: str = ""

    def to_json(self) -> dict:
        return {**asdict(self), "status": self.status.value}


# --- display ---------------------------------------------------------------------------


def _x_display_info(display: str) -> tuple[str | None, str]:
    """(None, "1920x1080, window manager matchbox") when the X server answers, else (why not, "")."""
    try:
        from Xlib import X
        from Xlib import display as xdisplay
    except ImportError as exc:
        return f"python-xlib is not installed ({exc})", ""
    try:
        d = xdisplay.Display(display)
    except Exception as exc:  # DisplayError, ConnectionRefused, bad auth...
        return f"cannot connect to X display {display} ({exc})", ""
    try:
        screen = d.screen()
        details = f"{screen.width_in_pixels}x{screen.height_in_pixels}"
        wm_check = screen.root.get_full_property(d.intern_atom("_NET_SUPPORTING_WM_CHECK"), X.AnyPropertyType)
        if wm_check and wm_check.value:
            wm = d.create_resource_object("window", wm_check.value[0])
            name = wm.get_full_property(d.intern_atom("_NET_WM_NAME"), X.AnyPropertyType)
            wm_name = (name.value.decode(errors="replace").strip("\x00 ") if name and isinstance(name.value, bytes)
                       else "") or "unnamed"
            details += f", window manager {wm_name}"
        else:
            details += ", no EWMH window manager (per-app profiles need one)"
        return None, details
    finally:
        d.close()


def check_display(env: Mapping[str, str], platform: str = sys.platform) -> Check:
    session = detect(env, platform)
    if session.kind is SessionKind.MACOS:
        return Check("display", Status.OK, "macOS (Quartz)")
    if session.kind is SessionKind.WINDOWS:
        return Check("display", Status.OK, "Windows")
    if session.kind is SessionKind.NONE:
        return Check("display", Status.FAIL, "no graphical session: DISPLAY and WAYLAND_DISPLAY are unset",
                     "run handmap from your desktop session; as a service, import the session's environment "
                     "(systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY)")
    if session.kind is SessionKind.WAYLAND:
        socket = Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / (session.wayland_display or "wayland-0")
        found = f"Wayland session (WAYLAND_DISPLAY={session.wayland_display}"
        found += ", socket present)" if socket.exists() else f", but no socket at {socket})"
        if session.x_display:
            problem, details = _x_display_info(session.x_display)
            found += f"; Xwayland {session.x_display}: " + (details if problem is None else problem)
        status = Status.OK if socket.exists() else Status.WARN
        return Check("display", status, found,
                     "" if status is Status.OK else "start handmap inside the Wayland session it should drive")
    display = session.x_display
    if not display:
        return Check("display", Status.FAIL, "XDG_SESSION_TYPE=x11 but DISPLAY is not set",
                     "set DISPLAY (usually :0), or import it into the service manager's environment")
    problem, details = _x_display_info(display)
    if problem is not None:
        return Check("display", Status.FAIL, f"X11 session, but {problem}",
                     "check that the X server is running and that XAUTHORITY points at its cookie")
    return Check("display", Status.OK, f"X11 on {display} ({details})")


# --- cameras ---------------------------------------------------------------------------


def _open_camera(index: int) -> tuple[bool, str]:
    import cv2

    cap = cv2.VideoCapture(index)
    try:
        if not cap.isOpened():
            return False, ""
        ok, frame = cap.read()
        if not ok or frame is None:
            return False, "opens but gives no frame"
        return True, f"{frame.shape[1]}x{frame.shape[0]}"
    finally:
        cap.release()


def check_cameras(platform: str = sys.platform, opener: Callable[[int], tuple[bool, str]] = _open_camera) -> Check:
    no_camera_fix = ("connect a webcam (and check it works in another app), "
                     "or play a recording: handmap run --source clip.mp4 (or an image folder, or a trace)")
    if platform.startswith("linux"):
        nodes = sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p))
        if not nodes:
            return Check("cameras", Status.WARN, "no camera: no /dev/video* devices", no_camera_fix)
        unreadable = [n for n in nodes if not os.access(n, os.R_OK | os.W_OK)]
        if unreadable and len(unreadable) == len(nodes):
            return Check("cameras", Status.FAIL, f"{', '.join(nodes)} exist but this user may not open them",
                         "add yourself to the video group (sudo usermod -aG video $USER), then log out and in")
        indices = [int(n[len("/dev/video"):]) for n in nodes if n[len("/dev/video"):].isdigit()]
    else:
        indices = list(CAMERA_PROBE_INDICES)
    working = []
    for index in indices:
        try:
            ok, details = opener(index)
        except Exception as exc:  # OpenCV missing or a driver error
            log.debug("camera %d: %s", index, exc)
            continue
        if ok:
            working.append(f"{index} ({details})")
    if working:
        return Check("cameras", Status.OK, "camera index " + ", ".join(working))
    where = ", ".join(str(i) for i in indices)
    fix = no_camera_fix
    if platform == "darwin":
        fix = ("allow camera access for your terminal or handmap in "
               "System Settings > Privacy & Security > Camera; " + fix)
    return Check("cameras", Status.WARN, f"no camera gives frames (tried index {where})", fix)


# --- output ----------------------------------------------------------------------------


def _here(fix: str) -> str:
    """An output's fix as doctor shows it: the uinput line below is the "how"."""
    return fix.replace(DOCTOR_HINT, " (the uinput check says how)")


def check_output(env: Mapping[str, str], requested: str | None, platform: str = sys.platform) -> Check:
    try:
        choice = choose_output(requested, env, platform=platform)
    except OutputUnavailable as exc:
        return Check("output", Status.FAIL, exc.problem, _here(exc.fix))
    label = f"{choice.name}" + (f" (asked for {requested})" if requested and requested != "auto" else "")
    if choice.problem is not None:
        return Check("output", Status.FAIL, f"{label} would be used, but {choice.problem.problem}",
                     _here(choice.problem.fix))
    status = Status.OK
    fix = ""
    if choice.name == DRY_RUN:
        fix = "dry-run injects nothing: set output: auto in the config, or pass --output auto"
        status = Status.WARN
    elif "Xwayland" in choice.reason and session_kind(env, platform) is SessionKind.WAYLAND:
        status = Status.WARN
        fix = f"run '{SETUP_UINPUT}' so input reaches Wayland windows too"
    return Check("output", status, f"{label}: {choice.reason}", fix)


def check_uinput(env: Mapping[str, str], platform: str = sys.platform) -> Check | None:
    if not platform.startswith("linux"):
        return None
    from handmap.daemon.outputs.uinput_backend import UINPUT_DEVNODE, uinput_problem

    problem = uinput_problem(platform=platform)
    if problem is None:
        return Check("uinput", Status.OK, f"{UINPUT_DEVNODE} is writable: the uinput output can work")
    from handmap.daemon.outputs import uinput_setup

    if uinput_setup.probe(uinput_setup.target_user(env)).needs_login:
        return Check("uinput", Status.WARN,
                     f"{UINPUT_DEVNODE} is set up and you are in the {uinput_setup.GROUP} group, "
                     "but this login started before you joined it",
                     "log out and back in (groups are read at login), then run 'handmap doctor' again")
    session = detect(env, platform)
    needed = session.kind in (SessionKind.WAYLAND, SessionKind.NONE)
    why = {SessionKind.WAYLAND: "needed under Wayland", SessionKind.NONE: "needed without a desktop session"}.get(
        session.kind, "only needed under Wayland and for games that read raw input")
    return Check("uinput", Status.FAIL if needed and not session.x_display else Status.WARN,
                 f"{problem.problem} ({why})", problem.fix)


# --- macOS accessibility ---------------------------------------------------------------


def check_accessibility(platform: str = sys.platform) -> Check | None:
    if platform != "darwin":
        return None
    fix = ("System Settings > Privacy & Security > Accessibility (and Input Monitoring): "
           "allow the terminal or the Python that runs handmap, then restart it")
    try:
        from ApplicationServices import AXIsProcessTrusted  # pyobjc, which pynput uses on macOS

        trusted = bool(AXIsProcessTrusted())
    except Exception:
        return Check("accessibility", Status.WARN, "cannot tell whether this process may post input events", fix)
    if trusted:
        return Check("accessibility", Status.OK, "this process may post input events")
    return Check("accessibility", Status.FAIL, "macOS will drop handmap's input: no Accessibility permission", fix)


# --- D-Bus: notifications and tray -----------------------------------------------------


def _dbus_env(env: Mapping[str, str]) -> dict | None:
    """``env`` with a session bus address (the default socket when unset), or None without one."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        default = Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / "bus"
        if not default.exists():
            return None
        address = f"unix:path={default}"
    return {**env, "DBUS_SESSION_BUS_ADDRESS": address}


def _dbus_send(env: Mapping[str, str], dest: str, path: str, method: str, *args: str) -> tuple[bool, str]:
    out = subprocess.run(
        [shutil.which("dbus-send") or "dbus-send", "--session", "--print-reply", f"--reply-timeout={int(DBUS_TIMEOUT_S * 1000)}",
         f"--dest={dest}", path, method, *args],
        env=dict(env), capture_output=True, text=True, timeout=DBUS_TIMEOUT_S + 1,
    )
    return out.returncode == 0, out.stdout if out.returncode == 0 else out.stderr.strip()


def _name_has_owner(env: Mapping[str, str], name: str) -> tuple[bool | None, str]:
    """(True/False, "") whether ``name`` is owned on the session bus; (None, why) if unknown."""
    if shutil.which("dbus-send"):
        ok, text = _dbus_send(env, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus.NameHasOwner", f"string:{name}")
        if not ok:
            return None, f"cannot reach the session D-Bus ({text.splitlines()[0] if text else 'no reply'})"
        return "boolean true" in text, ""
    return _name_has_owner_dbus_fast(env, name)


def _name_has_owner_dbus_fast(env: Mapping[str, str], name: str) -> tuple[bool | None, str]:
    try:
        import asyncio

        from dbus_fast import Message
        from dbus_fast.aio import MessageBus
    except ImportError:
        return None, "cannot check: neither dbus-send (Debian: dbus-bin) nor dbus-fast is installed"

    async def ask() -> bool:
        bus = await asyncio.wait_for(MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect(),
                                     DBUS_TIMEOUT_S)
        try:
            reply = await asyncio.wait_for(bus.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
                member="NameHasOwner", signature="s", body=[name])), DBUS_TIMEOUT_S)
            return bool(reply.body and reply.body[0])
        finally:
            bus.disconnect()

    try:
        return asyncio.run(ask()), ""
    except Exception as exc:
        return None, f"cannot reach the session D-Bus ({exc or type(exc).__name__})"


def _notification_server_name(env: Mapping[str, str]) -> str:
    if not shutil.which("dbus-send"):
        return ""
    ok, text = _dbus_send(env, NOTIFICATIONS_BUS_NAME, "/org/freedesktop/Notifications",
                          "org.freedesktop.Notifications.GetServerInformation")
    if not ok:
        return ""
    strings = [line.split('"')[1] for line in text.splitlines() if line.strip().startswith('string "')]
    return " ".join(strings[:3:2]) if strings else ""  # name and version


def check_notifications(env: Mapping[str, str], platform: str = sys.platform) -> Check:
    if platform == "darwin":
        return Check("notifications", Status.OK, "macOS Notification Centre")
    if platform == "win32":
        return Check("notifications", Status.OK, "Windows toast notifications")
    no_server_fix = ("start your desktop's notification daemon (GNOME and KDE have one; on a bare window manager "
                     "install and run dunst or mako); face-touch alerts are logged meanwhile")
    bus_env = _dbus_env(env)
    if bus_env is None:
        return Check("notifications", Status.WARN, "no session D-Bus: DBUS_SESSION_BUS_ADDRESS is unset",
                     "run handmap inside your desktop session (or 'dbus-launch handmap run'); "
                     "face-touch alerts are logged meanwhile")
    owned, why = _name_has_owner(bus_env, NOTIFICATIONS_BUS_NAME)
    if owned is None:
        return Check("notifications", Status.WARN, why, no_server_fix)
    if not owned:
        return Check("notifications", Status.WARN, "session D-Bus reachable, but no notification server on it",
                     no_server_fix)
    server = _notification_server_name(bus_env)
    found = "notification server on the session D-Bus" + (f": {server}" if server else "")
    return Check("notifications", Status.OK, found)


def check_tray(env: Mapping[str, str], platform: str = sys.platform) -> Check:
    if importlib.util.find_spec("pystray") is None:
        return Check("tray", Status.WARN, "pystray is not installed: no tray icon",
                     "pip install pystray; meanwhile control handmap with 'handmap status|pause|resume'")
    if platform == "darwin":
        return Check("tray", Status.OK, "pystray available (menu bar)")
    if platform == "win32":
        return Check("tray", Status.OK, "pystray available (notification area)")
    no_tray_fix = ("run a system tray (GNOME: the AppIndicator extension; bare X: trayer or stalonetray), "
                   "or run with --no-tray and use 'handmap status|pause|resume|profile NAME'")
    session = detect(env, platform)
    bus_env = _dbus_env(env)
    if bus_env is not None and _name_has_owner(bus_env, STATUS_NOTIFIER_WATCHER)[0]:
        return Check("tray", Status.OK, f"StatusNotifier tray ({STATUS_NOTIFIER_WATCHER} on the session bus): "
                                        "handmap's icon and menu show there")
    if session.kind is SessionKind.WAYLAND and not session.x_display:
        return Check("tray", Status.WARN, "Wayland without Xwayland and no StatusNotifier tray on the session bus",
                     no_tray_fix)
    display = session.x_display
    if not display:  # no desktop here at all: starting a tray would not help
        return Check("tray", Status.WARN, "no display, so no tray",
                     "the tray icon appears when handmap runs in a desktop session; without one use "
                     "'handmap status|pause|resume|profile NAME'")
    owned, why = x_tray_owner(display)
    if owned:
        return Check("tray", Status.OK, f"system tray on {display} (_NET_SYSTEM_TRAY_S0 owned); pystray available")
    return Check("tray", Status.WARN, why or f"no system tray on {display} (_NET_SYSTEM_TRAY_S0 has no owner)",
                 no_tray_fix)


# --- the desktop: what works there ----------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One thing handmap does on a desktop: whether it works, how, and the command that fixes it."""

    name: str
    works: bool
    how: str
    fix: str = ""


def _owned(bus_env: Mapping[str, str] | None, name: str) -> bool:
    return bus_env is not None and bool(_name_has_owner(bus_env, name)[0])


def _switching(kind: Desktop, env: Mapping[str, str], session_kind_: SessionKind,
               bus_env: Mapping[str, str] | None) -> Part:
    """How profiles follow the focused window here (the window watcher the daemon picks)."""
    name = "profile switching"
    if kind in (Desktop.MACOS, Desktop.WINDOWS):
        return Part(name, True, "the focused app, from the system")
    if session_kind_ is SessionKind.X11:
        return Part(name, True, "X11's active window (an EWMH window manager; the display check names it)")
    if kind is Desktop.SWAY:
        sock = env.get("SWAYSOCK", "")
        if sock and Path(sock).exists():
            return Part(name, True, "sway's IPC")
        return Part(name, False, f"SWAYSOCK names no socket ({sock or 'unset'})",
                    "run handmap from inside sway (exec handmap run in sway's config)")
    if kind is Desktop.HYPRLAND:
        from handmap.daemon.desktop.windows.hyprland import hyprland_socket_dir

        if hyprland_socket_dir(env) is not None:
            return Part(name, True, "Hyprland's event socket")
        return Part(name, False, "Hyprland's event socket was not found", "run handmap from inside Hyprland")
    if kind is Desktop.GNOME:
        from handmap.daemon.desktop.windows import gnome

        if _owned(bus_env, gnome.BUS_NAME):
            return Part(name, True, "handmap's GNOME Shell extension")
        problem = gnome.extension_state(bus_env or env).problem()
        what, fix = problem or ("handmap's GNOME Shell extension is not running", SETUP_GNOME)
        return Part(name, False, what, fix)
    if kind is Desktop.KDE:
        if _owned(bus_env, KWIN_BUS_NAME):
            return Part(name, True, "a KWin script handmap loads itself")
        return Part(name, False, f"KWin does not answer on the session bus ({KWIN_BUS_NAME})",
                    "run handmap inside your Plasma session")
    return Part(name, False, "this Wayland compositor does not tell other programs the focused window",
                "switch by hand: handmap profile NAME")


def _tray_part(kind: Desktop, session_kind_: SessionKind, env: Mapping[str, str],
               bus_env: Mapping[str, str] | None) -> Part:
    if kind in (Desktop.MACOS, Desktop.WINDOWS):
        return Part("tray", True, "the system's (pystray)")
    if _owned(bus_env, STATUS_NOTIFIER_WATCHER):
        return Part("tray", True, "StatusNotifierItem (D-Bus)")
    display = detect(env).x_display
    if display and x_tray_owner(display)[0]:
        return Part("tray", True, "XEmbed (pystray)")
    fix = {Desktop.GNOME: GNOME_TRAY_FIX,
           Desktop.SWAY: "add a tray to your bar (waybar's tray module)",
           Desktop.HYPRLAND: "add a tray to your bar (waybar's tray module)"}.get(
        kind, "run a system tray (trayer, stalonetray) or a StatusNotifier host")
    return Part("tray", False, "no StatusNotifier tray on the session bus and no XEmbed tray", fix)


def _output_part(env: Mapping[str, str], requested: str | None, platform: str) -> Part:
    try:
        choice = choose_output(requested, env, platform=platform)
    except OutputUnavailable as exc:
        return Part("output", False, exc.problem)
    if choice.problem is not None:
        fix = SETUP_UINPUT if choice.name == "uinput" else _here(choice.problem.fix)
        return Part("output", False, f"{choice.name}: {choice.problem.problem}", fix)
    if "Xwayland" in choice.reason and session_kind(env, platform) is SessionKind.WAYLAND:
        return Part("output", False, f"{choice.name} through Xwayland (X11 apps only)", SETUP_UINPUT)
    return Part("output", True, choice.name)


def check_desktop(env: Mapping[str, str], requested: str | None = None, platform: str = sys.platform) -> Check:
    """Which desktop this is, what works there (profile switching, tray, output) and
    the one command that fixes each part that does not."""
    kind = desktop(env, platform)
    session_kind_ = session_kind(env, platform)
    if kind is Desktop.NONE:
        return Check("desktop", Status.WARN, "no desktop session: no profile switching and no tray",
                     "run handmap from your desktop session")
    bus_env = _dbus_env(env) if platform.startswith("linux") or "bsd" in platform else None
    label = desktop_label(env)
    name = kind.value if kind is not Desktop.OTHER else (label or "an unnamed desktop")
    found = name
    if session_kind_ in (SessionKind.X11, SessionKind.WAYLAND):
        found += f" on {'Wayland' if session_kind_ is SessionKind.WAYLAND else 'X11'}"
    answers = [n for n, bus in ((GNOME_SHELL_BUS_NAME, Desktop.GNOME), (KWIN_BUS_NAME, Desktop.KDE))
               if kind is bus and _owned(bus_env, n)]
    if label or answers:
        found += " (" + "; ".join(([f"XDG_CURRENT_DESKTOP={label}"] if label else [])
                                  + [f"{n} answers on the session bus" for n in answers]) + ")"
    parts = [_switching(kind, env, session_kind_, bus_env), _tray_part(kind, session_kind_, env, bus_env),
             _output_part(env, requested, platform)]
    found += ": " + "; ".join(f"{p.name}: {p.how}" if p.works else f"{p.name}: no ({p.how})" for p in parts)
    fixes = [f"{p.name}: {p.fix}" for p in parts if not p.works and p.fix]
    return Check("desktop", Status.OK if all(p.works for p in parts) else Status.WARN, found, "; ".join(fixes))


# --- models ----------------------------------------------------------------------------


def check_models() -> Check:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return Check("models", Status.FAIL, "mediapipe is not installed",
                     "reinstall handmap's dependencies (bash scripts/setup.sh, or pip install mediapipe==0.10.21)")
    modules = Path(list(spec.submodule_search_locations)[0]) / "modules"
    from handmap.daemon.perception.models import FACE_WHEEL_MODEL, HAND_WHEEL_MODELS

    wanted = [m for pair in HAND_WHEEL_MODELS.values() for m in pair] + [FACE_WHEEL_MODEL]
    try:
        from handmap.daemon.perception.body import WHEEL_POSE_DETECTOR, WHEEL_POSE_LANDMARKS

        wanted += [str(WHEEL_POSE_DETECTOR), str(WHEEL_POSE_LANDMARKS)]
    except ImportError:
        pass
    missing = [m for m in wanted if not (modules / m).is_file()]
    if missing:
        return Check("models", Status.FAIL, f"the mediapipe wheel lacks {', '.join(missing)}",
                     "reinstall mediapipe 0.10.21 (its wheel carries the models), or set model.task_file "
                     "to your own hand_landmarker.task")
    return Check("models", Status.OK, f"{len(wanted)} MediaPipe models in the wheel ({modules})")


# --- all together ----------------------------------------------------------------------


def run_checks(
    env: Mapping[str, str] | None = None,
    output: str | None = None,
    platform: str = sys.platform,
    camera_opener: Callable[[int], tuple[bool, str]] = _open_camera,
) -> list[Check]:
    """Every check, in the order ``handmap doctor`` prints them. ``output``: the backend
    ``handmap run`` is configured with (None: auto)."""
    env = os.environ if env is None else env
    checks: list[Check | None] = []
    for build in (
        lambda: check_display(env, platform),
        lambda: check_desktop(env, output, platform),
        lambda: check_cameras(platform, camera_opener),
        lambda: check_output(env, output, platform),
        lambda: check_uinput(env, platform),
        lambda: check_accessibility(platform),
        lambda: check_notifications(env, platform),
        lambda: check_tray(env, platform),
        check_models,
    ):
        try:
            checks.append(build())
        except Exception as exc:  # one broken probe must not hide the others
            log.debug("doctor check failed", exc_info=True)
            checks.append(Check("doctor", Status.WARN, f"a check failed to run: {type(exc).__name__}: {exc}"))
    return [c for c in checks if c is not None]


def format_checks(checks: list[Check]) -> str:
    """The report: one line per check, its fix indented below."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"{c.status.value:<4}  {c.name:<{width}}  {c.finding}")
        if c.fix:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
    worst = Status.FAIL if any(c.status is Status.FAIL for c in checks) else (
        Status.WARN if any(c.status is Status.WARN for c in checks) else Status.OK)
    summary = {Status.OK: "all good", Status.WARN: "handmap can run; see the warnings above",
               Status.FAIL: "something handmap needs is missing; see the fixes above"}[worst]
    lines.append(summary)
    return "\n".join(lines)
