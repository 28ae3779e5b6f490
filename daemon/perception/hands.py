"""Hands: MediaPipe's hand model over frames, and how a stream's hands are tracked.

For stills, ``HandModel`` (a ``HandLandmarker`` in IMAGE mode). For streams, one of two
``HandTracking`` strategies: for one hand (the default) handmap keeps the tracking
itself over the model's two graphs (``GraphTracking`` over
``mediapipe_internals.HandGraphs``), step for step as ``HandLandmarker``'s VIDEO mode
keeps it (the same landmarks), so that a hand found by a second look is tracked from the
next frame on; for more hands, or a mediapipe without those graphs,
``HandLandmarker``'s VIDEO mode tracks them (``LandmarkerTracking``). ``RegionChange``
tells when a frame's hand region changed so much that the track will probably be lost;
``LookAhead`` then starts the second look at once on the other core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from handmap.daemon.perception.detected import DetectedHand
from handmap.daemon.perception.mediapipe_internals import Found, HandGraphs, LandmarkerPackets, Region

if TYPE_CHECKING:
    from mediapipe import Image


class RegionChange:
    """How much the region around the tracked hands changed since the frame before:
    the mean difference of small thumbnails of the same region in both frames."""

    THUMB = (16, 16)
    #: The region is the hands' bounding box grown to this many times its size (about
    #: the region MediaPipe looks for the hand in on the next frame).
    GROW = 2.0
    #: Mean change per colour value (0-255) above which a track is likely to be lost. On
    #: webcam_session35 the frames that lost their track changed by 23-47; 95% of the
    #: others by under 11.
    LIKELY_LOST = 20.0
    #: A region narrower or shorter than this (pixels) is not compared.
    MIN_SIDE = 4

    def __init__(self) -> None:
        self._before: np.ndarray | None = None
        self._landmarks: Sequence[np.ndarray] = ()

    def _thumb(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        import cv2

        x0, y0, x1, y1 = box
        # A nearest-pixel thumbnail of the region (a view into the frame, no copy).
        return cv2.resize(rgb[y0:y1, x0:x1], self.THUMB, interpolation=cv2.INTER_NEAREST)

    def _box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        # Plain floats, not numpy reductions: this runs on the pointer's path.
        xs = [x for points in self._landmarks for x in points[:, 0].tolist()]
        ys = [y for points in self._landmarks for y in points[:, 1].tolist()]
        x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
        half = max(x_hi - x_lo, y_hi - y_lo) * self.GROW / 2.0
        cx, cy = (x_hi + x_lo) / 2.0, (y_hi + y_lo) / 2.0
        box = (int(max(0.0, cx - half) * width), int(max(0.0, cy - half) * height),
               int(min(1.0, cx + half) * width), int(min(1.0, cy + half) * height))
        return box if box[2] - box[0] >= self.MIN_SIDE and box[3] - box[1] >= self.MIN_SIDE else None

    def changed(self, rgb: np.ndarray) -> float:
        """The change in the region around the remembered hands since the remembered
        frame (0 when there is nothing to compare)."""
        import cv2

        before = self._before
        if before is None or before.shape != rgb.shape:
            return 0.0
        box = self._box(rgb.shape[1], rgb.shape[0])
        if box is None:
            return 0.0
        now = self._thumb(rgb, box)
        return cv2.norm(now, self._thumb(before, box), cv2.NORM_L1) / now.size

    def remember(self, rgb: np.ndarray, landmarks: Sequence[np.ndarray]) -> None:
        """This frame and its hands (arrays of normalised points), for the next frame to
        compare with. ``rgb`` must stay as it is until then (an ``mp.Image``'s view does);
        nothing is measured here, right after the hand model, on the pointer's path."""
        self._before = rgb if len(landmarks) else None
        self._landmarks = landmarks


class HandModel:
    """One ``HandLandmarker``, read straight from its output packets where the pinned
    mediapipe allows (``mediapipe_internals.LandmarkerPackets``: about 0.07 ms less a
    frame), through its public ``detect`` methods elsewhere."""

    def __init__(self, landmarker: Any) -> None:
        self._landmarker = landmarker
        self._packets = LandmarkerPackets.create(landmarker)

    @property
    def lean(self) -> bool:
        """Whether the output packets are read straight (the pinned mediapipe)."""
        return self._packets is not None

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        """A frame of a stream (VIDEO mode)."""
        packets = self._packets
        if packets is None:
            return self._public(self._landmarker.detect_for_video(image, timestamp_ms))
        return packets.video(image, timestamp_ms)

    def still(self, image: Image) -> tuple[DetectedHand, ...]:
        """An independent image (IMAGE mode: the task numbers the images itself)."""
        packets = self._packets
        if packets is None:
            return self._public(self._landmarker.detect(image))
        return packets.still(image)

    def look(self, image: Image) -> Found:
        """A still's hands as a second look gives them (no regions: nothing to seed)."""
        return self.still(image), ()

    @staticmethod
    def _public(result: Any) -> tuple[DetectedHand, ...]:
        return tuple(
            DetectedHand(np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64), classes[0].category_name,
                         float(classes[0].score))
            for points, classes in zip(result.hand_landmarks, result.handedness))

    def close(self) -> None:
        self._landmarker.close()


class HandTracking(Protocol):
    """How a stream's hands are tracked from frame to frame (``GraphTracking``,
    ``LandmarkerTracking``)."""

    @property
    def seeds(self) -> bool: ...  # whether a hand found by a second look is tracked on the next frame (``adopt``)

    @property
    def tracked(self) -> int: ...  # hands tracked into the next frame

    @property
    def palm_detections(self) -> int: ...

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]: ...

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]: ...  # a second look's answer, as this frame's hands

    def close(self) -> None: ...


class GraphTracking:
    """Tracking over ``HandGraphs``, as ``HandLandmarker``'s VIDEO mode does it for one
    hand: the landmark model in the region the frame before predicted, palm detection
    when no hand is tracked. A second look's hand is tracked from the next frame on
    (``adopt``), with no palm detection there."""

    seeds = True  # a second look's hand is tracked on the next frame

    def __init__(self, graphs: HandGraphs) -> None:
        self._graphs = graphs
        self._regions: tuple[Region, ...] = ()

    @property
    def tracked(self) -> int:
        return len(self._regions)

    @property
    def palm_detections(self) -> int:
        return self._graphs.palm_detections

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        if self._regions:
            found, self._regions = self._graphs.track(image, self._regions)
        else:
            found, self._regions = self._graphs.detect(image)
        return found

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]:
        found, self._regions = looked
        return found

    def close(self) -> None:
        self._graphs.close()


class LandmarkerTracking:
    """``HandLandmarker``'s own VIDEO-mode tracking (two hands or more, or a mediapipe
    without the graphs ``HandGraphs`` needs). A second look's hand cannot be handed to
    it: it runs palm detection on the next frame."""

    seeds = False

    def __init__(self, model: HandModel) -> None:
        self._model = model
        self.tracked = 0
        self.palm_detections = 0  # not counted: the landmarker decides inside

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        found = self._model.video(image, timestamp_ms)
        self.tracked = len(found)
        return found

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]:
        self.tracked = 0  # the landmarker has nothing tracked: palm detection on the next frame
        return looked[0]

    def close(self) -> None:
        self._model.close()


class _Closes(Protocol):
    def close(self) -> None: ...


class LookAhead:
    """The second look, started before it is known to be needed: a copy of the hand
    model (palm detection and landmarks on the whole frame) on its own thread, run
    alongside the tracking pass on frames whose hand region changed a lot. If the
    tracking pass loses the hand, its result is ready about when the tracking pass is
    done (instead of a second pass after it); if not, it is thrown away. One at a time:
    while one runs, the ordinary second look is used."""

    def __init__(self, look: Callable[[Image], Found], model: _Closes) -> None:
        self._look = look  # image -> what ``HandTracking.adopt`` takes
        self._model = model
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handmap-look-ahead")
        self._running: Future[Found] | None = None
        self.started = 0
        self.used = 0

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def start(self, image: Image) -> Future[Found] | None:
        if self.busy:
            return None
        self.started += 1
        self._running = self._pool.submit(self._look, image)
        return self._running

    def wait(self) -> None:
        """Until the look in flight (used or not) is done."""
        running = self._running
        if running is not None:
            running.exception()  # waits; an error is the frame's that used it

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._model.close()
