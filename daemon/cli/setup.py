"""Command line: ``handmap setup gnome``: the one-time desktop steps per-app profiles need.

``gnome`` installs handmap's GNOME Shell extension for this user (it tells handmap which
window has focus), turns it on in GNOME's settings when it can, and prints the step GNOME
leaves to the user (a new login). On KDE nothing needs installing: handmap loads its KWin
script itself. Exit status: 0 done; 1 an error.
"""

from __future__ import annotations

import argparse
import os
import sys

from handmap.daemon.cli import setup_uinput
from handmap.daemon.desktop.windows import gnome

EXIT_OK = 0
EXIT_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    setup = subparsers.add_parser(
        "setup", help="one-time desktop setup (the GNOME Shell extension for per-app profiles, uinput access)",
        description="One-time steps that let handmap follow the focused window on GNOME and KDE, "
                    "and send input to Wayland windows (uinput).")
    actions = setup.add_subparsers(dest="setup_command", metavar="DESKTOP", required=True)

    p = actions.add_parser("gnome", help="install the GNOME Shell extension that tells handmap the focused window")
    p.add_argument("--uninstall", action="store_true", help="remove the extension instead")
    p.set_defaults(func=cmd_gnome)

    setup_uinput.add_parser(actions)


def cmd_gnome(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.uninstall:
        removed = gnome.uninstall_extension(env)
        where = gnome.installed_extension_dir(env)
        print(f"handmap: removed {where}" if removed else f"handmap: the extension is not installed ({where})")
        return EXIT_OK
    try:
        result = gnome.install_extension(env)
    except OSError as exc:
        print(f"handmap: error: could not install the GNOME Shell extension: {exc}", file=sys.stderr)
        return EXIT_FAILED
    state = "installed" if result.changed else "already up to date"
    versions = f"GNOME Shell {result.shell_versions[0]} to {result.shell_versions[-1]}"
    print(f"handmap: GNOME Shell extension {gnome.EXTENSION_UUID} {state} in {result.path} (for {versions})")
    if not result.found_version:
        print(f"handmap: note: gnome-shell was not found here, so the extension for {versions} was installed")
    problem = gnome.enable_extension(env)
    if problem is None:
        print("handmap: the extension is enabled; one step is left to you: log out and back in (GNOME Shell "
              "loads new extensions at login; on X11, Alt+F2 r Enter is enough)")
    else:
        print(f"handmap: could not enable it for you ({problem}); two steps are left to you: log out and back in "
              "(GNOME Shell finds new extensions at login), then run:")
        print(f"  {gnome.ENABLE_COMMAND}")
    print("handmap: after that, profiles follow the focused window (handmap doctor checks it)")
    return EXIT_OK
