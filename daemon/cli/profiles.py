"""``handmap profiles list | validate FILE... | show NAME``: the mapping profiles.

Errors go to stderr as ``file:line:col: message``; the exit status is 0 when all is
well, 1 when a profile has errors (or is unknown), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import yaml

from handmap.daemon.config import ConfigError, load_config
from handmap.gestures.types import Pose
from handmap.mappings.loader import ProfileLoadError, ProfileStore, default_user_dir
from handmap.mappings.schema import Profile

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "profiles", help="list, check and show mapping profiles",
        description="List, validate and show mapping profiles (your own in "
                    "$XDG_CONFIG_HOME/handmap/profiles over the bundled ones).")
    p.add_argument("--dir", metavar="DIR", type=Path, default=None,
                   help="your profiles folder (default $XDG_CONFIG_HOME/handmap/profiles)")
    sub = p.add_subparsers(dest="profiles_command", metavar="list|validate|show")
    sub.add_parser("list", help="the profiles you can use, yours and the bundled ones")
    v = sub.add_parser("validate", help="check profile files and report every problem as file:line:col")
    v.add_argument("files", metavar="FILE", nargs="+", help="profile YAML files (or names of installed profiles)")
    s = sub.add_parser("show", help="print a profile with everything it extends merged in, as YAML")
    s.add_argument("name", metavar="NAME")
    p.set_defaults(func=run, profiles_parser=p)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from handmap.daemon.paths import user_poses_dir
    from handmap.daemon.poses_store import PoseStore

    store = ProfileStore(args.dir if args.dir is not None else default_user_dir(),
                         taught_poses=PoseStore(user_poses_dir()).names)
    command = args.profiles_command
    if command == "list":
        return list_profiles(store, out, err)
    if command == "validate":
        return validate(store, args.files, out, err)
    if command == "show":
        return show(store, args.name, out, err)
    args.profiles_parser.print_usage(err)
    print("handmap profiles: error: say list, validate FILE... or show NAME", file=err)
    return EXIT_USAGE


def list_profiles(store: ProfileStore, out: TextIO, err: TextIO) -> int:
    names = store.names()
    if not names:
        print("no profiles found", file=err)
        return EXIT_INVALID
    width = max(len(n) for n in names)
    status = EXIT_OK
    for name in names:
        origin = store.origin(name)
        try:
            profile = store.load(name)
            note = profile.description
            if not profile.match.is_empty():
                note += " [auto: " + _match_summary(profile) + "]"
        except ProfileLoadError as exc:
            note = f"INVALID: {exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else "")
            status = EXIT_INVALID
        print(f"{name:<{width}}  {origin:<7}  {note}".rstrip(), file=out)
    return status


def _match_summary(profile) -> str:
    m = profile.match
    parts = []
    if m.window_class:
        parts.append("class " + ", ".join(m.window_class))
    if m.process:
        parts.append("process " + ", ".join(m.process))
    if m.title:
        parts.append(f"title /{m.title}/")
    return "; ".join(parts)


def configured_max_hands() -> int | None:
    """How many hands the daemon will track (the user's config.yaml over the packaged
    one); None when the configuration cannot be read (``config validate`` says why)."""
    try:
        return load_config(None).model.max_hands
    except ConfigError:
        return None


def validate(store: ProfileStore, files: list[str], out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    max_hands = configured_max_hands()
    for item in files:
        path = Path(item)
        if not path.exists() and item in store.names():
            errors, warnings = store.check(item, max_hands)
        else:
            errors, warnings = store.check_file(path, max_hands)
        for e in errors + warnings:
            print(str(e), file=err)
        if errors:
            status = EXIT_INVALID
        else:
            print(f"{item}: ok", file=out)
    return status


#: The built-in pose labels as a user meets them in events and bindings.
BUILT_IN_POSES = {
    Pose.OPEN: "an open hand, fingers spread",
    Pose.CLOSED: "a fist",
    Pose.PINCH: "thumb and index tips together",
    Pose.POINT: "the index finger alone extended",
    Pose.HAND: "a hand in none of these poses (in between, or unclear)",
}


def pose_legend(profile: Profile, taught: tuple[str, ...] = ()) -> list[str]:
    """What each pose name this profile can report means: the built-in ones, then the
    profile's own (``poses:``), then the user's taught poses, which pose events and
    bindings use like the others."""
    lines = ["poses it can report:"]
    lines += [f"  {pose.value}: {meaning}" for pose, meaning in BUILT_IN_POSES.items()]
    for name, pose in profile.poses.items():
        fingers = ", ".join(f"{finger.value} {rule}" for finger, rule in pose.fingers.items() if rule != "any")
        lines.append(f"  {name}: this profile's own pose ({fingers or 'by the pinch distance'}; see poses below)")
    lines += [f"  {name}: your taught pose (handmap poses show {name})" for name in taught if name not in profile.poses]
    return lines


def show(store: ProfileStore, name: str, out: TextIO, err: TextIO) -> int:
    try:
        profile = store.load(name)
    except KeyError as exc:
        print(f"handmap profiles: error: {exc.args[0]}", file=err)
        return EXIT_INVALID
    except ProfileLoadError as exc:
        for e in exc.errors:
            print(str(e), file=err)
        return EXIT_INVALID
    out.write(f"# profile '{name}' ({store.origin(name)}), with what it extends merged in\n")
    taught = tuple(sorted(store.taught_poses())) if store.taught_poses is not None else ()
    out.writelines(f"# {line}\n" for line in pose_legend(profile, taught))
    out.write(yaml.safe_dump(profile.to_yaml_data(), sort_keys=False, allow_unicode=True))
    return EXIT_OK
