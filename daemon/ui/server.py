"""The settings window's web server: loopback only, every request checked
(``ui.security``) before it is routed; plain HTML, CSS and JavaScript from the package,
JSON for the rest. Built on the first request (``ui.listener`` serves it)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import bottle

from handmap.daemon.runtime.state import Controller, SwitchRefused
from handmap.daemon.ui import security
from handmap.daemon.ui.listener import MAX_BODY_BYTES
from handmap.daemon.ui.security import Access
from handmap.daemon.ui.tap import FrameTap

log = logging.getLogger(__name__)

PAGES = ("live", "profiles", "poses", "faces", "settings")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


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

    def error_page(res: bottle.HTTPError) -> str:  # JSON, not the framework's HTML page
        bottle.response.content_type = "application/json"
        return json.dumps({"error": res.body if isinstance(res.body, str) and res.body else res.status_line})

    app.default_error_handler = error_page

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
