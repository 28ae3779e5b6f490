"""Desktop stage, window watchers: sway (and i3-compatible) IPC, on the socket named by ``SWAYSOCK``."""

from __future__ import annotations

import json
import logging
import select
import socket
import struct
from collections.abc import Mapping
from typing import Any

from handmap.daemon.desktop.windows.base import EVENT_WAIT_S, ActiveWindow, OnChange, SocketWatcher, process_name

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
