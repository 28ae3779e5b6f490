"""The settings window's web server: loopback only, every request checked
(``ui.security``) before it is routed; plain HTML, CSS and JavaScript from the package,
JSON for the rest. It runs on its own threads in the daemon and costs nothing per frame
while no page is open."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import bottle

from handmap.daemon.runtime.state import Controller, SwitchRefused
from handmap.daemon.ui import security
from handmap.daemon.ui.security import BIND_HOST, Access
from handmap.daemon.ui.tap import FrameTap

log = logging.getLogger(__name__)

#: The largest request body taken (a profile is a few KB; a YAML file at most 1 MB).
MAX_BODY_BYTES = 1 << 20
PAGES = ("live", "profiles", "poses", "faces", "settings")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
#: Sent with every answer: nothing from elsewhere runs or loads in the window, no other
#: site frames it, and no answer is cached.
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass
class UiParts:
    """What the pages show and change, built by the composition root."""

    controller: Controller
    tap: FrameTap
    #: Extra routes (profiles, poses, face touch, settings): each adds its own to the app.
    sections: list[Callable[[bottle.Bottle], None]] = field(default_factory=list)


def static_bytes(name: str) -> bytes | None:
    """A file of the package's ``static`` folder (no path: a bare file name)."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    item = resources.files("handmap.daemon.ui").joinpath("static").joinpath(name)
    return item.read_bytes() if item.is_file() else None


def json_answer(data: Any, status: int = 200) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(json.dumps(data), status=status, headers={"Content-Type": "application/json"})


def error_answer(message: str, status: int = 400, **extra: Any) -> bottle.HTTPResponse:
    return json_answer({"error": message, **extra}, status)


def request_json() -> dict:
    """The request's JSON object body; a 400 answer when it is not one."""
    try:
        data = json.loads(bottle.request.body.read(MAX_BODY_BYTES + 1) or b"{}")
    except ValueError:
        raise error_answer("the request is not JSON") from None
    if not isinstance(data, dict):
        raise error_answer("the request is not a JSON object")
    return data


def build_app(access: Access, parts: UiParts) -> bottle.Bottle:
    app = bottle.Bottle()
    app.config["autojson"] = False

    def static(name: str) -> bottle.HTTPResponse:
        data = static_bytes(name)
        if data is None:
            return error_answer("no such file", 404)
        content_type = STATIC_TYPES.get(Path(name).suffix, "application/octet-stream")
        return bottle.HTTPResponse(data, headers={"Content-Type": content_type})

    @app.get("/")
    def root():
        return bottle.HTTPResponse(status=303, headers={"Location": "/live"})

    @app.get("/login")
    def login():
        return static("login.html")

    @app.post("/api/session")
    def session():
        if not security.same_token(request_json().get("token"), access.token):
            return error_answer("wrong token: open the settings window with 'handmap ui'", 401)
        answer = json_answer({"ok": True})
        answer.set_cookie(access.cookie_name(), access.token, httponly=True, samesite="strict", path="/")
        return answer

    @app.get("/static/<name>")
    def static_file(name: str):
        return static(name)

    for page in PAGES:
        app.route(f"/{page}", "GET", lambda page=page: static(f"{page}.html"))

    @app.get("/api/state")
    def state():
        parts.tap.asked()
        seq, hands = parts.tap.hands()
        return json_answer({**parts.controller.status().to_json(), "frame": seq,
                            "hands": [h.to_json() for h in hands]})

    @app.get("/api/frame.jpg")
    def frame():
        parts.tap.asked()
        data = parts.tap.jpeg()
        if data is None:
            return bottle.HTTPResponse(status=204)
        return bottle.HTTPResponse(data, headers={"Content-Type": "image/jpeg"})

    @app.post("/api/pause")
    def pause():
        parts.controller.pause(by="the settings window")
        return json_answer({"ok": True})

    @app.post("/api/resume")
    def resume():
        parts.controller.resume()
        return json_answer({"ok": True})

    @app.post("/api/profile")
    def switch():
        name = request_json().get("name")
        if not isinstance(name, str):
            return error_answer("say which profile: {\"name\": NAME}")
        try:
            parts.controller.switch_profile(name)
        except KeyError as exc:
            return error_answer(str(exc.args[0]) if exc.args else str(exc), 404)
        except SwitchRefused as exc:
            return error_answer(str(exc), 409)
        return json_answer({"ok": True})

    for section in parts.sections:
        section(app)
    return app


def guarded(app: Callable, access: Access) -> Callable:
    """``app`` behind the checks of ``security.refusal``, with the security headers."""

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        refused = security.refusal(access, method, path, headers)

        def start(status: str, response_headers: list, exc_info: Any = None) -> Any:
            return start_response(status, [*response_headers, *SECURITY_HEADERS], exc_info)

        if refused is not None:
            code, message = refused
            log.info("settings window: refused %s %s: %s", method, path, message)
            body = json.dumps({"error": message}).encode()
            start(f"{code} {'Refused'}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        length = environ.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            body = json.dumps({"error": "the request is too large"}).encode()
            start("413 Too Large", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start)

    return wsgi


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        log.debug("settings window: " + format, *args)


class UiServer:
    """The web server on the loopback, on its own thread; ``stop`` ends it and removes
    the access file."""

    def __init__(self, parts: UiParts, port: int = 0, env: Mapping[str, str] | None = None) -> None:
        self._parts = parts
        self._port = port
        self._env = env
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.access: Access | None = None

    def start(self) -> Access:
        token = security.new_token()
        placeholder = Access(port=self._port, token=token, pid=os.getpid())
        server = make_server(BIND_HOST, self._port, lambda e, s: [b""], server_class=_ThreadingServer,
                             handler_class=_QuietHandler)
        access = Access(port=server.server_port, token=token, pid=placeholder.pid)
        server.set_app(guarded(build_app(access, self._parts), access))
        self._server, self.access = server, access
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="handmap-ui", daemon=True)
        self._thread.start()
        security.write_access(access, self._env)
        log.info("settings window at %s (open it with 'handmap ui')", access.origin)
        return access

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.access is not None:
            security.remove_access(self.access, self._env)
        self._parts.tap.forget()
