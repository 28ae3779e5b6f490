"""``handmap teach NAME [--source SOURCE] [--seconds N] [--hand left|right|any] [--add]``:
show a hand shape and keep it as a pose.

From a camera: a countdown, then ``--seconds`` of recording while the user holds the
shape and moves it a little, with progress in the terminal (and, with ``--preview``, in
the preview window's bar over the annotated camera view). From a video, an image
folder or a trace: every frame given. Only landmarks are kept
(:mod:`handmap.daemon.poses_store`). At the end, honest feedback
(:func:`handmap.gestures.taught.assess`): a held-out check on the recording and what the
shape is confused with. Exit 0 when the pose was stored; nothing changes on an error.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from handmap.daemon.cli import UserError, plural
from handmap.daemon.poses_store import HANDS, PoseStore, TaughtPose, combined
from handmap.gestures.poses import LandmarkError, as_landmarks
from handmap.gestures.taught import MIN_SAMPLES, TaughtPoseError, assess, check_name
from handmap.gestures.types import FrameObservation, HandObservation

log = logging.getLogger(__name__)

DEFAULT_SECONDS = 8.0
COUNTDOWN_S = 3


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("teach", help="show a hand shape for a few seconds and keep it as a pose",
                              description="Record a hand shape (landmarks only, never images) and keep it as a pose "
                                          "that profiles bind like any other ('enter: NAME').")
    p.add_argument("name", metavar="NAME", help="the pose's name: lower-case letters, digits, '_' and '-'")
    p.add_argument("--source", default=None,
                   help="camera index (default: the configured camera), video file, image folder or trace")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                   help=f"with a camera: how long to record (default {DEFAULT_SECONDS:g})")
    p.add_argument("--hand", choices=HANDS, default="any", help="which hand to record (default any: the larger)")
    p.add_argument("--add", action="store_true", help="record more hands for a pose taught before")
    p.add_argument("--preview", action="store_true", help="show the camera view with what to do and the progress")
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)  # the poses folder (tests)
    p.set_defaults(func=run)


def pick_hand(hands: tuple[HandObservation, ...], hand: str, aspect: float) -> np.ndarray | None:
    """The (21, 2) isotropic points of the hand to record: of the side asked for, the
    largest in the image."""
    best, best_size = None, -1.0
    for h in hands:
        if hand != "any" and h.handedness.value != hand:
            continue
        try:
            pts = as_landmarks(h.landmarks, aspect)[:, :2]
        except LandmarkError:
            continue
        size = float(np.prod(pts.max(axis=0) - pts.min(axis=0)))
        if size > best_size:
            best, best_size = pts, size
    return best


class Recorder:
    """Collects the hand to record from each observation."""

    def __init__(self, hand: str) -> None:
        self.hand = hand
        self.points: list[np.ndarray] = []
        self.times: list[float] = []
        self.frames = 0

    def add(self, obs: FrameObservation) -> bool:
        self.frames += 1
        pts = pick_hand(obs.hands, self.hand, obs.aspect)
        if pts is None:
            return False
        self.points.append(pts)
        self.times.append(obs.t)
        return True


def _observations(source, config, mirror: bool):
    """Each frame of ``source``: its image (None from a trace) and its observation."""
    tracker = None
    try:
        while True:
            frame = source.read()
            if frame is None:
                return
            if frame.observation is not None:
                yield frame.image, frame.observation
                continue
            if tracker is None:
                from handmap.daemon.perception.factory import make_tracker

                tracker = make_tracker(config, video=True, faces=False, body=False, near_face=False)
            import cv2

            image = cv2.flip(frame.image, 1) if mirror else frame.image
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            yield frame.image, tracker.observe(rgb, frame.t, frame.index, with_faces=False, selfie=mirror)
    finally:
        if tracker is not None:
            tracker.close()


class Progress:
    """What to do and how far it is: in the preview's bar as it changes, in the terminal
    once per ``step`` (a countdown number, a second of recording)."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.text = ""
        self._step: object = None

    def say(self, text: str, step: object = None) -> None:
        self.text = text
        if step is not None and step != self._step:
            self._step = step
            print(text, file=self.err, flush=True)


def record(source, config, hand: str, seconds: float, progress: Progress, name: str = "",
           preview=None) -> Recorder:
    """The hands of ``source``; from a camera, after a countdown, for ``seconds``
    (``preview``: a :class:`handmap.daemon.tools.preview.Preview` to show each frame in,
    its bar showing ``progress``)."""
    recorder = Recorder(hand)
    live = bool(source.live)
    mirror = live and config.camera.mirror
    engine = None
    if preview is not None:
        from handmap.gestures.engine import GestureEngine

        engine = GestureEngine()
    start = None
    for image, obs in _observations(source, config, mirror):
        if start is None:
            start = obs.t
        elapsed = obs.t - start
        if live and elapsed < COUNTDOWN_S:
            left = math.ceil(COUNTDOWN_S - elapsed)
            progress.say(f"get ready: show {name} to the camera in {left}...", ("countdown", left))
        elif live and elapsed - COUNTDOWN_S >= seconds:
            break
        else:
            recorder.add(obs)
            if live:
                done = int(elapsed - COUNTDOWN_S)
                progress.say(f"recording {name}: hold it and move it a little (turn it, nearer, farther): "
                             f"{done} s of {seconds:g}, {plural(len(recorder.points), 'hand')}", ("recording", done))
            else:
                progress.say(f"{name}: {plural(len(recorder.points), 'hand')} in {plural(recorder.frames, 'frame')}")
        if preview is not None and engine is not None:
            preview.show(image, obs, engine.update(obs), mirror)
            if not preview.open:  # the user closed the window: stop here, keep what was recorded
                break
    return recorder


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    from handmap.daemon.capture import open_source
    from handmap.daemon.config import load_config
    from handmap.daemon.paths import user_poses_dir

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        check_name(args.name)
    except TaughtPoseError as exc:
        raise UserError(str(exc)) from None
    if not args.seconds > 0:
        raise UserError(f"--seconds must be a positive number, got {args.seconds:g}")
    store = PoseStore(args.dir if args.dir is not None else user_poses_dir())
    exists = args.name in store.names()
    old = None
    if exists and not args.add:
        raise UserError(f"pose '{args.name}' is already taught; add to it with --add, "
                        f"or remove it first with 'handmap poses remove {args.name}'")
    if args.add:
        if not exists:
            raise UserError(f"no taught pose named '{args.name}' to add to; teach it without --add first")
        try:
            old = store.read(args.name)
        except TaughtPoseError as exc:
            raise UserError(f"{exc}; remove it with 'handmap poses remove {args.name}' and teach it again") from None
    config = load_config(args.config)
    spec = args.source if args.source is not None else str(config.camera.index)
    preview = None
    progress = Progress(err)
    if args.preview:
        from handmap.daemon.desktop.session import window_display_problem

        problem = window_display_problem(os.environ)
        if problem is not None:
            raise UserError(f"--preview needs a display: {problem}; teach without --preview")
        from handmap.daemon.tools.preview import Preview, PreviewState

        preview = Preview(lambda: PreviewState(note=progress.text))
    source = open_source(spec, width=config.camera.width, height=config.camera.height, fps=config.camera.fps)
    try:
        recorder = record(source, config, args.hand, args.seconds, progress, args.name, preview)
    finally:
        source.close()
        if preview is not None:
            preview.close()
    which = "" if args.hand == "any" else f"{args.hand} "
    if len(recorder.points) < MIN_SAMPLES:
        raise UserError(f"no {which}hand in view long enough: {plural(len(recorder.points), 'hand')} in "
                        f"{plural(recorder.frames, 'frame')} of {source.name} (a pose needs {MIN_SAMPLES}); "
                        "nothing was stored")
    new = TaughtPose(args.name, np.array(recorder.points), np.array(recorder.times), args.hand, source.name)
    pose = combined(old, new) if old is not None else new
    others, warnings = store.load_all()
    others.pop(args.name, None)
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    feedback = assess(args.name, pose.points, {n: p.points for n, p in others.items()})
    path = store.write(pose)
    print(f"{args.name}: {plural(len(new.points), 'hand')} from {plural(recorder.frames, 'frame')}"
          + (f" (now {len(pose.points)} in all)" if old is not None else ""), file=out)
    for line in feedback_lines(args.name, feedback):
        print(line, file=out)
    for warning in feedback.warnings:
        print(f"warning: {args.name} {warning}", file=err)
    from handmap.daemon.cli.poses import profile_poses

    defined = profile_poses(store).get(args.name)
    if defined:
        which = f"profile {defined[0]} also defines" if len(defined) == 1 else \
            f"profiles {', '.join(defined)} also define"
        print(f"warning: {which} a pose '{args.name}' by finger states; there a hand that meets those finger states "
              "is that pose whatever the taught one says", file=err)
    print(f"stored {path}; bind it in a profile with 'enter: {args.name}' (a running handmap picks it up)", file=out)
    return 0


def feedback_lines(name: str, feedback) -> list[str]:
    lines = []
    if feedback.held_out:
        lines.append(f"held-out check: recognised in {feedback.held_out_recall:.0%} of the last "
                     f"{plural(feedback.held_out, 'hand')} (trained on the hands before them)")
    builtin = ", ".join(f"{k} {v:.0%}" for k, v in feedback.builtin_shares.items() if v > 0)
    lines.append(f"the built-in poses read the recording as: {builtin}")
    if feedback.taught_shares:
        lines.append("other taught poses claim: " + ", ".join(f"{k} {v:.0%}" for k, v in feedback.taught_shares.items()))
    claimed = ", ".join(f"{k} {v:.0%}" for k, v in feedback.negatives_claimed.items())
    lines.append(f"of reference hands from 25 people (shape clusters), {name} would claim: {claimed} "
                 "(other shapes may include yours)")
    return lines
