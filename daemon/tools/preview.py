"""``handmap run --preview``: the camera image with landmarks, pose labels, face boxes,
the pointer's active region and the filtered pointer, and the frame rate — for tuning
profiles. Frames are only shown, never written. Press q or Esc in the window to close
the preview; the daemon keeps running."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from handmap.daemon.tools.annotate import draw_predictions
from handmap.daemon.tools.predictions import HAND_BOX_MARGIN, Prediction, _box
from handmap.gestures.types import POSE_CLASS_IDS, FrameObservation, GestureFrame, Pose

log = logging.getLogger(__name__)

WINDOW = "handmap preview"
CLOSE_KEYS = (ord("q"), 27)
REGION_COLOUR = (0, 200, 255)
POINTER_COLOUR = (0, 0, 255)


class Preview:
    """Shows each processed frame in a window (OpenCV HighGUI), on the daemon's thread."""

    def __init__(self, region: Callable[[], tuple[float, float, float, float] | None] | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self._region = region
        self._faces: tuple = ()
        self._last = time.perf_counter()
        self._fps = 0.0
        self.open = True
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def render(self, image: np.ndarray, obs: FrameObservation, gframe: GestureFrame, mirror: bool) -> np.ndarray:
        """The picture the preview shows for one frame (BGR)."""
        cv2 = self._cv2
        shown = cv2.flip(image, 1) if mirror else image
        height, width = shown.shape[:2]
        scale = np.array([width, height], dtype=float)
        if obs.faces is not None:
            self._faces = obs.faces
        preds = []
        for hand in gframe.hands:
            label = hand.pose or Pose.HAND.value
            class_id = POSE_CLASS_IDS.get(label, 0)
            preds.append(Prediction(class_id, f"#{hand.hand_id} {label}", hand.raw.score,
                                    _box(hand.landmarks[:, :2] * scale, HAND_BOX_MARGIN),
                                    handedness=hand.handedness.value, landmarks=hand.landmarks))
        for face in self._faces:
            x, y, w, h = face.bbox
            preds.append(Prediction(5, "face", face.score, (x * width, y * height, w * width, h * height)))
        out = draw_predictions(shown, preds)
        region = self._region() if self._region else None
        if region is not None:
            x, y, w, h = region
            cv2.rectangle(out, (int(x * width), int(y * height)), (int((x + w) * width), int((y + h) * height)), REGION_COLOUR, 2)
        for hand in gframe.hands:
            px, py = int(hand.pointer[0] * width), int(hand.pointer[1] * height)
            cv2.drawMarker(out, (px, py), POINTER_COLOUR, cv2.MARKER_CROSS if not hand.pointer_locked else cv2.MARKER_SQUARE, 24, 2)
        now = time.perf_counter()
        dt = now - self._last
        self._last = now
        if dt > 0:
            self._fps = 0.9 * self._fps + 0.1 / dt if self._fps else 1.0 / dt
        cv2.putText(out, f"{self._fps:5.1f} fps", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        return out

    def show(self, image: np.ndarray | None, obs: FrameObservation, gframe: GestureFrame, mirror: bool) -> None:
        if not self.open or image is None:
            return
        cv2 = self._cv2
        cv2.imshow(WINDOW, self.render(image, obs, gframe, mirror))
        key = cv2.waitKey(1) & 0xFF
        if key in CLOSE_KEYS or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            self.close()

    def close(self) -> None:
        if self.open:
            self.open = False
            self._cv2.destroyWindow(WINDOW)
            self._cv2.waitKey(1)
