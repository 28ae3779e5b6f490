"""Who may talk to the settings window: a random per-run token, kept in a file only the
user can read, and the checks every request passes (token, Host, Origin) before it is
answered. Pure functions over the request's headers; the server applies them."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from handmap.daemon.files import write_atomic
from handmap.daemon.paths import runtime_dir

#: The file that says where the running daemon's settings window is and its token.
ACCESS_FILE = "handmap-ui.json"
TOKEN_BYTES = 32
#: The header a script may send the token in (the browser sends the cookie instead).
TOKEN_HEADER = "X-Handmap-Token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
#: The one address the server listens on.
BIND_HOST = "127.0.0.1"
#: Methods that change something: they must come from the window's own pages.
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths served without the token (the login page and its script: no data in them).
OPEN_PATHS = frozenset({"/login", "/static/login.js", "/static/style.css", "/api/session"})


@dataclass(frozen=True)
class Access:
    """How to reach the running daemon's settings window."""

    port: int
    token: str
    pid: int = 0

    @property
    def origin(self) -> str:
        return f"http://{BIND_HOST}:{self.port}"

    def cookie_name(self) -> str:
        """Cookies are shared by every port of a host: the name carries the port."""
        return f"handmap_ui_{self.port}"

    def login_url(self) -> str:
        """The address ``handmap ui`` opens: the token in the fragment, which the browser
        never sends over the network nor keeps in the server's logs."""
        return f"{self.origin}/login#{self.token}"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def access_path(env: Mapping[str, str] | None = None) -> Path:
    return runtime_dir(env) / ACCESS_FILE


def write_access(access: Access, env: Mapping[str, str] | None = None) -> Path:
    """The access file (mode 0600, written whole), in the private runtime folder."""
    path = access_path(env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"port": access.port, "token": access.token, "pid": access.pid}) + "\n",
                 mode=0o600)
    return path


def read_access(env: Mapping[str, str] | None = None) -> Access | None:
    """The running daemon's access, None when no settings window is served."""
    try:
        data = json.loads(access_path(env).read_text(encoding="utf-8"))
        return Access(port=int(data["port"]), token=str(data["token"]), pid=int(data.get("pid", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_access(access: Access, env: Mapping[str, str] | None = None) -> None:
    """Remove the access file if it is still this run's."""
    current = read_access(env)
    if current is not None and current.token == access.token:
        try:
            access_path(env).unlink()
        except OSError:
            pass


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def cookie_value(cookie_header: str, name: str) -> str | None:
    for part in cookie_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def refusal(access: Access, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
    """Why a request is refused (HTTP status and a sentence), None when it may be answered.

    ``headers`` maps lower-case header names to values. Checked in order: the Host header
    names this server on the loopback (a DNS-rebound page sends its own name), an Origin
    when present is this server's (no cross-site page may read or change anything; a
    change carries it, or the token header of a script), and the token (cookie or header) except on the login page."""
    host = headers.get("host", "")
    allowed_hosts = {f"{h}:{access.port}" for h in LOOPBACK_HOSTS}
    if host not in allowed_hosts:
        return 421, "this server answers only to 127.0.0.1 and localhost"
    origin = headers.get("origin")
    allowed_origins = {f"http://{h}" for h in allowed_hosts}
    if origin is not None and origin not in allowed_origins:
        return 403, "requests from other sites are refused"
    header_token = headers.get(TOKEN_HEADER.lower())
    if method.upper() in CHANGING_METHODS and origin is None and not header_token:
        return 403, "a change must come from the settings window's own pages"
    if path in OPEN_PATHS:
        return None
    token = header_token or cookie_value(headers.get("cookie", ""), access.cookie_name())
    if not same_token(token, access.token):
        return 401, "no valid token: open the settings window with 'handmap ui'"
    return None
