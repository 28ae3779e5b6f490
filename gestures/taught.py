"""Taught poses: hand shapes a user showed (``handmap teach``), as pose labels.

A taught pose is a set of recorded hands (landmarks only). It joins :func:`classify`
without retraining the shipped model: each taught pose gets a small logistic regression
over the shipped model's rotation-, scale- and mirror-invariant features
(:func:`handmap.gestures.pose_model.shape_features`, standardised as the model does),
trained in well under a second against

- a compact negative set shipped in the package (``taught_negatives.json``, written by
  ``scripts/taught_negatives.py``): cluster centres of the training sources' open,
  closed, pinch, point and other hands (averages of many rows, never raw rows). Centres of
  ``other`` shapes close to the taught hands are left out (the user may be teaching one
  of them); the four built-in poses always stay in;
- the other taught poses' hands.

Positives and negatives weigh the same in training, so the score is the probability of
the taught pose on a balanced prior. A hand is reported as the taught pose when that
probability reaches :data:`MIN_PROBABILITY` and the built-in model calls the hand ``hand``
or is less sure of its own pose (:func:`decide`): measured on held-out people, that
halves the other hands wrongly given a taught thumbs-up and keeps the four built-in
poses' accuracy within a point (docs/accuracy.md, "Taught poses"). :func:`assess` gives the feedback ``teach``
prints: a held-out check on the recording split by time, and what the shape is confused
with.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from handmap.gestures.landmarks import NUM_HAND_LANDMARKS, HandLandmark
from handmap.gestures.pose_model import CLASSES, PoseModel, shape_features, shipped_model
from handmap.gestures.types import Pose

_PAIR_A, _PAIR_B = np.triu_indices(NUM_HAND_LANDMARKS, k=1)

#: A taught pose's name: as a profile's pose names.
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
#: Labels a taught pose may not take (the built-in ones and handtrack.js's others).
RESERVED_NAMES = frozenset(p.value for p in Pose) | {"face", "tip", "pinchtip"}
#: The negative set shipped in the package.
NEGATIVES_FILE = "taught_negatives.json"
NEGATIVES_FORMAT = 1
#: Probability at which a hand is given the taught pose.
MIN_PROBABILITY = 0.5
#: L2 penalty of the logistic regression (per unit of total sample weight).
L2 = 1e-2
NEWTON_STEPS = 25
#: ``other`` centres nearer the taught hands than this quantile of the taught hands' own
#: distances to their centroid are taken as the same shape and left out of the negatives.
SAME_SHAPE_QUANTILE = 0.9
#: The recording's last share (by time) held out for the feedback's check.
HELD_OUT_SHARE = 0.3
#: Most hands of a pose, and of each other taught pose, one training uses (evenly spaced
#: through the recording): training time stays under a second however much was recorded.
MAX_POSITIVES = 1200
MAX_OTHERS = 300
#: Fewest recorded hands a pose needs.
MIN_SAMPLES = 10
#: A built-in pose (or another taught pose) given to this share of the recording is a
#: confusion the feedback warns of.
CONFUSION_WARNING = 0.2
#: A held-out recall below this is a warning too.
RECALL_WARNING = 0.8


class TaughtPoseError(ValueError):
    """A taught pose that cannot be used (a bad name, too few hands, a bad file)."""


def check_name(name: str) -> None:
    """Raise :class:`TaughtPoseError` unless ``name`` can be a taught pose's name."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TaughtPoseError(f"{name!r} is not a pose name: use lower-case letters, digits, '_' and '-', "
                              "starting with a letter (e.g. thumbs_up)")
    if name in RESERVED_NAMES:
        raise TaughtPoseError(f"'{name}' is a built-in pose; teach your pose under another name")


def canonical(points: np.ndarray) -> np.ndarray:
    """(n, 21, 2) isotropic points with the wrist at the origin, the middle knuckle
    straight up at unit distance and the index knuckle on the same side for every hand:
    the same shape gives the same numbers (what the negative set stores)."""
    pts = np.asarray(points, dtype=float)
    pts = pts - pts[:, :1]
    axis = pts[:, HandLandmark.MIDDLE_MCP]
    length = np.maximum(np.linalg.norm(axis, axis=1), 1e-9)
    c, s = -axis[:, 1] / length, axis[:, 0] / length
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    pts = np.einsum("nij,nkj->nki", rot, pts) / length[:, None, None]
    flip = pts[:, HandLandmark.INDEX_MCP, 0] > pts[:, HandLandmark.PINKY_MCP, 0]
    pts[flip, :, 0] *= -1.0
    return pts


def features(points: np.ndarray, model: PoseModel | None = None) -> np.ndarray:
    """(n, D) features of (n, 21, 2) isotropic points: the shipped model's standardised
    pairwise distances."""
    model = model or shipped_model()
    return (shape_features(np.asarray(points, dtype=float)) - model.mean) / model.scale


@dataclass(frozen=True, eq=False)
class Negatives:
    """The shipped negative set: canonical points and their class (``CLASSES``)."""

    points: np.ndarray  # (m, 21, 2)
    labels: np.ndarray  # (m,) index into CLASSES
    info: dict = field(default_factory=dict)

    def to_json(self) -> str:
        data = np.ascontiguousarray(self.points, dtype="<f2")
        doc = {"format": NEGATIVES_FORMAT, "classes": list(CLASSES), "shape": list(data.shape),
               "points": base64.b64encode(data.tobytes()).decode("ascii"),
               "labels": [int(v) for v in self.labels], "info": self.info}
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Negatives:
        doc = json.loads(text)
        if doc.get("format") != NEGATIVES_FORMAT or tuple(doc.get("classes", ())) != CLASSES:
            raise TaughtPoseError("not a taught-pose negative set this handmap reads")
        raw = np.frombuffer(base64.b64decode(doc["points"]), dtype="<f2").astype(float)
        points = raw.reshape(doc["shape"])
        labels = np.asarray(doc["labels"], dtype=int)
        if points.shape[1:] != (NUM_HAND_LANDMARKS, 2) or len(labels) != len(points):
            raise TaughtPoseError("the taught-pose negative set's arrays do not match")
        return cls(points, labels, doc.get("info") or {})


@functools.cache
def shipped_negatives() -> Negatives:
    """The package's negative set, read once."""
    return Negatives.from_json(resources.files("handmap.gestures").joinpath(NEGATIVES_FILE).read_text())


@dataclass(frozen=True, eq=False)
class TaughtModel:
    """One taught pose's logistic regression over :func:`features`."""

    name: str
    weight: np.ndarray  # (D,)
    bias: float

    def probability(self, feats: np.ndarray) -> np.ndarray:
        """P(taught pose) of (n, D) or (D,) features."""
        z = np.clip(np.asarray(feats) @ self.weight + self.bias, -50.0, 50.0)
        return 1.0 / (1.0 + np.exp(-z))


def fit_logistic(pos: np.ndarray, neg: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and bias of a logistic regression, positives and negatives weighing half
    each, by Newton's method (deterministic, a few ms for hundreds of rows)."""
    x = np.vstack([pos, neg])
    x1 = np.hstack([x, np.ones((len(x), 1))])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    w_row = np.concatenate([np.full(len(pos), 0.5 / len(pos)), np.full(len(neg), 0.5 / len(neg))])
    theta = np.zeros(x1.shape[1])
    penalty = np.full(x1.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(NEWTON_STEPS):
        z = np.clip(x1 @ theta, -50.0, 50.0)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x1.T @ (w_row * (p - y)) + penalty * theta
        hess = (x1.T * (w_row * p * (1 - p))) @ x1 + np.diag(penalty) + 1e-9 * np.eye(x1.shape[1])
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    return theta[:-1], float(theta[-1])


def negative_features(pos: np.ndarray, negatives: Negatives, model: PoseModel | None = None) -> np.ndarray:
    """The negative set's features without the ``other`` centres of the taught shape."""
    feats = features(negatives.points, model)
    centre = pos.mean(axis=0)
    radius = float(np.quantile(np.linalg.norm(pos - centre, axis=1), SAME_SHAPE_QUANTILE))
    same = (negatives.labels == CLASSES.index("hand")) & (np.linalg.norm(feats - centre, axis=1) <= radius)
    return feats[~same]


def _spaced(points: np.ndarray, most: int) -> np.ndarray:
    """At most ``most`` of ``points``, evenly spaced (all of them when there are fewer)."""
    if len(points) <= most:
        return points
    return points[np.linspace(0, len(points) - 1, most).round().astype(int)]


def train(name: str, points: np.ndarray, others: Sequence[np.ndarray] = (), negatives: Negatives | None = None,
          model: PoseModel | None = None) -> TaughtModel:
    """The taught pose ``name`` from its (n, 21, 2) isotropic points, against the shipped
    negatives and ``others`` (the other taught poses' points)."""
    pos = features(_spaced(np.asarray(points), MAX_POSITIVES), model)
    neg = [negative_features(pos, negatives or shipped_negatives(), model)]
    neg += [features(_spaced(np.asarray(o), MAX_OTHERS), model) for o in others if len(o)]
    weight, bias = fit_logistic(pos, np.vstack(neg))
    return TaughtModel(name, weight, bias)


@dataclass(frozen=True, eq=False)
class TaughtSet:
    """The taught poses the classifier knows; empty: none."""

    models: tuple[TaughtModel, ...] = ()

    def __post_init__(self) -> None:
        # For one hand at a time: the standardisation folded into the stacked weights,
        # so every taught pose's logit is one product with the raw distances.
        if self.models:
            model = shipped_model()
            weight = np.stack([m.weight for m in self.models], axis=1) / model.scale[:, None]
            bias = np.array([m.bias for m in self.models]) - (model.mean / model.scale) @ (weight * model.scale[:, None])
            object.__setattr__(self, "_folded", (weight, bias))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def best(self, points: np.ndarray) -> tuple[str, float] | None:
        """The most likely taught pose of one hand's (21, 2) isotropic points, if its
        probability reaches :data:`MIN_PROBABILITY` (the figures of
        :meth:`TaughtModel.probability`, by a faster path for one hand)."""
        if not self.models:
            return None
        weight, bias = self._folded  # type: ignore[attr-defined]
        c = points[:, 0] + 1j * points[:, 1]
        dist = np.abs(c[_PAIR_A] - c[_PAIR_B])
        rms = math.sqrt(float(dist @ dist) / len(dist))
        z = (dist @ weight) / max(rms, 1e-12) + bias
        i = int(np.argmax(z))
        p = 1.0 / (1.0 + math.exp(-min(max(float(z[i]), -50.0), 50.0)))
        return (self.models[i].name, p) if p >= MIN_PROBABILITY else None


def decide(builtin: str, builtin_score: float, taught: tuple[str, float] | None) -> tuple[str, float]:
    """The label and score of a hand: the taught pose when there is one and the built-in
    model says ``hand`` or is less sure of its pose than the taught model of its own."""
    if taught is not None and (builtin == Pose.HAND.value or taught[1] > builtin_score):
        return taught
    return builtin, builtin_score


def build(poses: dict[str, np.ndarray], negatives: Negatives | None = None,
          model: PoseModel | None = None) -> TaughtSet:
    """A :class:`TaughtSet` from each taught pose's points (name order)."""
    names = sorted(poses)
    return TaughtSet(tuple(train(n, poses[n], [poses[o] for o in names if o != n], negatives, model)
                           for n in names))


@dataclass(frozen=True)
class Feedback:
    """What ``teach`` says of a recording."""

    samples: int
    held_out: int  # hands in the held-out (last) part of the recording
    held_out_recall: float  # share of them the pose trained on the rest recognises
    builtin_shares: dict[str, float]  # share of the recording the shipped model gives each pose
    taught_shares: dict[str, float]  # share of the recording another taught pose claims
    negatives_claimed: dict[str, float]  # share of each class's negative centres it claims

    @property
    def warnings(self) -> list[str]:
        out = []
        shares = {**{k: v for k, v in self.builtin_shares.items() if k != Pose.HAND.value}, **self.taught_shares}
        for other, share in sorted(shares.items(), key=lambda kv: -kv[1]):
            if share >= CONFUSION_WARNING:
                out.append(f"looks like {other} in {share:.0%} of frames: bind it in profiles that do not use "
                           f"{other}, or teach a more distinct shape")
        if self.held_out < 1:
            out.append("the recording is too short for a held-out check; record a few seconds more (--add)")
        elif self.held_out_recall < RECALL_WARNING and out:
            out.append(f"recognised in only {self.held_out_recall:.0%} of the recording's last part: where the "
                       "shape it looks like is read with more confidence, that one is reported")
        elif self.held_out_recall < RECALL_WARNING:
            out.append(f"recognised in only {self.held_out_recall:.0%} of the recording's last part: hold the "
                       "shape steadily and record more of it (--add)")
        return out


def assess(name: str, points: np.ndarray, others: dict[str, np.ndarray] | None = None,
           negatives: Negatives | None = None, model: PoseModel | None = None) -> Feedback:
    """Feedback on a recording of ``name`` (points in time order): trained on its first
    part, checked on the last :data:`HELD_OUT_SHARE`; the built-in model's and the other
    taught poses' readings of it; the negatives it would claim."""
    points = np.asarray(points, dtype=float)
    others = {k: v for k, v in (others or {}).items() if k != name}
    model = model or shipped_model()
    negatives = negatives or shipped_negatives()
    n = len(points)
    cut = int(round(n * (1 - HELD_OUT_SHARE)))
    recall, held = 0.0, n - cut
    if cut >= MIN_SAMPLES // 2 and held >= 1:
        early = train(name, points[:cut], list(others.values()), negatives, model)
        late = model.probabilities(shape_features(points[cut:]))
        taught_p = early.probability(features(points[cut:], model))
        recall = float(np.mean([decide(CLASSES[int(np.argmax(q))], float(np.max(q)),
                                       (name, float(p)) if p >= MIN_PROBABILITY else None)[0] == name
                                for q, p in zip(late, taught_p)]))
    else:
        held = 0
    full = train(name, points, list(others.values()), negatives, model)
    predicted = np.argmax(model.probabilities(shape_features(points)), axis=1)
    builtin = {c: float(np.mean(predicted == i)) for i, c in enumerate(CLASSES)}
    taught = {}
    for other, other_points in others.items():
        other_model = train(other, other_points, [points], negatives, model)
        taught[other] = float(np.mean(other_model.probability(features(points, model)) >= MIN_PROBABILITY))
    neg_p = full.probability(features(negatives.points, model)) >= MIN_PROBABILITY
    claimed = {("other shapes" if c == Pose.HAND.value else c): float(np.mean(neg_p[negatives.labels == i]))
               for i, c in enumerate(CLASSES) if np.any(negatives.labels == i)}
    return Feedback(n, held, recall, builtin, taught, claimed)
