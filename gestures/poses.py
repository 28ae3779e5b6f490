"""Pose stage: one hand's 21 landmarks in one frame to a pose, with finger states.

The classifier is pure and stateless (the temporal layer debounces it).

**The built-in pose** (open, closed, pinch, point, or ``hand`` for anything else) comes
from the learned model in :mod:`handmap.gestures.pose_model`: a small MLP over the
distances between every pair of landmarks in the image plane (x times the aspect ratio),
trained on 18,227 labelled hands from 25 people and projects (``scripts/train_poses.py``).
Its features do not change when the hand moves, turns in the image plane, changes size or
is mirrored, so left and right hands, pointing up, sideways or down, near or far classify
alike. z is not used (the training data has none), so 2D traces classify like live
landmarks. The score of a built-in pose is the model's calibrated probability of it.
Two rules sit on top, each giving the pose's probability to ``hand``: a folded thumb is
not open (:data:`THUMB_FOLDED`), and a reading the hand's own finger states clearly
contradict, in the image plane, is not that pose (:data:`POSE_VETO`).

**Finger states and pinch distance** stay geometric, for profiles' custom poses:

- **Hand size**: the larger of the palm's length (wrist to middle knuckle) and its width
  (index knuckle to pinky knuckle) divided by :data:`PALM_WIDTH_RATIO`. A palm seen at a
  slant is foreshortened along one axis only, so one of the two keeps its length.
- **Finger extension** (index to pinky): fingertip-to-wrist distance over
  middle-joint-to-wrist distance. About 1.3 for a straight finger, 0.5 to 0.8 for a
  curled one. A finger also needs to be straight to count as extended: its
  knuckle-to-tip chord over its summed bone lengths in the image; a bent finger that
  still reaches out (a claw) is ambiguous.
- **Thumb extension**: thumb-tip-to-pinky-knuckle distance over
  thumb-knuckle-to-pinky-knuckle distance: above 1 the thumb reaches out away from the
  palm, below 1 it folds back across it.
- **Pinch distance**: thumb tip to index tip over the hand size.

Distances are measured in isotropic coordinates and in 3D when the landmarks carry a
depth (MediaPipe's z is on x's scale); with no depth, or an all-zero one, in the image
plane. Each feature becomes a probability through a logistic centred on its midpoint. A
finger's :class:`FingerState` is extended when that probability is at least 0.5, with
``confidence`` the probability of the state given; it is *clearly* extended or curled
when the confidence reaches :data:`CLEAR`. Profile-defined poses (:class:`PoseSpec`)
need clear states: see :func:`classify`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from handmap.gestures.landmarks import FINGER_JOINTS, NUM_HAND_LANDMARKS, Finger, HandLandmark
from handmap.gestures.pose_model import (
    CLASSES,
    PoseModel,
    pair_distances,
    pair_index,
    probabilities_of_distances,
    shape_features,
    shipped_model,
)
from handmap.gestures.taught import TaughtSet, decide
from handmap.gestures.types import FingerState, PoseResult, PoseSpec

#: Typical knuckle span over wrist-to-middle-knuckle length (median over real hands).
PALM_WIDTH_RATIO = 0.7

#: Finger extension ratio at which a finger is as likely extended as curled, and the
#: half-width of the ambiguous band around it (half-bent fingers, claws).
FINGER_MIDPOINT = 1.03
FINGER_BAND = 0.13
#: Finger straightness (knuckle-to-tip chord over the summed bone lengths, in the image:
#: a straight finger projects to a straight line from any view): midpoint and band.
#: 0.97 is about 30 degrees of bend; a claw or typing finger stays below it.
STRAIGHT_MIDPOINT = 0.945
STRAIGHT_BAND = 0.025
#: Thumb extension ratio midpoint and band: below 0.9 folded across the palm, above 1.3
#: clearly out (thumbs-up, L shape); in between it rests alongside the hand.
THUMB_MIDPOINT = 1.1
THUMB_BAND = 0.2
#: A hand whose thumb is folded across the palm is not open, whatever the model says
#: (a "four": four fingers up, the thumb tucked in). The keypoint set the model learned
#: from leaves such hands out as ambiguous; the shared photos and webcam_session35 label
#: them ``other``. Folded: in the image plane, the thumb tip nearer the pinky knuckle than
#: this share of the thumb knuckle's distance to it. Chosen on the training sources only:
#: the largest cut (in steps of 0.05) that costs open hands at most half a point of
#: recall out of fold (docs/accuracy.md, Poses).
THUMB_FOLDED = 0.65
#: Softness of a profile pose's pinch bounds, in hand sizes.
PINCH_SOFTNESS = 0.03
#: A reading the hand's own geometry clearly contradicts is not a pose: the model's pose
#: becomes ``hand`` when its support falls under these (the log-odds of its weakest
#: finger-state condition in the image plane: open, all four fingers extended; closed,
#: all four curled; point, the index extended and the other three curled; pinch, the
#: pinch distance under ``PINCH_VETO_BOUND`` hand sizes). Chosen on the training sources
#: only, out of fold, by a rule fixed beforehand: per pose, the largest cut (steps of 0.25)
#: costing that pose at most half a point of recall (docs/accuracy.md, Poses).
POSE_VETO = MappingProxyType({"open": 0.0, "closed": 0.0, "pinch": -1.75, "point": -0.5})
PINCH_VETO_BOUND = 0.25

#: Probability a finger state must reach to count as clear (custom poses need it).
CLEAR = 0.8
_CLEAR_LOGIT = math.log(CLEAR / (1.0 - CLEAR))

#: Coordinates allowed around the image: a hand may reach past the edge, not this far.
COORD_MIN = -1.0
COORD_MAX = 2.0
DEPTH_LIMIT = 2.0
#: Smallest hand size (image heights) taken as a hand rather than a collapsed point.
MIN_HAND_SIZE = 1e-4

_FOUR_FINGERS = (Finger.INDEX, Finger.MIDDLE, Finger.RING, Finger.PINKY)
_FINGERS = tuple(Finger)
_THUMB = Finger.THUMB  # read once: an enum member looked up on its class costs each time


class LandmarkError(ValueError):
    """Landmarks that cannot be a hand: wrong shape, NaN or out of range."""


class PoseSpecError(ValueError):
    """A profile-defined pose that can never be evaluated sensibly."""


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def as_landmarks(landmarks, aspect: float = 1.0) -> np.ndarray:
    """Validated landmarks as a (21, 3) float array in isotropic coordinates.

    x (and z, on x's scale) are multiplied by ``aspect`` (image width over height); a
    missing z becomes zeros. Raises :class:`LandmarkError` on anything that is not 21
    finite points near the image.
    """
    try:
        aspect_f = float(aspect)
    except (TypeError, ValueError):
        raise LandmarkError(f"aspect must be a number (image width over height), got {aspect!r}") from None
    if not math.isfinite(aspect_f) or aspect_f <= 0:
        raise LandmarkError(f"aspect must be a positive finite number (image width over height), got {aspect!r}")
    try:
        pts = np.asarray(landmarks, dtype=float)
    except (TypeError, ValueError) as exc:
        raise LandmarkError(f"landmarks must be 21 numeric points of (x, y) or (x, y, z): {exc}") from None
    if pts.ndim != 2 or pts.shape[0] != NUM_HAND_LANDMARKS or pts.shape[1] not in (2, 3):
        raise LandmarkError(f"expected 21 points of (x, y) or (x, y, z), got an array of shape {pts.shape}")
    # One min and one max per column (a NaN makes its column's both NaN, and NaN fails
    # every comparison, so it takes the slow path below).
    lo, hi = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
    in_range = COORD_MIN <= lo[0] and COORD_MIN <= lo[1] and hi[0] <= COORD_MAX and hi[1] <= COORD_MAX
    if len(lo) == 3:
        in_range = in_range and -DEPTH_LIMIT <= lo[2] and hi[2] <= DEPTH_LIMIT
    if not in_range:
        _refuse(pts)
    if len(lo) == 2:
        pts = np.hstack([pts, np.zeros((NUM_HAND_LANDMARKS, 1))])
    return pts * np.array((aspect_f, 1.0, aspect_f))  # a new array: the caller's is never changed


def _refuse(pts: np.ndarray) -> None:
    """Raise the :class:`LandmarkError` that says what is wrong with out-of-bounds points."""
    if not np.all(np.isfinite(pts)):
        raise LandmarkError("landmarks contain NaN or infinite values")
    xy = pts[:, :2]
    if np.any(xy < COORD_MIN) or np.any(xy > COORD_MAX):
        raise LandmarkError(
            f"landmarks are out of range: x and y must be normalised image coordinates "
            f"(within [{COORD_MIN:g}, {COORD_MAX:g}]), got {xy.min():.3g} to {xy.max():.3g}"
        )
    raise LandmarkError(f"landmark depths are out of range (|z| must stay within {DEPTH_LIMIT:g})")


@dataclass(frozen=True)
class HandFeatures:
    """The rotation-, scale- and mirror-invariant measurements finger states are read from."""

    hand_size: float  # in image heights (see the module docstring)
    finger_ratio: Mapping[Finger, float]  # tip-to-wrist over middle-joint-to-wrist
    straightness: Mapping[Finger, float]  # knuckle-to-tip chord over bone lengths (image)
    thumb_ratio: float  # thumb tip to pinky knuckle over thumb knuckle to pinky knuckle
    pinch_distance: float  # thumb tip to index tip, in hand sizes
    depth: bool  # whether z was used


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def hand_size(pts: np.ndarray) -> float:
    """The hand size of isotropic points (see the module docstring)."""
    length = _dist(pts[HandLandmark.WRIST], pts[HandLandmark.MIDDLE_MCP])
    width = _dist(pts[HandLandmark.INDEX_MCP], pts[HandLandmark.PINKY_MCP])
    return max(length, width / PALM_WIDTH_RATIO)


#: Landmark pairs whose distances the features use, measured in one vectorised pass:
#: palm length and width, then per finger (index to pinky) tip-wrist and middle-joint-wrist,
#: then thumb tip and thumb knuckle to pinky knuckle, then the pinch.
_PALM_PAIRS = ((HandLandmark.WRIST, HandLandmark.MIDDLE_MCP), (HandLandmark.INDEX_MCP, HandLandmark.PINKY_MCP))
_REACH_PAIRS = tuple(
    pair
    for finger in _FOUR_FINGERS
    for pair in ((FINGER_JOINTS[finger][3], HandLandmark.WRIST), (FINGER_JOINTS[finger][1], HandLandmark.WRIST))
)
_THUMB_PAIRS = (
    (HandLandmark.THUMB_TIP, HandLandmark.PINKY_MCP),
    (HandLandmark.THUMB_MCP, HandLandmark.PINKY_MCP),
    (HandLandmark.THUMB_TIP, HandLandmark.INDEX_TIP),
)
_SPACE_PAIRS = _PALM_PAIRS + _REACH_PAIRS + _THUMB_PAIRS
#: In the image plane: palm length and width, then per finger the three bones and the
#: knuckle-to-tip chord.
_IMAGE_PAIRS = _PALM_PAIRS + tuple(
    pair
    for finger in _FOUR_FINGERS
    for pair in (
        (FINGER_JOINTS[finger][0], FINGER_JOINTS[finger][1]),
        (FINGER_JOINTS[finger][1], FINGER_JOINTS[finger][2]),
        (FINGER_JOINTS[finger][2], FINGER_JOINTS[finger][3]),
        (FINGER_JOINTS[finger][0], FINGER_JOINTS[finger][3]),
    )
)


_SPACE_AB = tuple((int(a), int(b)) for a, b in _SPACE_PAIRS)
#: Where each pair's image-plane distance is among the pose model's pair distances.
_SPACE_IN_PAIRS = np.array([pair_index(a, b) for a, b in _SPACE_PAIRS], dtype=np.intp)
_IMAGE_IN_PAIRS = np.array([pair_index(a, b) for a, b in _IMAGE_PAIRS], dtype=np.intp)


_THUMB_TIP_PINKY = pair_index(HandLandmark.THUMB_TIP, HandLandmark.PINKY_MCP)
_THUMB_MCP_PINKY = pair_index(HandLandmark.THUMB_MCP, HandLandmark.PINKY_MCP)
_OPEN, _HAND = CLASSES.index("open"), CLASSES.index("hand")


def builtin_probabilities(points: np.ndarray, model: PoseModel | None = None) -> np.ndarray:
    """The built-in poses' probabilities (:data:`~handmap.gestures.pose_model.CLASSES`
    order) of (n, 21, 2) isotropic points, as :func:`classify` reads them one at a time:
    the model's, with a folded thumb's open share given to ``hand`` (:data:`THUMB_FOLDED`),
    then a reading the hand's geometry contradicts given to ``hand`` (:data:`POSE_VETO`)."""
    pts = np.asarray(points, dtype=float)
    probs = (model or shipped_model()).probabilities(shape_features(pts))
    return vetoed(folded_thumbs_not_open(probs, pts), pts)


def folded_thumbs_not_open(probs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 5) probabilities of (n, 21, 2) isotropic points with a folded thumb's open share
    given to ``hand`` (:data:`THUMB_FOLDED`), in place."""
    tip = np.linalg.norm(points[:, HandLandmark.THUMB_TIP] - points[:, HandLandmark.PINKY_MCP], axis=-1)
    knuckle = np.linalg.norm(points[:, HandLandmark.THUMB_MCP] - points[:, HandLandmark.PINKY_MCP], axis=-1)
    folded = tip < THUMB_FOLDED * knuckle
    probs[folded, _HAND] += probs[folded, _OPEN]
    probs[folded, _OPEN] = 0.0
    return probs


def vetoed(probs: np.ndarray, points: np.ndarray, cuts: Mapping[str, float] = POSE_VETO) -> np.ndarray:
    """(n, 5) probabilities with each reading the hand's geometry contradicts (see
    :data:`POSE_VETO`; ``cuts`` for other cuts) given to ``hand``, in place."""
    best = probs.argmax(axis=1)
    for i in np.flatnonzero(best != _HAND):  # one hand at a time, as classify reads it
        if contradicted(CLASSES[best[i]], image_features(pair_distances(points[i])), cuts):
            probs[i, _HAND] += probs[i, best[i]]
            probs[i, best[i]] = 0.0
    return probs


def measure(landmarks, aspect: float = 1.0) -> HandFeatures:
    """Validate the landmarks and compute the finger-state features."""
    return measure_points(as_landmarks(landmarks, aspect))


def measure_points(pts: np.ndarray, pairs: np.ndarray | None = None) -> HandFeatures:
    """The finger-state features of validated isotropic points (see :func:`as_landmarks`).

    ``pairs``: the points' image-plane :func:`~handmap.gestures.pose_model.pair_distances`
    when already at hand (the classifier's model reads them too)."""
    if pairs is None:
        pairs = pair_distances(pts[:, :2])
    if not pts[:, 2].any():
        return image_features(pairs)
    rows = pts.tolist()  # thirteen distances: math.dist on lists beats numpy's calls
    return _features([math.dist(rows[a], rows[b]) for a, b in _SPACE_AB], pairs[_IMAGE_IN_PAIRS].tolist(), True)


def image_features(pairs: np.ndarray) -> HandFeatures:
    """The finger-state features in the image plane alone (z left out), from one hand's
    :func:`~handmap.gestures.pose_model.pair_distances`."""
    return _features(pairs[_SPACE_IN_PAIRS].tolist(), pairs[_IMAGE_IN_PAIRS].tolist(), False)


def _features(space: list[float], image: list[float], depth: bool) -> HandFeatures:
    if max(image[0], image[1] / PALM_WIDTH_RATIO) < MIN_HAND_SIZE:
        raise LandmarkError("landmarks collapse to a point: a hand needs a visible palm")
    size = max(space[0], space[1] / PALM_WIDTH_RATIO)
    floor = 1e-3 * size  # guards a collapsed denominator (joints on top of each other in the image)
    ratios, straightness = {}, {}
    for i, finger in enumerate(_FOUR_FINGERS):
        ratios[finger] = space[2 + 2 * i] / max(space[3 + 2 * i], floor)
        proximal, middle, distal, chord = image[2 + 4 * i : 6 + 4 * i]
        straightness[finger] = chord / max(proximal + middle + distal, floor)
    thumb_tip_pinky, thumb_mcp_pinky, pinch = space[10:13]
    return HandFeatures(size, ratios, straightness, thumb_tip_pinky / max(thumb_mcp_pinky, floor), pinch / size, depth)


def _finger_logit(features: HandFeatures, finger: Finger) -> float:
    """Log-odds that ``finger`` is extended, scaled so that +-logit(CLEAR) is the band edge."""
    if finger is _THUMB:
        return (features.thumb_ratio - THUMB_MIDPOINT) / THUMB_BAND * _CLEAR_LOGIT
    # Extended needs both reach (tip beyond the middle joint) and a straight finger; a
    # bent finger that still reaches out is ambiguous (a claw), not curled.
    reach = (features.finger_ratio[finger] - FINGER_MIDPOINT) / FINGER_BAND
    if reach <= 0:
        return reach * _CLEAR_LOGIT
    straight = (features.straightness[finger] - STRAIGHT_MIDPOINT) / STRAIGHT_BAND
    return min(reach, max(straight, 0.0)) * _CLEAR_LOGIT


def pose_support(pose: str, features: HandFeatures, logits: Mapping[Finger, float] | None = None) -> float:
    """How well the hand's finger states bear out a built-in pose: the log-odds (in
    :func:`_finger_logit`'s scale) of its weakest condition; under 0 that condition leans
    the other way. ``hand`` (no condition) is always borne out. ``logits``: the features'
    :func:`finger_logits` when already at hand."""
    if pose == "pinch":
        return _pinch_logit(features, PINCH_VETO_BOUND)
    if pose == "hand":
        return math.inf
    if logits is None:
        logits = finger_logits(features)
    index, *others = (logits[finger] for finger in _FOUR_FINGERS)
    if pose == "open":
        return min(index, *others)
    if pose == "closed":
        return -max(index, *others)
    if pose == "point":
        return min(index, -max(others))
    raise ValueError(f"not a built-in pose: {pose!r}")


def contradicted(pose: str, features: HandFeatures, cuts: Mapping[str, float] = POSE_VETO,
                 logits: Mapping[Finger, float] | None = None) -> bool:
    """Whether the hand's geometry clearly contradicts reading it as ``pose`` (see :data:`POSE_VETO`)."""
    return pose in cuts and pose_support(pose, features, logits) < cuts[pose]


def _pinch_logit(features: HandFeatures, bound: float) -> float:
    """Log-odds that the pinch distance is below ``bound``."""
    return (bound - features.pinch_distance) / PINCH_SOFTNESS


# Requirement satisfactions: 0.5 exactly on the threshold, towards 1 past it.
def _clearly(logit: float, extended: bool) -> float:
    return _sigmoid((logit if extended else -logit) - _CLEAR_LOGIT)


def finger_logits(features: HandFeatures) -> dict[Finger, float]:
    """Each finger's log-odds of being extended (:func:`_finger_logit`), read once a hand."""
    return {finger: _finger_logit(features, finger) for finger in _FINGERS}


def finger_states(features: HandFeatures, logits: Mapping[Finger, float] | None = None) -> dict[Finger, FingerState]:
    """Each finger extended or curled, with the probability of that reading (``logits``:
    the features' :func:`finger_logits` when already at hand)."""
    states = {}
    for finger, logit in (logits or finger_logits(features)).items():
        p = _sigmoid(logit)
        states[finger] = FingerState(p >= 0.5, max(p, 1.0 - p))  # extended, confidence
    return states


def check_pose_spec(spec: PoseSpec) -> None:
    """Raise :class:`PoseSpecError` if ``spec`` cannot be a usable pose.

    Profile loaders should call this when they read a profile, so the user hears about
    a bad pose once, with its name, rather than on every frame.
    """
    if not isinstance(spec, PoseSpec):
        raise PoseSpecError(f"custom poses must be PoseSpec values, got {type(spec).__name__}")
    if not spec.name or not isinstance(spec.name, str):
        raise PoseSpecError("a custom pose needs a non-empty name")
    if not isinstance(spec.fingers, Mapping):
        raise PoseSpecError(f"custom pose {spec.name!r}: fingers must map finger names to true or false")
    for finger, want in spec.fingers.items():
        if not isinstance(finger, Finger):
            try:
                Finger(finger)
            except ValueError:
                raise PoseSpecError(
                    f"custom pose {spec.name!r}: unknown finger {finger!r} (use {', '.join(f.value for f in Finger)})"
                ) from None
        if not isinstance(want, (bool, np.bool_)):
            raise PoseSpecError(f"custom pose {spec.name!r}: finger {finger} must be true (extended) or false (curled)")
    for label, bound in (("pinch_below", spec.pinch_below), ("pinch_above", spec.pinch_above)):
        if bound is not None and (
            isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound < 0
        ):
            raise PoseSpecError(f"custom pose {spec.name!r}: {label} must be a non-negative number, got {bound!r}")
    if spec.pinch_below is not None and spec.pinch_above is not None and spec.pinch_below <= spec.pinch_above:
        raise PoseSpecError(
            f"custom pose {spec.name!r}: pinch_below ({spec.pinch_below}) must exceed pinch_above "
            f"({spec.pinch_above}) or no hand can match"
        )
    if constraint_count(spec) == 0:
        raise PoseSpecError(f"custom pose {spec.name!r} has no finger or pinch requirement, so it would match every hand")


def constraint_count(spec: PoseSpec) -> int:
    """How specific a custom pose is: its finger requirements plus its pinch bounds."""
    return len(spec.fingers) + (spec.pinch_below is not None) + (spec.pinch_above is not None)


def spec_score(spec: PoseSpec, features: HandFeatures, logits: Mapping[Finger, float] | None = None) -> float:
    """How well the hand meets ``spec`` (0.5 on the edge of its least met requirement).

    A finger required extended (curled) must be *clearly* so, as in the built-in poses:
    the thumb is clearly extended when it sticks out from the palm (thumb ratio above
    1.3) and clearly curled when folded across it (below 0.9); a thumb resting alongside
    the hand is neither. ``logits``: the features' :func:`finger_logits` when already at hand.
    """
    logits = logits or finger_logits(features)
    scores = []
    for finger, want in spec.fingers.items():
        scores.append(_clearly(logits[finger if isinstance(finger, Finger) else Finger(finger)], bool(want)))
    if spec.pinch_below is not None:
        scores.append(_sigmoid(_pinch_logit(features, spec.pinch_below)))
    if spec.pinch_above is not None:
        scores.append(_sigmoid(-_pinch_logit(features, spec.pinch_above)))
    return min(scores) if scores else 0.0


def best_custom(specs: Iterable[PoseSpec], features: HandFeatures,
                logits: Mapping[Finger, float] | None = None, checked: bool = False) -> tuple[PoseSpec, float] | None:
    """The matching custom pose with most constraints (then best score, then first);
    ``checked``: every spec has been through :func:`check_pose_spec` already."""
    best: tuple[int, float, PoseSpec] | None = None
    for spec in specs:
        if not checked:
            check_pose_spec(spec)
        score = spec_score(spec, features, logits)
        if score <= 0.5:
            continue
        key = (constraint_count(spec), score)
        if best is None or key > best[:2]:
            best = (key[0], key[1], spec)
    return None if best is None else (best[2], best[1])


def classify(
    landmarks, aspect: float = 1.0, custom: Sequence[PoseSpec] = (), *, model: PoseModel | None = None,
    taught: TaughtSet | None = None, checked: bool = False,
) -> PoseResult:
    """Classify one hand.

    ``landmarks``: 21 points in MediaPipe order, (x, y) or (x, y, z), normalised image
    coordinates. ``aspect``: image width over height. ``custom``: profile-defined poses.
    ``model``: the pose model (default: the one shipped in the package). ``taught``: the
    user's taught poses (:mod:`handmap.gestures.taught`). ``checked``: the custom poses have
    been through :func:`check_pose_spec` already (the gesture engine checks them once, when
    they are set), so they are not checked again on every call.

    Returns a :class:`PoseResult` whose ``builtin`` is always the built-in pose (open,
    closed, pinch, point or hand: the model's most likely class after the folded-thumb rule
    and the geometry veto, see the module docstring) and whose ``label`` is
    that pose unless a custom pose matches: then ``label`` is the custom pose's name and
    ``score`` its score, else ``score`` is the model's calibrated probability of the
    built-in pose. A taught pose takes ``label`` and ``score`` from the built-in one as
    :func:`handmap.gestures.taught.decide` says; a matching custom pose takes them from
    both. When several custom poses match, the most specific wins (most finger
    and pinch requirements), then the better-met one, then the one listed first. Custom
    poses are matched whatever the built-in pose is, so a profile can split a built-in
    pose (say a ``thumbs_up``: thumb extended, four fingers curled, which is ``hand``) or
    refine one.

    Raises :class:`LandmarkError` for landmarks that cannot be a hand and
    :class:`PoseSpecError` for an unusable custom pose (see :func:`check_pose_spec`).
    """
    pts = as_landmarks(landmarks, aspect)
    pairs = pair_distances(pts[:, :2])
    features = measure_points(pts, pairs)
    logits = finger_logits(features)
    fingers = finger_states(features, logits)
    probs = probabilities_of_distances(model or shipped_model(), pairs)
    if pairs[_THUMB_TIP_PINKY] < THUMB_FOLDED * pairs[_THUMB_MCP_PINKY]:
        probs[_HAND] += probs[_OPEN]
        probs[_OPEN] = 0.0
    best = probs.index(max(probs))
    if best != _HAND:
        # The veto reads the image plane: the features above when there is no depth, else
        # the image plane's own (only for a hand read as a pose).
        flat, flat_logits = (image_features(pairs), None) if features.depth else (features, logits)
        if contradicted(CLASSES[best], flat, logits=flat_logits):
            probs[_HAND] += probs[best]
            probs[best] = 0.0
            best = _HAND
    builtin, score = CLASSES[best], probs[best]
    label = builtin
    if taught is not None and taught.models:
        label, score = decide(builtin, score, taught.best(pts[:, :2]))
    match = best_custom(custom or (), features, logits, checked)
    if match is not None:
        label, score = match[0].name, match[1]
    return PoseResult(
        label=label,
        score=float(score),
        fingers=fingers,
        pinch_distance=features.pinch_distance,
        builtin=builtin,
    )
