"""The settings window refuses what it must (issue 22): no token, a wrong token, a
foreign Origin, a non-loopback Host header, another user reading the token file; and
serves nothing when it is off in the config. Against a real daemon replaying a real clip."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ui_daemon
from cli import handmap
from keypoint_traces import empty_frames, write_trace

CLIP = "subhih_session35_10fps_x5.mp4"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, data_dir):
    clip = data_dir / "sequences" / "webcam_session35" / CLIP
    running = ui_daemon.start(clip, tmp_path_factory.mktemp("ui-security"))
    yield running
    running.stop()


def request(daemon, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One raw request (any Host header) and its status, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.access.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": f"127.0.0.1:{daemon.access.port}", **(headers or {})}
        if body is not None:
            sent["Content-Length"] = str(len(body))
        for key, value in sent.items():
            if value is not None:
                conn.putheader(key, value)
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def cookie(daemon, token: str) -> dict:
    return {"Cookie": f"{daemon.access.cookie_name()}={token}"}


def test_with_the_token_the_state_and_the_camera_view_are_served(daemon):
    status, headers, body = request(daemon, "GET", "/api/state", cookie(daemon, daemon.access.token))
    assert status == 200 and json.loads(body)["output"] == "dry-run"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the first frames arrive once a page asked
        status, headers, body = request(daemon, "GET", "/api/frame.jpg", cookie(daemon, daemon.access.token))
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"


@pytest.mark.parametrize("path", ["/api/state", "/api/frame.jpg", "/live", "/profiles", "/api/profiles",
                                  "/static/live.js"])
def test_without_a_token_nothing_is_served(daemon, path):
    status, _, body = request(daemon, "GET", path)
    assert status == 401
    assert b"handmap ui" in body  # says how to get in
    assert not body.startswith(b"\xff\xd8")


def test_a_wrong_token_is_refused_in_a_cookie_a_header_and_the_login(daemon):
    wrong = daemon.access.token[:-4] + ("AAAA" if not daemon.access.token.endswith("AAAA") else "BBBB")
    assert request(daemon, "GET", "/api/frame.jpg", cookie(daemon, wrong))[0] == 401
    assert request(daemon, "GET", "/api/state", {"X-Handmap-Token": wrong})[0] == 401
    origin = {"Origin": daemon.access.origin, "Content-Type": "application/json"}
    status, headers, _ = request(daemon, "POST", "/api/session", origin, json.dumps({"token": wrong}).encode())
    assert status == 401 and "Set-Cookie" not in headers
    status, headers, _ = request(daemon, "POST", "/api/session", origin,
                                 json.dumps({"token": daemon.access.token}).encode())
    assert status == 200 and "HttpOnly" in headers["Set-Cookie"] and "samesite=strict" in headers["Set-Cookie"].lower()


def test_a_foreign_origin_is_refused_even_with_the_token(daemon):
    good = cookie(daemon, daemon.access.token)
    for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
        assert request(daemon, "GET", "/api/state", {**good, "Origin": origin})[0] == 403
        status, _, _ = request(daemon, "POST", "/api/pause", {**good, "Origin": origin,
                                                              "Content-Type": "application/json"}, b"{}")
        assert status == 403
    # A change with the cookie but no Origin at all (not from the window's pages) too.
    assert request(daemon, "POST", "/api/pause", good, b"{}")[0] == 403
    assert daemon.api("GET", "/api/state")["state"] != "paused"  # none of them paused it


def test_a_non_loopback_host_is_refused_even_with_the_token(daemon):
    port = daemon.access.port
    good = cookie(daemon, daemon.access.token)
    for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "127.0.0.1", f"localhost:{port + 1}", None):
        status, _, body = request(daemon, "GET", "/api/state", {**good, "Host": host})
        assert status == 421, host
        assert b"profile" not in body
    assert request(daemon, "GET", "/api/state", {**good, "Host": f"localhost:{port}"})[0] == 200


def test_the_token_file_is_the_users_alone(daemon):
    path = daemon.access_file
    info = path.stat()
    assert info.st_mode & 0o777 == 0o600 and info.st_uid == os.getuid()
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("reading as another user needs root and setpriv")
    other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", str(path)],
                           capture_output=True, text=True)
    assert other.returncode != 0 and "Permission denied" in other.stderr
    assert daemon.access.token not in other.stdout


def test_handmap_ui_gives_the_login_address_with_the_token_in_the_fragment(daemon):
    result = handmap("ui", "--print-url", env=daemon.env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"http://127.0.0.1:{daemon.access.port}/login#{daemon.access.token}"


def test_handmap_ui_opens_the_browser_on_the_login_address(daemon, tmp_path):
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"  # the user's browser, as $BROWSER names it
    script.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    script.chmod(0o755)
    result = handmap("ui", env={**daemon.env, "BROWSER": str(script)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "open in your browser" in result.stdout
    assert opened.read_text().strip() == daemon.access.login_url()


def test_nothing_is_served_when_the_window_is_off(tmp_path):
    env = ui_daemon.private_env(tmp_path)
    config = Path(env["XDG_CONFIG_HOME"]) / "handmap" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("ui:\n  enabled: false\n")
    trace = write_trace(tmp_path / "idle.jsonl", empty_frames(30 * 20))
    running = subprocess.Popen([sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(trace), "--realtime",
                                "--output", "dry-run", "--no-tray"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        runtime = Path(env["XDG_RUNTIME_DIR"])
        deadline = time.monotonic() + 60
        while not (runtime / "handmap.sock").exists():  # up (the window would start right after the socket)
            assert running.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert handmap("status", env=env, timeout=60).returncode == 0
        assert not (runtime / "handmap-ui.json").exists()
        refused = handmap("ui", "--print-url", env=env, timeout=60)
        assert refused.returncode == 1
        assert "no settings window is being served" in refused.stderr
    finally:
        running.terminate()
        running.wait(30)
