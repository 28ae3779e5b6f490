"""Desktop stage, window watchers: the window a watcher reports, the watcher protocol and its shared parts.

A ``WindowWatcher`` follows the focused window on its own thread; ``poll()`` hands the
newest one to the daemon loop. ``NoneWatcher`` is the watcher when automatic switching
cannot work here (its ``reason`` says why, for ``handmap status`` and ``doctor``).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1  # polling backends (macOS, Windows): well inside the 200 ms budget
EVENT_WAIT_S = 0.1  # event backends wake this often to notice stop()
STOP_TIMEOUT_S = 2.0
RECONNECT_INTERVAL_S = 0.5  # event backends that lost their compositor try again this often

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


#: What a watcher reports when no window has focus (the bare desktop): it matches no
#: profile, so automatic switching goes back to the default profile.
NO_WINDOW = ActiveWindow()


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


class WatcherBase:
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


class NoneWatcher(WatcherBase):
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


class SocketWatcher(WatcherBase):
    """A watcher reading a compositor's IPC socket on its own thread, reconnecting when
    the compositor goes away: ``_follow`` reads events until the socket fails, then every
    ``RECONNECT_INTERVAL_S`` ``_connect`` tries each of ``_candidates()`` (where the
    compositor's socket may be now) until one answers. Subclasses name their socket in
    ``socket_label`` (for ``reason`` and the log)."""

    _sock: socket.socket | None = None
    socket_label = "the compositor's socket"

    def _connect(self, where: Any) -> socket.socket:
        raise NotImplementedError

    def _follow(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def _candidates(self) -> Sequence[Any]:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            sock = self._sock
            if sock is not None:
                try:
                    self._follow(sock)
                except (OSError, ValueError) as exc:
                    if self._stop.is_set():
                        return
                    self._set_reason(f"lost {self.socket_label} ({exc}); reconnecting")
                self._sock = None
                sock.close()
            if self._stop.wait(RECONNECT_INTERVAL_S):
                return
            for where in self._candidates():
                try:
                    self._sock = self._connect(where)
                except (OSError, ValueError):
                    continue
                self._set_reason("")
                log.info("reconnected to %s (%s)", self.socket_label, where)
                break

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
