"""Command line: ``handmap service install | uninstall | status``.

Exit status: 0 done; 1 the file was written but the service manager could not enable it
(the commands to run are printed), or an error; 3 ``status`` finds nothing installed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from handmap.daemon.desktop.service import (
    GRAPHICAL_TARGET,
    LINUX,
    WANTED_BY_CHOICES,
    ServiceError,
    install,
    start_command,
    status,
    uninstall,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_INSTALLED = 3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    service = subparsers.add_parser(
        "service", help="run handmap at login (systemd user unit or macOS LaunchAgent)",
        description="Install, remove or inspect handmap as a per-user service started with your graphical session.")
    actions = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)

    p = actions.add_parser("install", help="write and enable the service, then start it")
    p.add_argument("--config", type=Path, help="configuration file the service should use")
    p.add_argument("--profile", help="mapping profile the service starts with")
    p.add_argument("--wanted-by", choices=WANTED_BY_CHOICES, default=GRAPHICAL_TARGET,
                   help="systemd target that starts it (default: %(default)s; use default.target for window "
                        "managers that do not start graphical-session.target)")
    p.add_argument("--no-enable", action="store_true", help="only write the file; print the commands to enable it")
    p.add_argument("--allow-root", action="store_true", help="install for root's own session (normally refused)")
    p.set_defaults(func=cmd_install)

    p = actions.add_parser("uninstall", help="stop, disable and remove the service")
    p.set_defaults(func=cmd_uninstall)

    p = actions.add_parser("status", help="show whether the service is installed, enabled and running")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_status)


def cmd_install(args: argparse.Namespace) -> int:
    try:
        report = install(config=args.config, profile=args.profile, wanted_by=args.wanted_by,
                         allow_root=args.allow_root, enable=not args.no_enable)
    except (ServiceError, OSError) as exc:
        print(f"handmap: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"handmap: wrote {report.path}")
    for note in report.notes:
        print(note)
    if report.enabled and report.started:
        print("handmap: service enabled and started; it starts with your graphical session from now on")
        return EXIT_OK
    if args.no_enable:
        print("handmap: not enabled (--no-enable); to enable and start it, run:")
        for command in report.manual:
            print(f"  {command}")
        return EXIT_OK
    failed = report.failed_step
    reason = f"{failed.shell}: {failed.output}" if failed else "the service manager is not available"
    if report.enabled:
        print(f"handmap: service enabled: it starts with your next graphical session; it could not be started now "
              f"({reason}); to start it now, run in a terminal in your graphical session:", file=sys.stderr)
        code = EXIT_OK
    else:
        print(f"handmap: the service file is written but enabling it failed ({reason}); "
              "run these in a terminal in your graphical session:", file=sys.stderr)
        code = EXIT_FAILED
    for command in report.manual:
        print(f"  {command}", file=sys.stderr)
    return code


def cmd_uninstall(args: argparse.Namespace) -> int:
    try:
        report = uninstall()
    except (ServiceError, OSError) as exc:
        print(f"handmap: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not report.removed:
        print(f"handmap: no service installed ({report.path} does not exist)")
    else:
        print(f"handmap: removed {report.path}")
    if report.manual:
        print("handmap: the service manager could not be reached; if handmap still runs as a service, run:",
              file=sys.stderr)
        for command in report.manual:
            print(f"  {command}", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    try:
        st = status()
    except (ServiceError, OSError) as exc:
        print(f"handmap: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({
            "platform": st.platform, "path": str(st.path), "installed": st.installed, "command": list(st.command),
            "command_exists": st.command_exists, "enabled": st.enabled, "active": st.active,
            "manager_error": st.manager_error, "daemon": st.daemon, "daemon_error": st.daemon_error,
        }))
        return EXIT_OK if st.installed else EXIT_NOT_INSTALLED
    if not st.installed:
        print(f"handmap service: not installed (no {st.path}); install it with `handmap service install`")
    else:
        print(f"handmap service: installed ({st.path})")
        print(f"  starts:   {shlex.join(st.command) if st.command else '?'}")
        if st.command and not st.command_exists:
            print(f"  warning:  {st.command[0]} no longer exists; run `handmap service install` again "
                  "from the environment handmap is installed in")
        print(f"  enabled:  {st.enabled}")
        print(f"  active:   {st.active}")
        if st.manager_error:
            print(f"  manager:  not reachable ({st.manager_error})")
        if st.platform == LINUX and st.enabled == "enabled" and st.active == "inactive" and not st.daemon:
            print(f"  note:     enabled but not running: window managers that never start {GRAPHICAL_TARGET} "
                  "(i3, a bare X session) do not start it; reinstall with `handmap service install --wanted-by "
                  "default.target` and import DISPLAY in their startup, or run `handmap run` from it")
    if st.daemon:
        print(f"  daemon:   {st.daemon.get('state', '?')}, profile {st.daemon.get('profile', '?')}, "
              f"output {st.daemon.get('output', '?')}")
    elif st.installed:  # installed already: how to start it, not how to install it
        print(f"  daemon:   not reachable ({st.daemon_error}); start it with `{start_command(st.platform)}` "
              "(or `handmap run`)")
    else:
        print(f"  daemon:   not reachable ({st.daemon_error})")
    return EXIT_OK if st.installed else EXIT_NOT_INSTALLED
