"""``handmap bench --source SOURCE [--json]``: speed of the full pipeline beside a bare
MediaPipe loop on the same frames (see ``handmap.daemon.tools.bench``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"{text} is too small")
    return width, height


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure speed: the full pipeline beside a bare MediaPipe loop",
                              description="Play a source through the full pipeline and through a bare MediaPipe "
                                          "HandLandmarker loop on the same frames, and report frame rates, per-stage "
                                          "latency, end-to-end latency, CPU and memory.")
    p.add_argument("--source", required=True, help="video file or image folder (or a camera index)")
    p.add_argument("--json", action="store_true", help="one JSON object (the shape CONTRACTS.md gives)")
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--model", choices=("full", "lite"), help="hand model size (default: the configured one)")
    p.add_argument("--size", type=_size, help="resize frames to WIDTHxHEIGHT first, e.g. 640x480")
    p.add_argument("--frames", type=int, help="stop after this many frames")
    p.add_argument("--loops", type=int, default=1, help="play the source this many times (default 1)")
    p.add_argument("--profile", default="desktop", help="mapping profile to run (default desktop)")
    p.add_argument("--mode-changes", type=float, metavar="SECONDS",
                   help="every SECONDS of source time pause, resume or switch profile (a soak of mode changes)")
    p.add_argument("--no-bare", action="store_true", help="leave out the bare MediaPipe loop (long soak runs)")
    p.add_argument("--idle", action="store_true",
                   help="instead: run the daemon on the source paced in real time and report its CPU use "
                        "(a source with no hand in view measures the idle rate)")
    p.add_argument("--seconds", type=float, help="with --idle: stop after this many seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handmap.daemon.runtime.libpages import release_library_pages

    release_library_pages()  # before OpenCV and MediaPipe load: see libpages
    from handmap.daemon.cli import UserError, plural
    from handmap.daemon.tools.bench import BenchOptions, benchmark, format_report

    if args.source.strip().isdigit():
        raise UserError("bench needs a file source it can play twice (a video or an image folder), not a camera")
    if args.idle:
        from handmap.daemon.tools.bench import STEADY_AFTER_S, idle_benchmark

        report = idle_benchmark(BenchOptions(source=args.source, config_path=args.config, profile=args.profile),
                                args.seconds)
        if args.json:
            print(json.dumps({"idle": report}))
        else:
            line = f"idle run on {report['source']}: {report['seconds']} s, {report['cpu_percent_of_one_core']}% of one core"
            if "steady_cpu_percent_of_one_core" in report:
                line += f" ({report['steady_cpu_percent_of_one_core']}% from second {STEADY_AFTER_S:g} on)"
            print(f"{line}, {plural(report['frames_analysed'], 'frame')} analysed, "
                  f"{report['frames_skipped_idle']} passed over, "
                  f"peak RSS {report['peak_rss_mb']:.0f} MB")
        return 0
    try:
        report = benchmark(BenchOptions(source=args.source, config_path=args.config, model=args.model, size=args.size,
                                        max_frames=args.frames, profile=args.profile, loops=max(1, args.loops),
                                        bare=not args.no_bare, mode_changes_s=args.mode_changes))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(report) if args.json else format_report(report))
    return 0
