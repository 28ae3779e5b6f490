"""Control stage, wire format: the typed requests a client sends over the daemon's
control socket, and how they are written and read.

The socket lives at ``$XDG_RUNTIME_DIR/handmap.sock`` (mode 0600, CONTRACTS.md). The wire
protocol is line-delimited JSON over a Unix stream socket, one request per line, one
response line per request, several requests per connection allowed::

    → {"cmd": "status"}
    ← {"ok": true, "status": {"state": "running", "profile": "default", ...}}
    → {"cmd": "profile", "name": "gamea"}
    ← {"ok": true}
    → {"cmd": "profile", "name": "nope"}
    ← {"ok": false, "error": "no profile named 'nope'"}

Each command is one request class below (its ``cmd`` is the wire name, its fields the
arguments): :class:`StatusRequest`, :class:`PauseRequest`, :class:`ResumeRequest`,
:class:`TogglePauseRequest`, :class:`ProfileRequest` (``name``), :class:`AlertsRequest`
(``muted``: bool), :class:`QuitRequest`. A request is at most ``MAX_REQUEST_BYTES``;
a malformed line is refused by :func:`parse_request` with the reason, which the server
answers as ``{"ok": false, "error": ...}``. The server is ``control.server``, the client
``control.client``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from handmap.daemon.paths import control_socket_path

MAX_REQUEST_BYTES = 4096
_SHOWN_NAME = 40  # characters of an unknown command or argument quoted back
_SHOWN_DETAIL = 200  # characters of a JSON parser's complaint quoted back


class ControlError(Exception):
    """The control socket cannot be used; the message says why and what to do."""


class NotRunningError(ControlError):
    """No daemon answers at the socket path; ``reason`` is why without advice on what to
    do (``no socket at PATH``), for callers that give their own."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class AlreadyRunningError(ControlError):
    """Another daemon already owns the socket."""


class RequestError(ValueError):
    """A request line that is not a valid request; the message is the answer's error."""


def default_socket_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/handmap.sock`` (a private ``/tmp/handmap-UID`` folder when unset)."""
    return control_socket_path(env)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class StatusRequest:
    """What the daemon is doing: answered with ``{"ok": true, "status": {...}}``."""

    cmd: ClassVar[str] = "status"


@dataclass(frozen=True)
class PauseRequest:
    cmd: ClassVar[str] = "pause"


@dataclass(frozen=True)
class ResumeRequest:
    cmd: ClassVar[str] = "resume"


@dataclass(frozen=True)
class TogglePauseRequest:
    cmd: ClassVar[str] = "toggle_pause"


@dataclass(frozen=True)
class ProfileRequest:
    """Switch to the profile ``name``."""

    name: str
    cmd: ClassVar[str] = "profile"


@dataclass(frozen=True)
class AlertsRequest:
    """Mute (or unmute) the face-touch alerts."""

    muted: bool
    cmd: ClassVar[str] = "alerts"


@dataclass(frozen=True)
class QuitRequest:
    cmd: ClassVar[str] = "quit"


SocketRequest = (StatusRequest | PauseRequest | ResumeRequest | TogglePauseRequest | ProfileRequest
                 | AlertsRequest | QuitRequest)
#: Every request class by its wire name, in the order the error messages list them.
COMMANDS: Mapping[str, type[SocketRequest]] = {
    kind.cmd: kind for kind in (StatusRequest, PauseRequest, ResumeRequest, TogglePauseRequest, ProfileRequest,
                                AlertsRequest, QuitRequest)
}
#: Each request class's arguments: name -> the JSON type it must have (exactly).
_ARGUMENTS: Mapping[type, Mapping[str, type]] = {
    kind: {f.name: typing.get_type_hints(kind)[f.name] for f in dataclasses.fields(kind)} for kind in COMMANDS.values()
}
_JSON_TYPE_NAMES = {str: "string", bool: "boolean"}


def encode(message: Mapping[str, Any]) -> bytes:
    """One protocol line (a request or a response): compact JSON and a newline."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def encode_request(request: SocketRequest) -> bytes:
    """``request`` as its line: ``{"cmd": NAME, ARGUMENT: VALUE, ...}``."""
    return encode({"cmd": request.cmd, **dataclasses.asdict(request)})


def parse_request(line: bytes) -> SocketRequest:
    """The request in one line; :class:`RequestError` saying what is wrong otherwise."""
    try:
        message = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("request is not UTF-8 text") from None
    except RecursionError:  # "[[[[..." within the size limit still nests past Python's stack
        raise RequestError("request is not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, or e.g. an integer of more than 4300 digits
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise RequestError(f"request is not valid JSON ({detail[:_SHOWN_DETAIL]})") from None
    if not isinstance(message, dict):
        raise RequestError('request must be a JSON object like {"cmd": "status"}')
    name = message.get("cmd")
    if not isinstance(name, str):
        raise RequestError('request has no "cmd" (expected e.g. {"cmd": "status"})')
    kind = COMMANDS.get(name)
    if kind is None:
        raise RequestError(f"unknown command {name[:_SHOWN_NAME]!r} (known: {', '.join(COMMANDS)})")
    args = {k: v for k, v in message.items() if k != "cmd"}
    expected = _ARGUMENTS[kind]
    unexpected = sorted(set(args) - set(expected))
    if unexpected:
        raise RequestError(f"unexpected argument(s) for {name}: {', '.join(a[:_SHOWN_NAME] for a in unexpected)}")
    for arg, json_type in expected.items():
        if arg not in args:
            raise RequestError(f'{name} needs "{arg}"')
        if type(args[arg]) is not json_type:
            raise RequestError(f'{name}: "{arg}" must be a {_JSON_TYPE_NAMES[json_type]}')
    return kind(**args)


# --------------------------------------------------------------------------- responses


def ok_response(**fields: Any) -> dict[str, Any]:
    """``{"ok": true, ...}``: the request was carried out (``fields``: what it asked for)."""
    return {"ok": True, **fields}


def error_response(text: str) -> dict[str, Any]:
    """``{"ok": false, "error": text}``: the request was refused, ``text`` says why."""
    return {"ok": False, "error": text}
