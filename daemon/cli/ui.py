"""``handmap ui``: open the settings window of the running daemon in the browser.

The daemon serves it on 127.0.0.1 (config ``ui``); this command reads the address and
the per-run token from the runtime folder (a file only the user can read) and opens the
login address, whose token the page trades for a cookie. ``--print-url`` prints the
address instead (for another browser, or a script)."""

from __future__ import annotations

import argparse
import socket
import sys
import webbrowser
from typing import TextIO

from handmap.daemon.cli import UserError
from handmap.daemon.ui.security import BIND_HOST, read_access

CONNECT_TIMEOUT_S = 2.0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("ui", help="open the settings window of the running daemon",
                              description="Open the settings window of the running daemon in the web browser.")
    p.add_argument("--print-url", action="store_true",
                   help="print the window's address (with its token) instead of opening a browser")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    access = read_access()
    if access is None or not _answers(access.port):
        raise UserError("no settings window is being served: start the daemon (handmap run, or handmap service "
                        "install) with 'ui: {enabled: true}' in config.yaml (the default)")
    url = access.login_url()
    if args.print_url:
        print(url, file=out)
        return 0
    if not webbrowser.open(url):
        raise UserError("no web browser could be started; open the address 'handmap ui --print-url' prints")
    print("handmap: the settings window is open in your browser", file=out)
    return 0


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((BIND_HOST, port), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False
