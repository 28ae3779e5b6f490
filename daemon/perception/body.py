"""Body (pose) stage: MediaPipe's pose landmarker, built offline from the wheel's models.

The Tasks ``PoseLandmarker`` wants a ``.task`` bundle (a zip of ``pose_detector.tflite``
and ``pose_landmarks_detector.tflite``). The mediapipe wheel ships both models for its
legacy graphs, but ``pose_landmark_full.tflite`` has no TFLite metadata, and the Tasks
API refuses a float image input without normalisation metadata. :func:`build_pose_bundle`
adds that metadata (input scaled to [0, 1], as the legacy graph does) with mediapipe's own
metadata writer and zips the bundle into a cache folder the caller gives (the daemon
passes ``$XDG_CACHE_HOME/handmap/``). Nothing is downloaded.

:class:`BodyTracker` runs it in IMAGE or VIDEO mode and returns a
:class:`~handmap.gestures.types.BodyObservation` (33 landmarks: x, y, z, visibility).

:class:`FaceRegionHandFinder` looks again for hands in a crop around a face, with lower
thresholds: MediaPipe's palm detector often misses a hand lying on a face (the face
confuses it), which is exactly the hand face-touch detection needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from handmap.daemon.perception.models import ModelError, build_bundle, wheel_models_dir
from handmap.gestures.landmarks import NUM_BODY_LANDMARKS, NUM_HAND_LANDMARKS
from handmap.gestures.types import BodyObservation, FaceObservation, Handedness, HandObservation

log = logging.getLogger(__name__)

#: Member names the Tasks PoseLandmarker looks for inside its ``.task`` zip.
POSE_DETECTOR_MEMBER = "pose_detector.tflite"
POSE_LANDMARKS_MEMBER = "pose_landmarks_detector.tflite"
#: The wheel's models (under ``mediapipe/modules``).
WHEEL_POSE_DETECTOR = Path("pose_detection") / "pose_detection.tflite"
WHEEL_POSE_LANDMARKS = Path("pose_landmark") / "pose_landmark_full.tflite"
BUNDLE_PREFIX = "pose_landmarker_full"


class RunningMode(str, Enum):
    IMAGE = "image"
    VIDEO = "video"


class ModelBuildError(RuntimeError):
    """The pose model bundle could not be built from the installed mediapipe wheel."""


def build_pose_bundle(cache_dir: Path | str) -> Path:
    """Build (once) the PoseLandmarker ``.task`` bundle in ``cache_dir`` and return its path.

    The file name carries a hash of the source models, so a mediapipe upgrade builds a
    new bundle instead of reusing a stale one. ``models.build_bundle`` writes it
    atomically and gives the landmark model the input metadata the Tasks API requires.
    """
    modules = wheel_models_dir()
    detector = modules / WHEEL_POSE_DETECTOR
    landmarks = modules / WHEEL_POSE_LANDMARKS
    for p in (detector, landmarks):
        if not p.exists():
            raise ModelBuildError(f"mediapipe's bundled pose model {p} is missing; reinstall mediapipe")
    digest = hashlib.sha256(detector.read_bytes() + landmarks.read_bytes()).hexdigest()[:12]
    cache = Path(cache_dir)
    try:
        return build_bundle({POSE_DETECTOR_MEMBER: detector, POSE_LANDMARKS_MEMBER: landmarks},
                            cache / f"{BUNDLE_PREFIX}-{digest}.task")
    except ModelError as exc:
        raise ModelBuildError(str(exc)) from exc
    except OSError as exc:
        raise ModelBuildError(
            f"cannot write the pose model to {cache} ({exc.strerror or exc}); "
            "make that folder writable or set XDG_CACHE_HOME to one that is"
        ) from exc


@dataclass(frozen=True)
class BodyTrackerConfig:
    min_pose_detection_confidence: float = 0.5
    min_pose_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


class BodyTracker:
    """The pose landmarker (one person) over RGB frames.

    ``detect(rgb, timestamp_ms)``: in VIDEO mode timestamps must increase (a repeated or
    older timestamp is bumped by 1 ms rather than crashing the stream); in IMAGE mode
    the timestamp is ignored.
    """

    def __init__(
        self,
        cache_dir: Path | str,
        mode: RunningMode = RunningMode.VIDEO,
        config: BodyTrackerConfig = BodyTrackerConfig(),
    ) -> None:
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        self.mode = RunningMode(mode)
        self.bundle = build_pose_bundle(cache_dir)
        options = vision.PoseLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(self.bundle)),
            running_mode=vision.RunningMode.VIDEO if self.mode is RunningMode.VIDEO else vision.RunningMode.IMAGE,
            num_poses=1,
            min_pose_detection_confidence=config.min_pose_detection_confidence,
            min_pose_presence_confidence=config.min_pose_presence_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ts: int | None = None

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> BodyObservation | None:
        """The body in one RGB frame (H, W, 3, uint8), or None when no person is found."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.mode is RunningMode.VIDEO:
            ts = int(timestamp_ms or 0)
            if self._last_ts is not None and ts <= self._last_ts:
                ts = self._last_ts + 1
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)
        if not result.pose_landmarks:
            return None
        pts = result.pose_landmarks[0]
        arr = np.array([[p.x, p.y, p.z, p.visibility if p.visibility is not None else 0.0] for p in pts], dtype=np.float32)
        if arr.shape != (NUM_BODY_LANDMARKS, 4):
            log.warning("pose model returned %d landmarks, expected %d", len(arr), NUM_BODY_LANDMARKS)
            return None
        return BodyObservation(landmarks=arr)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> BodyTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------
# A second look for hands around a face.
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceRegionConfig:
    #: The crop around a face box, in face widths/heights: sideways, above, below.
    #: (Measured on ht/8.jpg: wider crops shrink the hand below what the palm detector
    #: finds; this one finds the finger on the chin at any nearby setting.)
    side: float = 0.75
    above: float = 0.5
    below: float = 2.0
    #: Lower than the main tracker's thresholds: the crop is small and the prior strong.
    min_detection_confidence: float = 0.2
    min_presence_confidence: float = 0.2
    num_hands: int = 2
    #: Look around at most this many faces (the biggest), of at least this score.
    max_faces: int = 2
    min_face_score: float = 0.6
    #: A hand found in the crop is new when its centre is this far (in its own palm
    #: lengths) from every hand already known.
    min_new_distance: float = 0.75


class FaceRegionHandFinder:
    """Runs a HandLandmarker (IMAGE mode) on a crop around each face.

    ``hand_bundle`` is the HandLandmarker ``.task`` the tracker already uses. Returns
    only hands the main tracker did not already have, in full-image coordinates: put
    them in ``FrameObservation.near_face_hands`` (face touch uses them; they are not
    tracked as hands). Run it on the frames the face model runs on: about 25 ms per
    face at 640x480 on these machines.
    """

    def __init__(self, hand_bundle: Path | str, config: FaceRegionConfig = FaceRegionConfig()) -> None:
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        self.config = config
        options = vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(hand_bundle)),
            running_mode=vision.RunningMode.IMAGE,
            num_hands=config.num_hands,
            min_hand_detection_confidence=config.min_detection_confidence,
            min_hand_presence_confidence=config.min_presence_confidence,
        )
        self._landmarker = vision.HandLandmarker.create_from_options(options)

    def crop_box(self, face: FaceObservation, width: int, height: int) -> tuple[int, int, int, int]:
        """The pixel crop (x0, y0, x1, y1) searched around ``face``."""
        c = self.config
        fx, fy, fw, fh = face.bbox
        x0 = int(max(0.0, (fx - c.side * fw) * width))
        x1 = int(min(float(width), (fx + fw + c.side * fw) * width))
        y0 = int(max(0.0, (fy - c.above * fh) * height))
        y1 = int(min(float(height), (fy + fh + c.below * fh) * height))
        return x0, y0, x1, y1

    def find(
        self, rgb: np.ndarray, faces: Sequence[FaceObservation], known: Sequence[HandObservation] = ()
    ) -> tuple[HandObservation, ...]:
        import mediapipe as mp

        height, width = rgb.shape[:2]
        found: list[HandObservation] = []
        faces = [f for f in faces if f.score >= self.config.min_face_score]
        faces.sort(key=lambda f: f.bbox[2] * f.bbox[3], reverse=True)
        for face in faces[: self.config.max_faces]:
            x0, y0, x1, y1 = self.crop_box(face, width, height)
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
            for lms, handed in zip(result.hand_landmarks, result.handedness):
                pts = np.array([[p.x, p.y, p.z] for p in lms], dtype=np.float32)
                if pts.shape[0] != NUM_HAND_LANDMARKS:
                    continue
                cw, ch = x1 - x0, y1 - y0
                pts[:, 0] = (x0 + pts[:, 0] * cw) / width
                pts[:, 1] = (y0 + pts[:, 1] * ch) / height
                pts[:, 2] = pts[:, 2] * cw / width  # z is in the crop's width units
                hand = HandObservation(
                    landmarks=pts,
                    handedness=Handedness.LEFT if handed[0].category_name.lower() == "left" else Handedness.RIGHT,
                    score=float(handed[0].score),
                )
                if self._is_new(hand, [*known, *found], width, height):
                    found.append(hand)
        return tuple(found)

    def _is_new(self, hand: HandObservation, others: Sequence[HandObservation], width: int, height: int) -> bool:
        scale = np.array([width, height], dtype=np.float32)
        centre = hand.landmarks[:, :2].mean(axis=0) * scale
        palm = _palm_length_px(hand.landmarks, scale)
        for other in others:
            oc = other.landmarks[:, :2].mean(axis=0) * scale
            if np.linalg.norm(centre - oc) < self.config.min_new_distance * max(palm, 1.0):
                return False
        return True

    def close(self) -> None:
        self._landmarker.close()


def _palm_length_px(landmarks: np.ndarray, scale: np.ndarray) -> float:
    from handmap.gestures.landmarks import HandLandmark

    return float(np.linalg.norm((landmarks[HandLandmark.MIDDLE_MCP, :2] - landmarks[HandLandmark.WRIST, :2]) * scale))
