"""The settings window's request checks (``ui.security.refusal``), request by request."""

from __future__ import annotations

import os

from handmap.daemon.ui.security import Access, read_access, refusal, remove_access, write_access

ACCESS = Access(port=4321, token="s3cret-token", pid=1)
COOKIE = {"cookie": f"other=1; {ACCESS.cookie_name()}=s3cret-token"}
HOST = {"host": "127.0.0.1:4321"}


def test_the_right_token_host_and_origin_pass():
    assert refusal(ACCESS, "GET", "/api/state", {**HOST, **COOKIE}) is None
    assert refusal(ACCESS, "GET", "/api/state", {"host": "localhost:4321", "x-handmap-token": "s3cret-token"}) is None
    assert refusal(ACCESS, "POST", "/api/pause", {**HOST, **COOKIE, "origin": "http://127.0.0.1:4321"}) is None


def test_no_or_a_wrong_token_is_401_but_the_login_page_opens():
    assert refusal(ACCESS, "GET", "/api/frame.jpg", HOST)[0] == 401
    assert refusal(ACCESS, "GET", "/api/frame.jpg", {**HOST, "cookie": f"{ACCESS.cookie_name()}=s3cret-tokeN"})[0] == 401
    assert refusal(ACCESS, "GET", "/api/state", {**HOST, "cookie": "handmap_ui_1=s3cret-token"})[0] == 401  # another port's
    assert refusal(ACCESS, "GET", "/login", HOST) is None
    assert refusal(ACCESS, "GET", "/static/login.js", HOST) is None
    assert refusal(ACCESS, "GET", "/static/live.js", HOST)[0] == 401


def test_foreign_hosts_and_origins_are_refused_before_the_token_counts():
    for host in ("evil.example:4321", "127.0.0.1", "127.0.0.1:80", "localhost.evil:4321", ""):
        assert refusal(ACCESS, "GET", "/api/state", {"host": host, **COOKIE})[0] == 421
    for origin in ("http://evil.example", "null", "https://127.0.0.1:4321", "http://127.0.0.1:4322"):
        assert refusal(ACCESS, "GET", "/api/state", {**HOST, **COOKIE, "origin": origin})[0] == 403
        assert refusal(ACCESS, "POST", "/api/session", {**HOST, "origin": origin})[0] == 403
    # A change needs the window's Origin (a browser's page) or the token header (a script).
    assert refusal(ACCESS, "POST", "/api/pause", {**HOST, **COOKIE})[0] == 403
    assert refusal(ACCESS, "POST", "/api/pause", {**HOST, "x-handmap-token": "s3cret-token"}) is None


def test_the_access_file_is_private_and_removed_only_by_its_run(tmp_path):
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    path = write_access(ACCESS, env)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_access(env) == ACCESS
    remove_access(Access(4321, "another-run"), env)
    assert read_access(env) == ACCESS
    remove_access(ACCESS, env)
    assert read_access(env) is None
    path.write_text("{not json")
    assert read_access(env) is None
