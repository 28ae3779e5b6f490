"""Typed contracts between the pipeline stages.

The tracker (``handmap.daemon``) produces one :class:`FrameObservation` per analysed
frame; the gesture engine turns observations into :class:`GestureFrame` values (tracked
hands with stable poses and a filtered pointer, plus discrete events); the mapping engine
(``handmap.mappings``) turns those into input actions. Every value here is immutable.

Coordinates are normalised to the image: x and y in [0, 1] (x to the right, y down),
z MediaPipe's relative depth (smaller is nearer the camera; may be all zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from handmap.gestures.landmarks import Finger


class Pose(str, Enum):
    """Pose classes, named and numbered as handtrack.js does."""

    HAND = "hand"  # a hand in none of the poses below
    OPEN = "open"
    CLOSED = "closed"
    PINCH = "pinch"
    POINT = "point"


class Handedness(str, Enum):
    LEFT = "left"
    RIGHT = "right"


#: handtrack.js class numbers, as ``handmap detect --json`` reports them.
POSE_CLASS_IDS: Mapping[str, int] = {
    Pose.HAND.value: 0,
    Pose.OPEN.value: 1,
    Pose.CLOSED.value: 2,
    Pose.PINCH.value: 3,
    Pose.POINT.value: 4,
}
FACE_CLASS_ID = 5
TIP_CLASS_ID = 6
PINCHTIP_CLASS_ID = 7
FACE_LABEL = "face"
TIP_LABEL = "tip"
PINCHTIP_LABEL = "pinchtip"


@dataclass(frozen=True)
class FingerState:
    """One finger: extended or curled, with how sure the classifier is (0 to 1)."""

    extended: bool
    confidence: float


@dataclass(frozen=True)
class PoseResult:
    """What :func:`handmap.gestures.classify` says of one hand in one frame."""

    label: str  # a Pose value, or the name of a profile-defined pose
    score: float  # 0 to 1
    fingers: Mapping[Finger, FingerState] = field(default_factory=dict)
    #: Thumb tip to index tip distance divided by the hand's size (the larger of wrist to
    #: middle knuckle and knuckle span / 0.7; see ``poses``): under 0.2 when pinching,
    #: above 0.6 for an open hand.
    pinch_distance: float = float("nan")
    #: The built-in pose (a Pose value) whatever ``label`` says: ``label`` is a custom
    #: pose's name when one matched. ``classify`` always sets it.
    builtin: str | None = None


class LandmarkQuality(str, Enum):
    """Whether a hand's landmarks in one frame can be trusted to follow the hand."""

    GOOD = "good"
    #: Tracked across a jump (the region around the hand changed a lot since the frame
    #: before) with no fresh detection of the frame that confirms them: they may fit a hand
    #: shape that is not the hand's. Not evidence for the pose (``temporal``).
    DOUBTFUL = "doubtful"


@dataclass(frozen=True, eq=False)
class HandObservation:
    """One hand found by the tracker in one frame."""

    landmarks: np.ndarray  # shape (21, 3), normalised image coordinates, MediaPipe order
    handedness: Handedness
    score: float  # detection / handedness confidence, 0 to 1
    quality: LandmarkQuality = LandmarkQuality.GOOD
    #: The hand model's world landmarks, shape (21, 3), in metres around the hand's centre
    #: (camera axes), or None where the model did not give them; face touch's metric depth.
    world: np.ndarray | None = None


@dataclass(frozen=True)
class FaceObservation:
    """One face found by the face detector."""

    bbox: tuple[float, float, float, float]  # x, y, width, height, normalised
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()  # FaceKeypoint order, normalised
    #: The face mesh's landmarks, shape (478, 3) normalised to the image like hands (the
    #: MediaPipe face-mesh order, named in ``face_zones``), or None when the mesh did not
    #: run on this face.
    mesh: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class BodyObservation:
    """The pose model's body landmarks (33 points, x, y, z, visibility)."""

    landmarks: np.ndarray  # shape (33, 4)


@dataclass(frozen=True)
class FrameObservation:
    """Everything the tracker saw in one analysed frame.

    ``faces`` and ``body`` are None on frames where their models did not run (they run
    at the rate face-touch detection needs, not at the pointer's rate); an empty tuple
    means the model ran and found nothing.
    """

    t: float  # the source's time, seconds
    frame: int  # the source's frame number
    width: int
    height: int
    hands: tuple[HandObservation, ...] = ()
    faces: tuple[FaceObservation, ...] | None = None
    body: BodyObservation | None = None
    #: Hands found only by a second look in a crop around each face
    #: (``handmap.daemon.perception.body.FaceRegionHandFinder``, on face-model frames): face-touch
    #: detection uses them, the gesture engine does not track them as hands.
    near_face_hands: tuple[HandObservation, ...] = ()

    @property
    def aspect(self) -> float:
        """Width over height, to undo the stretch of normalised coordinates."""
        return self.width / self.height if self.height else 1.0


# ---------------------------------------------------------------------------------
# Gesture events: what the gesture engine reports, for the mapping engine to bind.
# ---------------------------------------------------------------------------------


class SwipeDirection(str, Enum):
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


class FaceTouchState(str, Enum):
    START = "start"
    END = "end"


class FaceZone(str, Enum):
    """Where on the face a hand touches (the names CONTRACTS.md fixes for ``zone``)."""

    EYES = "eyes"
    NOSE = "nose"
    MOUTH = "mouth"
    CHIN = "chin"
    CHEEK = "cheek"
    FOREHEAD = "forehead"
    TEMPLE = "temple"
    HAIR = "hair"


@dataclass(frozen=True)
class PoseEntered:
    """A tracked hand's stable pose became ``pose`` (after hysteresis and hold time)."""

    t: float
    frame: int
    hand_id: int
    hand: Handedness
    pose: str
    score: float
    previous: str | None = None


@dataclass(frozen=True)
class PoseExited:
    t: float
    frame: int
    hand_id: int
    hand: Handedness
    pose: str


@dataclass(frozen=True)
class PoseHeld:
    """A stable pose has lasted ``held_ms`` (reported once per configured duration)."""

    t: float
    frame: int
    hand_id: int
    hand: Handedness
    pose: str
    held_ms: float


@dataclass(frozen=True)
class Swipe:
    t: float
    frame: int
    hand_id: int
    hand: Handedness
    direction: SwipeDirection
    speed: float  # hand widths per second


@dataclass(frozen=True)
class HandLost:
    """A tracked hand left the view (or was lost by the tracker)."""

    t: float
    frame: int
    hand_id: int
    hand: Handedness
    last_pose: str | None


@dataclass(frozen=True)
class FaceTouch:
    t: float
    frame: int
    state: FaceTouchState
    hand: Handedness | None
    #: The face zone the hand touches; None where the face's landmarks were not available.
    zone: FaceZone | None = None


GestureEvent = PoseEntered | PoseExited | PoseHeld | Swipe | HandLost | FaceTouch


@dataclass(frozen=True, eq=False)
class TrackedHand:
    """A hand the engine follows from frame to frame, as it stands in this frame."""

    hand_id: int  # stable while the hand stays in view
    handedness: Handedness
    pose: str | None  # the stable (debounced) pose; None until one is established
    raw: PoseResult  # this frame's classification, undebounced
    pointer: tuple[float, float]  # filtered control point, normalised
    pointer_locked: bool  # frozen while a click pose closes ("click lock")
    landmarks: np.ndarray  # (21, 3)
    #: False while the hand is missing from the view for less than the grace time: it
    #: keeps its id, pose and pointer (a one-frame dropout does not drop a drag).
    visible: bool = True


@dataclass(frozen=True)
class GestureFrame:
    """The gesture engine's output for one analysed frame."""

    t: float
    frame: int
    hands: tuple[TrackedHand, ...] = ()
    events: tuple[GestureEvent, ...] = ()
    face_touching: bool = False
    #: The image's width over its height, to measure between hands in true proportions.
    aspect: float = 1.0


# ---------------------------------------------------------------------------------
# Profile-defined poses: built by the mapping layer, evaluated by the classifier.
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoseSpec:
    """A pose defined by finger states and pinch distance (e.g. from a YAML profile).

    ``fingers`` maps a finger to True (must be extended) or False (must be curled);
    fingers not named may be either. The pinch bounds, when set, bound the normalised
    pinch distance.
    """

    name: str
    fingers: Mapping[Finger, bool] = field(default_factory=dict)
    pinch_below: float | None = None
    pinch_above: float | None = None
