"""The one module that reaches into the pinned mediapipe's private internals.

Two things the public Tasks API cannot do fast enough, or at all, on the pointer's path:

- ``LandmarkerPackets``: feed ``HandLandmarker``'s graph and read its output packets
  straight (its private stream names and ``_process_*_data``), one array per hand and
  no Python object per landmark (about 0.07 ms less a frame);
- ``HandGraphs``: the hand model's two graphs inside ``HandLandmarker`` (palm detection,
  landmarks in one hand's region) run apart through ``_framework_bindings``, so that
  handmap keeps the regions a hand is tracked in (``hands.GraphTracking``).

Both are used only on the mediapipe version handmap pins (``PINNED_MEDIAPIPE``), checked
once (``pinned``); on any other version, or where the internals are missing, they are
not built (``create`` gives None) and the hands are read through ``HandLandmarker``'s
public API (``hands.HandModel``, ``hands.LandmarkerTracking``): the same hands, a little
slower, and a hand found by a second look is found again by palm detection on the next
frame instead of being tracked from it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import struct
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from handmap.daemon.perception.association import duplicates
from handmap.daemon.perception.detected import DetectedHand
from handmap.daemon.perception.models import HAND_BUNDLE_MEMBERS  # (palm detection, landmarks)

if TYPE_CHECKING:
    from mediapipe import Image
    from mediapipe.framework.formats.rect_pb2 import NormalizedRect

log = logging.getLogger(__name__)

#: The mediapipe whose internals this module reads (pyproject.toml pins it).
PINNED_MEDIAPIPE = "0.10.21"

#: A hand's region as MediaPipe's graphs pass it on: where the landmark model looks for
#: the hand on the next frame.
Region: TypeAlias = "NormalizedRect"
#: What one look at a frame found: its hands, and the regions to track them in on the
#: next frame (empty where the look cannot seed the tracking).
Found: TypeAlias = "tuple[tuple[DetectedHand, ...], tuple[Region, ...]]"

#: A zip member's local header: 30 bytes, then its name and extra field.
ZIP_LOCAL_HEADER = 30


@functools.cache
def pinned() -> bool:
    """Whether the installed mediapipe is the pinned one (checked once; another version
    is warned about, once, with what it costs)."""
    import mediapipe

    version = mediapipe.__version__
    if version == PINNED_MEDIAPIPE:
        return True
    log.warning("mediapipe %s is installed, not %s: handmap reads the hands through HandLandmarker's public API "
                "instead of the pinned version's internal graphs (the same hands; a little slower, and a hand "
                "found again after a lost track waits for palm detection on the next frame); "
                "`bash scripts/setup.sh` installs the pinned version", version, PINNED_MEDIAPIPE)
    return False


def _points(landmarks: Any) -> np.ndarray:
    """A ``NormalizedLandmarkList`` proto as one (21, 3) float64 array."""
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64)


class LandmarkerPackets:
    """A ``HandLandmarker``'s graph fed and read through its packets, as its ``detect``
    methods do, minus the Python object per landmark: the landmarks (and world landmarks,
    in metres, for face touch's depth) as one array per hand and the top handedness."""

    def __init__(self, landmarker: Any) -> None:
        from mediapipe.python import packet_creator, packet_getter
        from mediapipe.tasks.python.vision import hand_landmarker as task

        self._create, self._get = packet_creator, packet_getter
        self._image_in, self._rect_in = task._IMAGE_IN_STREAM_NAME, task._NORM_RECT_STREAM_NAME
        self._landmarks_out, self._handedness_out = task._HAND_LANDMARKS_STREAM_NAME, task._HANDEDNESS_STREAM_NAME
        self._world_out = task._HAND_WORLD_LANDMARKS_STREAM_NAME
        # The whole image, upright: what ``detect`` sends when given no options.
        self._whole = landmarker.convert_to_normalized_rect(None, None, roi_allowed=False).to_pb2()
        self._process_video, self._process_image = landmarker._process_video_data, landmarker._process_image_data

    @classmethod
    def create(cls, landmarker: Any) -> LandmarkerPackets | None:
        """None on another mediapipe than the pinned one, or where its internals are missing."""
        if not pinned():
            return None
        try:
            return cls(landmarker)
        except (ImportError, AttributeError, TypeError) as exc:
            log.debug("hand model read through MediaPipe's public API (%s)", exc)
            return None

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        """A frame of a stream (VIDEO mode)."""
        us = timestamp_ms * 1000
        return self._read(self._process_video({self._image_in: self._create.create_image(image).at(us),
                                                self._rect_in: self._create.create_proto(self._whole).at(us)}))

    def still(self, image: Image) -> tuple[DetectedHand, ...]:
        """An independent image (IMAGE mode: the task numbers the images itself)."""
        return self._read(self._process_image({self._image_in: self._create.create_image(image),
                                                self._rect_in: self._create.create_proto(self._whole)}))

    def _read(self, out: Any) -> tuple[DetectedHand, ...]:
        landmarks = out[self._landmarks_out]
        if landmarks.is_empty():
            return ()
        hands = self._get.get_proto_list(landmarks)
        world = out[self._world_out]
        worlds: list[np.ndarray | None] = [_points(metric) for metric in self._get.get_proto_list(world)] if not world.is_empty() else []
        worlds += [None] * (len(hands) - len(worlds))
        return tuple(
            DetectedHand(_points(points), classes.classification[0].label, float(classes.classification[0].score),
                         world=metric)
            for points, classes, metric in zip(hands, self._get.get_proto_list(out[self._handedness_out]), worlds))


class _Runner(Protocol):
    """One of MediaPipe's ``TaskRunner``s: a graph run a step at a time."""

    def process(self, inputs: dict[str, Any]) -> Any: ...

    def close(self) -> None: ...


class HandGraphs:
    """The hand model as MediaPipe's two graphs inside ``HandLandmarker``: palm
    detection on the whole frame (``HandDetectorGraph``) and the landmark model in one
    hand's region (``SingleHandLandmarksDetectorGraph``), each hand found with the region
    it is expected in on the next frame. Keeping the regions is the caller's
    (``hands.GraphTracking``), which is what lets a hand found by a second look be
    tracked from the next frame on. Up to ``max_hands`` hands; with ``passes`` landmark
    graphs, that many landmark passes can run at once on different threads (MediaPipe
    releases the GIL while a graph runs; one graph runs one pass at a time: a pass waits
    while another thread's pass holds its graph); each graph after the first is built
    when a pass first needs it. ``look`` is a second look from another thread in the
    same graphs (the look-ahead's, with two hands allowed: no copy of the model of its
    own). ``create`` gives None on another
    mediapipe than the pinned one, or where its internals are missing; ``HandLandmarker``
    is used then."""

    def __init__(self, bundle: Path, min_detection: float, min_presence: float, max_hands: int = 1,
                 passes: int = 1) -> None:
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter

        # The models are read in place from the bundle (mapped, as MediaPipe maps a .task
        # file), not copied into memory: the file stays open while the graphs live.
        palm_model, landmark_model = (_stored_member(bundle, name) for name in HAND_BUNDLE_MEMBERS)
        self._fd = os.open(bundle, os.O_RDONLY)
        try:
            self._palm, self._landmark_graph = self._build(palm_model, landmark_model, min_detection, min_presence,
                                                           max_hands)
            # The first landmark graph now; each other one (about 35 MB for the full model)
            # when a pass first needs it, on the thread that runs that pass.
            self._landmarks: list[_Runner | None] = [None] * max(1, passes)
            self._landmarks[0] = self._landmark_graph()
            # Each graph serves one thread at a time (the tracking passes, the search and
            # the look-ahead share them).
            self._palm_lock = threading.Lock()
            self._locks = [threading.Lock() for _ in self._landmarks]
        except BaseException:
            if hasattr(self, "_palm"):
                self._palm.close()
            os.close(self._fd)
            self._fd = -1
            raise
        self._create, self._get = packet_creator, packet_getter
        # The whole image, upright: where palm detection looks.
        self._whole = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
        # The graphs' own clock (each call a step: they keep no state between frames).
        # One clock for all the graphs: ``next`` on it is atomic, so each graph, used by
        # one thread at a time, sees its steps in order.
        self._clock = itertools.count(1)
        self.max_hands = max_hands
        self.palm_detections = 0

    @property
    def passes(self) -> int:
        """How many landmark passes can run at once (one landmark graph each)."""
        return len(self._landmarks)

    @property
    def built(self) -> int:
        """How many landmark graphs have been built so far."""
        return sum(graph is not None for graph in self._landmarks)

    def _build(self, palm_model: tuple[int, int], landmark_model: tuple[int, int], min_detection: float,
               min_presence: float, max_hands: int) -> tuple[_Runner, Callable[[], _Runner]]:
        """Palm detection's graph, and what builds a landmark graph."""
        from mediapipe.python._framework_bindings import task_runner
        from mediapipe.tasks.cc.core.proto import base_options_pb2, external_file_pb2
        from mediapipe.tasks.cc.vision.hand_detector.proto import hand_detector_graph_options_pb2 as palm_pb2
        from mediapipe.tasks.cc.vision.hand_landmarker.proto import (
            hand_landmarks_detector_graph_options_pb2 as landmarks_pb2,
        )
        from mediapipe.tasks.python.core.task_info import TaskInfo

        def model(member: tuple[int, int]) -> Any:
            offset, length = member
            where = external_file_pb2.FileDescriptorMeta(fd=self._fd, length=length, offset=offset)
            return base_options_pb2.BaseOptions(model_asset=external_file_pb2.ExternalFile(file_descriptor_meta=where))

        def runner(graph: str, inputs: list[str], outputs: list[str], options: Any) -> _Runner:
            info = TaskInfo(task_graph=graph, input_streams=inputs, output_streams=outputs,
                            task_options=_Options(options))
            made: _Runner = task_runner.TaskRunner.create(info.generate_graph_config())
            return made

        palm = runner("mediapipe.tasks.vision.hand_detector.HandDetectorGraph",
                      ["IMAGE:image", "NORM_RECT:whole"], ["HAND_RECTS:regions"],
                      palm_pb2.HandDetectorGraphOptions(base_options=model(palm_model), num_hands=max_hands,
                                                        min_detection_confidence=min_detection))
        def landmarks() -> _Runner:
            return runner("mediapipe.tasks.vision.hand_landmarker.SingleHandLandmarksDetectorGraph",
                          ["IMAGE:image", "HAND_RECT:region"],
                          ["LANDMARKS:landmarks", "WORLD_LANDMARKS:world", "HANDEDNESS:handedness",
                           "HAND_RECT_NEXT_FRAME:next"],
                          landmarks_pb2.HandLandmarksDetectorGraphOptions(
                              base_options=model(landmark_model), min_detection_confidence=min_presence))

        return palm, landmarks

    @classmethod
    def create(cls, bundle: Path, min_detection: float, min_presence: float, max_hands: int = 1,
               passes: int = 1) -> HandGraphs | None:
        """Graphs for up to ``max_hands`` hands, with ``passes`` landmark graphs (landmark
        passes that can run at once, on different threads)."""
        if not pinned():
            return None
        try:
            return cls(bundle, min_detection, min_presence, max_hands, passes)
        except (ImportError, AttributeError, TypeError, KeyError, RuntimeError, ValueError, OSError,
                zipfile.BadZipFile) as exc:
            log.debug("hand model's graphs not available (%s): HandLandmarker tracks", exc)
            return None

    def palms(self, image: Image, count: bool = True) -> tuple[Region, ...]:
        """Palm detection on the whole frame: the regions of up to ``max_hands`` hands
        (counted in ``palm_detections`` unless a look-ahead's: ``count`` false)."""
        with self._palm_lock:
            if count:
                self.palm_detections += 1
            us = next(self._clock)
            out = self._palm.process({"image": self._create.create_image(image).at(us),
                                      "whole": self._create.create_proto(self._whole).at(us)})
        regions = out["regions"]
        return () if regions.is_empty() else tuple(self._get.get_proto_list(regions))[:self.max_hands]

    def landmarks(self, image: Image, region: Region, graph: int = 0) -> tuple[DetectedHand, Region] | None:
        """The landmark model in one hand's region (MediaPipe's tracking pass), on landmark
        graph ``graph``: the hand and its region on the next frame, or None when the hand
        is not in its region (presence below the threshold)."""
        with self._locks[graph]:
            runner = self._landmarks[graph]
            if runner is None:  # first needed now
                runner = self._landmarks[graph] = self._landmark_graph()
            us = next(self._clock)
            out = runner.process({"image": self._create.create_image(image).at(us),
                                  "region": self._create.create_proto(region).at(us)})
        landmarks = out["landmarks"]
        if landmarks.is_empty():
            return None
        best = self._get.get_proto(out["handedness"]).classification[0]
        world = out["world"]
        metric = None if world.is_empty() else _points(self._get.get_proto(world))
        return (DetectedHand(_points(self._get.get_proto(landmarks)), best.label, float(best.score), world=metric),
                self._get.get_proto(out["next"]))

    def detect(self, image: Image) -> Found:
        """Palm detection on the whole frame, then the landmark model in each region found
        (one after the other), duplicates dropped as MediaPipe drops them."""
        return self.track(image, self.palms(image))

    def look(self, image: Image) -> Found:
        """``detect`` from a thread beside the tracking (the look-ahead): its landmark
        passes in the last landmark graph, each graph taken when free; its palm
        detection is not counted in ``palm_detections`` (the tracking's)."""
        return self.track(image, self.palms(image, count=False), self.passes - 1)

    def track(self, image: Image, regions: Sequence[Region], graph: int = 0) -> Found:
        """The landmark model in each hand's region, one after the other (in landmark
        graph ``graph``), duplicates dropped."""
        read = [hand for hand in (self.landmarks(image, region, graph) for region in regions) if hand is not None]
        if len(read) > 1:
            height, width = image.numpy_view().shape[:2]
            dropped = duplicates([hand.landmarks for hand, _ in read], width, height)
            read = [pair for i, pair in enumerate(read) if i not in dropped]
        return tuple(hand for hand, _ in read), tuple(region for _, region in read)

    def close(self) -> None:
        if self._fd < 0:
            return
        self._palm.close()
        for graph in self._landmarks:
            if graph is not None:
                graph.close()
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


class _Options:
    """A graph options proto where MediaPipe's ``TaskInfo`` expects task options."""

    def __init__(self, proto: Any) -> None:
        self._proto = proto

    def to_pb2(self) -> Any:
        return self._proto
