"""``handmap run``: the daemon, over a camera, a video, an image folder or a trace."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..config import load_config

log = logging.getLogger("handmap")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the daemon", description="Run handmap: track hands and map them to input.")
    p.add_argument("--config", type=Path, help="configuration file (default: the packaged one with yours over it)")
    p.add_argument("--profile", help="mapping profile to start with (default: from the configuration)")
    p.add_argument("--source", help="camera index, video file, image folder or landmark trace (default: the configured camera)")
    p.add_argument("--output", choices=("auto", "pynput", "uinput", "dry-run"), help="output backend (default: from the configuration)")
    p.add_argument("--realtime", action="store_true", help="play a file source at its own frame rate instead of as fast as possible")
    p.add_argument("--preview", action="store_true", help="show the camera image with landmarks, poses and the pointer")
    p.add_argument("--record", type=Path, metavar="TRACE.jsonl", help="write the landmark stream to a trace file (a valid --source)")
    p.add_argument("--no-tray", action="store_true", help="do not show a tray icon")
    p.add_argument("--fps", type=float, help="frame rate of an image-folder source (default 30)")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="flip frames left-right (default: the configured camera.mirror for cameras, off for files)")
    p.add_argument("--report-frames", action="store_true", help="with dry-run: also a `hands` event for every analysed frame")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handmap.gestures.engine import GestureConfig, GestureEngine
    from handmap.gestures.face_touch import FaceTouchConfig, FaceTouchTracker

    from ..app import Daemon, DaemonFailed
    from ..factory import make_tracker
    from ..outputs import select_output
    from ..pipeline import Pipeline, PipelineSettings, PoseReporter
    from ..sources import open_source
    from ..trace_source import TraceRecorder
    from . import UserError

    config = load_config(args.config)
    source_spec = args.source if args.source is not None else str(config.camera.index)
    is_camera = source_spec.strip().isdigit()
    mirror = args.mirror if args.mirror is not None else (config.camera.mirror and is_camera)

    def opener():
        return open_source(source_spec, width=config.camera.width, height=config.camera.height, fps=config.camera.fps,
                           realtime=args.realtime, folder_fps=args.fps)

    first = opener()  # a clear error before any model loads
    first_used = [False]

    def open_again():
        if not first_used[0]:
            first_used[0] = True
            return first
        return opener()

    is_trace = first.__class__.__name__ == "TraceSource"
    try:
        gesture_config = GestureConfig.from_mapping(config.gestures)
        face_config = FaceTouchConfig.from_mapping(config.face_touch) if hasattr(FaceTouchConfig, "from_mapping") else FaceTouchConfig()
    except ValueError as exc:
        raise UserError(f"configuration: {exc}") from None
    tracker = None if is_trace else make_tracker(config, video=True)
    gestures = GestureEngine(gesture_config, face_touch=FaceTouchTracker(face_config) if config.faces.enabled else None)
    output = select_output(args.output or config.output)
    recorder = TraceRecorder(args.record, source=first.name) if args.record else None
    pipeline = Pipeline(
        tracker, gestures, PoseReporter(), output,
        PipelineSettings(selfie=mirror, mirror=mirror, faces_rate_hz=config.faces.rate_hz, report_frames=args.report_frames),
        recorder=recorder,
    )
    daemon = Daemon(pipeline, open_again, output_name=output.name, profile_name=args.profile or config.profile)
    try:
        summary = daemon.run()
    except DaemonFailed as exc:
        print(f"handmap: error: {exc}", file=sys.stderr)
        return 1
    finally:
        output.close()
        if recorder is not None:
            recorder.close()
        if tracker is not None:
            tracker.close()
    dropped = f", {summary.dropped} stale frames dropped" if summary.dropped else ""
    print(f"handmap: {summary.frames} frames in {summary.seconds:.1f} s: {summary.fps:.1f} frames per second{dropped}",
          file=sys.stderr)
    return 0
