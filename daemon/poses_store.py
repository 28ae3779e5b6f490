"""Taught poses on disk: one JSON file per pose in ``$XDG_DATA_HOME/handmap/poses/``.

A file holds the recorded hands' landmarks only (2D, in isotropic image coordinates:
x times the image's aspect ratio), never an image, with the time of each hand so the
feedback can split a recording by time. Files are replaced atomically
(:mod:`handmap.daemon.files`); a file that cannot be read is skipped with a warning naming
it, and the others still load. The classifier is trained from the files when they are
loaded (:func:`handmap.gestures.taught.build`, well under a second per pose).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmap.daemon.files import write_atomic
from handmap.gestures.landmarks import NUM_HAND_LANDMARKS
from handmap.gestures.taught import MIN_SAMPLES, TaughtPoseError, TaughtSet, build, check_name

log = logging.getLogger(__name__)

SUFFIX = ".json"
FORMAT = 1
#: A pose file is a few hundred KB at most; a bigger one is refused before it is parsed.
MAX_FILE_BYTES = 16 << 20
#: Most hands a pose keeps (``--add`` beyond it keeps the newest).
MAX_SAMPLES = 3000
HANDS = ("any", "left", "right")
#: Decimal places the coordinates are written with (a thousandth of a pixel).
DECIMALS = 5


@dataclass(frozen=True, eq=False)
class TaughtPose:
    """A taught pose as stored: its hands' points and times, and which hand showed it."""

    name: str
    points: np.ndarray  # (n, 21, 2) isotropic image coordinates
    times: np.ndarray  # (n,) seconds, in recording order
    hand: str = "any"  # the hand recorded: any, left or right
    source: str = ""  # what it was taught from

    def to_json(self) -> str:
        doc = {"format": FORMAT, "name": self.name, "hand": self.hand, "source": self.source,
               "times": [round(float(t), 4) for t in self.times],
               "points": np.round(self.points, DECIMALS).tolist()}
        return json.dumps(doc, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str, name: str) -> TaughtPose:
        """Raises :class:`TaughtPoseError` saying what is wrong."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise TaughtPoseError(f"not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TaughtPoseError(f"not a taught-pose file of format {FORMAT}")
        if doc.get("name") != name:
            raise TaughtPoseError(f"holds pose {doc.get('name')!r}, not {name!r} as its file name says")
        try:
            points = np.asarray(doc["points"], dtype=float)
            times = np.asarray(doc["times"], dtype=float)
        except (KeyError, TypeError, ValueError):
            raise TaughtPoseError("has no readable 'points' and 'times'") from None
        if points.ndim != 3 or points.shape[1:] != (NUM_HAND_LANDMARKS, 2) or times.shape != (len(points),):
            raise TaughtPoseError(f"points must be hands of 21 (x, y) points, one time each; got {points.shape}")
        if not (np.all(np.isfinite(points)) and np.all(np.isfinite(times))) or np.any(np.abs(points) > 10):
            raise TaughtPoseError("has coordinates that are not finite image coordinates")
        if len(points) < MIN_SAMPLES:
            raise TaughtPoseError(f"has {len(points)} hands; a pose needs at least {MIN_SAMPLES}")
        hand = doc.get("hand", "any")
        if hand not in HANDS:
            raise TaughtPoseError(f"hand must be one of {', '.join(HANDS)}, got {hand!r}")
        return cls(name, points, times, hand, str(doc.get("source", "")))


class PoseStore:
    """The taught poses in one folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        check_name(name)
        return self.directory / (name + SUFFIX)

    def names(self) -> tuple[str, ...]:
        """Names of the pose files present (readable or not)."""
        if not self.directory.is_dir():
            return ()
        return tuple(sorted(p.stem for p in self.directory.glob("*" + SUFFIX)
                            if not p.name.startswith(".") and _valid_name(p.stem)))

    def read(self, name: str) -> TaughtPose:
        """One pose; :class:`TaughtPoseError` names the file and what is wrong."""
        return read_file(self.path(name))

    def load_all(self) -> tuple[dict[str, TaughtPose], list[str]]:
        """Every readable pose, and a warning naming each file skipped."""
        poses, warnings = {}, []
        for name in self.names():
            try:
                poses[name] = self.read(name)
            except TaughtPoseError as exc:
                warnings.append(f"{exc}; skipping it")
        return poses, warnings

    def taught_set(self) -> TaughtSet:
        """The classifier's taught poses, trained from the files (corrupt ones skipped,
        each with a warning in the log)."""
        poses, warnings = self.load_all()
        for warning in warnings:
            log.warning("%s", warning)
        return build({name: pose.points for name, pose in poses.items()})

    def write(self, pose: TaughtPose) -> Path:
        path = self.path(pose.name)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, pose.to_json())
        return path

    def remove(self, name: str) -> Path:
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise KeyError(name) from None
        return path


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except TaughtPoseError:
        return False
    return True


def read_file(path: Path) -> TaughtPose:
    """The pose in ``path``; :class:`TaughtPoseError` starts with the file's path."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TaughtPoseError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise TaughtPoseError(f"{path}: over {MAX_FILE_BYTES} bytes, not a taught-pose file")
    try:
        return TaughtPose.from_json(raw.decode("utf-8"), path.stem)
    except UnicodeDecodeError:
        raise TaughtPoseError(f"{path}: not UTF-8 text, not a taught-pose file") from None
    except TaughtPoseError as exc:
        raise TaughtPoseError(f"{path}: {exc}") from None


def combined(old: TaughtPose, new: TaughtPose) -> TaughtPose:
    """``new``'s hands after ``old``'s (``--add``), times continuing, at most MAX_SAMPLES."""
    shift = (float(old.times[-1]) + 1.0 - float(new.times[0])) if len(old.times) and len(new.times) else 0.0
    points = np.concatenate([old.points, new.points])[-MAX_SAMPLES:]
    times = np.concatenate([old.times, new.times + shift])[-MAX_SAMPLES:]
    hand = old.hand if old.hand == new.hand else "any"
    return TaughtPose(old.name, points, times, hand, ", ".join(s for s in (old.source, new.source) if s))
