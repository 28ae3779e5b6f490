"""``handmap doctor``: print what this machine offers handmap, each gap with its fix.

Exits 0 when handmap can run here (warnings included), 1 when a check failed (something
handmap needs is missing: the report says the fix), like ``profiles validate``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from handmap.daemon.outputs import OUTPUT_NAMES
from handmap.daemon.tools.doctor import Check, Status, format_checks, run_checks

EXIT_OK = 0
EXIT_FAILED = 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "doctor", help="check the desktop, cameras, output, notifications and tray",
        description="Check what handmap can use here (display, cameras, output backend, uinput, "
                    "notifications, tray, models) and say how to fix what is missing.")
    p.add_argument("--config", metavar="FILE", type=Path, default=None,
                   help="configuration file whose output setting to check (default: the user's config.yaml)")
    p.add_argument("--output", choices=OUTPUT_NAMES, default=None,
                   help="check this output backend instead of the configured one")
    p.add_argument("--json", action="store_true", help="one JSON object per check, one per line")
    p.set_defaults(func=run)
    return p


def _configured_output(args, env) -> tuple[str | None, Check | None]:
    if args.output:
        return args.output, None
    try:
        from handmap.daemon.config import ConfigError, load_config
    except ImportError:
        return None, None
    try:
        return load_config(args.config, env=dict(env)).output, None
    except ConfigError as exc:
        return None, Check("config", Status.FAIL, str(exc), "fix the configuration file (handmap run says the same)")


def run(args) -> int:
    env = os.environ
    output, config_problem = _configured_output(args, env)
    checks = ([config_problem] if config_problem else []) + run_checks(env, output=output)
    if args.json:
        for check in checks:
            print(json.dumps(check.to_json()))
    else:
        print(format_checks(checks))
    sys.stdout.flush()
    return EXIT_FAILED if any(check.status is Status.FAIL for check in checks) else EXIT_OK
