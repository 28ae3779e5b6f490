"""The Poses page: the taught poses with their quality figures, and teaching a new one
from the running daemon's own frames (landmarks only): a countdown, the recording with
its progress, then the result and its warnings, as ``handmap teach`` gives them. The
recording takes each analysed frame's hands on the daemon's thread (a list append); the
training and the checks run on their own thread."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import bottle
import numpy as np

from handmap.daemon.cli.teach import COUNTDOWN_S, DEFAULT_SECONDS, Recorder, feedback_lines
from handmap.daemon.poses_store import HANDS, PoseStore, TaughtPose
from handmap.daemon.ui.server import error_answer, json_answer, request_json
from handmap.daemon.ui.tap import FrameTap
from handmap.gestures.taught import MIN_SAMPLES, TaughtPoseError, assess, check_name
from handmap.gestures.types import FrameObservation

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0
SOURCE_NAME = "the settings window"


@dataclass
class TeachState:
    """Where a teaching is, as the page shows it."""

    name: str = ""
    phase: str = "idle"  # idle, countdown, recording, training, done, failed
    left: int = 0  # countdown seconds left
    recorded_s: float = 0.0
    seconds: float = DEFAULT_SECONDS
    hands: int = 0
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "phase": self.phase, "left": self.left, "recorded_s": round(self.recorded_s, 1),
                "seconds": self.seconds, "hands": self.hands, "lines": self.lines, "warnings": self.warnings,
                "error": self.error}


class Teaching:
    """One teaching at a time: fed the daemon's observations by the tap."""

    def __init__(self, poses: PoseStore) -> None:
        self.poses = poses
        self._lock = threading.Lock()
        self.state = TeachState()
        self._recorder: Recorder | None = None
        self._start: float | None = None

    @property
    def active(self) -> bool:
        return self.state.phase in ("countdown", "recording")

    def begin(self, name: str, seconds: float, hand: str) -> None:
        with self._lock:
            if self.active or self.state.phase == "training":
                raise ValueError(f"already teaching {self.state.name}; wait for it or cancel it")
            self.state = TeachState(name=name, phase="countdown", left=COUNTDOWN_S, seconds=seconds)
            self._recorder = Recorder(hand)
            self._start = None

    def cancel(self) -> None:
        with self._lock:
            if self.active:
                self.state.phase, self.state.error = "failed", "cancelled; nothing was stored"
                self._recorder = None

    def observe(self, obs: FrameObservation) -> None:
        """One analysed frame (the daemon's thread)."""
        with self._lock:
            recorder = self._recorder
            if recorder is None or not self.active:
                return
            if self._start is None:
                self._start = obs.t
            elapsed = obs.t - self._start
            if elapsed < COUNTDOWN_S:
                self.state.left = math.ceil(COUNTDOWN_S - elapsed)
                return
            if elapsed - COUNTDOWN_S >= self.state.seconds:
                self.state.phase = "training"
                self._recorder = None
                threading.Thread(target=self._finish, args=(recorder,), name="handmap-ui-teach", daemon=True).start()
                return
            self.state.phase = "recording"
            self.state.left = 0
            recorder.add(obs)
            self.state.recorded_s = elapsed - COUNTDOWN_S
            self.state.hands = len(recorder.points)

    def _finish(self, recorder: Recorder) -> None:
        state = self.state
        try:
            if len(recorder.points) < MIN_SAMPLES:
                raise TaughtPoseError(f"no hand in view long enough: {len(recorder.points)} hands recorded (a pose "
                                      f"needs {MIN_SAMPLES}); nothing was stored")
            pose = TaughtPose(state.name, np.array(recorder.points), np.array(recorder.times), recorder.hand,
                              SOURCE_NAME)
            others, _ = self.poses.load_all()
            others.pop(state.name, None)
            feedback = assess(state.name, pose.points, {n: p.points for n, p in others.items()})
            path = self.poses.write(pose)  # the daemon's reload picks it up
            log.info("settings window: taught %s (%s)", state.name, path)
            with self._lock:
                state.lines = feedback_lines(state.name, feedback)
                state.warnings = list(feedback.warnings)
                state.phase = "done"
        except Exception as exc:  # TaughtPoseError, a full disk...
            with self._lock:
                state.phase, state.error = "failed", str(exc)


class PosesSection:
    def __init__(self, poses: PoseStore, tap: FrameTap) -> None:
        self.poses = poses
        self.tap = tap
        self.teaching = Teaching(poses)
        self._figures: dict[str, tuple[float, dict]] = {}  # name -> (file time, figures)
        tap.listener = self.teaching

    def __call__(self, app: bottle.Bottle) -> None:
        app.route("/api/poses", "GET", self.listing)
        app.route("/api/teach", "GET", self.status)
        app.route("/api/teach", "POST", self.begin)
        app.route("/api/teach/cancel", "POST", self.cancel)

    def listing(self):
        poses, warnings = self.poses.load_all()
        out = []
        for name, pose in poses.items():
            out.append({"name": name, "hands": len(pose.points), "hand": pose.hand, "source": pose.source,
                        **self._quality(name, pose, poses)})
        return json_answer({"poses": out, "warnings": warnings})

    def _quality(self, name: str, pose: TaughtPose, poses: dict[str, TaughtPose]) -> dict:
        """The teach feedback's figures (cached while the file is unchanged)."""
        stamp = self.poses.path(name).stat().st_mtime
        cached = self._figures.get(name)
        if cached is None or cached[0] != stamp:
            feedback = assess(name, pose.points, {n: p.points for n, p in poses.items() if n != name})
            cached = (stamp, {"held_out_recall": round(feedback.held_out_recall, 3), "held_out": feedback.held_out,
                              "lines": feedback_lines(name, feedback), "warnings": list(feedback.warnings)})
            self._figures[name] = cached
        return cached[1]

    def status(self):
        self.tap.asked()
        return json_answer(self.teaching.state.to_json())

    def begin(self):
        data = request_json()
        name = str(data.get("name", "")).strip()
        hand = str(data.get("hand", "any"))
        seconds = data.get("seconds", DEFAULT_SECONDS)
        problems = []
        try:
            check_name(name)
            if name in self.poses.names():
                problems.append({"field": "name", "message": f"'{name}' is taught already; remove it first "
                                                             f"(handmap poses remove {name}) or pick another name"})
        except TaughtPoseError as exc:
            problems.append({"field": "name", "message": str(exc)})
        if hand not in HANDS:
            problems.append({"field": "hand", "message": f"the hand is one of {', '.join(HANDS)}"})
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= MAX_SECONDS:
            problems.append({"field": "seconds", "message": f"seconds: a number above 0, at most {MAX_SECONDS:g}"})
        if problems:
            return json_answer({"ok": False, "errors": problems}, 422)
        try:
            self.teaching.begin(name, float(seconds), hand)
        except ValueError as exc:
            return error_answer(str(exc), 409)
        self.tap.asked()
        return json_answer(self.teaching.state.to_json())

    def cancel(self):
        self.teaching.cancel()
        return json_answer(self.teaching.state.to_json())
