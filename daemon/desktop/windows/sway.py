"""Desktop stage, window watchers: sway (and i3-compatible) IPC, on the socket named by ``SWAYSOCK``."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handmap.daemon.desktop.windows.base import (
    EVENT_WAIT_S,
    NO_WINDOW,
    ActiveWindow,
    OnChange,
    SocketWatcher,
    process_name,
)

log = logging.getLogger(__name__)

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


class SwayWatcher(SocketWatcher):
    """sway (and i3-compatible) IPC: reads the focused window, then follows ``window``
    events (``focus`` and ``title``) on the socket named by ``SWAYSOCK``.

    When sway goes away (a crash, a restart) the watcher says so in ``reason`` and keeps
    trying to reconnect every ``RECONNECT_INTERVAL_S``: to ``SWAYSOCK``, or, since a new
    sway names its socket after its own pid, to the newest ``sway-ipc.<uid>.*.sock`` in
    the same folder; once connected it reads the focused window again and clears ``reason``.
    """

    name = "sway"
    socket_label = "sway's IPC socket"

    def __init__(self, socket_path: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._path = socket_path
        self._sock: socket.socket | None = None

    def start(self) -> None:
        """Connect and read the focused window now; raises OSError when sway does not answer."""
        self._sock = self._connect(self._path)
        self._start_thread(self._run)

    def _focused(self, path: str) -> ActiveWindow:
        """The focused window as sway's tree says now (``NO_WINDOW`` on an empty workspace)."""
        query = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        query.settimeout(2.0)
        try:
            query.connect(path)
            _sway_send(query, SWAY_GET_TREE)
            _, tree = _sway_recv(query)
        finally:
            query.close()
        focused = _sway_focused(tree if isinstance(tree, dict) else {})
        return _sway_window(focused) if focused is not None else NO_WINDOW

    def _connect(self, path: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        try:
            sock.connect(path)
            _sway_send(sock, SWAY_SUBSCRIBE, json.dumps(["window"]).encode())
            _, reply = _sway_recv(sock)
        except BaseException:
            sock.close()
            raise
        if not (isinstance(reply, dict) and reply.get("success")):
            sock.close()
            raise OSError("sway refused the window-event subscription")
        try:
            window = self._focused(path)  # read after subscribing: no change falls in between
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        self._path = path
        self._publish(window)
        return sock

    def _candidates(self) -> list[str]:
        return socket_candidates(self._path)

    def _follow(self, sock: socket.socket) -> None:
        """Publish window events until sway closes the socket (raises) or ``stop()``."""
        while not self._stop.is_set():
            readable, _, _ = select.select([sock], [], [], EVENT_WAIT_S)
            if not readable:
                continue
            kind, event = _sway_recv(sock)
            if kind == SWAY_EVENT_WINDOW and isinstance(event, dict):
                change = event.get("change")
                container = event.get("container") or {}
                if change == "focus" or (change == "title" and container.get("focused")):
                    self._publish(_sway_window(container))
                elif change == "close" and container.get("focused"):
                    # No focus event follows when the workspace is left empty: ask the tree.
                    self._publish(self._focused(self._path))


def socket_candidates(path: str) -> list[str]:
    """Where sway's IPC socket may be now: ``path``, then the other ``sway-ipc.<uid>.<pid>.sock``
    in its folder, newest first (a restarted sway names a new one after its new pid)."""
    known = Path(path)
    parts = known.name.split(".")
    found: list[tuple[float, str]] = []
    if len(parts) >= 4 and parts[0] == "sway-ipc":
        for other in known.parent.glob(f"sway-ipc.{parts[1]}.*.sock"):
            try:
                found.append((other.stat().st_mtime, str(other)))
            except OSError:
                continue
    others = [p for _, p in sorted(found, reverse=True) if p != path]
    return [path, *others]
