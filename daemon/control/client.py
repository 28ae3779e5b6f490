"""Control stage, client: sends typed requests (``control.protocol``) to a running
daemon over its control socket and returns the answers."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import IO, Any

from handmap.daemon.control.protocol import (
    MAX_REQUEST_BYTES,
    ControlError,
    NotRunningError,
    SocketRequest,
    default_socket_path,
    encode_request,
)

CLIENT_TIMEOUT_S = 5.0


class ControlClient:
    """Talks to a running daemon. One connection, opened on the first request and reused.

    ``request`` returns the daemon's answer as a dict (``ok`` true or false) and raises
    :class:`NotRunningError` / :class:`ControlError` when the daemon cannot be reached.
    """

    def __init__(self, path: Path | str | None = None, timeout: float = CLIENT_TIMEOUT_S) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._reader: IO[bytes] | None = None

    def _connect(self) -> tuple[socket.socket, IO[bytes]]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(os.fspath(self.path))
        except FileNotFoundError:
            sock.close()
            raise NotRunningError(f"handmap is not running (no socket at {self.path}); start it with `handmap run` "
                                  "or `handmap service install`", f"no socket at {self.path}") from None
        except ConnectionRefusedError:
            sock.close()
            reason = f"the socket at {self.path} is stale: nothing answers"
            raise NotRunningError(f"handmap is not running ({reason})", reason) from None
        except PermissionError:
            sock.close()
            raise ControlError(f"permission denied on {self.path}: the handmap daemon there belongs to another user") from None
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot reach handmap at {self.path}: {exc.strerror or exc}") from None
        self._sock = sock
        self._reader = sock.makefile("rb")
        return sock, self._reader

    def request(self, request: SocketRequest) -> dict[str, Any]:
        """Send ``request`` and return the daemon's answer (``{"ok": ...}``)."""
        if self._sock is None or self._reader is None:
            sock, reader = self._connect()
        else:
            sock, reader = self._sock, self._reader
        try:
            try:
                sock.sendall(encode_request(request))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon hung up (a refusal): its reason may still be waiting to be read
            line = reader.readline(MAX_REQUEST_BYTES * 16)
        except TimeoutError:
            self.close()
            raise ControlError(f"handmap did not answer within {self.timeout:g} s (socket {self.path})") from None
        except OSError as exc:
            self.close()
            if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                raise ControlError(f"handmap closed the connection (socket {self.path})") from None
            raise ControlError(f"cannot talk to handmap at {self.path}: {exc.strerror or exc}") from None
        if not line.endswith(b"\n"):
            self.close()
            if line:
                try:  # a refusal arrives as one line and then the daemon hangs up
                    return json.loads(line)
                except ValueError:
                    pass
            raise ControlError(f"handmap closed the connection without answering (socket {self.path})")
        try:
            answer = json.loads(line)
        except ValueError:
            self.close()
            raise ControlError(f"handmap sent a malformed answer (socket {self.path})") from None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise ControlError(f"handmap sent an unexpected answer (socket {self.path})")
        return answer

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
