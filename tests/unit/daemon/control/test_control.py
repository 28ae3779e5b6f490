"""Control socket, `handmap status|pause|resume|profile`, and the global pause hotkey.

The daemon behind the socket is a small real Controller written here (the daemon loop is
not needed to test the socket); everything else is real: a Unix socket, real clients,
other-user clients run as `nobody`, the CLI parsers, pynput on a real Xvfb.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from handmap.daemon.cli import control as control_cli
from handmap.daemon.control import (
    AlertsRequest,
    AlreadyRunningError,
    ControlClient,
    ControlError,
    ControlServer,
    NotRunningError,
    PauseRequest,
    ProfileRequest,
    QuitRequest,
    ResumeRequest,
    StatusRequest,
    TogglePauseRequest,
    default_socket_path,
)
from handmap.daemon.desktop.hotkey import HotkeyUnavailable, PauseHotkey, normalize_combo
from handmap.daemon.paths import runtime_dir
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # readable by `nobody` (the venv's interpreter lives under /root)


class DemoController:
    """A minimal thread-safe Controller: the state a real daemon would keep."""

    def __init__(self, profiles=("default", "gamea")) -> None:
        self._lock = threading.Lock()
        self.paused = False
        self.profile = profiles[0]
        self.profiles = tuple(profiles)
        self.muted = False
        self.quit_requested = False
        self.toggles = 0
        self.fail_status = False
        self.calls = 0

    def status(self) -> StatusSnapshot:
        with self._lock:
            self.calls += 1
            if self.fail_status:
                raise RuntimeError("camera object vanished")
            return StatusSnapshot(
                state=DaemonState.PAUSED if self.paused else DaemonState.RUNNING,
                profile=self.profile, fps=29.97, hands_seen=1, output="dry-run", uptime_s=3725.4,
                source="0", face_touches_today=2, alerts_muted=self.muted, profiles=self.profiles)

    def pause(self, by="") -> None:
        with self._lock:
            self.calls += 1
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.calls += 1
            self.paused = False

    def toggle_pause(self, by="") -> None:
        with self._lock:
            self.calls += 1
            self.toggles += 1
            self.paused = not self.paused

    def switch_profile(self, name: str) -> None:
        with self._lock:
            self.calls += 1
            if name not in self.profiles:
                raise KeyError(f"no profile named {name!r} (available: {', '.join(self.profiles)})")
            self.profile = name

    def set_alerts_muted(self, muted: bool) -> None:
        with self._lock:
            self.calls += 1
            self.muted = muted

    def quit(self) -> None:
        with self._lock:
            self.calls += 1
            self.quit_requested = True


@pytest.fixture()
def sock_dir():
    # A short private folder: Unix socket paths are limited to ~104 bytes, pytest's tmp_path can be longer.
    d = Path(tempfile.mkdtemp(prefix="hm-"))
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture()
def controller():
    return DemoController()


@pytest.fixture()
def server(sock_dir, controller):
    srv = ControlServer(controller, sock_dir / "handmap.sock", request_timeout_s=2.0)
    srv.start()
    yield srv
    srv.stop()


def raw_exchange(path: Path, payload: bytes, *, shut_wr: bool = False, timeout: float = 3.0) -> list[dict]:
    """Send raw bytes, read until the server closes or goes quiet; return the answer lines."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(payload)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        data = b""
        s.settimeout(0.5 if not shut_wr else timeout)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def status_ok(path: Path) -> bool:
    with ControlClient(path, timeout=2.0) as c:
        answer = c.request(StatusRequest())
    return answer["ok"] and answer["status"]["profile"] in ("default", "gamea")


# --------------------------------------------------------------------------- round trip


def test_status_pause_resume_profile_round_trip(server, controller):
    with ControlClient(server.path) as c:
        answer = c.request(StatusRequest())
        assert answer["ok"] is True
        st = answer["status"]
        assert st["state"] == "running" and st["profile"] == "default" and st["output"] == "dry-run"
        assert st["fps"] == 30.0 and st["hands_seen"] == 1 and st["uptime_s"] == 3725.4

        assert c.request(PauseRequest()) == {"ok": True}
        assert controller.paused and c.request(StatusRequest())["status"]["state"] == "paused"
        assert c.request(ResumeRequest()) == {"ok": True}
        assert not controller.paused

        assert c.request(ProfileRequest("gamea")) == {"ok": True}
        assert c.request(StatusRequest())["status"]["profile"] == "gamea"
        missing = c.request(ProfileRequest("nosuch"))
        assert missing["ok"] is False and "no profile named 'nosuch'" in missing["error"]
        assert controller.profile == "gamea"

        assert c.request(TogglePauseRequest()) == {"ok": True} and controller.paused
        assert c.request(AlertsRequest(muted=True)) == {"ok": True} and controller.muted
        assert c.request(QuitRequest()) == {"ok": True} and controller.quit_requested


def test_socket_is_0600_from_the_start_and_removed_on_stop(sock_dir, controller):
    path = sock_dir / "handmap.sock"
    old_umask = os.umask(0)  # even with a permissive umask the socket must come out 0600
    try:
        srv = ControlServer(controller, path)
        srv.start()
    finally:
        os.umask(old_umask)
    try:
        info = path.lstat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert sorted(p.name for p in sock_dir.iterdir()) == ["handmap.sock", "handmap.sock.lock"]
    finally:
        srv.stop()
    assert not path.exists()
    with pytest.raises(NotRunningError, match=r"handmap is not running \(no socket at "):
        ControlClient(path).request(StatusRequest())


def test_default_path_is_in_xdg_runtime_dir(monkeypatch, tmp_path):
    assert default_socket_path({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path("/run/user/1000/handmap.sock")
    fallback = runtime_dir({"XDG_RUNTIME_DIR": "relative/dir"})  # not absolute: ignored, as the spec says
    assert fallback == Path("/tmp") / f"handmap-{os.getuid()}"
    assert runtime_dir({}) == fallback


# --------------------------------------------------------------------------- CLI


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handmap")
    control_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def run_cli(*argv: str) -> int:
    args = make_parser().parse_args(argv)
    return args.func(args)


def test_cli_status_pause_resume_profile(server, controller, capsys):
    sock = str(server.path)
    assert run_cli("status", "--socket", sock) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "handmap: running"
    assert "profile:" in out and "default" in out and "available: default, gamea" in out
    assert "fps:" in out and "30.0" in out and "hands seen:" in out and "output:" in out and "dry-run" in out
    assert "uptime:" in out and "1 h 02 min" in out

    assert run_cli("status", "--json", "--socket", sock) == 0
    assert json.loads(capsys.readouterr().out)["profile"] == "default"

    assert run_cli("pause", "--socket", sock) == 0 and controller.paused
    assert run_cli("resume", "--socket", sock) == 0 and not controller.paused
    assert run_cli("profile", "gamea", "--socket", sock) == 0 and controller.profile == "gamea"
    capsys.readouterr()
    assert run_cli("profile", "nosuch", "--socket", sock) == 1
    err = capsys.readouterr().err
    assert err.startswith("handmap: no profile named 'nosuch'") and err.count("\n") == 1


def test_cli_when_not_running(sock_dir, capsys):
    assert run_cli("status", "--socket", str(sock_dir / "handmap.sock")) == 3
    err = capsys.readouterr().err
    assert f"handmap is not running (no socket at {sock_dir / 'handmap.sock'})" in err


# --------------------------------------------------------------------------- malformed input


MALFORMED = [
    (b"\x00\xff\xfe\x80garbage\n", "not UTF-8"),
    (b"{cmd: status}\n", "not valid JSON"),
    (b"[1, 2, 3]\n", "must be a JSON object"),
    (b'"status"\n', "must be a JSON object"),
    (b'{"command": "status"}\n', 'has no "cmd"'),
    (b'{"cmd": 5}\n', 'has no "cmd"'),
    (b'{"cmd": "rm -rf"}\n', "unknown command"),
    (b'{"cmd": "profile"}\n', 'needs "name"'),
    (b'{"cmd": "profile", "name": 7}\n', "must be a string"),
    (b'{"cmd": "alerts", "muted": "yes"}\n', "must be a boolean"),
    (b'{"cmd": "pause", "now": true}\n', "unexpected argument"),
]


@pytest.mark.parametrize("payload, reason", MALFORMED, ids=[r for _, r in MALFORMED])
def test_malformed_request_is_refused_and_server_keeps_answering(server, controller, payload, reason):
    # A bad line, then a good one on the same connection: the framing survives a bad line.
    answers = raw_exchange(server.path, payload + b'{"cmd": "status"}\n', shut_wr=True)
    assert len(answers) == 2
    assert answers[0]["ok"] is False and reason in answers[0]["error"]
    assert answers[1]["ok"] is True
    assert controller.calls == 1  # only the good status reached the daemon
    assert status_ok(server.path)


def test_oversized_request_is_refused_and_connection_closed(server, controller):
    for payload in (b"x" * 10_000, b'{"cmd": "status", "pad": "' + b"y" * 5000 + b'"}\n'):
        answers = raw_exchange(server.path, payload)
        assert answers == [{"ok": False, "error": "request too large (at most 4096 bytes per line)"}]
    assert controller.calls == 0
    assert server.stats().oversized == 2
    assert status_ok(server.path)


def test_half_closed_connections(server):
    # Request, then shut down our sending side: the answer still arrives.
    assert raw_exchange(server.path, b'{"cmd": "status"}\n', shut_wr=True)[0]["ok"] is True
    # `printf '{"cmd":"status"}' | nc -U`: an unterminated last request still counts.
    assert raw_exchange(server.path, b'{"cmd": "status"}', shut_wr=True)[0]["ok"] is True
    # Connect and hang up at once, or after half a request.
    for payload in (b"", b'{"cmd": "sta'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(server.path))
            s.sendall(payload)
    assert status_ok(server.path)


def test_slow_client_is_dropped_without_blocking_others(sock_dir, controller):
    with ControlServer(controller, sock_dir / "handmap.sock", request_timeout_s=1.5) as srv:
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.connect(str(srv.path))
        t0 = time.monotonic()
        slow.sendall(b'{"cmd": "sta')  # ...and never finishes
        assert status_ok(srv.path)  # answered while the slow client still holds its connection:
        with pytest.raises(BlockingIOError):
            slow.recv(100, socket.MSG_DONTWAIT)  # still open, nothing sent to it
        slow.settimeout(10)
        assert slow.recv(100) == b""  # then the server hangs up on it
        assert time.monotonic() - t0 >= 1.4  # after its deadline, not before
        slow.close()
        assert srv.stats().timeouts == 1
        assert status_ok(srv.path)


def test_connection_limit(sock_dir, controller):
    with ControlServer(controller, sock_dir / "handmap.sock", max_connections=3) as srv:
        idle = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(srv.path))
            idle.append(s)
        with ControlClient(srv.path) as c:
            answer = c.request(StatusRequest())
        assert answer["ok"] is False and "too many control connections" in answer["error"]
        for s in idle:
            s.close()
        deadline = time.monotonic() + 3
        while True:  # the server notices the hang-ups on its next loop turn
            with ControlClient(srv.path) as c:
                if c.request(StatusRequest())["ok"] or time.monotonic() > deadline:
                    break
            time.sleep(0.02)
        assert status_ok(srv.path)
        assert srv.stats().refused_busy >= 1


def test_pipelined_requests_are_answered_in_order(server, controller):
    lines = b"".join(b'{"cmd": "%s"}\n' % cmd for cmd in [b"pause", b"status", b"resume", b"status"] * 50)
    answers = raw_exchange(server.path, lines, shut_wr=True)
    assert len(answers) == 200
    assert [a["status"]["state"] for a in answers if "status" in a] == ["paused", "running"] * 50


def test_daemon_error_becomes_an_answer_not_a_crash(server, controller):
    controller.fail_status = True
    with ControlClient(server.path) as c:
        answer = c.request(StatusRequest())
        assert answer["ok"] is False and "internal error in status: camera object vanished" in answer["error"]
        controller.fail_status = False
        assert c.request(StatusRequest())["ok"] is True


# --------------------------------------------------------------------------- other users, permissions


def run_as_nobody(path: Path, payload: bytes) -> subprocess.CompletedProcess:
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(3)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    print('EACCES'); sys.exit(0)\n"
        "s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)\n"
        "data = b''\n"
        "while chunk := s.recv(4096): data += chunk\n"
        "sys.stdout.write(data.decode())\n"
    )
    return subprocess.run([SYSTEM_PYTHON, "-c", code, str(path), payload.decode()], user=NOBODY, group=NOBODY,
                          capture_output=True, text=True, timeout=10)


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists(),
                                reason="running a client as another user needs root and /usr/bin/python3")


@needs_root
def test_other_user_cannot_connect_to_0600_socket(sock_dir, controller):
    os.chmod(sock_dir, 0o711)  # let `nobody` reach the socket file itself
    with ControlServer(controller, sock_dir / "handmap.sock") as srv:
        out = run_as_nobody(srv.path, b'{"cmd": "pause"}\n')
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "EACCES"
        assert not controller.paused


@needs_root
def test_other_user_is_refused_even_when_socket_mode_is_loosened(sock_dir, controller):
    """A socket someone chmod-ed to 0666: the peer-credential check still refuses other uids."""
    os.chmod(sock_dir, 0o711)
    with ControlServer(controller, sock_dir / "handmap.sock") as srv:
        os.chmod(srv.path, 0o666)
        out = run_as_nobody(srv.path, b'{"cmd": "pause"}\n{"cmd": "status"}\n')
        assert out.returncode == 0, out.stderr
        answers = [json.loads(line) for line in out.stdout.splitlines()]
        assert answers == [{"ok": False, "error": "permission denied: this handmap daemon belongs to another user"}]
        assert not controller.paused and controller.calls == 0
        assert srv.stats().refused_peers == 1
        assert status_ok(srv.path)  # and its owner still gets answers


def make_stale_socket(path: Path, mode: int) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # the file stays, nothing listens: what a crashed daemon leaves
    os.chmod(path, mode)


def test_stale_socket_with_wrong_permissions_is_replaced(sock_dir, controller):
    path = sock_dir / "handmap.sock"
    make_stale_socket(path, 0o666)
    with pytest.raises(NotRunningError, match="stale"):
        ControlClient(path).request(StatusRequest())
    with ControlServer(controller, path):
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert status_ok(path)


def test_second_daemon_refuses_to_start(server, controller):
    with pytest.raises(AlreadyRunningError, match=f"handmap is already running \\(pid {os.getpid()}\\)"):
        ControlServer(DemoController(), server.path).start()
    assert status_ok(server.path)  # the first one is untouched


def test_refuses_when_another_program_listens_at_the_path(sock_dir, controller):
    path = sock_dir / "handmap.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    other.listen(1)
    try:
        with pytest.raises(AlreadyRunningError, match="something answers at"):
            ControlServer(controller, path).start()
        assert path.exists()
    finally:
        other.close()
    # The lock was released by the failed start: a later start works.
    with ControlServer(controller, path):
        assert status_ok(path)


def test_refuses_a_non_socket_at_the_path(sock_dir, controller):
    path = sock_dir / "handmap.sock"
    path.write_text("precious")
    with pytest.raises(ControlError, match="exists and is not a socket"):
        ControlServer(controller, path).start()
    assert path.read_text() == "precious"


def test_refuses_a_world_writable_folder(sock_dir, controller):
    os.chmod(sock_dir, 0o777)
    with pytest.raises(ControlError, match=r"other users can write there \(mode 0777\)"):
        ControlServer(controller, sock_dir / "handmap.sock").start()
    assert list(sock_dir.iterdir()) == []


@needs_root
def test_refuses_a_folder_or_socket_owned_by_another_user(sock_dir, controller):
    sub = sock_dir / "theirs"
    sub.mkdir(mode=0o700)
    os.chown(sub, NOBODY, NOBODY)
    with pytest.raises(ControlError, match="belongs to uid 65534"):
        ControlServer(controller, sub / "handmap.sock").start()
    path = sock_dir / "handmap.sock"
    make_stale_socket(path, 0o600)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(ControlError, match="belongs to uid 65534"):
        ControlServer(controller, path).start()


def test_stop_leaves_a_socket_it_does_not_own(sock_dir, controller):
    path = sock_dir / "handmap.sock"
    srv = ControlServer(controller, path)
    srv.start()
    path.unlink()
    make_stale_socket(path, 0o600)  # someone else's socket now sits at the path
    srv.stop()
    assert path.exists()


# --------------------------------------------------------------------------- burst


def test_burst_of_1000_status_requests(server, controller):
    t0 = time.perf_counter()
    with ControlClient(server.path) as c:
        answers = [c.request(StatusRequest()) for _ in range(1000)]
    one_connection = time.perf_counter() - t0
    assert all(a["ok"] and a["status"]["state"] == "running" for a in answers)

    results: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(250):  # a fresh connection per request, as `handmap status` does
                with ControlClient(server.path) as c:
                    results.append(c.request(StatusRequest())["ok"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    concurrent = time.perf_counter() - t0
    assert not errors, errors
    assert len(results) == 1000 and all(results)
    assert server.stats().requests == 2000 and server.stats().errors == 0
    print(f"\n1000 status requests on one connection: {one_connection * 1000:.0f} ms "
          f"({one_connection * 1e6 / 1000:.0f} us each); 1000 on fresh connections from 4 threads: "
          f"{concurrent * 1000:.0f} ms")


# --------------------------------------------------------------------------- pause hotkey


def test_normalize_combo():
    assert normalize_combo("ctrl+alt+p") == "<ctrl>+<alt>+p"
    assert normalize_combo("<ctrl>+<shift>+F12") == "<ctrl>+<shift>+<f12>"
    assert normalize_combo(" Ctrl + Alt + P ") == "<ctrl>+<alt>+p"
    for bad in ("", "ctrl++p", "+"):
        with pytest.raises(HotkeyUnavailable, match="is not a key combination"):
            normalize_combo(bad)


def test_hotkey_without_display_says_why(monkeypatch, controller):
    if not os.uname().sysname == "Linux":
        pytest.skip("the X11 requirement is Linux-only")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(HotkeyUnavailable, match="needs an X11 display"):
        PauseHotkey("ctrl+alt+p", controller).start()


@pytest.mark.desktop
def test_pause_hotkey_toggles_pause_on_a_real_x_server(desktop, monkeypatch, controller):
    """The hotkey the packaged config ships (e.g. <ctrl>+<alt>+h), pressed on a real X server."""
    from handmap.daemon.config import load_config

    monkeypatch.setenv("DISPLAY", desktop.display)
    combo = load_config(env={"HOME": "/nonexistent"}).pause_hotkey or "ctrl+alt+p"
    keys = normalize_combo(combo).replace("<", "").replace(">", "")  # xdotool: ctrl+alt+h
    *mods, last = keys.split("+")
    other = "+".join([*mods, "o" if last != "o" else "q"])
    hotkey = PauseHotkey(combo, controller)
    hotkey.start()
    try:
        assert hotkey.running

        def wait_toggles(n: int) -> bool:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if controller.toggles >= n:
                    return True
                time.sleep(0.02)
            return False

        desktop.run("xdotool", "key", keys)
        assert wait_toggles(1) and controller.paused
        desktop.run("xdotool", "key", other)  # another combo: nothing
        desktop.run("xdotool", "key", last)  # the bare key: nothing
        desktop.run("xdotool", "key", keys)
        assert wait_toggles(2) and not controller.paused
        assert controller.toggles == 2
    finally:
        hotkey.stop()
    assert not hotkey.running
    desktop.run("xdotool", "key", keys)
    time.sleep(0.2)
    assert controller.toggles == 2  # stopped means stopped


def test_console_script_talks_to_the_daemon(server, controller):
    from handmap.daemon.desktop.service import handmap_executable

    def handmap(*args):
        return subprocess.run([str(handmap_executable()), *args, "--socket", str(server.path)],
                              capture_output=True, text=True, timeout=60)

    out = handmap("status", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "running"
    out = handmap("pause")
    assert out.returncode == 0 and out.stdout.strip() == "handmap: paused" and controller.paused
