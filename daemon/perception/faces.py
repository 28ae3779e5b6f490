"""Faces: MediaPipe's face detectors over RGB frames to ``FaceObservation``s (face touch).

Two models, chosen by ``faces.model`` in the configuration: the full-range detector
(the wheel's legacy ``solutions`` graph; the default) and the short-range one (the
Tasks ``FaceDetector``). Nothing here touches the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from handmap.gestures.types import FaceObservation

#: The face models, as ``faces.model`` names them.
FACE_MODEL_FULL_RANGE = "full_range"
FACE_MODEL_SHORT_RANGE = "short_range"


class FaceModel(Protocol):
    """A face detector: the faces in one RGB frame."""

    def detect(self, rgb: np.ndarray) -> tuple[FaceObservation, ...]: ...

    def close(self) -> None: ...


class FullRangeFaces:
    """MediaPipe's full-range face detector (faces up to about 5 m away).

    Only the wheel's legacy ``solutions`` graph runs this model (the Tasks FaceDetector
    rejects its sparse output); it finds the small faces of people standing back from a
    camera that the short-range model misses, and fires less often on fists and cups.
    """

    def __init__(self, min_confidence: float) -> None:
        import mediapipe as mp

        self._model = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=min_confidence)

    def detect(self, rgb: np.ndarray) -> tuple[FaceObservation, ...]:
        result = self._model.process(rgb)
        faces = []
        for det in result.detections or ():
            box = det.location_data.relative_bounding_box
            faces.append(FaceObservation(
                bbox=(float(box.xmin), float(box.ymin), float(box.width), float(box.height)),
                score=float(det.score[0]) if det.score else 0.0,
                keypoints=tuple((float(k.x), float(k.y)) for k in det.location_data.relative_keypoints),
            ))
        return tuple(faces)

    def close(self) -> None:
        self._model.close()


class ShortRangeFaces:
    """MediaPipe's short-range face detector (within about 2 m), through the Tasks API."""

    def __init__(self, model: Path, min_confidence: float) -> None:
        import mediapipe as mp
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        self._mp = mp
        self._model = vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_confidence,
        ))

    def detect(self, rgb: np.ndarray) -> tuple[FaceObservation, ...]:
        height, width = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        faces = []
        for det in self._model.detect(image).detections:
            box = det.bounding_box
            faces.append(FaceObservation(
                bbox=(box.origin_x / width, box.origin_y / height, box.width / width, box.height / height),
                score=float(det.categories[0].score) if det.categories else 0.0,
                keypoints=tuple((float(k.x), float(k.y)) for k in (det.keypoints or ())),
            ))
        return tuple(faces)

    def close(self) -> None:
        self._model.close()
