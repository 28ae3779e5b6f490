"""``handmap run --preview``: the camera image with landmarks, pose labels, face boxes,
the pointer's active region and the filtered pointer, and the frame rate — for tuning
profiles — under a bar that names the active profile and the daemon's state. While the
daemon is paused the picture is dimmed under a PAUSED banner. Frames are only shown,
never written. Press q or Esc in the window to close the preview; the daemon keeps
running."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handmap.daemon.tools.annotate import BGR, Rect, annotate, label_size, put_label
from handmap.daemon.tools.predictions import HAND_BOX_MARGIN, Prediction, _box
from handmap.gestures.types import POSE_CLASS_IDS, FrameObservation, GestureFrame, Pose

log = logging.getLogger(__name__)

WINDOW = "handmap preview"
CLOSE_KEYS = (ord("q"), 27)
REGION_COLOUR: BGR = (0, 200, 255)
POINTER_COLOUR: BGR = (0, 0, 255)
REGION_LABEL = "active region"
#: The state bar's colours: the tray icon's state colours (BGR).
RUNNING_COLOUR: BGR = (69, 167, 40)
PAUSED_COLOUR: BGR = (78, 173, 240)
BAR_TEXT_COLOUR: BGR = (255, 255, 255)
PAUSED_TEXT_COLOUR: BGR = (0, 0, 0)
#: While paused the camera image is shown at this share of its brightness, in grey.
PAUSED_DIM = 0.45
PAUSED_BANNER = "PAUSED"
PAUSED_HINT = "no input is sent - to resume: handmap resume, or the pause hotkey"
#: The banner's text is this share of the picture's shorter side high (about).
BANNER_SCALE_PER_PIXEL = 1 / 220


@dataclass(frozen=True)
class PreviewState:
    """What the daemon is doing, as the preview shows it (read once per frame)."""

    profile: str = ""
    paused: bool = False
    #: The pointer's active region ``(x, y, width, height)`` as shares of the picture.
    region: tuple[float, float, float, float] | None = None
    #: Shown in the bar instead of the state and profile (``teach``: what to do, progress).
    note: str = ""
    #: The frame rate the bar shows; None: the rate frames are drawn at (the window's).
    fps: float | None = None


class Preview:
    """Shows each processed frame in a window (OpenCV HighGUI), on the daemon's thread."""

    def __init__(self, state: Callable[[], PreviewState] | None = None, *, window: bool = True) -> None:
        """``window=False``: no window, only :meth:`render` (the settings window's live view)."""
        import cv2

        self._cv2 = cv2
        self._state = state or PreviewState
        self._faces: tuple = ()
        self._last = time.perf_counter()
        self._fps = 0.0
        self.open = window
        self._sized = False
        if window:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)

    def render(self, image: np.ndarray, obs: FrameObservation | None, gframe: GestureFrame | None,
               mirror: bool) -> np.ndarray:
        """The picture the preview shows for one frame (BGR); ``obs`` and ``gframe`` are
        None for a frame the paused daemon did not analyse."""
        cv2 = self._cv2
        state = self._state()
        shown = cv2.flip(image, 1) if mirror else image
        height, width = shown.shape[:2]
        if state.paused:
            grey = cv2.cvtColor(shown, cv2.COLOR_BGR2GRAY)
            shown = cv2.cvtColor((grey * PAUSED_DIM).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        scale = np.array([width, height], dtype=float)
        if obs is not None and obs.faces is not None:
            self._faces = obs.faces
        hands = gframe.hands if gframe is not None else ()
        preds = []
        for hand in hands:
            label = hand.pose or Pose.HAND.value
            class_id = POSE_CLASS_IDS.get(label, 0)
            preds.append(Prediction(class_id, f"#{hand.hand_id} {label}", hand.raw.score,
                                    _box(hand.landmarks[:, :2] * scale, HAND_BOX_MARGIN),
                                    handedness=hand.handedness.value, landmarks=hand.landmarks))
        for face in self._faces if not state.paused else ():
            x, y, w, h = face.bbox
            preds.append(Prediction(5, "face", face.score, (x * width, y * height, w * width, h * height)))
        bar = self._bar_text(state)
        bar_rect: Rect = (0, 0, *label_size(shown, bar))
        taken = [bar_rect]
        region_rect: Rect | None = None
        if state.region is not None:
            x, y, w, h = state.region
            region_rect = (int(x * width), int(y * height), int(w * width), int(h * height))
            taken.append((region_rect[0], region_rect[1], *label_size(shown, REGION_LABEL)))
        out = annotate(shown, preds, taken=taken).image
        if region_rect is not None:
            rx, ry, rw, rh = region_rect
            cv2.rectangle(out, (rx, ry), (rx + rw, ry + rh), REGION_COLOUR, 2)
            put_label(out, REGION_LABEL, taken[-1], REGION_COLOUR)
        for hand in hands:
            px, py = int(hand.pointer[0] * width), int(hand.pointer[1] * height)
            cv2.drawMarker(out, (px, py), POINTER_COLOUR, cv2.MARKER_CROSS if not hand.pointer_locked else cv2.MARKER_SQUARE, 24, 2)
        put_label(out, bar, bar_rect, PAUSED_COLOUR if state.paused else RUNNING_COLOUR,
                  PAUSED_TEXT_COLOUR if state.paused else BAR_TEXT_COLOUR)
        if state.paused:
            self._paused_banner(out)
        return out

    def _bar_text(self, state: PreviewState) -> str:
        now = time.perf_counter()
        dt = now - self._last
        self._last = now
        if dt > 0:
            self._fps = 0.9 * self._fps + 0.1 / dt if self._fps else 1.0 / dt
        fps = self._fps if state.fps is None else state.fps
        if state.note:
            return f"{state.note} | {fps:4.1f} fps"
        return f"{'paused' if state.paused else 'running'} | profile {state.profile or '-'} | {fps:4.1f} fps"

    def _paused_banner(self, out: np.ndarray) -> None:
        """PAUSED across the middle of the picture, and how to resume under it."""
        height, width = out.shape[:2]
        big = min(width, height) * BANNER_SCALE_PER_PIXEL
        bold = max(2, round(big * 2))
        w, h = label_size(out, PAUSED_BANNER, big, bold)
        top = (height - h) // 2
        put_label(out, PAUSED_BANNER, ((width - w) // 2, top, w, h), PAUSED_COLOUR, PAUSED_TEXT_COLOUR, big, bold)
        hw, hh = label_size(out, PAUSED_HINT)
        put_label(out, PAUSED_HINT, ((width - hw) // 2, min(height - hh, top + h + 4), hw, hh), PAUSED_COLOUR,
                  PAUSED_TEXT_COLOUR)

    def show(self, image: np.ndarray | None, obs: FrameObservation | None, gframe: GestureFrame | None,
             mirror: bool) -> None:
        if not self.open or image is None:
            return
        cv2 = self._cv2
        picture = self.render(image, obs, gframe, mirror)
        if not self._sized:  # the camera's own size, not HighGUI's small default window
            self._sized = True
            cv2.resizeWindow(WINDOW, picture.shape[1], picture.shape[0])
        cv2.imshow(WINDOW, picture)
        key = cv2.waitKey(1) & 0xFF
        if key in CLOSE_KEYS or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            self.close()

    def close(self) -> None:
        if self.open:
            self.open = False
            self._cv2.destroyWindow(WINDOW)
            self._cv2.waitKey(1)
