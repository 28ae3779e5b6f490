"""``handmap run``: the daemon, over a camera, a video, an image folder or a trace."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the daemon", description="Run handmap: track hands and map them to input.")
    p.add_argument("--config", type=Path, help="configuration file (default: the packaged one with yours over it)")
    p.add_argument("--profile", help="mapping profile to start with (default: from the configuration)")
    p.add_argument("--source", help="camera index, video file, image folder or landmark trace (default: the configured camera)")
    p.add_argument("--output", choices=("auto", "pynput", "uinput", "dry-run"), help="output backend (default: from the configuration)")
    p.add_argument("--realtime", action="store_true", help="play a file source at its own frame rate instead of as fast as possible")
    p.add_argument("--preview", action="store_true", help="show the camera image with landmarks, poses and the pointer")
    p.add_argument("--record", type=Path, metavar="TRACE.jsonl", help="write the landmark stream to a trace file (a valid --source)")
    p.add_argument("--first-run", action=argparse.BooleanOptionalAction, default=None,
                   help="on a camera, start paused with the preview and say how to resume (default: the "
                        "configuration's first_run, true until you set it to false)")
    p.add_argument("--replace", action="store_true",
                   help="ask the handmap already running in this session to quit, and take over from it")
    p.add_argument("--no-tray", action="store_true", help="do not show a tray icon")
    p.add_argument("--fps", type=float, help="frame rate of an image-folder source (default 30)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="flip frames left-right (default: the configured camera.mirror for cameras, off for files)")
    p.add_argument("--report-frames", action="store_true", help="with dry-run: also a `hands` event for every analysed frame")
    p.add_argument("--alerts", action=argparse.BooleanOptionalAction, default=None,
                   help="face-touch notifications (default: on for cameras, off when replaying files)")
    p.add_argument("--history", action=argparse.BooleanOptionalAction, default=None,
                   help="record face-touch episodes in the history (default: on for cameras, off when replaying files)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handmap.daemon.runtime.libpages import release_library_pages

    release_library_pages()  # before OpenCV and MediaPipe load: see libpages
    from handmap.daemon.cli import UserError, plural
    from handmap.daemon.runtime.assemble import RunOptions, SetupError, build
    from handmap.daemon.runtime.daemon import DaemonFailed

    options = RunOptions(
        config_path=args.config, profile=args.profile, source=args.source, output=args.output,
        realtime=args.realtime, preview=args.preview, record=args.record, tray=not args.no_tray,
        folder_fps=args.fps, mirror=args.mirror, report_frames=args.report_frames,
        alerts=args.alerts, history=args.history, replace=args.replace, first_run=args.first_run,
    )
    import os

    from handmap.daemon.desktop.service import running_as_service
    from handmap.daemon.desktop.session import has_display
    from handmap.daemon.desktop.waiting import wait_for_display

    if running_as_service() and not has_display(os.environ) and (args.output or "auto") != "dry-run":
        from handmap.daemon.config import load_config

        if not wait_for_display(os.environ, args.profile or load_config(args.config).profile):
            return 0
    try:
        built = build(options)
    except SetupError as exc:
        raise UserError(str(exc)) from None
    if built.start.camera:
        _say_banner(built, args.config)
    try:
        summary = built.daemon.run()
    except DaemonFailed as exc:
        print(f"handmap: error: {exc}", file=sys.stderr)
        return 1
    finally:
        built.close()
    dropped = f", {plural(summary.dropped, 'stale frame')} dropped" if summary.dropped else ""
    print(f"handmap: {plural(summary.frames, 'frame')} in {summary.seconds:.1f} s: {summary.fps:.1f} frames per "
          f"second{dropped}", file=sys.stderr)
    return 0


def _say_banner(built, config_path: Path | None) -> None:
    from handmap.daemon.cli.banner import PREFIX, banner
    from handmap.daemon.config import user_config_path

    source = built.first_source.name if built.first_source is not None else "the camera"
    lines = banner(built.start, built.daemon.mapping.profile, source, str(config_path or user_config_path()))
    print("\n".join(PREFIX + line for line in lines), file=sys.stderr, flush=True)
