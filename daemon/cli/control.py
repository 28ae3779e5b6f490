"""Command line: ``handmap status | pause | resume | profile NAME`` over the control socket.

Exit status: 0 done, 1 the daemon refused (the reason is printed), 3 handmap is not
running (like ``systemctl is-active``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from handmap.daemon.control import (
    ControlClient,
    ControlError,
    NotRunningError,
    PauseRequest,
    ProfileRequest,
    ResumeRequest,
    SocketRequest,
    StatusRequest,
)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_NOT_RUNNING = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="show what the running daemon is doing")
    status.add_argument("--json", action="store_true", help="print the status as one JSON object")
    _socket_option(status)
    status.set_defaults(func=cmd_status)

    pause = subparsers.add_parser("pause", help="pause the running daemon (held keys and buttons are released)")
    _socket_option(pause)
    pause.set_defaults(func=cmd_pause)

    resume = subparsers.add_parser("resume", help="resume the paused daemon")
    _socket_option(resume)
    resume.set_defaults(func=cmd_resume)

    profile = subparsers.add_parser("profile", help="switch the running daemon to another mapping profile")
    profile.add_argument("name", metavar="NAME", help="profile name (see `handmap profiles list`)")
    _socket_option(profile)
    profile.set_defaults(func=cmd_profile)


def _socket_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", type=Path, default=None, metavar="PATH",
                        help="control socket (default: $XDG_RUNTIME_DIR/handmap.sock)")


def _call(args: argparse.Namespace, request: SocketRequest) -> tuple[int, dict]:
    try:
        with ControlClient(args.socket) as client:
            answer = client.request(request)
    except NotRunningError as exc:
        print(f"handmap: {exc}", file=sys.stderr)
        return EXIT_NOT_RUNNING, {}
    except ControlError as exc:
        print(f"handmap: {exc}", file=sys.stderr)
        return EXIT_REFUSED, {}
    if not answer.get("ok"):
        print(f"handmap: {answer.get('error', 'the daemon refused the request')}", file=sys.stderr)
        return EXIT_REFUSED, answer
    return EXIT_OK, answer


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_status(status: dict) -> str:
    """The readable ``handmap status`` text from the JSON status object."""
    profiles = status.get("profiles") or []
    broken = status.get("broken_profiles") or {}
    profile = status.get("profile", "?")
    if profiles:
        profile += f"   (available: {', '.join(p + (' [broken]' if p in broken else '') for p in profiles)})"
    touches = f"{status.get('face_touches_today', 0)} today"
    if status.get("face_touches_unrecorded"):
        touches += f" ({status['face_touches_unrecorded']} of them this run's, kept in no history)"
    if status.get("alerts_muted"):
        touches += " (alerts muted)"
    rows = [
        ("profile", profile),
        ("fps", f"{status.get('fps', 0):.1f}"),
        ("hands seen", str(status.get("hands_seen", 0))),
        ("output", status.get("output", "?")),
        ("source", status.get("source") or "-"),
        ("uptime", format_duration(status.get("uptime_s", 0))),
        ("face touches", touches),
    ]
    state = status.get("state", "unknown")
    if state == "paused" and status.get("paused_by"):
        state += f" (by {status['paused_by']})"
    lines = [f"handmap: {state}"]
    lines += [f"  {label + ':':<14}{value}" for label, value in rows]
    lines += [f"  broken profile {name}: {problem}" for name, problem in sorted(broken.items())]
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    code, answer = _call(args, StatusRequest())
    if code == EXIT_OK:
        status = answer.get("status", {})
        print(json.dumps(status) if args.json else format_status(status))
    return code


def cmd_pause(args: argparse.Namespace) -> int:
    code, _ = _call(args, PauseRequest())
    if code == EXIT_OK:
        print("handmap: paused")
    return code


def cmd_resume(args: argparse.Namespace) -> int:
    code, _ = _call(args, ResumeRequest())
    if code == EXIT_OK:
        print("handmap: resumed")
    return code


def cmd_profile(args: argparse.Namespace) -> int:
    code, _ = _call(args, ProfileRequest(args.name))
    if code == EXIT_OK:
        print(f"handmap: switched to profile {args.name}")
    return code
