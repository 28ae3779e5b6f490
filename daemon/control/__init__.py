"""Control: the daemon's Unix control socket. ``protocol`` (the wire format: typed
requests, responses, errors), ``server`` (serves the daemon's controller), ``client``
(what ``handmap status | pause | resume | profile`` and the service check use)."""

from handmap.daemon.control.client import ControlClient
from handmap.daemon.control.protocol import (
    COMMANDS,
    MAX_REQUEST_BYTES,
    AlertsRequest,
    AlreadyRunningError,
    ControlError,
    NotRunningError,
    PauseRequest,
    ProfileRequest,
    QuitRequest,
    RequestError,
    ResumeRequest,
    SocketRequest,
    StatusRequest,
    TogglePauseRequest,
    default_socket_path,
    parse_request,
)
from handmap.daemon.control.server import ControlServer, ControlStats, InstanceLock, handle_request

__all__ = [
    "COMMANDS", "MAX_REQUEST_BYTES", "AlertsRequest", "AlreadyRunningError", "ControlClient", "ControlError",
    "ControlServer", "ControlStats", "InstanceLock", "NotRunningError", "PauseRequest", "ProfileRequest", "QuitRequest",
    "RequestError", "ResumeRequest", "SocketRequest", "StatusRequest", "TogglePauseRequest", "default_socket_path",
    "handle_request", "parse_request",
]
