"""Started as a service before the desktop: ``status`` says it waits, then it adopts the
display the user manager publishes. (The user manager is the one part replaced here:
systemd is not PID 1 on this machine, so ``systemctl --user show-environment`` cannot
answer; the test hands over what it would print.)"""

from __future__ import annotations

import threading
import time

from handmap.daemon.control import ControlClient, QuitRequest, StatusRequest
from handmap.daemon.desktop.waiting import wait_for_display


def test_waits_for_the_display_and_says_so_in_status(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    tmp_path.chmod(0o700)
    published: dict = {}
    result: list = []
    thread = threading.Thread(target=lambda: result.append(
        wait_for_display(env, "desktop", read_manager=lambda: dict(published), poll_s=0.05,
                         socket_path=tmp_path / "handmap.sock")))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline:
            try:
                with ControlClient(tmp_path / "handmap.sock") as client:
                    status = client.request(StatusRequest())["status"]
                break
            except Exception:
                time.sleep(0.05)
        assert status is not None and status["state"] == "waiting for display"
        assert thread.is_alive()
        published.update(DISPLAY=":42", XAUTHORITY="/tmp/xauth")
        thread.join(5)
    finally:
        published.setdefault("DISPLAY", ":42")
        thread.join(5)
    assert result == [True]
    assert env["DISPLAY"] == ":42" and env["XAUTHORITY"] == "/tmp/xauth"
    assert not (tmp_path / "handmap.sock").exists()  # the waiting socket is gone


def test_quit_while_waiting(tmp_path):
    tmp_path.chmod(0o700)
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    result: list = []
    thread = threading.Thread(target=lambda: result.append(
        wait_for_display(env, "desktop", read_manager=dict, poll_s=0.05, socket_path=tmp_path / "handmap.sock")))
    thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (tmp_path / "handmap.sock").exists():
        time.sleep(0.02)
    with ControlClient(tmp_path / "handmap.sock") as client:
        assert client.request(QuitRequest())["ok"]
    thread.join(5)
    assert result == [False]
