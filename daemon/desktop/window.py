"""Per-app profile switching: watch the active window, pick the profile that matches it.

Stage: around the mapping engine. A ``WindowWatcher`` backend reports the focused
window (``ActiveWindow``) from a thread; ``ProfileMatcher`` turns a window into a profile
name; ``AutoSwitcher`` joins the two for the daemon loop, which calls ``poll()`` once
per frame and switches profile when it returns a name.

Backends (``select_window_watcher``; override with ``HANDMAP_WINDOW_BACKEND`` or the
``override`` argument): ``x11`` (EWMH ``_NET_ACTIVE_WINDOW`` through python-xlib, event
driven), ``sway`` (sway's IPC socket, ``SWAYSOCK``), ``hyprland`` (Hyprland's event
socket), ``macos`` (AppKit ``NSWorkspace`` through pyobjc, when importable), ``windows``
(``GetForegroundWindow`` through ctypes) and ``none`` (no automatic switching; its
``reason`` says why, for ``handmap status`` and ``doctor``). Under Wayland with no
supported compositor interface the selector returns ``none``: X11 clients under
XWayland would only show the XWayland windows, so the X11 backend is not used there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import regex

log = logging.getLogger(__name__)

#: A window title is matched for at most this long, and only its first characters: a
#: profile's title pattern with nested quantifiers must not stall the frame loop on a
#: title a web page chose (catastrophic backtracking).
TITLE_MATCH_TIMEOUT_S = 0.02
MAX_TITLE_CHARS = 512


def _title_search(pattern, title: str) -> bool:
    try:
        return pattern.search(title[:MAX_TITLE_CHARS], timeout=TITLE_MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        log.warning("title pattern %r took too long on a window title; treated as no match", pattern.pattern)
        return False

ENV_OVERRIDE = "HANDMAP_WINDOW_BACKEND"
BACKEND_NAMES = ("x11", "sway", "hyprland", "macos", "windows", "none")
POLL_INTERVAL_S = 0.1  # polling backends (macOS, Windows): well inside the 200 ms budget
EVENT_WAIT_S = 0.1  # event backends wake this often to notice stop()
STOP_TIMEOUT_S = 2.0

OnChange = Callable[["ActiveWindow"], None]


@dataclass(frozen=True)
class ActiveWindow:
    """The focused window as a backend sees it; empty strings where unknown.

    ``wm_class`` is the window class (X11 ``WM_CLASS`` class part, e.g. ``Gamea``; the
    Wayland ``app_id``; the macOS bundle id; the Win32 class name); ``instance`` the
    X11 ``WM_CLASS`` instance part (e.g. ``gamea``), when there is one. ``process`` is
    the executable's short name (``/proc/PID/comm`` on Linux).
    """

    wm_class: str = ""
    title: str = ""
    process: str = ""
    pid: int | None = None
    instance: str = ""

    def to_json(self) -> dict:
        return {"class": self.wm_class, "instance": self.instance, "title": self.title,
                "process": self.process, "pid": self.pid}


class WindowWatcher(Protocol):
    """A backend that follows the active window. All methods are thread-safe.

    ``name`` is the backend name; ``reason`` is empty while automatic switching works,
    otherwise one sentence saying why it does not (shown by ``status`` and ``doctor``).
    ``poll`` returns the newest window seen since the previous ``poll`` (changes in
    between are coalesced) or None when nothing changed; ``on_change`` callbacks, if
    given, run on the watcher's thread.
    """

    name: str

    @property
    def reason(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def current(self) -> ActiveWindow | None: ...

    def poll(self) -> ActiveWindow | None: ...

    @property
    def last_change_at(self) -> float: ...


class _WatcherBase:
    """Shared state: the latest window, the poll flag, callbacks, the thread."""

    name = "base"

    def __init__(self, on_change: OnChange | None = None) -> None:
        self._lock = threading.Lock()
        self._current: ActiveWindow | None = None
        self._pending = False
        self._changed_at = 0.0
        self._reason = ""
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def reason(self) -> str:
        with self._lock:
            return self._reason

    @property
    def last_change_at(self) -> float:
        """``time.monotonic()`` when the watcher saw the latest change (0 if never)."""
        with self._lock:
            return self._changed_at

    def current(self) -> ActiveWindow | None:
        with self._lock:
            return self._current

    def poll(self) -> ActiveWindow | None:
        with self._lock:
            if not self._pending:
                return None
            self._pending = False
            return self._current

    def _set_reason(self, reason: str) -> None:
        with self._lock:
            self._reason = reason
        if reason:
            log.warning("automatic profile switching stopped: %s", reason)

    def _publish(self, window: ActiveWindow | None) -> None:
        with self._lock:
            if window == self._current:
                return
            self._current = window
            self._pending = window is not None
            self._changed_at = time.monotonic()
        if window is not None:
            log.debug("active window: %s", window)
            if self._on_change is not None:
                try:
                    self._on_change(window)
                except Exception:  # a callback must not kill the watcher
                    log.exception("window change callback failed")

    def _start_thread(self, target: Callable[[], None]) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._guard(target), name=f"handmap-window-{self.name}", daemon=True)
        self._thread.start()

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:
                log.debug("window watcher %s failed", self.name, exc_info=True)
                self._set_reason(f"the {self.name} window watcher failed: {exc}")
        return run

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_S)


class NoneWatcher(_WatcherBase):
    """No automatic switching; manual switching (``handmap profile NAME``) still works."""

    name = "none"

    def __init__(self, reason: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._reason = reason

    def start(self) -> None:
        pass  # the selector already logged the reason

    def stop(self) -> None:
        pass


def process_name(pid: int | None) -> str:
    """The short process name for ``pid`` from /proc (Linux); empty when unknown."""
    if not pid or pid <= 0:
        return ""
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


# --------------------------------------------------------------------------- X11


class X11Watcher(_WatcherBase):
    """EWMH active window through python-xlib, event driven.

    Listens for PropertyNotify on the root window (``_NET_ACTIVE_WINDOW``) and on the
    active window (``_NET_WM_NAME``/``WM_NAME``, so title rules follow title changes).
    Needs an EWMH window manager; ``display`` is the X display name (``env["DISPLAY"]``).
    """

    name = "x11"

    def __init__(self, display: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._display_name = display
        self._dpy: Any = None

    def start(self) -> None:
        """Connect and read the active window now; raises OSError if the display is unreachable."""
        from Xlib import X  # python-xlib, a pynput dependency
        from Xlib import display as xdisplay
        from Xlib import error as xerror

        try:
            dpy = xdisplay.Display(self._display_name)
        except (xerror.DisplayError, OSError) as exc:
            raise OSError(f"cannot open X display {self._display_name!r}: {exc}") from exc
        dpy.set_error_handler(lambda err, *_: log.debug("X error (window probably closed): %s", err))
        self._dpy = dpy
        self._atoms = {n: dpy.intern_atom(n) for n in (
            "_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "WM_NAME", "_NET_WM_PID", "UTF8_STRING", "_NET_SUPPORTED")}
        self._root = dpy.screen().root
        self._root.change_attributes(event_mask=X.PropertyChangeMask)
        supported = self._root.get_full_property(self._atoms["_NET_SUPPORTED"], X.AnyPropertyType)
        if supported is None or self._atoms["_NET_ACTIVE_WINDOW"] not in list(supported.value):
            self._set_reason("the window manager does not publish _NET_ACTIVE_WINDOW (EWMH); "
                             "automatic profile switching needs an EWMH window manager")
        self._has_xres = dpy.has_extension("X-Resource")
        self._watched: Any = None
        self._refresh()
        self._start_thread(self._run)

    def stop(self) -> None:
        super().stop()
        dpy, self._dpy = self._dpy, None
        if dpy is not None:
            try:
                dpy.close()
            except Exception:
                log.debug("closing the X display failed", exc_info=True)

    def _run(self) -> None:
        from Xlib import X

        dpy = self._dpy
        fd = dpy.fileno()
        while not self._stop.is_set():
            if not dpy.pending_events():
                readable, _, _ = select.select([fd], [], [], EVENT_WAIT_S)
                if not readable:
                    continue
            refresh = False
            while dpy.pending_events():  # drain, then read the window once
                event = dpy.next_event()
                if event.type != X.PropertyNotify:
                    continue
                if event.atom == self._atoms["_NET_ACTIVE_WINDOW"]:
                    refresh = True
                elif event.atom in (self._atoms["_NET_WM_NAME"], self._atoms["WM_NAME"]):
                    refresh = True
            if refresh:
                self._refresh()

    def _refresh(self) -> None:
        from Xlib import X
        from Xlib import error as xerror

        try:
            prop = self._root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], X.AnyPropertyType)
            wid = int(prop.value[0]) if prop is not None and len(prop.value) else 0
            if not wid:
                self._watch(None)
                return  # nothing focused (desktop): keep the last window, as users expect
            win = self._dpy.create_resource_object("window", wid)
            self._watch(win)
            self._publish(self._describe(win))
        except xerror.XError as exc:  # the window went away between event and query
            log.debug("active window vanished: %s", exc)

    def _watch(self, win: Any) -> None:
        from Xlib import X

        if self._watched is not None and (win is None or self._watched.id != win.id):
            try:
                self._watched.change_attributes(event_mask=X.NoEventMask)
            except Exception:
                pass
        if win is not None and (self._watched is None or self._watched.id != win.id):
            win.change_attributes(event_mask=X.PropertyChangeMask)
        self._watched = win

    def _describe(self, win: Any) -> ActiveWindow:
        from Xlib import X

        wm_class = win.get_wm_class() or ("", "")
        title_prop = win.get_full_property(self._atoms["_NET_WM_NAME"], X.AnyPropertyType)
        if title_prop is not None and len(title_prop.value):
            raw = title_prop.value
            title = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        else:
            name = win.get_wm_name()
            title = name.decode("latin-1") if isinstance(name, bytes) else (name or "")
        pid_prop = win.get_full_property(self._atoms["_NET_WM_PID"], X.AnyPropertyType)
        pid = int(pid_prop.value[0]) if pid_prop is not None and len(pid_prop.value) else None
        if pid is None:
            pid = self._client_pid(win)
        return ActiveWindow(wm_class=wm_class[1] or "", instance=wm_class[0] or "", title=title,
                            process=process_name(pid), pid=pid)


    def _client_pid(self, win: Any) -> int | None:
        """The pid of a local client that does not set ``_NET_WM_PID`` (Tk, plain Xlib
        programs), from the X-Resource extension, as ``xprop``-less tools do."""
        if not self._has_xres:
            return None
        from Xlib.ext import res

        try:
            reply = self._dpy.res_query_client_ids([{"client": win.id, "mask": res.LocalClientPIDMask}])
        except Exception:
            log.debug("X-Resource client-id query failed", exc_info=True)
            return None
        for entry in reply.ids:
            if entry.spec.mask == res.LocalClientPIDMask and entry.value:
                return int(entry.value[0])
        return None


# --------------------------------------------------------------------------- sway

_I3_MAGIC = b"i3-ipc"
_I3_HEADER = struct.Struct("=6sII")
SWAY_GET_TREE = 4
SWAY_SUBSCRIBE = 2
SWAY_EVENT_WINDOW = 0x80000003


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the compositor closed its IPC socket")
        chunks += chunk
    return bytes(chunks)


def _sway_send(sock: socket.socket, kind: int, payload: bytes = b"") -> None:
    sock.sendall(_I3_HEADER.pack(_I3_MAGIC, len(payload), kind) + payload)


def _sway_recv(sock: socket.socket) -> tuple[int, Any]:
    magic, length, kind = _I3_HEADER.unpack(_recv_exact(sock, _I3_HEADER.size))
    if magic != _I3_MAGIC:
        raise ConnectionError("unexpected data on sway's IPC socket")
    return kind, json.loads(_recv_exact(sock, length) or b"null")


def _sway_window(node: Mapping[str, Any]) -> ActiveWindow:
    props = node.get("window_properties") or {}  # XWayland windows
    pid = node.get("pid")
    return ActiveWindow(wm_class=node.get("app_id") or props.get("class") or "",
                        instance=props.get("instance") or "", title=node.get("name") or "",
                        process=process_name(pid), pid=pid)


def _sway_focused(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if node.get("focused") and node.get("type") in ("con", "floating_con"):
        return node
    for child in list(node.get("nodes") or ()) + list(node.get("floating_nodes") or ()):
        found = _sway_focused(child)
        if found is not None:
            return found
    return None


class _SocketWatcher(_WatcherBase):
    """A watcher reading a compositor's IPC socket on its own thread."""

    _sock: socket.socket | None = None

    def stop(self) -> None:
        self._stop.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().stop()
        if sock is not None:
            sock.close()


class SwayWatcher(_SocketWatcher):
    """sway (and i3-compatible) IPC: reads the focused window, then follows ``window``
    events (``focus`` and ``title``) on the socket named by ``SWAYSOCK``."""

    name = "sway"

    def __init__(self, socket_path: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._path = socket_path
        self._sock: socket.socket | None = None

    def start(self) -> None:
        query = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        query.settimeout(2.0)
        try:
            query.connect(self._path)
            _sway_send(query, SWAY_GET_TREE)
            _, tree = _sway_recv(query)
        finally:
            query.close()
        focused = _sway_focused(tree or {})
        if focused is not None:
            self._publish(_sway_window(focused))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        sock.connect(self._path)
        _sway_send(sock, SWAY_SUBSCRIBE, json.dumps(["window"]).encode())
        _, reply = _sway_recv(sock)
        if not (isinstance(reply, dict) and reply.get("success")):
            sock.close()
            raise OSError("sway refused the window-event subscription")
        sock.settimeout(None)
        self._sock = sock
        self._start_thread(self._run)

    def _run(self) -> None:
        sock = self._sock
        while sock is not None and not self._stop.is_set():
            readable, _, _ = select.select([sock], [], [], EVENT_WAIT_S)
            if not readable:
                continue
            try:
                kind, event = _sway_recv(sock)
            except (ConnectionError, OSError, ValueError) as exc:
                if not self._stop.is_set():
                    self._set_reason(f"lost sway's IPC socket: {exc}")
                return
            if kind == SWAY_EVENT_WINDOW and isinstance(event, dict):
                change = event.get("change")
                container = event.get("container") or {}
                if change == "focus" or (change == "title" and container.get("focused")):
                    self._publish(_sway_window(container))


# --------------------------------------------------------------------------- Hyprland


def hyprland_socket_dir(env: Mapping[str, str]) -> Path | None:
    """Hyprland's socket folder for this session, or None when not under Hyprland."""
    signature = env.get("HYPRLAND_INSTANCE_SIGNATURE")
    if not signature:
        return None
    candidates = []
    if env.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(env["XDG_RUNTIME_DIR"]) / "hypr" / signature)
    candidates.append(Path("/tmp/hypr") / signature)  # Hyprland before 0.40
    for folder in candidates:
        if (folder / ".socket2.sock").exists():
            return folder
    return None


class HyprlandWatcher(_SocketWatcher):
    """Hyprland: on each ``activewindow>>`` or ``windowtitle>>`` event on
    ``.socket2.sock``, asks ``.socket.sock`` for ``j/activewindow`` (what
    ``hyprctl activewindow -j`` sends) for the class, title and pid."""

    name = "hyprland"

    def __init__(self, socket_dir: Path, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._dir = Path(socket_dir)
        self._sock: socket.socket | None = None

    def _query(self) -> ActiveWindow | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(1.0)
        try:
            sock.connect(str(self._dir / ".socket.sock"))
            sock.sendall(b"j/activewindow")
            data = bytearray()
            while chunk := sock.recv(65536):
                data += chunk
        finally:
            sock.close()
        info = json.loads(bytes(data) or b"{}")
        if not isinstance(info, dict) or not info:
            return None
        pid = info.get("pid")
        pid = pid if isinstance(pid, int) and pid > 0 else None
        return ActiveWindow(wm_class=info.get("class") or "", instance=info.get("initialClass") or "",
                            title=info.get("title") or "", process=process_name(pid), pid=pid)

    def start(self) -> None:
        window = self._query()
        if window is not None:
            self._publish(window)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(self._dir / ".socket2.sock"))
        self._sock = sock
        self._start_thread(self._run)

    def _run(self) -> None:
        sock = self._sock
        buffer = b""
        while sock is not None and not self._stop.is_set():
            readable, _, _ = select.select([sock], [], [], EVENT_WAIT_S)
            if not readable:
                continue
            chunk = sock.recv(65536)
            if not chunk:
                if not self._stop.is_set():
                    self._set_reason("Hyprland closed its event socket")
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if any(line.startswith((b"activewindow>>", b"windowtitle>>")) for line in lines):
                try:
                    window = self._query()
                except (OSError, ValueError):
                    log.debug("hyprland active-window query failed", exc_info=True)
                    continue
                if window is not None:
                    self._publish(window)


# --------------------------------------------------------------------------- polling backends


class PollingWatcher(_WatcherBase):
    """Calls ``read()`` every ``interval_s`` on a thread (macOS, Windows)."""

    def __init__(self, name: str, read: Callable[[], ActiveWindow | None],
                 on_change: OnChange | None = None, interval_s: float = POLL_INTERVAL_S) -> None:
        super().__init__(on_change)
        self.name = name
        self._read = read
        self._interval = interval_s

    def start(self) -> None:
        self._publish(self._read())
        self._start_thread(self._run)

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self._interval):
            try:
                window = self._read()
                failures = 0
            except Exception:
                failures += 1
                log.debug("reading the active window failed", exc_info=True)
                if failures >= 50:
                    raise
                continue
            if window is not None:
                self._publish(window)


def _macos_reader() -> Callable[[], ActiveWindow | None]:
    from AppKit import NSWorkspace  # pyobjc; ImportError when not installed

    try:
        import Quartz  # window titles need the Screen Recording permission; empty otherwise
    except ImportError:
        Quartz = None

    workspace = NSWorkspace.sharedWorkspace()

    def read() -> ActiveWindow | None:
        app = workspace.frontmostApplication()
        if app is None:
            return None
        pid = int(app.processIdentifier())
        title = ""
        if Quartz is not None:
            windows = Quartz.CGWindowListCopyWindowInfo(
                Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements,
                Quartz.kCGNullWindowID) or []
            for info in windows:
                if int(info.get("kCGWindowOwnerPID", -1)) == pid and int(info.get("kCGWindowLayer", 1)) == 0:
                    title = str(info.get("kCGWindowName") or "")
                    break
        path = app.executableURL().path() if app.executableURL() is not None else ""
        return ActiveWindow(wm_class=str(app.bundleIdentifier() or ""), title=title,
                            process=os.path.basename(str(path)) or str(app.localizedName() or ""), pid=pid)

    return read


def _windows_reader() -> Callable[[], ActiveWindow | None]:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)  # AttributeError off Windows
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    query_limited = 0x1000  # PROCESS_QUERY_LIMITED_INFORMATION

    def read() -> ActiveWindow | None:
        hwnd = user32.GetForegroundWindow()
        if not hwnd:
            return None
        title = ctypes.create_unicode_buffer(512)
        user32.GetWindowTextW(hwnd, title, 512)
        klass = ctypes.create_unicode_buffer(256)
        user32.GetClassNameW(hwnd, klass, 256)
        pid = wintypes.DWORD()
        user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
        exe = ""
        handle = kernel32.OpenProcess(query_limited, False, pid.value)
        if handle:
            try:
                size = wintypes.DWORD(1024)
                path = ctypes.create_unicode_buffer(size.value)
                if kernel32.QueryFullProcessImageNameW(handle, 0, path, ctypes.byref(size)):
                    exe = os.path.basename(path.value)
            finally:
                kernel32.CloseHandle(handle)
        return ActiveWindow(wm_class=klass.value, title=title.value, process=exe, pid=pid.value or None)

    return read


# --------------------------------------------------------------------------- selector


def select_window_watcher(env: Mapping[str, str] | None = None, override: str | None = None,
                          on_change: OnChange | None = None,
                          platform: str | None = None) -> WindowWatcher:
    """Pick the watcher for this session (not started yet).

    ``override`` (or ``env["HANDMAP_WINDOW_BACKEND"]``) names one of ``BACKEND_NAMES``;
    otherwise: macOS → ``macos``, Windows → ``windows``; a Wayland session
    (``WAYLAND_DISPLAY``) → ``sway`` or ``hyprland`` when their socket is found, else
    ``none`` with a reason; ``DISPLAY`` → ``x11``; otherwise ``none``. A backend that
    cannot be used returns ``none`` whose ``reason`` says why (and logs a warning).
    Raises ValueError for an unknown override name.
    """
    env = dict(os.environ if env is None else env)
    platform = platform or sys.platform
    choice = (override or env.get(ENV_OVERRIDE) or "").strip().lower()
    if choice and choice not in BACKEND_NAMES:
        raise ValueError(f"unknown window backend {choice!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if not choice:
        choice = _auto_choice(env, platform)
        if choice.startswith("none:"):
            reason = choice[len("none:"):]
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
    if platform == "darwin":
        return "macos"
    if platform == "win32":
        return "windows"
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        if env.get("SWAYSOCK") and Path(env["SWAYSOCK"]).exists():
            return "sway"
        if hyprland_socket_dir(env) is not None:
            return "hyprland"
        return ("none:this is a Wayland session and no supported compositor interface was found "
                "(sway's SWAYSOCK or Hyprland's event socket); Wayland does not let other programs see "
                "the focused window, so switch profiles by hand (handmap profile NAME)")
    if env.get("DISPLAY"):
        return "x11"
    return "none:no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def _build(choice: str, env: Mapping[str, str], on_change: OnChange | None) -> WindowWatcher:
    if choice == "x11":
        if not env.get("DISPLAY"):
            raise OSError("DISPLAY is not set")
        import Xlib.display  # noqa: F401  (ImportError when python-xlib is missing)
        return X11Watcher(env["DISPLAY"], on_change)
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
    if choice == "macos":
        return PollingWatcher("macos", _macos_reader(), on_change)
    if choice == "windows":
        return PollingWatcher("windows", _windows_reader(), on_change)
    raise ValueError(choice)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchRule:
    """When a profile applies: the profile schema's ``match`` section (``class``,
    ``title``, ``process``). Any one field matching is enough (as the schema documents);
    a rule with no field never matches (the default profile's).

    ``window_class``: any entry equal, ignoring case, to the window's class or its X11
    instance. ``title``: a regular expression searched in the title (``re.search``,
    case-sensitive unless the pattern says ``(?i)``). ``process``: any entry equal,
    ignoring case and a trailing ``.exe``, to the process name.
    """

    window_class: tuple[str, ...] = ()
    title: str | None = None
    process: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.window_class or self.title or self.process)


def _strip_exe(name: str) -> str:
    name = name.casefold()
    return name[:-4] if name.endswith(".exe") else name


def _as_tuple(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if v)


_RULE_KEYS = {
    "window_class": ("window_class", "class", "wm_class"),
    "title": ("title",),
    "process": ("process",),
}


def rule_from(match: Any) -> MatchRule:
    """A ``MatchRule`` from a profile's ``match`` section: a MatchRule, the schema's
    ``Match`` model, a mapping (YAML keys ``class``, ``title``, ``process``; class and
    process a string or a list) or any object with those attributes; None → empty."""
    if match is None:
        return MatchRule()
    if isinstance(match, MatchRule):
        return match
    if hasattr(match, "model_dump"):  # a pydantic model (mappings.schema.Match)
        match = match.model_dump()
    values: dict[str, Any] = {}
    for field_name, keys in _RULE_KEYS.items():
        for key in keys:
            value = match.get(key) if isinstance(match, Mapping) else getattr(match, key, None)
            if value:
                values[field_name] = value
                break
    title = values.get("title")
    return MatchRule(window_class=_as_tuple(values.get("window_class")),
                     title=str(getattr(title, "pattern", title)) if title else None,
                     process=_as_tuple(values.get("process")))


@dataclass(frozen=True)
class _Compiled:
    name: str
    rule: MatchRule
    pattern: re.Pattern[str] | None
    order: int

    def score(self, window: ActiveWindow) -> tuple[int, int, int]:
        """(fields matched, title matched, class matched); all zero for no match."""
        names = {window.wm_class.casefold(), window.instance.casefold()} - {""}
        by_class = any(c.casefold() in names for c in self.rule.window_class)
        by_title = self.pattern is not None and bool(window.title) and _title_search(self.pattern, window.title)
        by_process = bool(window.process) and any(_strip_exe(p) == _strip_exe(window.process)
                                                  for p in self.rule.process)
        return by_class + by_title + by_process, int(by_title), int(by_class)


class ProfileMatcher:
    """Picks the profile for a window.

    A profile matches when any field of its ``match`` section does. When several match,
    the most specific wins: the one matching on more fields, then one matching on the
    title (it names a particular window) over the class, then the class over the process
    name; remaining ties go to the first in ``rules`` order (``ProfileStore.names()``,
    alphabetical). No match → ``default``.
    """

    def __init__(self, rules: Iterable[tuple[str, Any]], default: str) -> None:
        self.default = default
        compiled = []
        for order, (name, raw) in enumerate(rules):
            rule = rule_from(raw)
            if rule.is_empty():
                continue
            pattern = None
            if rule.title:
                try:
                    pattern = regex.compile(rule.title)
                except regex.error as exc:
                    log.warning("profile %s: title pattern %r is not a valid regular expression (%s); "
                                "ignoring it", name, rule.title, exc)
                    rule = MatchRule(rule.window_class, None, rule.process)
                    if rule.is_empty():
                        continue
            compiled.append(_Compiled(name, rule, pattern, order))
        self._rules = tuple(compiled)

    @classmethod
    def from_profiles(cls, profiles: Mapping[str, Any], default: str) -> ProfileMatcher:
        """From ``{name: Profile}``, each with a ``match`` attribute (or key)."""
        pairs = []
        for name, profile in profiles.items():
            match = profile.get("match") if isinstance(profile, Mapping) else getattr(profile, "match", None)
            pairs.append((name, match))
        return cls(pairs, default)

    @classmethod
    def from_store(cls, store: Any, default: str) -> ProfileMatcher:
        """From a ``ProfileStore`` (``names()``, ``load(name)``); a profile that does not
        load is left out with a warning (it cannot be switched to anyway)."""
        profiles = {}
        for name in store.names():
            try:
                profiles[name] = store.load(name)
            except Exception as exc:
                log.warning("profile %s is left out of automatic switching: %s", name, exc)
        return cls.from_profiles(profiles, default)

    @property
    def rules(self) -> tuple[tuple[str, MatchRule], ...]:
        """``(name, rule)`` in the given order (profiles without a rule left out)."""
        return tuple((c.name, c.rule) for c in self._rules)

    def pick(self, window: ActiveWindow | None) -> str:
        if window is None:
            return self.default
        best: tuple[tuple[int, int, int], int, str] | None = None
        for compiled in self._rules:
            score = compiled.score(window)
            if score[0] and (best is None or score > best[0]):
                best = (score, compiled.order, compiled.name)
        return best[2] if best is not None else self.default


class AutoSwitcher:
    """Joins a watcher and a matcher for the daemon loop.

    Call ``poll(current_profile)`` once per frame: it returns the profile to switch to
    after a focus change, or None (no change, same profile, paused, or the window is
    handmap's own, e.g. its preview). A manual switch (``handmap profile NAME``) stays
    until the next focus change. Replace the matcher after a profile reload with
    ``set_matcher``; the current window is then matched again on the next ``poll``.
    """

    def __init__(self, watcher: WindowWatcher, matcher: ProfileMatcher, own_pid: int | None = None) -> None:
        self.watcher = watcher
        self._matcher = matcher
        self._own_pid = os.getpid() if own_pid is None else own_pid
        self._lock = threading.Lock()
        self._rematch = False
        self.enabled = True

    def set_matcher(self, matcher: ProfileMatcher) -> None:
        with self._lock:
            self._matcher = matcher
            self._rematch = True

    def poll(self, current_profile: str) -> str | None:
        window = self.watcher.poll()
        with self._lock:
            matcher, rematch, self._rematch = self._matcher, self._rematch, False
        if window is None and rematch:
            window = self.watcher.current()
        if window is None or not self.enabled or window.pid == self._own_pid:
            return None
        wanted = matcher.pick(window)
        return wanted if wanted != current_profile else None


def describe(watcher: WindowWatcher) -> dict:
    """What ``status``/``doctor`` show about automatic switching."""
    window = watcher.current()
    return {"backend": watcher.name, "automatic": not watcher.reason, "reason": watcher.reason,
            "window": window.to_json() if window is not None else None}


__all__: Sequence[str] = (
    "ActiveWindow", "WindowWatcher", "NoneWatcher", "X11Watcher", "SwayWatcher", "HyprlandWatcher",
    "PollingWatcher", "select_window_watcher", "MatchRule", "rule_from", "ProfileMatcher", "AutoSwitcher",
    "describe", "process_name", "BACKEND_NAMES", "ENV_OVERRIDE",
)
