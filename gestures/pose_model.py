"""The learned pose model: a hand's 2D shape to open/closed/pinch/point/hand probabilities.

Features: the 210 distances between every pair of the 21 landmarks, in isotropic image
coordinates (x times the aspect ratio), divided by their root mean square. Distances do
not change when the hand moves, turns in the image plane or is mirrored (a left hand is a
mirrored right hand), and the division removes its size, so those invariances hold by
construction rather than by augmentation. Depth is not used: the training data
(``../shared/data/keypoints``) has none.

Model: a small multilayer perceptron (ReLU hidden layers, softmax out) whose logits are
divided by a temperature fitted on out-of-fold predictions, so the probability of the
label given is calibrated. Weights live in ``pose_model.json`` next to this module (base64
little-endian float32 arrays, no timestamps), written by ``scripts/train_poses.py``.
Inference is numpy only.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from handmap.gestures.landmarks import NUM_HAND_LANDMARKS

#: The model's outputs, in order; ``hand`` is anything that is none of the four poses.
CLASSES = ("open", "closed", "pinch", "point", "hand")
#: The weights file shipped in the package.
WEIGHTS_FILE = "pose_model.json"
#: Version of the weights file's layout.
FORMAT = 1
#: Name of the feature set the weights were trained on (checked at load).
FEATURES = "pairwise-2d-rms"

_PAIR_A, _PAIR_B = np.triu_indices(NUM_HAND_LANDMARKS, k=1)
#: Number of features: one per landmark pair.
NUM_FEATURES = len(_PAIR_A)


class ModelFileError(ValueError):
    """A weights file that is not a pose model this code can run."""


def shape_features(points: np.ndarray) -> np.ndarray:
    """Pairwise landmark distances over their root mean square.

    ``points``: (21, 2) or (n, 21, 2) isotropic 2D coordinates. Returns (210,) or
    (n, 210). A hand collapsed to a point gives zeros.
    """
    pts = np.asarray(points, dtype=float)
    d = pts[..., _PAIR_A, :] - pts[..., _PAIR_B, :]
    dist = np.sqrt(np.einsum("...ij,...ij->...i", d, d))
    rms = np.sqrt(np.mean(dist * dist, axis=-1, keepdims=True))
    return dist / np.maximum(rms, 1e-12)


def _encode(array: np.ndarray) -> dict:
    data = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii")}


def _decode(blob: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(blob["data"]), dtype="<f4")
    return raw.reshape(blob["shape"]).astype(float)


@dataclass(frozen=True, eq=False)
class PoseModel:
    """Standardisation, MLP layers and calibration temperature of the pose model."""

    mean: np.ndarray  # (NUM_FEATURES,) feature means over the training rows
    scale: np.ndarray  # (NUM_FEATURES,) feature standard deviations
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # (weight (in, out), bias (out,))
    temperature: float  # logits are divided by it (fitted out of fold)
    classes: tuple[str, ...] = CLASSES
    info: dict | None = None  # how it was trained and measured (not used to predict)

    def __post_init__(self) -> None:
        # For one hand at a time: the standardisation folded into the first layer and
        # the temperature into the last, so a prediction is three small products.
        (w0, b0), *rest = self.layers
        first = (w0 / self.scale[:, None], b0 - (self.mean / self.scale) @ w0)
        folded = [first, *rest]
        w_last, b_last = folded[-1]
        folded[-1] = (w_last / self.temperature, b_last / self.temperature)
        object.__setattr__(self, "_folded", tuple(folded))

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated logits for (n, NUM_FEATURES) or (NUM_FEATURES,) features."""
        h = (np.asarray(features, dtype=float) - self.mean) / self.scale
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            h = h @ weight + bias
            if i < last:
                h = np.maximum(h, 0.0)
        return h

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities, in :data:`CLASSES` order."""
        return softmax(self.logits(features) / self.temperature)

    def to_json(self) -> str:
        """The weights file's text (deterministic: same arrays, same bytes)."""
        doc = {
            "format": FORMAT,
            "features": FEATURES,
            "classes": list(self.classes),
            "temperature": round(float(self.temperature), 6),
            "mean": _encode(self.mean),
            "scale": _encode(self.scale),
            "layers": [{"weight": _encode(w), "bias": _encode(b)} for w, b in self.layers],
            "info": self.info or {},
        }
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> PoseModel:
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT or doc.get("features") != FEATURES:
                raise ModelFileError(
                    f"pose model format {doc.get('format')!r}/{doc.get('features')!r}, expected {FORMAT}/{FEATURES}"
                )
            if tuple(doc["classes"]) != CLASSES:
                raise ModelFileError(f"pose model classes {doc['classes']}, expected {list(CLASSES)}")
            layers = tuple((_decode(layer["weight"]), _decode(layer["bias"])) for layer in doc["layers"])
            model = cls(
                mean=_decode(doc["mean"]),
                scale=_decode(doc["scale"]),
                layers=layers,
                temperature=float(doc["temperature"]),
                info=doc.get("info") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"not a pose model file: {exc}") from None
        sizes = [NUM_FEATURES] + [w.shape[1] for w, _ in layers]
        if model.mean.shape != (NUM_FEATURES,) or any(
            w.shape != (a, b) or bias.shape != (b,) for (w, bias), a, b in zip(layers, sizes, sizes[1:])
        ) or sizes[-1] != len(CLASSES):
            raise ModelFileError("pose model layer shapes do not chain from the features to the classes")
        return model


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def load_model(path: str | Path | None = None) -> PoseModel:
    """The pose model in ``path``, or the one shipped in the package."""
    if path is None:
        return shipped_model()
    return PoseModel.from_json(Path(path).read_text())


@functools.cache
def shipped_model() -> PoseModel:
    """The package's pose model, read once."""
    text = resources.files("handmap.gestures").joinpath(WEIGHTS_FILE).read_text()
    return PoseModel.from_json(text)


def pair_index(a: int, b: int) -> int:
    """Where the distance between landmarks ``a`` and ``b`` is among the features."""
    return int(_PAIR_POSITION[min(a, b), max(a, b)])


_PAIR_POSITION = np.full((NUM_HAND_LANDMARKS, NUM_HAND_LANDMARKS), -1, dtype=np.intp)
_PAIR_POSITION[_PAIR_A, _PAIR_B] = np.arange(NUM_FEATURES)


def pair_distances(points: np.ndarray) -> np.ndarray:
    """The 210 raw distances between every pair of one hand's (21, 2) isotropic points,
    in :func:`shape_features`' order but not yet divided by their root mean square."""
    c = points[:, 0] + 1j * points[:, 1]
    return np.abs(c[_PAIR_A] - c[_PAIR_B])


def predict(model: PoseModel, points: np.ndarray) -> tuple[str, float]:
    """The most likely class of one hand's (21, 2) isotropic points and its probability.

    The same figures as :meth:`PoseModel.probabilities` of :func:`shape_features`, by a
    faster path for a single hand (distances as complex moduli, folded layers).
    """
    return predict_distances(model, pair_distances(points))


def predict_distances(model: PoseModel, dist: np.ndarray) -> tuple[str, float]:
    """:func:`predict` from one hand's :func:`pair_distances`."""
    probs = probabilities_of_distances(model, dist)
    best = probs.index(max(probs))
    return model.classes[best], probs[best]


def probabilities_of_distances(model: PoseModel, dist: np.ndarray) -> list[float]:
    """One hand's calibrated class probabilities (:data:`CLASSES` order) from its
    :func:`pair_distances`: the single-hand path of :meth:`PoseModel.probabilities`."""
    rms = math.sqrt(float(dist @ dist) / NUM_FEATURES)
    layers = model._folded  # type: ignore[attr-defined]
    w0, b0 = layers[0]
    h = dist @ w0
    h *= 1.0 / max(rms, 1e-12)
    h += b0
    for weight, bias in layers[1:]:
        np.maximum(h, 0.0, out=h)
        h = h @ weight
        h += bias
    # Five logits: the softmax in plain Python is cheaper than numpy's calls.
    logits = h.tolist()
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]
