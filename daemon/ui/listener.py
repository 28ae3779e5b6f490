"""The settings window's listening socket on the loopback, on its own thread. Every
request is checked (``ui.security``) before it reaches the pages' application, which is
built (and the web framework imported) only on the first request that passes: with no
page ever opened, the daemon carries a listening socket and a sleeping thread."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from handmap.daemon.ui import security
from handmap.daemon.ui.security import BIND_HOST, Access

log = logging.getLogger(__name__)

#: The largest request body taken (a profile is a few KB; a YAML file at most 1 MB).
MAX_BODY_BYTES = 1 << 20
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

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def guarded(make_app: Callable[[], WsgiApp], access: Access) -> WsgiApp:
    """The application ``make_app`` builds (on the first request that passes) behind the
    checks of ``security.refusal``, with the security headers."""
    built: list[WsgiApp] = []
    lock = threading.Lock()

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
            start(f"{code} Refused", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        length = environ.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            body = json.dumps({"error": "the request is too large"}).encode()
            start("413 Too Large", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with lock:
            if not built:
                built.append(make_app())
        return built[0](environ, start)

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

    def __init__(self, make_app: Callable[[Access], WsgiApp], port: int = 0, env: Mapping[str, str] | None = None,
                 on_stop: Callable[[], None] | None = None) -> None:
        self._make_app = make_app
        self._on_stop = on_stop
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
        server.set_app(guarded(lambda: self._make_app(access), access))
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
        if self._on_stop is not None:
            self._on_stop()
