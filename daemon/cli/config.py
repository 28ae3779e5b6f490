"""``handmap config validate [FILE]``: check a configuration file before the daemon reads it.

Every problem goes to stderr as ``file:line:col: message``, one a line; the exit status is
0 when the file is valid, 1 when it has problems (like ``profiles validate``), 2 on a
usage error. Without FILE, the user's ``config.yaml`` (the packaged defaults when there is
none).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from handmap.daemon.config import ConfigError, load_config, user_config_path

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "config", help="check the configuration file",
        description="Check a configuration file: every problem as file:line:col, exit 1 when there is one.")
    sub = p.add_subparsers(dest="config_command", metavar="validate")
    v = sub.add_parser("validate", help="check a configuration file and report every problem as file:line:col")
    v.add_argument("file", metavar="FILE", type=Path, nargs="?", default=None,
                   help="the file to check (default: $XDG_CONFIG_HOME/handmap/config.yaml)")
    p.set_defaults(func=run, config_parser=p)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if args.config_command != "validate":
        args.config_parser.print_usage(err)
        print("handmap config: error: say validate [FILE]", file=err)
        return EXIT_USAGE
    return validate(args.file, out, err)


def validate(path: Path | None, out: TextIO, err: TextIO) -> int:
    if path is None:
        candidate = user_config_path()
        if not candidate.exists():
            load_config(None)  # the packaged defaults alone
            print(f"{candidate}: none (the packaged defaults are used): ok", file=out)
            return EXIT_OK
        path = candidate
    try:
        load_config(path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(line, file=err)
        return EXIT_INVALID
    print(f"{path}: ok", file=out)
    return EXIT_OK
