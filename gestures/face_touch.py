"""Face-touch stage: does a hand touch a face, per frame and as episodes (pure).

Per frame, :func:`touch_score` weighs, for each hand and each trusted face:

- **contact**: how far the hand's fingertips, finger pads and middle joints (the back
  of a folded hand under a chin) and, less, its palm lie inside an ellipse around the
  face (from the detector's keypoints, which agree between the short- and full-range
  detectors where their boxes do not), in face radii;
- **depth by size**: a hand touching a face is at the face's distance from the camera,
  so its 3D palm size (wrist to knuckles, with MediaPipe's z, which undoes
  foreshortening) stands in a known proportion to the face's size (the larger of its
  width and height, so a face seen from the side keeps its size); a hand much bigger
  than that is nearer the camera, in front of the face, not on it;
- **metric depth**: the hand model's world landmarks (metres) against the hand's pixels
  give how many pixels a metre spans at the hand's distance, the face mesh's eye
  distance (about 63 mm) the same at the face's: their ratio is the hand's distance
  over the face's, with no focal length needed; a hand well nearer than the face (a
  thumbs-up held out toward the camera) is in front of it;
- **a chin resting on the hand** (the face mesh and metric depth): a hand at the face's
  depth lying under the mesh's chin point, its bones (the lines between its joints)
  within a finger's thickness of it, touches the chin, though its joints lie beyond the
  face ellipse's reach (a chin on a folded hand: 1.2-1.35 face radii);
- **depth by the body model**: the pose model's z for the person's wrist/fingers
  against their nose (a hand held out toward the camera is far nearer than the nose);
- **face sanity**: a "face" whose box is mostly filled by one hand, with the body
  model's nose elsewhere, is the hand itself (the face detector fires on fists, cups);

and, for hands the hand model misses (a finger on the chin is often not detected), the
body model's own index/thumb/pinky landmarks near the face.

:class:`FaceTouchTracker` turns per-frame decisions into START/END episodes with a
minimum dwell before START and a release time before END: short when the hands were
seen clearly off the faces, longer when the evidence is weaker (no hand seen, a hand at
the face's edge), so a touch ends promptly without flickering into two. Frames where the
face/body models did not run (``faces is None``) keep the last decision. Each episode
names the face zone touched (``face_zones.touch_zone`` at the decision's contact point).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from handmap.gestures.face_zones import (
    MESH_CHIN_BOTTOM,
    MESH_FOREHEAD_TOP,
    MESH_LEFT_EYE,
    MESH_RIGHT_EYE,
    touch_zone,
)
from handmap.gestures.landmarks import BodyLandmark, FaceKeypoint, HandLandmark
from handmap.gestures.types import (
    FaceObservation,
    FaceTouch,
    FaceTouchState,
    FaceZone,
    FrameObservation,
    Handedness,
    HandObservation,
)

FINGERTIPS = (
    HandLandmark.THUMB_TIP,
    HandLandmark.INDEX_TIP,
    HandLandmark.MIDDLE_TIP,
    HandLandmark.RING_TIP,
    HandLandmark.PINKY_TIP,
)
#: Joints one step in from the tips: a flat hand on a cheek touches with these too.
FINGER_PADS = (
    HandLandmark.THUMB_IP,
    HandLandmark.INDEX_DIP,
    HandLandmark.MIDDLE_DIP,
    HandLandmark.RING_DIP,
    HandLandmark.PINKY_DIP,
)
#: The middle joints: the back of a folded hand under a chin touches with these.
FINGER_KNUCKLES = (
    HandLandmark.INDEX_PIP,
    HandLandmark.MIDDLE_PIP,
    HandLandmark.RING_PIP,
    HandLandmark.PINKY_PIP,
)
#: The palm's corners: their 3D spread is the hand's size, whatever its rotation.
PALM_CORNERS = (HandLandmark.WRIST, HandLandmark.INDEX_MCP, HandLandmark.MIDDLE_MCP, HandLandmark.PINKY_MCP)
#: The hand's joints in chains (wrist to each fingertip, and across the knuckles): each
#: pair of neighbours is a bone, a segment the hand's flesh lies along.
HAND_CHAINS = (
    (HandLandmark.WRIST, HandLandmark.THUMB_CMC, HandLandmark.THUMB_MCP, HandLandmark.THUMB_IP, HandLandmark.THUMB_TIP),
    (HandLandmark.WRIST, HandLandmark.INDEX_MCP, HandLandmark.INDEX_PIP, HandLandmark.INDEX_DIP, HandLandmark.INDEX_TIP),
    (HandLandmark.MIDDLE_MCP, HandLandmark.MIDDLE_PIP, HandLandmark.MIDDLE_DIP, HandLandmark.MIDDLE_TIP),
    (HandLandmark.RING_MCP, HandLandmark.RING_PIP, HandLandmark.RING_DIP, HandLandmark.RING_TIP),
    (HandLandmark.WRIST, HandLandmark.PINKY_MCP, HandLandmark.PINKY_PIP, HandLandmark.PINKY_DIP, HandLandmark.PINKY_TIP),
    (HandLandmark.INDEX_MCP, HandLandmark.MIDDLE_MCP, HandLandmark.RING_MCP, HandLandmark.PINKY_MCP),
)
HAND_BONES = tuple((a, b) for chain in HAND_CHAINS for a, b in zip(chain, chain[1:]))

BODY_FACE_POINTS = (
    BodyLandmark.NOSE,
    BodyLandmark.LEFT_EYE,
    BodyLandmark.RIGHT_EYE,
    BodyLandmark.LEFT_EAR,
    BodyLandmark.RIGHT_EAR,
    BodyLandmark.MOUTH_LEFT,
    BodyLandmark.MOUTH_RIGHT,
)
#: (the person's side, wrist, the hand points the pose model gives)
BODY_HANDS = (
    (Handedness.LEFT, BodyLandmark.LEFT_WRIST, (BodyLandmark.LEFT_INDEX, BodyLandmark.LEFT_THUMB, BodyLandmark.LEFT_PINKY)),
    (Handedness.RIGHT, BodyLandmark.RIGHT_WRIST, (BodyLandmark.RIGHT_INDEX, BodyLandmark.RIGHT_THUMB, BodyLandmark.RIGHT_PINKY)),
)
X, Y, Z, VIS = 0, 1, 2, 3


@dataclass(frozen=True)
class FaceTouchConfig:
    """Thresholds for :func:`touch_score` and dwell/release times for the tracker.

    Distances are in face radii (half the face box's size): 1.0 is the face ellipse's rim.
    """

    #: Faces below this detector score are ignored.
    min_face_score: float = 0.6
    #: When the body model sees a person whose nose is not in a face, that face must
    #: score this much (the face detector fires on fists and cups at 0.55-0.65).
    unvouched_face_score: float = 0.8
    #: The face ellipse is the face box's half-sizes times these (the box, rebuilt from
    #: the keypoints, runs from the brows to the chin and between the ears).
    face_scale_x: float = 1.15
    face_scale_y: float = 1.15
    #: A fingertip at this ellipse radius or less is fully "on" the face; the contact
    #: score falls linearly to 0 at ``contact_outer``.
    contact_inner: float = 1.0
    contact_outer: float = 1.3
    #: Other joints count with these weights: finger pads (a flat hand on a cheek), the
    #: middle joints (a chin resting on a folded hand), then the palm and wrist (a hand over the mouth whose fingertips the hand model
    #: places off the face).
    pad_weight: float = 0.8
    knuckle_weight: float = 0.8
    palm_weight: float = 0.6
    #: 3D palm size over face-box width: a touching adult hand is about 0.45-0.8.
    #: Above ``size_in_front`` the hand is nearer the camera than the face.
    #: Below ``size_too_small`` it is no hand at the face's depth (or no hand at all:
    #: a second look around a face can find "hands" in facial features).
    size_in_front: float = 0.85
    size_far_in_front: float = 1.15
    size_too_small: float = 0.3
    size_far_too_small: float = 0.22
    #: Metric depth (hands with world landmarks, faces with a mesh): the hand's distance
    #: from the camera over the face's. At ``depth_ratio_in_front`` or above the hand is
    #: at the face's depth (touching hands on the facetouch clips: 0.82-1.3); at
    #: ``depth_ratio_far_in_front`` or below it is in front of the face (a thumbs-up at
    #: arm's length: 0.61-0.76), between them the depth factor falls linearly.
    depth_ratio_in_front: float = 0.82
    depth_ratio_far_in_front: float = 0.74
    #: A chin resting on a hand (face mesh and metric depth needed): a hand whose
    #: distance over the face's is at least ``depth_ratio_in_front`` and at most
    #: ``chin_rest_depth_ratio``, no joint more than ``chin_rest_above`` above the mesh's
    #: chin point (along the face's chin-to-forehead line) and a bone within
    #: ``chin_rest_gap`` of it (both in eye distances: the portrait's chin rest 0.25-0.40
    #: and -0.37 to 0.17; the nearest no-touch hand in the labelled photos, beside a
    #: chin, 0.58) touches the chin. ``chin_rest_gap: 0`` turns this off.
    chin_rest_gap: float = 0.45
    chin_rest_above: float = 0.25
    chin_rest_depth_ratio: float = 1.3
    #: Body-model depth: wrist/finger z nearer than the nose's by more than this many
    #: shoulder widths means the hand is held toward the camera.
    body_z_in_front: float = 0.9
    body_z_far_in_front: float = 1.4
    #: Body landmarks below this visibility are not used.
    min_body_visibility: float = 0.5
    #: Body-model fingers (for hands the hand model did not find): full contact
    #: within ``body_contact_inner``, none beyond ``body_contact_outer`` (radii). The
    #: pose model puts fingers on a face short of it (measured, both face detectors:
    #: 0.97-1.15 for hands on a mouth or chin, 1.48 and more for hands beside or in
    #: front of a face).
    body_contact_inner: float = 1.05
    body_contact_outer: float = 1.4
    #: A face box filled this much by one hand's box, with this share of that hand's
    #: landmarks inside it, may be the hand itself (see the module docstring).
    false_face_cover: float = 0.5
    false_face_inside: float = 0.8
    #: The body nose within this many face radii of a face's centre vouches for it.
    nose_vouch_radius: float = 1.2
    #: ... and if the body's head width over the face box's width is in this range.
    vouch_scale: tuple[float, float] = (0.35, 2.0)
    #: A frame is "touching" when its best score reaches this.
    threshold: float = 0.5
    #: Episodes: touching this long before START; not touching this long before END
    #: (``clear_release_ms`` when every hand in view is clearly off every face, no
    #: contact at all; ``release_ms`` when it is less sure: no hand seen, a hand at the
    #: face's edge or judged in front of it, which a touch can flicker into).
    dwell_ms: float = 300.0
    release_ms: float = 300.0
    clear_release_ms: float = 0.0
    #: Once an episode has started it holds while a hand-model hand at the face's depth
    #: keeps a fingertip within this many face radii (past ``contact_outer``): fingers
    #: resting on a chin seen from the side wobble across the ellipse's rim (1.0-1.5)
    #: from frame to frame. Only an episode under way holds: no START comes from it.
    hold_radius: float = 1.6
    #: A decision from the face/body models is kept this long on frames where they did
    #: not run; after that (models stalled) it lapses to not touching.
    stale_ms: float = 1500.0

    def __post_init__(self) -> None:
        problems = []
        for low, high in (
            ("contact_inner", "contact_outer"),
            ("body_contact_inner", "body_contact_outer"),
            ("size_far_too_small", "size_too_small"),
            ("size_too_small", "size_in_front"),
            ("size_in_front", "size_far_in_front"),
            ("body_z_in_front", "body_z_far_in_front"),
            ("depth_ratio_far_in_front", "depth_ratio_in_front"),
            ("depth_ratio_in_front", "chin_rest_depth_ratio"),
        ):
            if not getattr(self, low) < getattr(self, high):
                problems.append(f"{low} ({getattr(self, low)}) must be below {high} ({getattr(self, high)})")
        for name in ("dwell_ms", "release_ms", "clear_release_ms", "stale_ms", "chin_rest_gap"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.hold_radius < self.contact_outer:
            problems.append(f"hold_radius ({self.hold_radius}) must not be below contact_outer ({self.contact_outer})")
        if not 0.0 < self.threshold <= 1.0:
            problems.append(f"threshold ({self.threshold}) must be in (0, 1]")
        if len(self.vouch_scale) != 2 or not 0 < self.vouch_scale[0] < self.vouch_scale[1]:
            problems.append(f"vouch_scale ({self.vouch_scale}) must be two increasing positive numbers")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class HandCues:
    """Why one hand scored what it did against one face (for debugging and tests)."""

    source: str  # "hand" (hand model) or "body" (pose model's hand points)
    hand: Handedness | None
    face_index: int  # into obs.faces; -1: the pose model's head (no face detected)
    contact: float  # 0..1 from the fingertips' ellipse radius
    tip_radius: float  # smallest fingertip ellipse radius (face radii)
    size_ratio: float  # 3D palm size / face width (nan for body-model hands)
    depth_factor: float  # 1 at the face's depth, 0 well in front of it
    body_dz: float  # (nose z - hand z) in shoulder widths; nan without a body
    score: float
    #: Where the hand meets the face (normalised image point): the hand point deepest
    #: inside the face ellipse.
    point: tuple[float, float] = (float("nan"), float("nan"))
    #: The hand's distance from the camera over the face's, from the hand's world
    #: landmarks and the face mesh's eye distance (nan without either).
    depth_ratio: float = float("nan")
    #: The contact is the face's chin resting on this hand (:func:`chin_on_hand`).
    chin_rest: bool = False


@dataclass(frozen=True)
class FaceTouchDecision:
    touching: bool
    hand: Handedness | None
    score: float
    reason: str
    cues: tuple[HandCues, ...] = ()
    #: Indices (into ``obs.faces``) of faces judged to be a hand, not a face.
    rejected_faces: tuple[int, ...] = ()
    #: Not touching, and every hand in view clearly off every face (no contact at all, or
    #: well in front of it by metric depth): an episode can end at once
    #: (``clear_release_ms``).
    clear: bool = False
    #: When touching: the face touched (None for the pose model's head) and where.
    face: FaceObservation | None = None
    contact: tuple[float, float] | None = None


NO_TOUCH = FaceTouchDecision(touching=False, hand=None, score=0.0, reason="no hands")


@dataclass(frozen=True)
class _Face:
    index: int
    cx: float  # pixels
    cy: float
    rx: float  # ellipse radii, pixels
    ry: float
    width: float  # box width, pixels
    #: The face's size for depth: the larger of its width and height, so a face seen
    #: from the side (narrow between the ears) keeps its size.
    size: float = 0.0
    #: The face mesh (``FaceObservation.mesh``) when it ran on this face.
    mesh: np.ndarray | None = None


def touch_score(obs: FrameObservation, config: FaceTouchConfig = FaceTouchConfig()) -> FaceTouchDecision:
    """This frame's face-touch decision (no dwell: usable on a single still image).

    Judges ``obs.hands`` and ``obs.near_face_hands`` (hands only the second look around
    the faces found) against ``obs.faces``, with ``obs.body`` when the pose model ran.

    ``obs.faces is None`` (face model not run) gives a not-touching decision whose
    reason says so; :class:`FaceTouchTracker` keeps its previous decision then.
    """
    if obs.faces is None:
        return FaceTouchDecision(False, None, 0.0, "face model not run this frame")
    w, h = float(obs.width), float(obs.height)
    body = obs.body.landmarks if obs.body is not None else None
    hands = tuple(obs.hands) + tuple(obs.near_face_hands)
    faces, rejected = _trusted_faces(obs.faces, hands, body, w, h, config)
    # No face found (a hand over it often hides it from the detector): the pose model's
    # head stands in. Not when faces were rejected as hands: that body is suspect too.
    if not faces and not rejected and body is not None:
        bf = _body_face(body, w, h, config)
        if bf is not None:
            faces = [bf]
    if not faces:
        reason = "no face" if not rejected else "only false faces (a hand seen as a face)"
        return FaceTouchDecision(False, None, 0.0, reason, rejected_faces=rejected)
    shoulder = _shoulder_width(body, w, h, config)
    cues: list[HandCues] = []
    for hand in hands:
        for face in faces:
            cues.append(_hand_cues(hand, face, body, shoulder, w, h, config))
    cues.extend(_body_hand_cues(body, faces, hands, shoulder, w, h, config))
    if not cues:
        return FaceTouchDecision(False, None, 0.0, "no hands", rejected_faces=rejected)
    best = max(cues, key=lambda c: c.score)
    touching = best.score >= config.threshold
    reason = _reason(best, touching, config)
    if not touching:
        # Clearly off: no contact at all, or well in front of the face by metric depth.
        clear = all(c.contact == 0.0 or c.depth_ratio <= config.depth_ratio_far_in_front for c in cues)
        return FaceTouchDecision(False, best.hand, best.score, reason, tuple(cues), rejected, clear=clear)
    touched = obs.faces[best.face_index] if best.face_index >= 0 else None
    return FaceTouchDecision(True, best.hand, best.score, reason, tuple(cues), rejected, face=touched,
                             contact=best.point)


# ---------------------------------------------------------------------------------
# Faces
# ---------------------------------------------------------------------------------


def _face_from_box(index: int, face: FaceObservation, w: float, h: float, config: FaceTouchConfig) -> _Face:
    """The face ellipse, from the keypoints when they are plausible, else the box.

    Detector boxes differ (the full-range model's box can slide over a fist beside the
    face); the keypoints agree. In the short-range model's boxes the ears sit at the
    box's sides (ear span about 0.9 box widths), the eyes at 0.28 and the mouth at 0.73
    of its height: a box rebuilt from the keypoints with those proportions.
    """
    fx, fy, fw, fh = face.bbox
    bw, bh = fw * w, fh * h
    cx, cy = (fx + fw / 2) * w, (fy + fh / 2) * h
    kp = _keypoint_box(face, w, h)
    if kp is not None:
        kcx, kcy, kw, kh = kp
        if 0.6 * bw <= kw <= 1.5 * bw and 0.6 * bh <= kh <= 1.5 * bh:
            cx, cy, bw, bh = kcx, kcy, kw, kh
    # Seen from the side the ears' span shrinks, not the face's reach: the ellipse is
    # at least PROFILE_MIN_WIDTH of its height wide.
    rx = max(bw, PROFILE_MIN_WIDTH * bh) / 2 * config.face_scale_x
    ry = bh / 2 * config.face_scale_y
    return _Face(index, cx, cy, max(rx, 1.0), max(ry, 1.0), max(bw, 1.0), max(bw, bh, 1.0), face.mesh)


#: The face ellipse's least width over its height (a face seen from the side).
PROFILE_MIN_WIDTH = 0.8
#: Where the short-range detector puts the keypoints in its (square) box.
KEYPOINT_EAR_SPAN = 0.9  # box widths
KEYPOINT_EYE_Y = 0.28  # box heights from the top
KEYPOINT_EYE_TO_MOUTH = 0.45  # box heights


def _keypoint_box(face: FaceObservation, w: float, h: float) -> tuple[float, float, float, float] | None:
    """(centre x, centre y, width, height) in pixels of the box the keypoints imply."""
    if len(face.keypoints) <= FaceKeypoint.LEFT_EAR:
        return None
    k = {p: (float(face.keypoints[p][0]) * w, float(face.keypoints[p][1]) * h) for p in FaceKeypoint}
    ear_span = math.dist(k[FaceKeypoint.LEFT_EAR], k[FaceKeypoint.RIGHT_EAR])
    left_eye, right_eye = k[FaceKeypoint.LEFT_EYE], k[FaceKeypoint.RIGHT_EYE]
    eyes = ((left_eye[0] + right_eye[0]) / 2, (left_eye[1] + right_eye[1]) / 2)
    eye_mouth = math.dist(k[FaceKeypoint.MOUTH], eyes)
    if ear_span <= 1.0 or eye_mouth <= 1.0:
        return None
    width = ear_span / KEYPOINT_EAR_SPAN
    height = eye_mouth / KEYPOINT_EYE_TO_MOUTH
    cx = (k[FaceKeypoint.LEFT_EAR][0] + k[FaceKeypoint.RIGHT_EAR][0]) / 2
    cy = eyes[1] + (0.5 - KEYPOINT_EYE_Y) * height
    return cx, cy, width, height


def _trusted_faces(
    faces: Sequence[FaceObservation],
    hands: Sequence[HandObservation],
    body: np.ndarray | None,
    w: float,
    h: float,
    config: FaceTouchConfig,
) -> tuple[list[_Face], tuple[int, ...]]:
    trusted: list[_Face] = []
    rejected: list[int] = []
    nose = None
    body_face = None
    if body is not None and body[BodyLandmark.NOSE, VIS] >= config.min_body_visibility:
        nose = (body[BodyLandmark.NOSE, X] * w, body[BodyLandmark.NOSE, Y] * h)
        body_face = _body_face(body, w, h, config)
    for i, face in enumerate(faces):
        if face.score < config.min_face_score:
            continue
        f = _face_from_box(i, face, w, h, config)
        # The body's nose vouches for a face it lies in, if the body's head is the
        # face's size (the pose model also "finds" people in cups and fists).
        vouched = (
            nose is not None
            and _ellipse_radius(f, nose[0], nose[1]) <= config.nose_vouch_radius
            and body_face is not None
            and config.vouch_scale[0] <= body_face.width / f.width <= config.vouch_scale[1]
        )
        if not vouched and any(_face_is_this_hand(face, hand, w, h, config) for hand in hands):
            rejected.append(i)
            continue
        if nose is not None and not vouched and face.score < config.unvouched_face_score:
            rejected.append(i)
            continue
        trusted.append(f)
    return trusted, tuple(rejected)


def _face_is_this_hand(face: FaceObservation, hand: HandObservation, w: float, h: float, config: FaceTouchConfig) -> bool:
    fx, fy, fw, fh = face.bbox
    # Twenty-one points against one box: plain floats cost less than numpy's calls.
    xs = hand.landmarks[:, 0].tolist()
    ys = hand.landmarks[:, 1].tolist()
    inside = sum(1 for x, y in zip(xs, ys) if fx <= x <= fx + fw and fy <= y <= fy + fh)
    if inside < config.false_face_inside * len(xs):
        return False
    hx0, hx1, hy0, hy1 = min(xs), max(xs), min(ys), max(ys)
    ix = max(0.0, min(hx1, fx + fw) - max(hx0, fx))
    iy = max(0.0, min(hy1, fy + fh) - max(hy0, fy))
    return ix * iy >= config.false_face_cover * fw * fh


def _body_face(body: np.ndarray, w: float, h: float, config: FaceTouchConfig) -> _Face | None:
    """A face region from the pose model's face points, when the face detector saw none
    (a hand over the face often hides it from the detector)."""
    vis = [p for p in BODY_FACE_POINTS if body[p, VIS] >= config.min_body_visibility]
    if BodyLandmark.NOSE not in vis or len(vis) < 4:
        return None
    pts = np.array([[body[p, X] * w, body[p, Y] * h] for p in vis])
    ears = [p for p in (BodyLandmark.LEFT_EAR, BodyLandmark.RIGHT_EAR) if p in vis]
    eyes = [p for p in (BodyLandmark.LEFT_EYE, BodyLandmark.RIGHT_EYE) if p in vis]
    if len(ears) == 2:
        width = abs(body[ears[0], X] - body[ears[1], X]) * w
    elif len(eyes) == 2:
        width = abs(body[eyes[0], X] - body[eyes[1], X]) * w * 2.2
    else:
        return None
    width = max(width, 1.0)
    cx = float(np.mean(pts[:, 0]))
    cy = float(body[BodyLandmark.NOSE, Y] * h)
    return _Face(-1, cx, cy, width / 2 * config.face_scale_x, width * 0.6 * config.face_scale_y, width, width)


def _ellipse_radius(face: _Face, x: float, y: float) -> float:
    return math.hypot((x - face.cx) / face.rx, (y - face.cy) / face.ry)


def nearest_face_radius(
    hands: Sequence[HandObservation],
    faces: Sequence[FaceObservation],
    width: float,
    height: float,
    config: FaceTouchConfig = FaceTouchConfig(),
) -> float:
    """How close any hand comes to any face: the smallest ellipse radius (in face radii,
    as ``contact_inner``/``contact_outer``) of any hand landmark; inf when there is no
    hand or no face to measure."""
    best = math.inf
    w, h = float(width), float(height)
    for index, face in enumerate(faces):
        ellipse = _face_from_box(index, face, w, h, config)
        for hand in hands:
            points = hand.landmarks
            radii = np.hypot((points[:, 0] * w - ellipse.cx) / ellipse.rx, (points[:, 1] * h - ellipse.cy) / ellipse.ry)
            best = min(best, float(radii.min()))
    return best


# ---------------------------------------------------------------------------------
# Hands
# ---------------------------------------------------------------------------------


def palm_size_px(landmarks: np.ndarray, w: float, h: float) -> float:
    """The hand's 3D palm size in pixels: the largest distance between palm corners.

    MediaPipe's z is in roughly the x (image-width) scale, so (x*w, y*h, z*w) is a 3D
    point in pixels; a palm turned away from the camera keeps its size this way.
    """
    rows = np.asarray(landmarks, dtype=float).tolist()  # a few points: plain floats cost less
    corners = [(rows[p][0] * w, rows[p][1] * h, rows[p][2] * w if len(rows[p]) > 2 else 0.0) for p in PALM_CORNERS]
    best = 0.0
    for i in range(len(corners)):
        for j in range(i + 1, len(corners)):
            best = max(best, math.dist(corners[i], corners[j]))
    return best


#: The mean adult distance between the eyes' centres, metres.
EYE_DISTANCE_M = 0.063


def hand_pixels_per_metre(hand: HandObservation, w: float, h: float) -> float:
    """How many pixels a metre spans at the hand's distance from the camera: the scale
    that best maps the world landmarks' x, y (metres, camera axes) onto the image points
    (weak perspective, least squares; the world points' own z undoes foreshortening).
    nan without world landmarks."""
    world = hand.world
    if world is None or world.shape[0] != hand.landmarks.shape[0]:
        return float("nan")
    image = hand.landmarks[:, :2] * (w, h)
    image = image - image.mean(axis=0)
    metres = world[:, :2] - world[:, :2].mean(axis=0)
    spread = float((metres**2).sum())
    return float((image * metres).sum()) / spread if spread > 0 else float("nan")


def face_pixels_per_metre(mesh: np.ndarray | None, w: float, h: float) -> float:
    """How many pixels a metre spans at the face's distance: the mesh's distance between
    the eyes' centres (in 3D, with the mesh's z, so a turned head keeps it) over
    :data:`EYE_DISTANCE_M`. nan without a mesh."""
    if mesh is None:
        return float("nan")
    scale = np.array([w, h, w])
    right = mesh[list(MESH_RIGHT_EYE)].mean(axis=0) * scale
    left = mesh[list(MESH_LEFT_EYE)].mean(axis=0) * scale
    return float(np.linalg.norm(left - right)) / EYE_DISTANCE_M


def depth_ratio(hand: HandObservation, mesh: np.ndarray | None, w: float, h: float) -> float:
    """The hand's distance from the camera over the face's (1: at the face's depth, below
    1: nearer the camera), from the hand's world landmarks and the face's mesh; the
    camera's focal length cancels out. nan without either."""
    hand_scale = hand_pixels_per_metre(hand, w, h)
    face_scale = face_pixels_per_metre(mesh, w, h)
    if not (hand_scale > 0 and face_scale > 0):
        return float("nan")
    return face_scale / hand_scale


def chin_on_hand(
    landmarks: np.ndarray, mesh: np.ndarray, w: float, h: float, config: FaceTouchConfig = FaceTouchConfig()
) -> tuple[float, float] | None:
    """The mesh's chin point (normalised) when it rests on this hand: no hand joint more
    than ``chin_rest_above`` above it (along the face's chin-to-forehead line) and a bone
    within ``chin_rest_gap`` of it, both in eye distances; else None. (Depth is the
    caller's: the hand must be at the face's.)"""
    if config.chin_rest_gap <= 0:
        return None
    scale = np.array([w, h])
    eyes = float(np.linalg.norm((mesh[list(MESH_LEFT_EYE), :2].mean(axis=0) - mesh[list(MESH_RIGHT_EYE), :2].mean(axis=0))
                                * scale))
    chin = mesh[MESH_CHIN_BOTTOM, :2] * scale
    up = mesh[MESH_FOREHEAD_TOP, :2] * scale - chin
    length = float(np.linalg.norm(up))
    if eyes <= 0 or length <= 0:
        return None
    points = landmarks[:, :2] * scale
    if float(((points - chin) @ (up / length)).max()) > config.chin_rest_above * eyes:
        return None
    starts = points[[a for a, _ in HAND_BONES]]
    bones = points[[b for _, b in HAND_BONES]] - starts
    along = np.clip(((chin - starts) * bones).sum(axis=1) / np.maximum((bones**2).sum(axis=1), 1e-9), 0.0, 1.0)
    gap = float(np.linalg.norm(starts + along[:, None] * bones - chin, axis=1).min())
    if gap > config.chin_rest_gap * eyes:
        return None
    return float(mesh[MESH_CHIN_BOTTOM, 0]), float(mesh[MESH_CHIN_BOTTOM, 1])


def _contact(radius: float, inner: float, outer: float) -> float:
    if radius <= inner:
        return 1.0
    if radius >= outer:
        return 0.0
    return (outer - radius) / (outer - inner)


def _ramp_down(value: float, start: float, end: float) -> float:
    """1 up to ``start``, falling linearly to 0 at ``end``."""
    if not math.isfinite(value) or value <= start:
        return 1.0
    if value >= end:
        return 0.0
    return (end - value) / (end - start)


def _shoulder_width(body: np.ndarray | None, w: float, h: float, config: FaceTouchConfig) -> float:
    if body is None:
        return float("nan")
    ls, rs = body[BodyLandmark.LEFT_SHOULDER], body[BodyLandmark.RIGHT_SHOULDER]
    if min(ls[VIS], rs[VIS]) < config.min_body_visibility:
        return float("nan")
    # z is in image-width units, like x. In 3D: seen from the side the shoulders overlap
    # in the image (their 2D span collapses) but not in z.
    return float(math.hypot((ls[X] - rs[X]) * w, (ls[Y] - rs[Y]) * h, (ls[Z] - rs[Z]) * w)) / w


def _body_dz(body: np.ndarray | None, points: Sequence[BodyLandmark], shoulder: float, config: FaceTouchConfig) -> float:
    """(nose z - nearest visible hand point z) in shoulder widths: positive = hand nearer."""
    if body is None or not math.isfinite(shoulder) or shoulder <= 0:
        return float("nan")
    if body[BodyLandmark.NOSE, VIS] < config.min_body_visibility:
        return float("nan")
    zs = [body[p, Z] for p in points if body[p, VIS] >= config.min_body_visibility]
    if not zs:
        return float("nan")
    return float((body[BodyLandmark.NOSE, Z] - min(zs)) / shoulder)


def _body_side_for(hand: HandObservation, body: np.ndarray | None, w: float, h: float, config: FaceTouchConfig):
    """The pose model's hand (wrist + finger points) that is this detected hand, if any:
    the side whose wrist or finger points come nearest the hand's landmarks (the two
    models place a blurred or foreshortened wrist differently; its fingers still agree)."""
    if body is None:
        return None
    points = hand.landmarks[:, :2] * (w, h)
    palm = max(palm_size_px(hand.landmarks, w, h), 1.0)
    best, best_d = None, float("inf")
    for side, bwrist, fingers in BODY_HANDS:
        if body[bwrist, VIS] < config.min_body_visibility:
            continue
        seen = [p for p in (bwrist, *fingers) if body[p, VIS] >= config.min_body_visibility]
        d = min(float(np.min(np.linalg.norm(points - body[p, :2] * (w, h), axis=1))) for p in seen)
        if d < best_d:
            best, best_d = (side, bwrist, fingers), d
    if best is None or best_d > 1.0 * palm:
        return None
    return best


def _hand_cues(
    hand: HandObservation,
    face: _Face,
    body: np.ndarray | None,
    shoulder: float,
    w: float,
    h: float,
    config: FaceTouchConfig,
) -> HandCues:
    lm = hand.landmarks
    rows = np.asarray(lm, dtype=float).tolist()  # eighteen points read one by one: plain floats
    contact, tip_r, point = 0.0, math.inf, (float("nan"), float("nan"))
    deepest = math.inf
    for points, weight in ((FINGERTIPS, 1.0), (FINGER_PADS, config.pad_weight),
                           (FINGER_KNUCKLES, config.knuckle_weight), (PALM_CORNERS, config.palm_weight)):
        for p in points:
            x, y = rows[p][0], rows[p][1]
            r = _ellipse_radius(face, x * w, y * h)
            contact = max(contact, weight * _contact(r, config.contact_inner, config.contact_outer))
            if points is FINGERTIPS:
                tip_r = min(tip_r, r)
            if r < deepest:
                deepest, point = r, (x, y)
    ratio = palm_size_px(lm, w, h) / face.size
    depth = min(
        _ramp_down(ratio, config.size_in_front, config.size_far_in_front),
        1.0 - _ramp_down(ratio, config.size_far_too_small, config.size_too_small),
    )
    metric = depth_ratio(hand, face.mesh, w, h)
    chin_rest = False
    if math.isfinite(metric):
        depth = min(depth, 1.0 - _ramp_down(metric, config.depth_ratio_far_in_front, config.depth_ratio_in_front))
        if (contact < 1.0 and face.mesh is not None
                and config.depth_ratio_in_front <= metric <= config.chin_rest_depth_ratio):
            chin = chin_on_hand(lm, face.mesh, w, h, config)
            if chin is not None:
                contact, point, chin_rest = 1.0, chin, True
    dz = float("nan")
    side = _body_side_for(hand, body, w, h, config)
    if side is not None:
        dz = _body_dz(body, (side[1], *side[2]), shoulder, config)
        depth = min(depth, _ramp_down(dz, config.body_z_in_front, config.body_z_far_in_front))
    return HandCues("hand", hand.handedness, face.index, contact, tip_r, ratio, depth, dz, contact * depth, point,
                    metric, chin_rest)


def _body_hand_cues(
    body: np.ndarray | None,
    faces: Sequence[_Face],
    hands: Sequence[HandObservation],
    shoulder: float,
    w: float,
    h: float,
    config: FaceTouchConfig,
) -> list[HandCues]:
    """The pose model's hands near a face, for hands the hand model did not find."""
    if body is None:
        return []
    out: list[HandCues] = []
    for side, wrist, fingers in BODY_HANDS:
        pts = [p for p in fingers if body[p, VIS] >= config.min_body_visibility]
        if not pts or body[wrist, VIS] < config.min_body_visibility:
            continue
        bw = body[wrist, :2] * (w, h)
        # Already seen by the hand model: its own cues are better.
        if any(np.linalg.norm(hd.landmarks[HandLandmark.WRIST, :2] * (w, h) - bw) < palm_size_px(hd.landmarks, w, h) for hd in hands):
            continue
        dz = _body_dz(body, (wrist, *pts), shoulder, config)
        depth = _ramp_down(dz, config.body_z_in_front, config.body_z_far_in_front)
        for face in faces:
            r, nearest = min((_ellipse_radius(face, body[p, X] * w, body[p, Y] * h), p) for p in pts)
            contact = _contact(r, config.body_contact_inner, config.body_contact_outer)
            point = (float(body[nearest, X]), float(body[nearest, Y]))
            out.append(HandCues("body", side, face.index, contact, r, float("nan"), depth, dz, contact * depth, point))
    return out


def _reason(best: HandCues, touching: bool, config: FaceTouchConfig) -> str:
    who = f"{best.source} {best.hand.value if best.hand else '?'}"
    if touching and best.chin_rest:
        return f"{who}: the chin rests on the hand (distance/face's {best.depth_ratio:.2f})"
    if touching:
        return f"{who}: fingertips on the face (radius {best.tip_radius:.2f})"
    if best.contact == 0.0:
        return f"{who}: nearest fingertip off the face (radius {best.tip_radius:.2f})"
    if best.depth_factor < 1.0:
        return (f"{who}: in front of the face (palm/face {best.size_ratio:.2f}, distance/face's "
                f"{best.depth_ratio:.2f}, body dz {best.body_dz:.2f})")
    return f"{who}: near the face edge (radius {best.tip_radius:.2f})"


# ---------------------------------------------------------------------------------
# Episodes
# ---------------------------------------------------------------------------------


@dataclass
class _TrackerState:
    decided_t: float | None = None  # when the face/body models last ran
    raw: bool = False
    raw_hand: Handedness | None = None
    clear: bool = False  # the last decision saw every hand clearly off the faces
    since: float | None = None  # when ``raw`` last changed
    active: bool = False
    active_hand: Handedness | None = None
    last: FaceTouchDecision = field(default_factory=lambda: NO_TOUCH)
    #: The zones of this touch's touching decisions so far (the run before START, then
    #: the whole episode).
    zones: Counter[FaceZone] = field(default_factory=Counter)


def _holds(decision: FaceTouchDecision, config: FaceTouchConfig) -> bool:
    """A hand-model hand at the face's depth with a fingertip within ``hold_radius``:
    an episode under way goes on (see :attr:`FaceTouchConfig.hold_radius`)."""
    return any(c.source == "hand" and c.tip_radius <= config.hold_radius and c.depth_factor >= 1.0
               for c in decision.cues)


class FaceTouchTracker:
    """Face-touch episodes over one stream (pure; one per source).

    ``update(obs)`` returns ``(touching_now, events)``: ``touching_now`` is the
    debounced state (True from START to END), events the START/END :class:`FaceTouch`
    values this frame produced. A START needs ``dwell_ms`` of touching frames; an END
    needs ``clear_release_ms`` without when the hands were last seen clearly off the
    faces, else ``release_ms``. Frames whose ``faces`` is None keep the last decision
    (for up to ``stale_ms``). START carries the zone touched most in the frames before
    it, END the zone touched most in the whole episode (``face_zones.touch_zone``).
    """

    def __init__(self, config: FaceTouchConfig = FaceTouchConfig()) -> None:
        self.config = config
        self._s = _TrackerState()

    @property
    def last_decision(self) -> FaceTouchDecision:
        return self._s.last

    def update(self, obs: FrameObservation) -> tuple[bool, list[FaceTouch]]:
        s, c = self._s, self.config
        t_ms = obs.t * 1000.0
        zone = None
        if obs.faces is not None:
            decision = touch_score(obs, c)
            s.last = decision
            s.decided_t = t_ms
            raw, raw_hand, clear = decision.touching, decision.hand, decision.clear
            if s.active and not raw and _holds(decision, c):
                raw, raw_hand, clear = True, s.raw_hand, False
            if decision.face is not None and decision.contact is not None:
                zone = touch_zone(decision.face, decision.contact, obs.width / max(obs.height, 1))
        elif s.decided_t is not None and t_ms - s.decided_t <= c.stale_ms:
            raw, raw_hand, clear = s.raw, s.raw_hand, s.clear
        else:
            raw, raw_hand, clear = False, None, False
        if raw != s.raw or s.since is None:
            s.since = t_ms
            if raw and not s.active:
                s.zones.clear()  # a new touch: its own zones
        s.raw, s.clear = raw, clear
        if raw:
            s.raw_hand = raw_hand
            if zone is not None:
                s.zones[zone] += 1
        events: list[FaceTouch] = []
        held = t_ms - s.since
        if not s.active and raw and held >= c.dwell_ms:
            s.active, s.active_hand = True, s.raw_hand
            events.append(FaceTouch(obs.t, obs.frame, FaceTouchState.START, s.active_hand, self._zone()))
        elif s.active and not raw and held >= (c.clear_release_ms if clear else c.release_ms):
            events.append(FaceTouch(obs.t, obs.frame, FaceTouchState.END, s.active_hand, self._zone()))
            s.active, s.active_hand = False, None
            s.zones.clear()
        return s.active, events

    def _zone(self) -> FaceZone | None:
        """The zone touched most so far in this touch (None: no zone was known)."""
        top = self._s.zones.most_common(1)
        return top[0][0] if top else None

    def close(self, t: float, frame: int) -> list[FaceTouch]:
        """End an open episode (stream end, pause): an END for every START."""
        s = self._s
        if not s.active:
            return []
        event = FaceTouch(t, frame, FaceTouchState.END, s.active_hand, self._zone())
        self._s = _TrackerState()
        return [event]

    def reset(self) -> None:
        self._s = _TrackerState()
