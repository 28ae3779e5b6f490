"""Control stage, server: serves the daemon's :class:`~handmap.daemon.runtime.state.Controller`
on its Unix control socket (the wire format is ``control.protocol``).

Peers running as another user (``SO_PEERCRED`` / ``LOCAL_PEERCRED``) are refused even if
the socket's mode has been loosened. The server runs one selector loop in a daemon
thread: bounded connections, a per-request deadline, back-pressure on clients that do not
read their answers, and nothing a client sends can stop it.

Start-up safety: the socket's folder must be the user's own and not writable by others;
``handmap.sock.lock`` (an ``flock`` held for the daemon's life, holding its pid) keeps a
second daemon out; a stale socket (nothing answers) is replaced, anything else at the path
is left alone with a clear error. The lock file is never deleted: unlinking a lock file
lets two processes each lock a different inode.
"""

from __future__ import annotations

import fcntl
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handmap.daemon.control.protocol import (
    MAX_REQUEST_BYTES,
    AlertsRequest,
    AlreadyRunningError,
    ControlError,
    PauseRequest,
    ProfileRequest,
    QuitRequest,
    RequestError,
    ResumeRequest,
    SocketRequest,
    StatusRequest,
    TogglePauseRequest,
    default_socket_path,
    encode,
    error_response,
    ok_response,
    parse_request,
)
from handmap.daemon.runtime.state import Controller, SwitchRefused

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
#: Who paused, when a pause came over the socket (the status and dry-run say it).
PAUSED_BY_CLIENT = "handmap pause"
MAX_CONNECTIONS = 16
REQUEST_TIMEOUT_S = 5.0  # a connection must complete each request within this
OUTPUT_HIGH_WATER = 64 * 1024  # stop reading a client whose answers pile up unread
REPLACE_TIMEOUT_S = 20.0  # how long --replace waits for the running daemon to quit
_REPLACE_POLL_S = 0.1
_RECV_CHUNK = 4096
_LINGER_S = 1.0  # how long a refused connection is drained before it is closed
_AF_UNIX_PATH_MAX = 104  # the smaller of Linux (108) and macOS (104)
_BIND_SUFFIX_LEN = 16  # "/.hm-XXXXXXXX/s": the private folder the socket is bound in
_SOL_LOCAL = 0  # macOS: getsockopt level for LOCAL_PEERCRED
_LOCAL_PEERCRED = 0x001
_XUCRED_SIZE = 76  # struct xucred: u_int version, uid_t uid, short ngroups, gid_t groups[16]


# --------------------------------------------------------------------------- requests


def carry_out(controller: Controller, request: SocketRequest) -> dict[str, Any]:
    """Hand one request to the controller; the answer to send back."""
    match request:
        case StatusRequest():
            return ok_response(status=controller.status().to_json())
        case PauseRequest():
            controller.pause(by=PAUSED_BY_CLIENT)
        case ResumeRequest():
            controller.resume()
        case TogglePauseRequest():
            controller.toggle_pause(by=PAUSED_BY_CLIENT)
        case ProfileRequest(name=name):
            try:
                controller.switch_profile(name)
            except KeyError as exc:
                return error_response(exc.args[0] if exc.args else f"no profile named {name!r}")
            except SwitchRefused as exc:
                return error_response(str(exc))
        case AlertsRequest(muted=muted):
            controller.set_alerts_muted(muted)
        case QuitRequest():
            controller.quit()
    return ok_response()


def handle_request(controller: Controller, line: bytes) -> dict[str, Any]:
    """Answer one request line; every failure becomes ``{"ok": false, "error": ...}``."""
    try:
        request = parse_request(line)
    except RequestError as exc:
        return error_response(str(exc))
    try:
        return carry_out(controller, request)
    except Exception as exc:  # a daemon bug must not take the socket down
        log.exception("control command %s failed", request.cmd)
        return error_response(f"internal error in {request.cmd}: {exc}")


# --------------------------------------------------------------------------- folder and peers


def _ensure_private_dir(directory: Path) -> None:
    """Create (0700) or check the socket's folder: ours, not writable by anyone else."""
    try:
        directory.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        raise ControlError(f"cannot create the control socket: {directory.parent} does not exist "
                           "(is XDG_RUNTIME_DIR set to the right folder?)") from None
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise ControlError(f"refusing to put the control socket in {directory}: it is not a folder")
    if info.st_uid != os.geteuid():
        raise ControlError(f"refusing to put the control socket in {directory}: it belongs to uid "
                           f"{info.st_uid}, not to you (uid {os.geteuid()}); set XDG_RUNTIME_DIR to your own runtime folder")
    if info.st_mode & 0o022:
        raise ControlError(f"refusing to put the control socket in {directory}: other users can write there "
                           f"(mode {stat.S_IMODE(info.st_mode):04o}); XDG_RUNTIME_DIR must be private (chmod 700)")


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket, or None if unknowable."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid;}
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
        return uid
    if sys.platform == "darwin" or "bsd" in sys.platform:
        level = getattr(socket, "SOL_LOCAL", _SOL_LOCAL)
        option = getattr(socket, "LOCAL_PEERCRED", _LOCAL_PEERCRED)
        try:
            raw = sock.getsockopt(level, option, _XUCRED_SIZE)
        except OSError:
            return None
        _version, uid = struct.unpack_from("Ii", raw)
        return uid
    return None


def lock_path(socket_path: Path) -> Path:
    """The instance lock next to the socket: ``handmap.sock.lock``."""
    return socket_path.with_name(socket_path.name + LOCK_SUFFIX)


class InstanceLock:
    """One daemon per user session: an ``flock`` on ``handmap.sock.lock`` held for the
    daemon's life, holding its pid. Taken before anything slow (the models) so that a
    second ``handmap run`` refuses at once, naming the first's pid."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.path = lock_path(socket_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _try(self) -> str | None:
        """Take the lock; None when taken, else the holder's pid ("" when unknown)."""
        if self._fd is not None:
            return None
        _ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            return owner if owner.isdigit() else ""
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return None

    def acquire(self) -> None:
        """Take the lock, or :class:`AlreadyRunningError` naming the running daemon."""
        owner = self._try()
        if owner is not None:
            raise AlreadyRunningError(
                f"handmap is already running{f' (pid {owner})' if owner else ''}: `handmap status` shows it, "
                "`handmap run --replace` stops it and takes over")

    def take_over(self, timeout: float = REPLACE_TIMEOUT_S) -> str | None:
        """Take the lock, asking a running daemon to quit first (over its control
        socket) and waiting for it to let go; the pid it had (None when none ran)."""
        owner = self._try()
        if owner is None:
            return None
        from handmap.daemon.control.client import ControlClient

        try:
            with ControlClient(self.socket_path) as client:
                client.request(QuitRequest())
        except ControlError as exc:
            raise AlreadyRunningError(f"handmap is already running{f' (pid {owner})' if owner else ''} and "
                                      f"did not take the request to quit: {exc}") from None
        deadline = time.monotonic() + timeout
        while self._try() is not None:
            if time.monotonic() > deadline:
                raise AlreadyRunningError(f"handmap{f' (pid {owner})' if owner else ''} was asked to quit "
                                          f"but still runs after {timeout:g} s; stop it first")
            time.sleep(_REPLACE_POLL_S)
        return owner

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (see the module docstring)
            self._fd = None


@dataclass(frozen=True)
class ControlStats:
    connections: int
    requests: int
    errors: int  # requests answered with ok: false
    refused_peers: int  # connections from another user
    refused_busy: int  # connections over the limit
    timeouts: int  # connections closed for being too slow
    oversized: int  # requests over MAX_REQUEST_BYTES


class _Connection:
    __slots__ = ("sock", "inbuf", "outbuf", "deadline", "closing", "eof", "shut", "events")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.deadline = deadline
        self.closing = False  # close once outbuf is flushed
        self.eof = False  # the peer will send nothing more
        self.shut = False  # we sent everything and shut our side down; draining until EOF
        self.events = 0


class ControlServer:
    """Serves ``controller`` on a Unix socket at ``path`` from a daemon thread.

    ``start()`` raises :class:`AlreadyRunningError` when another daemon owns the socket
    and :class:`ControlError` when the path is unsafe; a stale socket is replaced. A
    ``lock`` taken earlier (:class:`InstanceLock`, before the models load) is used as is.
    ``stop()`` closes every connection and removes the socket.
    """

    def __init__(self, controller: Controller, path: Path | str | None = None, *,
                 max_connections: int = MAX_CONNECTIONS, request_timeout_s: float = REQUEST_TIMEOUT_S,
                 max_request_bytes: int = MAX_REQUEST_BYTES, lock: InstanceLock | None = None) -> None:
        self.controller = controller
        self.path = Path(path) if path is not None else default_socket_path()
        self.max_connections = max_connections
        self.request_timeout_s = request_timeout_s
        self.max_request_bytes = max_request_bytes
        self._uid = os.geteuid()
        self._listener: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._lock = lock
        self._own_lock = False  # a lock passed in is the caller's to release
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._counts = dict(connections=0, requests=0, errors=0, refused_peers=0, refused_busy=0,
                            timeouts=0, oversized=0)

    # ---- lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("ControlServer already started")
        longest = max(len(os.fsencode(self.path)), len(os.fsencode(self.path.parent)) + _BIND_SUFFIX_LEN)
        if longest >= _AF_UNIX_PATH_MAX:
            raise ControlError(f"control socket path is too long for a Unix socket: {self.path}")
        _ensure_private_dir(self.path.parent)
        self._take_lock()
        try:
            self._check_existing()
            listener = self._bind()
        except BaseException:
            self._release_lock()
            raise
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_r, self._wake_w = wake_r, wake_w
        self._thread = threading.Thread(target=self._serve, args=(listener, wake_r), name="handmap-control",
                                        daemon=True)
        self._thread.start()
        log.info("control socket listening at %s", self.path)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        try:
            if self._wake_w is not None:
                self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout)
        self._thread = None
        self._remove_socket()
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._wake_r = self._wake_w = None
        self._release_lock()
        log.info("control socket closed")

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> ControlStats:
        return ControlStats(**self._counts)

    # ---- setup helpers

    def _take_lock(self) -> None:
        if self._lock is None:
            self._lock = InstanceLock(self.path)
            self._own_lock = True
        self._lock.acquire()

    def _release_lock(self) -> None:
        if self._lock is not None and self._own_lock:
            self._lock.release()

    def _check_existing(self) -> None:
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ControlError(f"{self.path} exists and is not a socket; remove it and start handmap again")
        if info.st_uid != self._uid:
            raise ControlError(f"{self.path} belongs to uid {info.st_uid}, not to you; remove it and start handmap again")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(os.fspath(self.path))
        except OSError:
            log.info("replacing stale control socket %s", self.path)
            return
        finally:
            probe.close()
        raise AlreadyRunningError(f"handmap is already running (something answers at {self.path}); "
                                  "use `handmap status`, or stop it first")

    def _bind(self) -> socket.socket:
        """Bind in a fresh 0700 folder, chmod 0600, then rename into place: no moment
        exists where another user could reach the socket, and a stale one is replaced
        atomically. The process umask is left alone (other threads may be creating files).
        """
        private = Path(tempfile.mkdtemp(prefix=".hm-", dir=self.path.parent))
        temp_path = private / "s"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fspath(temp_path))
            os.chmod(temp_path, 0o600)
            listener.listen(64)
            listener.setblocking(False)
            os.rename(temp_path, self.path)
            info = self.path.lstat()
        except BaseException:
            listener.close()
            temp_path.unlink(missing_ok=True)
            raise
        finally:
            private.rmdir()
        self._listener = listener
        self._inode = (info.st_dev, info.st_ino)
        return listener

    def _remove_socket(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        try:
            info = self.path.lstat()
            if (info.st_dev, info.st_ino) == self._inode:  # never remove another daemon's socket
                self.path.unlink()
        except FileNotFoundError:
            pass

    # ---- the loop

    def _serve(self, listener: socket.socket, wake: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        conns: dict[int, _Connection] = {}
        sel.register(listener, selectors.EVENT_READ, None)
        sel.register(wake, selectors.EVENT_READ, "wake")
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                timeout = min((c.deadline for c in conns.values()), default=now + 1.0) - now
                for key, events in sel.select(max(0.0, min(timeout, 1.0))):
                    if key.data == "wake":
                        continue
                    if key.data is None:
                        self._accept(sel, conns, listener)
                        continue
                    conn: _Connection = key.data
                    try:
                        if events & selectors.EVENT_READ:
                            self._read(conn)
                        if conn.outbuf:  # write at once; a half-closed peer can still read
                            self._write(conn)
                        self._update(sel, conns, conn)
                    except OSError as exc:
                        log.debug("control connection dropped: %s", exc)
                        self._close(sel, conns, conn)
                    except Exception:  # a bug: lose this connection, keep serving the others
                        log.exception("control connection failed")
                        self._close(sel, conns, conn)
                now = time.monotonic()
                for conn in [c for c in conns.values() if c.deadline <= now]:
                    if not conn.shut:
                        self._counts["timeouts"] += 1
                        log.debug("control connection timed out")
                    self._close(sel, conns, conn)
        except Exception:  # pragma: no cover - a bug here must be loud, not silent
            log.exception("control socket loop failed; the control socket is closed")
        finally:
            for conn in list(conns.values()):
                self._close(sel, conns, conn)
            sel.close()

    def _accept(self, sel: selectors.BaseSelector, conns: dict[int, _Connection], listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: try again on the next event
                log.warning("control socket accept failed: %s", exc)
                return
            sock.setblocking(False)
            self._counts["connections"] += 1
            try:
                uid = peer_uid(sock)
            except OSError as exc:  # the peer vanished already
                log.debug("control socket: no peer credentials: %s", exc)
                sock.close()
                continue
            refusal = None
            if uid is not None and uid != self._uid:
                self._counts["refused_peers"] += 1
                log.warning("control socket: refused a connection from uid %d", uid)
                refusal = "permission denied: this handmap daemon belongs to another user"
            elif sum(not c.closing for c in conns.values()) >= self.max_connections:
                self._counts["refused_busy"] += 1
                log.warning("control socket: too many connections, refusing one")
                refusal = f"too many control connections (at most {self.max_connections}); try again"
            if refusal is not None and len(conns) >= 2 * self.max_connections:
                sock.close()  # a flood: no courtesy answer
                continue
            conn = _Connection(sock, time.monotonic() + (self.request_timeout_s if refusal is None else _LINGER_S))
            conn.events = selectors.EVENT_READ
            if refusal is not None:  # answer once, then the lingering close in _update
                conn.outbuf += encode(error_response(refusal))
                conn.closing = True
                conn.events = selectors.EVENT_WRITE
            conns[sock.fileno()] = conn
            sel.register(sock, conn.events, conn)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(_RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if not data:  # the peer is done sending: a last unterminated request still counts
            conn.eof = True
            if conn.inbuf.strip() and not conn.closing:
                self._answer(conn, bytes(conn.inbuf))
            conn.inbuf.clear()
            conn.closing = True
            return
        if conn.closing:  # lingering close: discard what still arrives, so the peer reads our answer
            return
        conn.inbuf += data
        while not conn.closing:
            end = conn.inbuf.find(b"\n")
            if end < 0:
                break
            line = bytes(conn.inbuf[:end])
            del conn.inbuf[: end + 1]
            if len(line) > self.max_request_bytes:
                self._oversized(conn)
                return
            if line.strip():
                self._answer(conn, line)
            conn.deadline = time.monotonic() + self.request_timeout_s
        if len(conn.inbuf) > self.max_request_bytes:
            self._oversized(conn)

    def _oversized(self, conn: _Connection) -> None:
        self._counts["oversized"] += 1
        self._counts["errors"] += 1
        conn.inbuf.clear()
        conn.outbuf += encode(error_response(f"request too large (at most {self.max_request_bytes} bytes per line)"))
        conn.closing = True  # the framing is lost: answer and hang up

    def _answer(self, conn: _Connection, line: bytes) -> None:
        self._counts["requests"] += 1
        response = handle_request(self.controller, line)
        if not response.get("ok"):
            self._counts["errors"] += 1
        conn.outbuf += encode(response)

    @staticmethod
    def _write(conn: _Connection) -> None:
        while conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                return
            del conn.outbuf[:sent]

    def _update(self, sel: selectors.BaseSelector, conns: dict[int, _Connection], conn: _Connection) -> None:
        if conn.sock.fileno() < 0:
            return
        if conn.closing and not conn.outbuf:
            if conn.eof:
                self._close(sel, conns, conn)
                return
            if not conn.shut:
                # Closing with unread input would reset the connection and could destroy
                # the answer in flight: shut our side, drain briefly, then close.
                conn.shut = True
                conn.sock.shutdown(socket.SHUT_WR)
                conn.deadline = min(conn.deadline, time.monotonic() + _LINGER_S)
            if conn.events != selectors.EVENT_READ:
                conn.events = selectors.EVENT_READ
                sel.modify(conn.sock, conn.events, conn)
            return
        events = 0
        if not conn.closing and not conn.eof and len(conn.outbuf) < OUTPUT_HIGH_WATER:
            events |= selectors.EVENT_READ
        if conn.outbuf:
            events |= selectors.EVENT_WRITE
        if events != conn.events:
            conn.events = events
            sel.modify(conn.sock, events, conn)

    @staticmethod
    def _close(sel: selectors.BaseSelector, conns: dict[int, _Connection], conn: _Connection) -> None:
        fd = conn.sock.fileno()
        if fd >= 0:
            try:
                sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conns.pop(fd, None)
            conn.sock.close()
