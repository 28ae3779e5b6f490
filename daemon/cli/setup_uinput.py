"""Command line: ``handmap setup uinput``: let this user write ``/dev/uinput``.

It explains what uinput is for, lists the root commands still needed (module, udev rule,
group membership), runs them with sudo once the user agrees (``--yes`` agrees up front,
``--dry-run`` only prints them), then checks the device again. Exit status: 0 done (or
nothing to do); 1 refused, or a step failed.
"""

from __future__ import annotations

import argparse
import os
import sys

from handmap.daemon.outputs import uinput_setup as setup
from handmap.daemon.outputs.uinput_backend import UINPUT_DEVNODE

EXIT_OK = 0
EXIT_FAILED = 1

EXPLANATION = (
    "handmap: uinput lets handmap make a virtual mouse and keyboard that the kernel shows to every desktop: "
    "the only way to send input to Wayland windows (GNOME, KDE, sway...) and to games that read raw input. "
    f"Writing {UINPUT_DEVNODE} needs permission, which only root can give."
)


def add_parser(actions: argparse._SubParsersAction) -> None:
    """Register ``uinput`` under ``handmap setup``."""
    p = actions.add_parser("uinput", help=f"let this user write {UINPUT_DEVNODE} (input on Wayland; needs sudo)",
                           description=f"Give this user write access to {UINPUT_DEVNODE}: load the uinput module, "
                                       f"install a udev rule for the '{setup.GROUP}' group and add the user to it. "
                                       "Asks before running anything as root.")
    p.add_argument("--yes", action="store_true", help="agree to the changes without a prompt")
    p.add_argument("--dry-run", action="store_true", help="print the commands and change nothing")
    p.set_defaults(func=cmd_uinput)


def _agreed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print("handmap: nothing changed: no terminal to ask on; run again with --yes to agree", file=sys.stderr)
        return False
    answer = input("Run these commands now (sudo may ask for your password)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_uinput(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        print("handmap: uinput exists only on Linux; nothing to set up here", file=sys.stderr)
        return EXIT_FAILED
    user = setup.target_user(os.environ)
    machine = setup.probe(user)
    steps = setup.plan(machine)
    print(EXPLANATION)
    if not steps:
        if machine.writable:
            print(f"handmap: nothing to do: {UINPUT_DEVNODE} is writable (handmap doctor says the same)")
        else:
            print(f"handmap: everything is in place for {user}; log out and back in so that your session is "
                  f"in the '{setup.GROUP}' group, then run 'handmap doctor'")
        return EXIT_OK
    print(f"handmap: to give {user} access, these commands run as root:")
    for step in steps:
        print(f"  # {step.why}")
        print(f"  {step.shell()}")
    if args.dry_run:
        print("handmap: --dry-run: nothing changed")
        return EXIT_OK
    if not _agreed(args):
        print("handmap: nothing changed")
        return EXIT_FAILED
    outcome = setup.apply(steps)
    if not outcome.ok:
        assert outcome.failed is not None
        print(f"handmap: error: could not {outcome.failed.why} ({outcome.error}); {len(outcome.done)} of "
              f"{len(steps)} steps done. Run the remaining commands above by hand.", file=sys.stderr)
        return EXIT_FAILED
    after = setup.probe(user)
    if after.writable:
        print(f"handmap: done: {UINPUT_DEVNODE} is writable; 'handmap doctor' confirms it")
    else:
        print(f"handmap: done; log out and back in (your session's groups are read at login), "
              f"then 'handmap doctor' confirms {UINPUT_DEVNODE} is writable")
    return EXIT_OK
