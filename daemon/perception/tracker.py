"""Tracker stage: MediaPipe Tasks models over RGB frames to ``FrameObservation``s.

Hands come from MediaPipe's hand model: for streams, landmarks tracked from frame to
frame, palm detection only when no hand is tracked; for stills, ``HandLandmarker`` in
IMAGE mode. For one hand (the default) the tracking is kept here, over the model's two
graphs (``HandGraphs``, ``GraphTracking``), step for step as ``HandLandmarker``'s VIDEO
mode keeps it (the same landmarks), so that a hand found by a second look is tracked
from the next frame on; for more hands, ``HandLandmarker``'s VIDEO mode tracks them. When
a hand jumps out of the region it is tracked in, the tracker looks again; when a frame's
hand region changed so much that the track will probably be lost, that second look
starts at once on the other core (``LookAhead``). Faces come from
the wheel's short-range face detector, and optionally body landmarks from a body
tracker (``handmap.daemon.perception.body``), which find a hand on the face that the hand model
misses. Nothing here touches the network.
"""

from __future__ import annotations

import logging
import os
import struct
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from handmap.daemon.perception.models import HAND_BUNDLE_MEMBERS  # (palm detection, landmarks)
from handmap.daemon.runtime.priority import background
from handmap.gestures.types import (
    BodyObservation,
    FaceObservation,
    FrameObservation,
    Handedness,
    HandObservation,
)

log = logging.getLogger(__name__)


FACE_MODEL_FULL_RANGE = "full_range"
FACE_MODEL_SHORT_RANGE = "short_range"


class FaceModel(Protocol):
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


class BodyModel(Protocol):
    def detect(self, rgb: np.ndarray, timestamp_ms: int | None) -> BodyObservation | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TrackerSettings:
    hand_model: Path  # a HandLandmarker .task bundle
    faces: str | None = FACE_MODEL_FULL_RANGE  # FACE_MODEL_* or None: no face detection
    face_model: Path | None = None  # the short-range model file (Tasks FaceDetector)
    max_hands: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    video: bool = True  # VIDEO mode (a stream) or IMAGE mode (independent stills)
    min_face_confidence: float = 0.5
    #: VIDEO mode: start the second look on another thread when a hand's region changed
    #: a lot (``LookAhead``); costs a second copy of the hand model (about 60 MB lite,
    #: 85 MB full).
    look_ahead: bool = True
    look_ahead_model: Path | None = None  # its bundle (default: ``hand_model``)


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

    def __init__(self) -> None:
        self._before: np.ndarray | None = None
        self._landmarks: Sequence[np.ndarray] = ()

    def _thumb(self, rgb: np.ndarray, box) -> np.ndarray:
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
        return box if box[2] - box[0] >= 4 and box[3] - box[1] >= 4 else None

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


#: One hand as the hand model reports it: 21 normalised (x, y, z) landmarks, MediaPipe's
#: handedness label ("Left"/"Right", as if the image were mirrored) and its score.
RawHand = tuple[np.ndarray, str, float]


class HandModel:
    """One ``HandLandmarker``, read straight from its output packets.

    MediaPipe's ``detect`` methods build a Python object per landmark, world landmarks
    included (which handmap does not use), on the pointer's path; this reads the
    landmarks into one array per hand and the top handedness, and nothing else (about
    0.07 ms less a frame). It uses the task's internals of the pinned mediapipe
    (0.10.21); where they are missing it falls back to the public ``detect`` methods.
    """

    def __init__(self, landmarker) -> None:
        self._landmarker = landmarker
        self._lean = False
        try:
            from mediapipe.python import packet_creator, packet_getter
            from mediapipe.tasks.python.vision import hand_landmarker as task

            self._create, self._get = packet_creator, packet_getter
            self._image_in, self._rect_in = task._IMAGE_IN_STREAM_NAME, task._NORM_RECT_STREAM_NAME
            self._landmarks_out, self._handedness_out = task._HAND_LANDMARKS_STREAM_NAME, task._HANDEDNESS_STREAM_NAME
            # The whole image, upright: what ``detect`` sends when given no options.
            self._whole = landmarker.convert_to_normalized_rect(None, None, roi_allowed=False).to_pb2()
            self._process_video, self._process_image = landmarker._process_video_data, landmarker._process_image_data
            self._lean = True
        except (ImportError, AttributeError, TypeError) as exc:  # another mediapipe: the public way
            log.debug("hand model read through MediaPipe's public API (%s)", exc)

    @property
    def lean(self) -> bool:
        return self._lean

    def video(self, image, timestamp_ms: int) -> tuple[RawHand, ...]:
        """A frame of a stream (VIDEO mode)."""
        if not self._lean:
            return self._public(self._landmarker.detect_for_video(image, timestamp_ms))
        us = timestamp_ms * 1000
        return self._read(self._process_video({self._image_in: self._create.create_image(image).at(us),
                                                self._rect_in: self._create.create_proto(self._whole).at(us)}))

    def still(self, image) -> tuple[RawHand, ...]:
        """An independent image (IMAGE mode: the task numbers the images itself)."""
        if not self._lean:
            return self._public(self._landmarker.detect(image))
        return self._read(self._process_image({self._image_in: self._create.create_image(image),
                                                self._rect_in: self._create.create_proto(self._whole)}))

    def _read(self, out) -> tuple[RawHand, ...]:
        landmarks = out[self._landmarks_out]
        if landmarks.is_empty():
            return ()
        return tuple(
            (np.array([(p.x, p.y, p.z) for p in points.landmark], dtype=np.float64),
             classes.classification[0].label, float(classes.classification[0].score))
            for points, classes in zip(self._get.get_proto_list(landmarks),
                                       self._get.get_proto_list(out[self._handedness_out])))

    @staticmethod
    def _public(result) -> tuple[RawHand, ...]:
        return tuple(
            (np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64), classes[0].category_name,
             float(classes[0].score))
            for points, classes in zip(result.hand_landmarks, result.handedness))

    def close(self) -> None:
        self._landmarker.close()


#: A hand region as MediaPipe's graphs pass it on (a ``NormalizedRect`` proto).
Region = object


class HandGraphs:
    """The hand model as MediaPipe's two graphs inside ``HandLandmarker``: palm
    detection on the whole frame (``HandDetectorGraph``) and the landmark model in one
    hand's region (``SingleHandLandmarksDetectorGraph``), each hand found with the region
    it is expected in on the next frame. Keeping the regions is the caller's
    (``GraphTracking``), which is what lets a hand found by a second look be tracked
    from the next frame on. One hand at a time. ``create`` gives None where the pinned
    mediapipe's (0.10.21) internals are missing; ``HandLandmarker`` is used then."""

    def __init__(self, bundle: Path, min_detection: float, min_presence: float) -> None:
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter

        # The models are read in place from the bundle (mapped, as MediaPipe maps a .task
        # file), not copied into memory: the file stays open while the graphs live.
        palm_model, landmark_model = (_stored_member(bundle, name) for name in HAND_BUNDLE_MEMBERS)
        self._fd = os.open(bundle, os.O_RDONLY)
        self._palm = self._landmarks = None
        try:
            self._build(palm_model, landmark_model, min_detection, min_presence)
        except BaseException:
            self.close()
            raise
        self._create, self._get = packet_creator, packet_getter
        # The whole image, upright: where palm detection looks.
        self._whole = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
        self._us = 0  # the graphs' own clock (each call a step: they keep no state between frames)
        self.palm_detections = 0

    def _build(self, palm_model: tuple[int, int], landmark_model: tuple[int, int], min_detection: float,
               min_presence: float) -> None:
        from mediapipe.python._framework_bindings import task_runner
        from mediapipe.tasks.cc.core.proto import base_options_pb2, external_file_pb2
        from mediapipe.tasks.cc.vision.hand_detector.proto import hand_detector_graph_options_pb2 as palm_pb2
        from mediapipe.tasks.cc.vision.hand_landmarker.proto import (
            hand_landmarks_detector_graph_options_pb2 as landmarks_pb2,
        )
        from mediapipe.tasks.python.core.task_info import TaskInfo

        def model(member: tuple[int, int]):
            offset, length = member
            where = external_file_pb2.FileDescriptorMeta(fd=self._fd, length=length, offset=offset)
            return base_options_pb2.BaseOptions(model_asset=external_file_pb2.ExternalFile(file_descriptor_meta=where))

        def runner(graph: str, inputs: list, outputs: list, options):
            info = TaskInfo(task_graph=graph, input_streams=inputs, output_streams=outputs,
                            task_options=_Options(options))
            return task_runner.TaskRunner.create(info.generate_graph_config())

        self._palm = runner("mediapipe.tasks.vision.hand_detector.HandDetectorGraph",
                            ["IMAGE:image", "NORM_RECT:whole"], ["HAND_RECTS:regions"],
                            palm_pb2.HandDetectorGraphOptions(base_options=model(palm_model), num_hands=1,
                                                              min_detection_confidence=min_detection))
        self._landmarks = runner("mediapipe.tasks.vision.hand_landmarker.SingleHandLandmarksDetectorGraph",
                                 ["IMAGE:image", "HAND_RECT:region"],
                                 ["LANDMARKS:landmarks", "HANDEDNESS:handedness", "HAND_RECT_NEXT_FRAME:next"],
                                 landmarks_pb2.HandLandmarksDetectorGraphOptions(
                                     base_options=model(landmark_model), min_detection_confidence=min_presence))

    @classmethod
    def create(cls, bundle: Path, min_detection: float, min_presence: float) -> HandGraphs | None:
        try:
            return cls(bundle, min_detection, min_presence)
        except (ImportError, AttributeError, TypeError, KeyError, RuntimeError, ValueError, OSError,
                zipfile.BadZipFile) as exc:
            log.debug("hand model's graphs not available (%s): HandLandmarker tracks", exc)
            return None

    def _tick(self) -> int:
        self._us += 1
        return self._us

    def detect(self, image) -> tuple[tuple[RawHand, ...], tuple[Region, ...]]:
        """Palm detection on the whole frame, then the landmark model in the region found."""
        self.palm_detections += 1
        us = self._tick()
        out = self._palm.process({"image": self._create.create_image(image).at(us),
                                  "whole": self._create.create_proto(self._whole).at(us)})
        regions = out["regions"]
        found = () if regions.is_empty() else self._get.get_proto_list(regions)
        return self.track(image, found[:1])

    def track(self, image, regions: Sequence[Region]) -> tuple[tuple[RawHand, ...], tuple[Region, ...]]:
        """The landmark model in the hand's region (MediaPipe's tracking pass)."""
        if not regions:
            return (), ()
        us = self._tick()
        out = self._landmarks.process({"image": self._create.create_image(image).at(us),
                                       "region": self._create.create_proto(regions[0]).at(us)})
        landmarks = out["landmarks"]
        if landmarks.is_empty():  # the hand is not in its region (presence below the threshold)
            return (), ()
        points = self._get.get_proto(landmarks)
        best = self._get.get_proto(out["handedness"]).classification[0]
        hand = (np.array([(p.x, p.y, p.z) for p in points.landmark], dtype=np.float64), best.label, float(best.score))
        return (hand,), (self._get.get_proto(out["next"]),)

    def close(self) -> None:
        for graph in (self._palm, self._landmarks):
            if graph is not None:
                graph.close()
        self._palm = self._landmarks = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _stored_member(bundle: Path, name: str) -> tuple[int, int]:
    """Where a file stored uncompressed in a zip (a ``.task`` bundle) lies in it: the
    offset of its bytes, and their length."""
    with zipfile.ZipFile(bundle) as task:
        info = task.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{bundle}: {name} is compressed")
    with open(bundle, "rb") as raw:
        raw.seek(info.header_offset)
        header = raw.read(ZIP_LOCAL_HEADER)
    if len(header) < ZIP_LOCAL_HEADER or header[:4] != b"PK\x03\x04":
        raise ValueError(f"{bundle}: {name} has no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + ZIP_LOCAL_HEADER + name_length + extra_length, info.file_size


#: A zip member's local header: 30 bytes, then its name and extra field.
ZIP_LOCAL_HEADER = 30


class _Options:
    """A graph options proto where MediaPipe's ``TaskInfo`` expects task options."""

    def __init__(self, proto) -> None:
        self._proto = proto

    def to_pb2(self):
        return self._proto


class HandTracking(Protocol):
    """How a stream's hands are tracked from frame to frame (``GraphTracking``,
    ``LandmarkerTracking``)."""

    #: Whether a hand found by a second look is tracked on the next frame (``adopt``).
    seeds: bool

    @property
    def tracked(self) -> int: ...  # hands tracked into the next frame

    @property
    def palm_detections(self) -> int: ...

    def video(self, image, timestamp_ms: int) -> tuple[RawHand, ...]: ...

    def adopt(self, looked) -> tuple[RawHand, ...]: ...  # a second look's answer, as this frame's hands

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

    def video(self, image, timestamp_ms: int) -> tuple[RawHand, ...]:
        if self._regions:
            found, self._regions = self._graphs.track(image, self._regions)
        else:
            found, self._regions = self._graphs.detect(image)
        return found

    def adopt(self, looked) -> tuple[RawHand, ...]:
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

    def video(self, image, timestamp_ms: int) -> tuple[RawHand, ...]:
        found = self._model.video(image, timestamp_ms)
        self.tracked = len(found)
        return found

    def adopt(self, looked) -> tuple[RawHand, ...]:
        self.tracked = 0  # the landmarker has nothing tracked: palm detection on the next frame
        return looked

    def close(self) -> None:
        self._model.close()


class LookAhead:
    """The second look, started before it is known to be needed: a copy of the hand
    model (palm detection and landmarks on the whole frame) on its own thread, run
    alongside the tracking pass on frames whose hand region changed a lot. If the
    tracking pass loses the hand, its result is ready about when the tracking pass is
    done (instead of a second pass after it); if not, it is thrown away. One at a time:
    while one runs, the ordinary second look is used."""

    def __init__(self, look: Callable, model) -> None:
        self._look = look  # image -> what ``adopt`` takes
        self._model = model
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handmap-look-ahead")
        self._running: Future | None = None
        self.started = 0
        self.used = 0

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def start(self, image) -> Future | None:
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


def _swap(label: str) -> Handedness:
    return Handedness.RIGHT if label.lower() == "left" else Handedness.LEFT


def hand_observations(found: Sequence[RawHand], selfie: bool) -> tuple[HandObservation, ...]:
    """The hand model's hands as observations; handedness is the person's own hand.

    MediaPipe labels handedness as if the image were a mirrored selfie view; when
    ``selfie`` is False (a raw camera frame, a photo) the labels are swapped.
    """
    return tuple(
        HandObservation(landmarks=points, handedness=Handedness(label.lower()) if selfie else _swap(label), score=score)
        for points, label, score in found)


class Tracker:
    """Runs the models on one frame at a time. Not thread-safe: one per pipeline."""

    def __init__(self, settings: TrackerSettings, body: BodyModel | None = None, near_face=None) -> None:
        from mediapipe.tasks.python import vision

        self.settings = settings
        self._vision = vision
        self._hands: HandModel | None = None  # stills (IMAGE mode)
        self._tracking: HandTracking | None = None  # streams
        self._look_ahead = None
        self._region = RegionChange()
        if not settings.video:
            self._hands = HandModel(self._landmarker(vision.RunningMode.IMAGE))
        else:
            graphs = self._graphs(settings.hand_model) if settings.max_hands == 1 else None
            self._tracking = (GraphTracking(graphs) if graphs is not None
                              else LandmarkerTracking(HandModel(self._landmarker(vision.RunningMode.VIDEO))))
        if settings.video and settings.look_ahead:
            # At the pointer's priority: a lost track waits for it.
            ahead = self._graphs(settings.look_ahead_model or settings.hand_model) if self._tracking.seeds else None
            if ahead is not None:
                self._look_ahead = LookAhead(ahead.detect, ahead)
            else:
                model = HandModel(self._landmarker(vision.RunningMode.IMAGE, settings.look_ahead_model))
                self._look_ahead = LookAhead(model.still, model)
        self._faces: FaceModel | None = None
        with background():  # face checks run behind the pointer's path
            if settings.faces == FACE_MODEL_FULL_RANGE:
                self._faces = FullRangeFaces(settings.min_face_confidence)
            elif settings.faces == FACE_MODEL_SHORT_RANGE:
                self._faces = ShortRangeFaces(settings.face_model, settings.min_face_confidence)
        self._body = body
        self._near_face = near_face  # body.FaceRegionHandFinder: a second look around faces
        self._last_ts = -1
        self._searching = False  # the next frame runs palm detection on a hand in view
        self.lost_tracks = 0
        #: Whether the last frame took palm detection or a second look on top of the
        #: tracking pass (the slowest frames: their input is late already).
        self.last_hard = False

    def _graphs(self, bundle: Path) -> HandGraphs | None:
        settings = self.settings
        return HandGraphs.create(bundle, settings.min_detection_confidence, settings.min_presence_confidence)

    def _landmarker(self, mode, model: Path | None = None):
        from mediapipe.tasks import python as mp_tasks

        settings = self.settings
        return self._vision.HandLandmarker.create_from_options(
            self._vision.HandLandmarkerOptions(
                base_options=mp_tasks.BaseOptions(model_asset_path=str(model or settings.hand_model)),
                running_mode=mode,
                num_hands=settings.max_hands,
                min_hand_detection_confidence=settings.min_detection_confidence,
                min_hand_presence_confidence=settings.min_presence_confidence,
                min_tracking_confidence=settings.min_tracking_confidence,
            )
        )

    # -- one model at a time (the pipeline times each) ---------------------------------

    def _timestamp(self, t: float) -> int:
        ts = max(int(round(t * 1000.0)), self._last_ts + 1)
        self._last_ts = ts
        return ts

    def hands(self, image, t: float, selfie: bool) -> tuple[HandObservation, ...]:
        """Hands in ``image`` (an ``mp.Image``), as observations (``hand_observations``)."""
        return hand_observations(self.find(image, t), selfie)

    def find(self, image, t: float) -> tuple[RawHand, ...]:
        """Hands in ``image`` (an ``mp.Image``) as the hand model reports them: the model's
        work, and no more (the pipeline builds observations off this thread)."""
        tracking = self._tracking
        if tracking is None:
            return self._hands.still(image)
        ahead = None
        tracked = tracking.tracked
        hard = not tracked  # palm detection runs (nothing tracked)
        rgb = image.numpy_view() if self._look_ahead is not None else None
        if rgb is not None and tracked and self._region.changed(rgb) > RegionChange.LIKELY_LOST:
            ahead = self._look_ahead.start(image)
        found = tracking.video(image, self._timestamp(t))
        self._searching = False
        if len(found) < tracked:
            self.lost_tracks += 1
            hard = True
            # A tracked hand moved out of its previous region (a fast move, a cut): the
            # tracking pass has just dropped it, so a second look at the same frame runs
            # palm detection and finds it now instead of one frame later.
            if ahead is not None:
                found = tracking.adopt(ahead.result())
                self._look_ahead.used += 1
                # Tracked from the next frame on; or, with HandLandmarker's own tracking,
                # found again by its palm detection on the next frame.
                self._searching = not tracking.seeds
            else:
                found = tracking.video(image, self._timestamp(t))
        if rgb is not None:
            self._region.remember(rgb, [points for points, _, _ in found])
        self.last_hard = hard
        return found

    def faces(self, rgb: np.ndarray) -> tuple[FaceObservation, ...]:
        return self._faces.detect(rgb) if self._faces is not None else ()

    def body(self, rgb: np.ndarray, t: float) -> BodyObservation | None:
        if self._body is None:
            return None
        return self._body.detect(rgb, int(round(t * 1000.0)) if self.settings.video else None)

    def near_face_hands(self, rgb: np.ndarray, faces, hands) -> tuple[HandObservation, ...]:
        """Hands only a second, closer look around each face finds (for face touch)."""
        if self._near_face is None or not faces:
            return ()
        return tuple(self._near_face.find(rgb, faces, hands))

    @property
    def second_looks(self) -> dict:
        """How often a track was lost and looked for again, and how often the look-ahead
        had started that look early (``handmap bench``)."""
        ahead = self._look_ahead
        tracking = self._tracking
        return {"lost_tracks": self.lost_tracks, "look_ahead_started": ahead.started if ahead else 0,
                "look_ahead_used": ahead.used if ahead else 0,
                "palm_detections": tracking.palm_detections if tracking is not None else 0}

    @property
    def looking_hard(self) -> bool:
        """Whether finding a hand takes more than the tracking pass right now: a second
        look running on the other core, or (with ``HandLandmarker``'s own tracking) palm
        detection due on the next frame after the look-ahead found a hand it had lost.
        Face checks wait meanwhile."""
        return self._searching or (self._look_ahead is not None and self._look_ahead.busy)

    def wait_idle(self) -> None:
        """Until nothing started for an earlier frame still runs (benchmark turns)."""
        if self._look_ahead is not None:
            self._look_ahead.wait()

    @property
    def has_body(self) -> bool:
        return self._body is not None

    @property
    def has_near_face(self) -> bool:
        """Whether a second look for hands around each face is configured."""
        return self._near_face is not None

    @property
    def has_faces(self) -> bool:
        return self._faces is not None

    def observe(self, rgb: np.ndarray, t: float, frame: int, with_faces: bool = True, selfie: bool = False) -> FrameObservation:
        """All models on one RGB frame (``detect`` and tests; the daemon times them apart)."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        hands = self.hands(image, t, selfie)
        faces = self.faces(rgb) if (with_faces and self.has_faces) else None
        body = self.body(rgb, t) if with_faces else None
        near = self.near_face_hands(rgb, faces, hands) if faces else ()
        height, width = rgb.shape[:2]
        return FrameObservation(t=t, frame=frame, width=width, height=height, hands=hands, faces=faces, body=body,
                                near_face_hands=near)

    def close(self) -> None:
        for model in (self._hands, self._tracking, self._look_ahead, self._faces, self._body, self._near_face):
            if model is not None:
                model.close()
