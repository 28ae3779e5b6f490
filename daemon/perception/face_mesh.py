"""Face mesh: MediaPipe's face landmark model in one detected face's region, for the
zone a hand touches (``gestures.face_zones``).

The wheel's legacy ``FaceLandmarkCpu`` graph runs on its own, fed the region the face
detector found (as MediaPipe's face mesh derives it from a detection: the box's centre,
turned by the eye line, a square 1.5 times the box's longer side), so no second face
detector runs. Only that region's pixels are handed to the graph. Nothing here touches
the network.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from handmap.gestures.landmarks import FaceKeypoint
from handmap.gestures.types import FaceObservation

log = logging.getLogger(__name__)

#: The region around a detected face that the landmark model looks at, as MediaPipe's
#: ``FaceDetectionFrontDetectionToRoi`` makes it: this many times the box's longer side.
REGION_SCALE = 1.5

#: The graph: MediaPipe's face landmark subgraph alone, fed an image and a region.
_STREAMS = ("IMAGE:image", "ROI:roi")
_SIDE = "WITH_ATTENTION:with_attention"
_OUT = "LANDMARKS:landmarks"
_SUBGRAPH = "FaceLandmarkCpu"


def face_region(face: FaceObservation, width: int, height: int) -> tuple[float, float, float, float] | None:
    """The landmark model's region for ``face`` in a ``width`` x ``height`` image, in
    pixels: centre x, centre y, side, rotation (radians; MediaPipe's sign, which turns
    the eye line level). None without the eye keypoints."""
    if len(face.keypoints) <= FaceKeypoint.LEFT_EYE:
        return None
    x, y, w, h = face.bbox
    right = face.keypoints[FaceKeypoint.RIGHT_EYE]
    left = face.keypoints[FaceKeypoint.LEFT_EYE]
    rotation = -math.atan2(-(left[1] - right[1]) * height, (left[0] - right[0]) * width)
    side = max(w * width, h * height) * REGION_SCALE
    if not (side > 0 and math.isfinite(side) and math.isfinite(rotation)):
        return None
    return (x + w / 2) * width, (y + h / 2) * height, side, rotation


class FaceMesh:
    """The face landmark model, one face region at a time. ``attention`` picks the
    model with iris points (478 landmarks instead of 468: about 10 MB more, 1-2 ms more
    per face). Not thread-safe: the face checks' thread runs it."""

    def __init__(self, attention: bool = False) -> None:
        import mediapipe as mp
        from mediapipe.framework import calculator_pb2

        self._mp = mp
        self._create, self._get = mp.packet_creator, mp.packet_getter
        config = calculator_pb2.CalculatorGraphConfig(input_stream=_STREAMS, input_side_packet=[_SIDE],
                                                      output_stream=[_OUT])
        config.node.add(calculator=_SUBGRAPH, input_stream=_STREAMS, input_side_packet=[_SIDE], output_stream=[_OUT])
        self._graph = mp.CalculatorGraph(graph_config=config)
        self._found: list[Any] = []
        self._graph.observe_output_stream("landmarks", lambda _stream, packet: self._found.append(
            self._get.get_proto(packet)))
        self._graph.start_run(input_side_packets={"with_attention": self._create.create_bool(attention)})
        self._us = 0
        self.runs = 0

    @classmethod
    def create(cls, attention: bool = False) -> FaceMesh | None:
        """The face mesh, or None (said once in the log) where this mediapipe cannot run
        its landmark graph alone: zones then come from the face detector's keypoints."""
        try:
            return cls(attention)
        except (ImportError, AttributeError, RuntimeError, ValueError, TypeError) as exc:
            log.warning("face mesh unavailable (%s): face zones come from the face detector's six keypoints", exc)
            return None

    def landmarks(self, rgb: np.ndarray, face: FaceObservation) -> np.ndarray | None:
        """The mesh of ``face`` in the RGB frame, shape (468 or 478, 3), normalised to the
        whole frame like hand landmarks (z in the same units as x); None when the model
        finds no face in the region."""
        from mediapipe.framework.formats import rect_pb2

        height, width = rgb.shape[:2]
        region = face_region(face, width, height)
        if region is None:
            return None
        cx, cy, side, rotation = region
        # The axis-aligned box around the turned square, inside the frame: the pixels
        # the graph is given.
        reach = side * (abs(math.cos(rotation)) + abs(math.sin(rotation))) / 2
        x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
        x1, y1 = min(width, int(math.ceil(cx + reach))), min(height, int(math.ceil(cy + reach)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        cw, ch = x1 - x0, y1 - y0
        roi = rect_pb2.NormalizedRect(x_center=(cx - x0) / cw, y_center=(cy - y0) / ch, width=side / cw,
                                      height=side / ch, rotation=rotation)
        self._us += 1
        self.runs += 1
        self._found.clear()
        self._graph.add_packet_to_input_stream(
            "image", self._create.create_image_frame(image_format=self._mp.ImageFormat.SRGB, data=crop).at(self._us))
        self._graph.add_packet_to_input_stream("roi", self._create.create_proto(roi).at(self._us))
        self._graph.wait_until_idle()
        if not self._found:
            return None
        points = np.array([(p.x, p.y, p.z) for p in self._found[-1].landmark], dtype=np.float64)
        # Back to the whole frame: x and z scale with the crop's width, y with its height.
        points[:, 0] = (points[:, 0] * cw + x0) / width
        points[:, 1] = (points[:, 1] * ch + y0) / height
        points[:, 2] *= cw / width
        return points

    def close(self) -> None:
        try:
            self._graph.close()
        except RuntimeError as exc:  # a graph that failed mid-run says so again on close
            log.debug("face mesh graph closed with an error: %s", exc)
