"""Perception stage: the ``Tracker`` runs the models on one RGB frame at a time, to what
the pipeline observes (hands, faces, body; ``FrameObservation`` for stills).

It composes the parts, each in its own module: hands (``hands``: the hand model, the
tracking from frame to frame, the look-ahead that starts a second look on the other
core when a track is likely lost; a track that holds across such a jump is checked
against that fresh detection, ``Tracker._checked``), faces (``faces``), optionally body landmarks and a
second look for hands around each face (``body``), which find a hand on the face that
the hand model misses. The pinned mediapipe's private internals are read in one place
(``mediapipe_internals``). ``factory.make_tracker`` builds one from the configuration.
Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from handmap.daemon.perception.detected import DetectedHand, hand_observations
from handmap.daemon.perception.face_mesh import FaceMesh
from handmap.daemon.perception.faces import (
    FACE_MODEL_FULL_RANGE,
    FACE_MODEL_SHORT_RANGE,
    FaceModel,
    FullRangeFaces,
    ShortRangeFaces,
)
from handmap.daemon.perception.hands import (
    HAND_SEARCH_HZ,
    GraphTracking,
    HandModel,
    HandTracking,
    LandmarkerTracking,
    LookAhead,
    RegionChange,
)
from handmap.daemon.perception.mediapipe_internals import Found, HandGraphs
from handmap.daemon.runtime.priority import background
from handmap.gestures.quality import disagrees
from handmap.gestures.tracking import palm_centre
from handmap.gestures.types import (
    BodyObservation,
    FaceObservation,
    FrameObservation,
    HandObservation,
    LandmarkQuality,
)

if TYPE_CHECKING:
    from mediapipe import Image


class BodyModel(Protocol):
    """Body landmarks in one RGB frame (``body.BodyTracker``)."""

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None) -> BodyObservation | None: ...

    def close(self) -> None: ...


class NearFaceHands(Protocol):
    """A second, closer look for hands around each face (``body.FaceRegionHandFinder``):
    only the hands not already ``known``."""

    def find(self, rgb: np.ndarray, faces: Sequence[FaceObservation],
             known: Sequence[HandObservation]) -> tuple[HandObservation, ...]: ...

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
    #: a lot (``LookAhead``); with one hand, costs a second copy of the hand model (about
    #: 50 MB lite, 80 MB full); with more, it runs in the tracking's graphs (no copy).
    look_ahead: bool = True
    look_ahead_model: Path | None = None  # its bundle with one hand (default: ``hand_model``)
    #: VIDEO mode, ``max_hands`` above 1: how often palm detection looks for a hand not
    #: tracked while another is (``GraphTracking``), per second of the stream's clock.
    hand_search_hz: float = HAND_SEARCH_HZ
    #: The face mesh on each face a hand is near (``face_mesh``; the zone of a touch);
    #: without it, zones come from the face detector's keypoints.
    face_mesh: bool = False
    #: VIDEO mode: what a frame starts beside its tracking pass (the search for another
    #: hand, a look-ahead) is finished within that frame, so that a file replayed as fast
    #: as it is read gives the same hands on every run. Off for cameras and paced replays
    #: (and ``handmap bench``), where the frame does not wait for them.
    settle: bool = False


#: A face's mesh runs when a hand the hand model found last has a landmark within this
#: many face sizes of the face's box (or when no hand is known: one only the body model
#: or the search near faces may find). Face touch counts contact from 1.3 face radii of
#: the face's centre, 0.15 face sizes beyond the box: this leaves a margin for the hand
#: having moved since.
MESH_NEAR_FACE = 0.25


#: Landmark passes run at once for as many tracked hands (one graph each: two cores).
PARALLEL_PASSES = 2


class _Shared:
    """What a look-ahead in the tracking's graphs closes: nothing (the tracking closes them)."""

    def close(self) -> None:
        pass


def _nearest(hand: DetectedHand, others: Sequence[DetectedHand]) -> DetectedHand:
    """The hand of ``others`` whose palm is nearest ``hand``'s."""
    centre = palm_centre(hand.landmarks)
    return min(others, key=lambda other: float(np.sum((palm_centre(other.landmarks) - centre) ** 2)))


def _hand_near(face: FaceObservation, hands: Sequence[np.ndarray]) -> bool:
    """Whether any of ``hands`` (landmark arrays) reaches near ``face``'s box; True when
    there is no hand to go by."""
    if not hands:
        return True
    x, y, w, h = face.bbox
    reach = MESH_NEAR_FACE * max(w, h)
    for landmarks in hands:
        xs, ys = landmarks[:, 0], landmarks[:, 1]
        if bool(np.any((xs >= x - reach) & (xs <= x + w + reach) & (ys >= y - reach) & (ys <= y + h + reach))):
            return True
    return False


class Tracker:
    """The perception stage: runs the models on one frame at a time. Not thread-safe:
    one per pipeline."""

    def __init__(self, settings: TrackerSettings, body: BodyModel | None = None,
                 near_face: NearFaceHands | None = None) -> None:
        from mediapipe.tasks.python import vision

        self.settings = settings
        self._vision = vision
        #: Stills (IMAGE mode): the hand model; streams: how their hands are tracked.
        self._hands: HandModel | HandTracking
        self._look_ahead: LookAhead | None = None
        self._region = RegionChange()
        if not settings.video:
            self._hands = HandModel(self._landmarker(vision.RunningMode.IMAGE))
        else:
            # One landmark graph per hand up to two (the two cores): their passes run at once.
            graphs = self._graphs(settings.hand_model, passes=min(settings.max_hands, PARALLEL_PASSES))
            tracking: HandTracking = (
                GraphTracking(graphs, settings.hand_search_hz, settings.min_tracking_confidence,
                              settle=settings.settle) if graphs is not None
                else LandmarkerTracking(HandModel(self._landmarker(vision.RunningMode.VIDEO))))
            self._hands = tracking
            if settings.look_ahead and graphs is not None and settings.max_hands > 1:
                # Two hands allowed: the look-ahead looks in the tracking's own graphs
                # (palm detection, and the last landmark graph, each taken when free)
                # instead of a copy of the model (about 50 MB lite; ``HandGraphs.look``).
                self._look_ahead = LookAhead(graphs.look, _Shared())
            elif settings.look_ahead:
                # At the pointer's priority: a lost track waits for it.
                ahead = self._graphs(settings.look_ahead_model or settings.hand_model) if tracking.seeds else None
                if ahead is not None:
                    self._look_ahead = LookAhead(ahead.detect, ahead)
                else:
                    model = HandModel(self._landmarker(vision.RunningMode.IMAGE, settings.look_ahead_model))
                    self._look_ahead = LookAhead(model.look, model)
        self._faces: FaceModel | None = None
        self._mesh: FaceMesh | None = None
        self._recent: tuple[DetectedHand, ...] = ()  # the hands the last ``find`` reported
        with background():  # face checks run behind the pointer's path
            if settings.faces == FACE_MODEL_FULL_RANGE:
                self._faces = FullRangeFaces(settings.min_face_confidence)
            elif settings.faces == FACE_MODEL_SHORT_RANGE:
                if settings.face_model is None:
                    raise ValueError("the short-range face model needs its file (TrackerSettings.face_model)")
                self._faces = ShortRangeFaces(settings.face_model, settings.min_face_confidence)
            self._mesh = FaceMesh.create() if self._faces is not None and settings.face_mesh else None
        self._body = body
        self._near_face = near_face  # a second look around faces
        self._last_ts = -1
        self._searching = False  # the next frame runs palm detection on a hand in view
        self.lost_tracks = 0
        self.redetected = 0  # tracks that held across a jump but lost the hand's shape
        self.doubtful = 0  # frames with a jump and no fresh detection to check the track by
        #: Whether the last frame took palm detection or a second look on top of the
        #: tracking pass (the slowest frames: their input is late already).
        self.last_hard = False

    def _graphs(self, bundle: Path, passes: int = 1) -> HandGraphs | None:
        settings = self.settings
        return HandGraphs.create(bundle, settings.min_detection_confidence, settings.min_presence_confidence,
                                 settings.max_hands, passes)

    def _landmarker(self, mode: Any, model: Path | None = None) -> Any:
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

    def hands(self, image: Image, t: float, selfie: bool) -> tuple[HandObservation, ...]:
        """Hands in ``image`` (an ``mp.Image``), as observations (``hand_observations``)."""
        return hand_observations(self.find(image, t), selfie)

    def find(self, image: Image, t: float) -> tuple[DetectedHand, ...]:
        """Hands in ``image`` (an ``mp.Image``) as the hand model reports them: the model's
        work, and no more (the pipeline builds observations off this thread)."""
        tracking = self._hands
        if isinstance(tracking, HandModel):
            return tracking.still(image)
        look_ahead = self._look_ahead
        ahead: Future[Found] | None = None  # the look-ahead started on this frame
        tracked = tracking.tracked
        hard = not tracked  # palm detection runs (nothing tracked)
        rgb = image.numpy_view()  # the frame's pixels, for the region check
        # A jump: the region around the tracked hand changed so much that the track will
        # probably be lost, or hold with landmarks that no longer fit the hand.
        jumped = bool(tracked) and self._region.changed(rgb) > RegionChange.LIKELY_LOST
        if jumped:
            tracking.hurry()  # a hand not tracked may have come into view too
            if look_ahead is not None:
                ahead = look_ahead.start(image)
        found = tracking.video(image, self._timestamp(t))
        self._searching = False
        if len(found) < tracked:
            self.lost_tracks += 1
            hard = True
            # A tracked hand moved out of its previous region (a fast move, a cut): the
            # tracking pass has just dropped it, so a second look at the same frame runs
            # palm detection and finds it now instead of one frame later.
            looked = ahead.result() if ahead is not None else None
            # The look-ahead's hands, unless it found fewer than the tracking still holds.
            if look_ahead is not None and looked is not None and len(looked[0]) >= len(found):
                found = tracking.adopt(looked)
                look_ahead.used += 1
                # Tracked from the next frame on; or, with HandLandmarker's own tracking,
                # found again by its palm detection on the next frame.
                self._searching = not tracking.seeds
            elif found and tracking.searches_beside:
                # Another hand is still tracked: the search for the lost one runs beside
                # the next frame's tracking pass instead of delaying this frame.
                hard = False
            else:
                found = tracking.again(image, self._timestamp(t))
        elif jumped and found:
            hard = ahead is not None  # it waits for the look-ahead
            found = self._checked(found, ahead, tracking, rgb.shape[1] / rgb.shape[0])
        self._region.remember(rgb, [hand.landmarks for hand in found])
        self.last_hard = hard
        self._recent = found
        if self.settings.settle and look_ahead is not None:
            look_ahead.wait()  # never busy on the next frame because this one ran long
        return found

    def _checked(self, found: tuple[DetectedHand, ...], ahead: Future[Found] | None, tracking: HandTracking,
                 aspect: float) -> tuple[DetectedHand, ...]:
        """Hands whose track held across a jump, checked against the look-ahead's fresh
        detection of the same frame (``gestures.quality``). A tracked hand that lost its
        shape is replaced by the fresh one: its landmarks for this frame, and (where the
        tracking can be seeded) its region to track the hand in from the next frame on.
        With nothing to check against (the look-ahead off, or busy with an earlier
        frame), or no hand in the fresh detection, the tracked hands are marked doubtful:
        not evidence for the pose."""
        looked = ahead.result() if ahead is not None else None
        if looked is None or not looked[0]:
            self.doubtful += 1
            return tuple(replace(hand, quality=LandmarkQuality.DOUBTFUL) for hand in found)
        nearest = [_nearest(hand, looked[0]) for hand in found]
        lost_shape = [disagrees(hand.landmarks, near.landmarks, aspect) for hand, near in zip(found, nearest)]
        if not any(lost_shape):
            return found
        # Each fresh hand once: a tracked hand that agrees with its fresh hand keeps it; a
        # tracked hand whose fresh hand is taken is a second reading of a hand already in
        # the frame (HandLandmarker's tracking can give one after a jump), and is dropped.
        taken = {id(near) for near, lost in zip(nearest, lost_shape) if not lost}
        checked = []
        for hand, near, lost in zip(found, nearest, lost_shape):
            if not lost:
                checked.append(hand)
            elif id(near) not in taken:
                taken.add(id(near))
                checked.append(near)
        self.redetected += 1
        # Tracked by handmap: the fresh hands are tracked from the next frame on (unless
        # the fresh look found fewer hands than are tracked: then this frame only).
        # HandLandmarker's own tracking cannot be seeded: it goes on from its own region.
        return tracking.adopt(looked) if tracking.seeds and len(looked[0]) >= len(found) else tuple(checked)

    def faces(self, rgb: np.ndarray, hands: Sequence[HandObservation] | None = None) -> tuple[FaceObservation, ...]:
        """The faces in ``rgb``, each with its mesh where the mesh is on and a hand is
        near it (``hands``; by default the hands the hand model found last)."""
        if self._faces is None:
            return ()
        faces = self._faces.detect(rgb)
        if self._mesh is None or not faces:
            return faces
        near = [hand.landmarks for hand in (self._recent if hands is None else hands)]
        mesh = self._mesh
        return tuple(replace(face, mesh=mesh.landmarks(rgb, face)) if _hand_near(face, near) else face
                     for face in faces)

    def body(self, rgb: np.ndarray, t: float) -> BodyObservation | None:
        if self._body is None:
            return None
        return self._body.detect(rgb, int(round(t * 1000.0)) if self.settings.video else None)

    def near_face_hands(self, rgb: np.ndarray, faces: Sequence[FaceObservation] | None,
                        hands: Sequence[HandObservation]) -> tuple[HandObservation, ...]:
        """Hands only a second, closer look around each face finds (for face touch)."""
        if self._near_face is None or not faces:
            return ()
        return tuple(self._near_face.find(rgb, faces, hands))

    @property
    def second_looks(self) -> dict[str, int]:
        """How often a track was lost and looked for again, how often the look-ahead had
        started that look early, and how often a track that held across a jump was
        replaced by the look-ahead's fresh detection or marked doubtful (``handmap bench``)."""
        ahead = self._look_ahead
        tracking = self._hands
        return {"lost_tracks": self.lost_tracks, "look_ahead_started": ahead.started if ahead else 0,
                "look_ahead_used": ahead.used if ahead else 0, "redetected": self.redetected,
                "doubtful": self.doubtful,
                "palm_detections": 0 if isinstance(tracking, HandModel) else tracking.palm_detections,
                "hand_searches": tracking.searches if isinstance(tracking, GraphTracking) else 0}

    @property
    def looking_hard(self) -> bool:
        """Whether finding a hand takes more than the tracking pass right now: a second
        look or the search for another hand running on the other core, or (with
        ``HandLandmarker``'s own tracking) palm
        detection due on the next frame after the look-ahead found a hand it had lost.
        Face checks wait meanwhile."""
        tracking = self._hands
        searching = not isinstance(tracking, HandModel) and tracking.searching
        return self._searching or searching or (self._look_ahead is not None and self._look_ahead.busy)

    def wait_idle(self) -> None:
        """Until nothing started for an earlier frame still runs (benchmark turns)."""
        if self._look_ahead is not None:
            self._look_ahead.wait()
        if not isinstance(self._hands, HandModel):
            self._hands.wait()

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

    @property
    def has_face_mesh(self) -> bool:
        return self._mesh is not None

    def observe(self, rgb: np.ndarray, t: float, frame: int, with_faces: bool = True, selfie: bool = False) -> FrameObservation:
        """All models on one RGB frame (``detect`` and tests; the daemon times them apart)."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        hands = self.hands(image, t, selfie)
        faces = self.faces(rgb, hands) if (with_faces and self.has_faces) else None
        body = self.body(rgb, t) if with_faces else None
        near = self.near_face_hands(rgb, faces, hands) if faces else ()
        height, width = rgb.shape[:2]
        return FrameObservation(t=t, frame=frame, width=width, height=height, hands=hands, faces=faces, body=body,
                                near_face_hands=near)

    def close(self) -> None:
        # The look-ahead first: it may look in the tracking's graphs.
        for model in (self._look_ahead, self._hands, self._faces, self._mesh, self._body, self._near_face):
            if model is not None:
                model.close()
