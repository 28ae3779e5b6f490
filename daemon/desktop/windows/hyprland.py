"""Desktop stage, window watchers: Hyprland (its event socket, then ``j/activewindow`` per change)."""

from __future__ import annotations

import json
import logging
import select
import socket
from collections.abc import Mapping
from pathlib import Path

from handmap.daemon.desktop.windows.base import (
    EVENT_WAIT_S,
    ActiveWindow,
    OnChange,
    SocketWatcher,
    process_name,
)

log = logging.getLogger(__name__)


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


class HyprlandWatcher(SocketWatcher):
    """Hyprland: on each ``activewindow>>`` or ``windowtitle>>`` event on
    ``.socket2.sock``, asks ``.socket.sock`` for ``j/activewindow`` (what
    ``hyprctl activewindow -j`` sends) for the class, title and pid. When Hyprland goes
    away, ``reason`` says so and the watcher reconnects, to the same folder or the
    newest other instance's beside it, every ``RECONNECT_INTERVAL_S``."""

    name = "hyprland"
    socket_label = "Hyprland's event socket"

    def __init__(self, socket_dir: Path, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._dir = Path(socket_dir)
        self._sock: socket.socket | None = None

    def _query(self, folder: Path | None = None) -> ActiveWindow | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(1.0)
        try:
            sock.connect(str((folder or self._dir) / ".socket.sock"))
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
        """Connect and read the active window now; raises OSError when Hyprland does not answer."""
        self._sock = self._connect(self._dir)
        self._start_thread(self._run)

    def _connect(self, folder: Path) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(folder / ".socket2.sock"))
            window = self._query(folder)  # after subscribing: no change falls in between
        except BaseException:
            sock.close()
            raise
        self._dir = folder
        if window is not None:
            self._publish(window)
        return sock

    def _candidates(self) -> list[Path]:
        return socket_dir_candidates(self._dir)

    def _follow(self, sock: socket.socket) -> None:
        """Publish active-window changes until Hyprland closes the socket (raises) or ``stop()``."""
        buffer = b""
        while not self._stop.is_set():
            readable, _, _ = select.select([sock], [], [], EVENT_WAIT_S)
            if not readable:
                continue
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("Hyprland closed its event socket")
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


def socket_dir_candidates(folder: Path) -> list[Path]:
    """Where Hyprland's sockets may be now: ``folder``, then the other instances' folders
    beside it, newest first (a restarted Hyprland has a new instance signature)."""
    found: list[tuple[float, Path]] = []
    for other in folder.parent.iterdir() if folder.parent.is_dir() else ():
        events = other / ".socket2.sock"
        if other != folder and events.exists():
            try:
                found.append((events.stat().st_mtime, other))
            except OSError:
                continue
    return [folder, *(path for _, path in sorted(found, key=lambda item: item[0], reverse=True))]
