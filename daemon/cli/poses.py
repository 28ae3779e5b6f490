"""``handmap poses list | show NAME | remove NAME``: the poses a profile can bind.

``list`` gives the built-in poses, the taught ones (``handmap teach``) and the
finger-state poses the profiles define, each with where it comes from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from handmap.daemon.cli import UserError, plural
from handmap.daemon.poses_store import PoseStore
from handmap.gestures.taught import TaughtPoseError, check_name

BUILT_IN = (
    ("open", "flat open hand, all fingers extended"),
    ("closed", "fist"),
    ("pinch", "thumb tip and index tip touching"),
    ("point", "index finger extended, the others curled"),
    ("hand", "a hand in none of the poses"),
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("poses", help="list, show and remove poses (built-in, taught, profiles')",
                              description="The poses profiles can bind: built-in, taught ('handmap teach') "
                                          "and defined by finger states in profiles.")
    p.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)  # the poses folder (tests)
    sub = p.add_subparsers(dest="poses_command", metavar="list|show|remove")
    sub.add_parser("list", help="every pose and where it comes from")
    s = sub.add_parser("show", help="one pose: where it comes from and what it holds")
    s.add_argument("name", metavar="NAME")
    r = sub.add_parser("remove", help="forget a taught pose")
    r.add_argument("name", metavar="NAME")
    p.set_defaults(func=run, poses_parser=p)


def profile_poses(poses: PoseStore) -> dict[str, list[str]]:
    """Finger-state pose name -> the profiles that define it (valid profiles only)."""
    from handmap.mappings.loader import ProfileLoadError, ProfileStore, default_user_dir

    store = ProfileStore(default_user_dir(), taught_poses=poses.names)
    found: dict[str, list[str]] = {}
    for name in store.names():
        try:
            profile = store.load(name)
        except (ProfileLoadError, KeyError):
            continue
        for pose in profile.poses:
            found.setdefault(pose, []).append(name)
    return found


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from handmap.daemon.paths import user_poses_dir

    out = out or sys.stdout
    err = err or sys.stderr
    store = PoseStore(args.dir if args.dir is not None else user_poses_dir())
    command = args.poses_command
    if command == "list":
        return list_poses(store, out, err)
    if command in ("show", "remove"):
        if args.name in dict(BUILT_IN) or args.name in ("face", "tip", "pinchtip"):
            if command == "remove":
                raise UserError(f"'{args.name}' is a built-in pose; only taught poses can be removed")
            print(f"{args.name}: built-in: {dict(BUILT_IN).get(args.name, 'not a hand pose')}", file=out)
            return 0
        try:
            check_name(args.name)
        except TaughtPoseError as exc:
            raise UserError(str(exc)) from None
        if args.name not in store.names():
            defined = profile_poses(store).get(args.name)
            if defined and command == "show":
                print(f"{args.name}: finger-state pose defined in profile(s) {', '.join(defined)}", file=out)
                return 0
            where = f" (defined by finger states in profile {', '.join(defined)}: edit the profile)" if defined else ""
            raise UserError(f"no taught pose named '{args.name}'{where}; 'handmap poses list' lists them")
        if command == "remove":
            path = store.remove(args.name)
            print(f"removed {args.name} ({path}); a running handmap stops reporting it", file=out)
            return 0
        try:
            pose = store.read(args.name)
        except TaughtPoseError as exc:
            raise UserError(str(exc)) from None
        t = pose.times
        print(f"{pose.name}: taught, {plural(len(pose.points), 'hand')} over {float(t[-1] - t[0]):.1f} s "
              f"({pose.hand} hand) from {pose.source or 'unknown'}; file {store.path(pose.name)}", file=out)
        spread = float(np.mean(np.std(pose.points - pose.points.mean(axis=1, keepdims=True), axis=0)))
        print(f"  landmarks only (no images); spread between hands {spread:.3f} image heights", file=out)
        return 0
    args.poses_parser.print_usage(err)
    print("handmap poses: error: say list, show NAME or remove NAME", file=err)
    return 2


def list_poses(store: PoseStore, out: TextIO, err: TextIO) -> int:
    rows = [(name, "built-in", meaning) for name, meaning in BUILT_IN]
    poses, warnings = store.load_all()
    for name, pose in poses.items():
        rows.append((name, "taught", f"{plural(len(pose.points), 'hand')} from {pose.source or 'unknown'}"))
    for name, profiles in sorted(profile_poses(store).items()):
        rows.append((name, "profile", "finger states, in " + ", ".join(profiles)))
    width = max(len(r[0]) for r in rows)
    for name, origin, note in rows:
        print(f"{name:<{width}}  {origin:<8}  {note}", file=out)
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    return 0
