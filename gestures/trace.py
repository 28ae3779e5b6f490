"""Stage: landmark traces. The JSON-lines format of ``handmap run --record TRACE.jsonl``.

A trace is a header line, then one :class:`FrameObservation` per line::

    {"format": "handmap-trace", "version": 1}
    {"t": 0.033, "frame": 1, "width": 640, "height": 480,
     "hands": [{"handedness": "right", "score": 0.98, "landmarks": [[x, y, z], ...21]}],
     "faces": [{"bbox": [x, y, w, h], "score": 0.9, "keypoints": [[x, y], ...6]}],
     "body": [[x, y, z, visibility], ...33]}

A hand whose landmarks were doubtful (``LandmarkQuality.DOUBTFUL``) also has
``"quality": "doubtful"``; the key is left out for good ones. ``faces`` and ``body`` are
null on frames where those models did not run. Floats are
written in full (``repr``) precision, so a replayed trace gives exactly the recorded
observations. Landmarks may be 2D (``[x, y]``; z is then 0), for traces from other tools.
Pure: strings in and out; the daemon does the file I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from handmap.gestures.landmarks import NUM_BODY_LANDMARKS, NUM_HAND_LANDMARKS
from handmap.gestures.types import (
    BodyObservation,
    FaceObservation,
    FrameObservation,
    Handedness,
    HandObservation,
    LandmarkQuality,
)

TRACE_FORMAT = "handmap-trace"
TRACE_VERSION = 1
#: Coordinates beyond this are not normalised image coordinates (corrupt or foreign data).
MAX_COORDINATE = 1e3
MAX_IMAGE_SIDE = 1 << 16
#: A recorded line is a few KB (21 points per hand, 33 body points); anything far longer
#: is corrupt or hostile and is refused before it is parsed.
MAX_LINE_CHARS = 1 << 20
MAX_HANDS = 16  # per frame (the tracker finds at most 4)
MAX_FACES = 16
MAX_FACE_KEYPOINTS = 512


class TraceError(ValueError):
    """A trace line that cannot be read; the message names the line and the problem."""


def _where(line_number: int | None) -> str:
    return f"trace line {line_number}" if line_number is not None else "trace line"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _loads(line: str, line_number: int | None) -> Any:
    if len(line) > MAX_LINE_CHARS:
        raise TraceError(f"{_where(line_number)}: line is {len(line)} characters long (at most {MAX_LINE_CHARS})")
    text = line.strip()
    if not text:
        raise TraceError(f"{_where(line_number)}: empty line")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise TraceError(f"{_where(line_number)}: JSON nested too deeply") from None
    except ValueError as exc:
        reason = str(exc) if "not a number" in str(exc) else f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}); the line may be truncated"
        raise TraceError(f"{_where(line_number)}: {reason}") from None


def encode_header(**extra: Any) -> str:
    """The trace's first line (``extra`` fields, e.g. ``source``, are kept but ignored)."""
    return json.dumps({"format": TRACE_FORMAT, "version": TRACE_VERSION, **extra}, separators=(",", ":"))


def decode_header(line: str, line_number: int | None = 1) -> dict:
    """Check a trace's first line; returns it as a dict."""
    data = _loads(line, line_number)
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise TraceError(f"{_where(line_number)}: not a handmap trace (expected a header with format {TRACE_FORMAT!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TraceError(f"{_where(line_number)}: header has no valid version")
    if version > TRACE_VERSION:
        raise TraceError(f"{_where(line_number)}: trace version {version} is newer than this handmap reads ({TRACE_VERSION}); upgrade handmap")
    return data


def is_header(line: str) -> bool:
    """Whether a line looks like a trace header (without raising)."""
    if len(line) > MAX_LINE_CHARS:
        return False
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "format" in data


def _floats(values: np.ndarray) -> list:
    return [[float(v) for v in row] for row in np.asarray(values, dtype=float)]


def encode_observation(obs: FrameObservation) -> str:
    """One observation as one JSON line (no newline)."""
    data: dict[str, Any] = {
        "t": float(obs.t),
        "frame": int(obs.frame),
        "width": int(obs.width),
        "height": int(obs.height),
        "hands": [_hand(h) for h in obs.hands],
        "faces": None if obs.faces is None else [
            {"bbox": [float(v) for v in f.bbox], "score": float(f.score),
             "keypoints": [[float(x), float(y)] for x, y in f.keypoints]}
            for f in obs.faces
        ],
        "body": None if obs.body is None else _floats(obs.body.landmarks),
    }
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _hand(hand: HandObservation) -> dict[str, Any]:
    data: dict[str, Any] = {"handedness": hand.handedness.value, "score": float(hand.score),
                            "landmarks": _floats(hand.landmarks)}
    if hand.quality is not LandmarkQuality.GOOD:
        data["quality"] = hand.quality.value
    return data


class _Reader:
    """Field checks for one line, each failure naming the line and the field."""

    def __init__(self, line_number: int | None) -> None:
        self.where = _where(line_number)

    def fail(self, message: str) -> TraceError:
        return TraceError(f"{self.where}: {message}")

    def field(self, data: Mapping, key: str, context: str = "") -> Any:
        if key not in data:
            raise self.fail(f"{context}missing field {key!r}")
        return data[key]

    def number(self, value: Any, name: str, limit: float = MAX_COORDINATE) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{name} must be a number, got {json.dumps(value)[:40]}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.fail(f"{name} is not finite")
        if abs(value) > limit:
            raise self.fail(f"{name} = {value:g} is out of range (at most {limit:g} in size)")
        return value

    def integer(self, value: Any, name: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{name} must be an integer, got {json.dumps(value)[:40]}")
        if not low <= value <= high:
            digits = str(value)
            shown = digits if len(digits) <= 24 else f"a {len(digits.lstrip('-'))}-digit number"
            raise self.fail(f"{name} = {shown} is out of range ({low} to {high})")
        return value

    def points(self, value: Any, name: str, count: int, dims: tuple[int, ...]) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(f"{name} must be a list of points")
        if len(value) != count:
            raise self.fail(f"{name} has {len(value)} points, expected {count}")
        width = max(dims)
        out = np.zeros((count, width), dtype=float)
        for i, point in enumerate(value):
            if not isinstance(point, list) or len(point) not in dims:
                raise self.fail(f"{name} point {i} must be a list of {' or '.join(map(str, dims))} numbers")
            for k, v in enumerate(point):
                out[i, k] = self.number(v, f"{name} point {i}")
        return out


def decode_line(line: str, line_number: int | None = None) -> FrameObservation:
    """One trace line back into a :class:`FrameObservation`; raises :class:`TraceError`."""
    r = _Reader(line_number)
    data = _loads(line, line_number)
    if not isinstance(data, dict):
        raise r.fail("expected a JSON object")
    if "format" in data:
        raise r.fail("a trace header where an observation was expected")
    t = r.number(r.field(data, "t"), "t", limit=1e9)
    if t < 0:
        raise r.fail(f"t = {t:g} is negative")
    frame = r.integer(r.field(data, "frame"), "frame", 0, 1 << 53)
    width = r.integer(r.field(data, "width"), "width", 1, MAX_IMAGE_SIDE)
    height = r.integer(r.field(data, "height"), "height", 1, MAX_IMAGE_SIDE)
    raw_hands = r.field(data, "hands")
    if not isinstance(raw_hands, list):
        raise r.fail("hands must be a list")
    if len(raw_hands) > MAX_HANDS:
        raise r.fail(f"{len(raw_hands)} hands (at most {MAX_HANDS})")
    hands = []
    for i, h in enumerate(raw_hands):
        ctx = f"hand {i}: "
        if not isinstance(h, dict):
            raise r.fail(f"hand {i} must be an object")
        side = r.field(h, "handedness", ctx)
        try:
            handedness = Handedness(str(side).lower())
        except ValueError:
            raise r.fail(f"{ctx}handedness must be 'left' or 'right', got {json.dumps(side)[:40]}") from None
        score = r.number(r.field(h, "score", ctx), f"hand {i} score", limit=1.0)
        landmarks = r.points(r.field(h, "landmarks", ctx), f"hand {i} landmarks", NUM_HAND_LANDMARKS, (2, 3))
        raw_quality = h.get("quality", LandmarkQuality.GOOD.value)
        try:
            quality = LandmarkQuality(raw_quality)
        except ValueError:
            choices = ", ".join(repr(q.value) for q in LandmarkQuality)
            raise r.fail(f"{ctx}quality must be one of {choices}, got {json.dumps(raw_quality)[:40]}") from None
        hands.append(HandObservation(landmarks=landmarks, handedness=handedness, score=score, quality=quality))
    faces: tuple[FaceObservation, ...] | None = None
    raw_faces = data.get("faces")
    if raw_faces is not None:
        if not isinstance(raw_faces, list):
            raise r.fail("faces must be a list or null")
        if len(raw_faces) > MAX_FACES:
            raise r.fail(f"{len(raw_faces)} faces (at most {MAX_FACES})")
        found: list[FaceObservation] = []
        for i, f in enumerate(raw_faces):
            ctx = f"face {i}: "
            if not isinstance(f, dict):
                raise r.fail(f"face {i} must be an object")
            bbox = r.field(f, "bbox", ctx)
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise r.fail(f"{ctx}bbox must be [x, y, width, height]")
            x, y, w, h = (r.number(v, f"face {i} bbox") for v in bbox)
            score = r.number(r.field(f, "score", ctx), f"face {i} score", limit=1.0)
            kp_raw = f.get("keypoints", [])
            if isinstance(kp_raw, list) and len(kp_raw) > MAX_FACE_KEYPOINTS:
                raise r.fail(f"{ctx}{len(kp_raw)} keypoints (at most {MAX_FACE_KEYPOINTS})")
            kp = r.points(kp_raw, f"face {i} keypoints", len(kp_raw) if isinstance(kp_raw, list) else -1, (2,)) if kp_raw else np.zeros((0, 2))
            found.append(FaceObservation(bbox=(x, y, w, h), score=score,
                                         keypoints=tuple((float(kx), float(ky)) for kx, ky in kp)))
        faces = tuple(found)
    body = None
    raw_body = data.get("body")
    if raw_body is not None:
        body = BodyObservation(landmarks=r.points(raw_body, "body", NUM_BODY_LANDMARKS, (4,)))
    return FrameObservation(t=t, frame=frame, width=width, height=height, hands=tuple(hands), faces=faces, body=body)
