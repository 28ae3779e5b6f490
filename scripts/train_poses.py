"""Train the pose model on the keypoint set's training sources and print its evaluation.

    .venv/bin/python scripts/train_poses.py [--data ../shared/data] [--seed 0]
        [--out gestures/pose_model.json] [--cv] [--no-test]

Reads ``keypoints/keypoints.csv`` (only the sources ``sources.csv`` puts in ``train``),
makes the rotation-, mirror- and scale-invariant features of ``gestures/pose_model.py``
from augmented copies of each row (foreshortening along a random axis, a small
perspective, landmark noise: what those invariances do not cover), and trains a small
numpy MLP with class-balanced cross-entropy. Leave-one-source-out cross-validation over
the training sources (``--cv``) chooses nothing on the test sources; its out-of-fold
logits fit the calibration temperature. The final model is trained on all training
sources, written to ``--out`` and evaluated once on the held-out test sources.

Deterministic: BLAS runs single-threaded and every random draw comes from ``--seed``, so
the same data and seed give the same weights file, byte for byte.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: single-threaded sums are reproducible

import argparse  # noqa: E402
import ast  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, fields, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402

from handmap.gestures.landmarks import FINGER_JOINTS, HandLandmark  # noqa: E402
from handmap.gestures.pose_model import CLASSES, PoseModel, shape_features, softmax  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "gestures" / "pose_model.json"


@dataclass(frozen=True)
class Settings:
    """Model and training hyper-parameters (chosen by cross-validation over training sources)."""

    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 30
    batch: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    #: Foreshortening: one random axis shrunk by a factor drawn from [FORESHORTEN, 1].
    foreshorten: float = 0.5
    #: Perspective: p / (1 + k.p) with k's components drawn within +-PERSPECTIVE.
    perspective: float = 0.25
    #: Landmark noise, in units of the row's RMS landmark distance from the centre.
    noise: float = 0.02
    #: Per-source weight: each source's rows weigh as a source of at most this many rows.
    source_cap: int = 1500
    #: Weight of the ``hand`` (other) class relative to each pose's.
    other_weight: float = 0.5
    #: Extra ``hand`` rows per epoch, as a share of the rows: halfway blends of two hands
    #: in different poses (half-bent fingers, a thumb halfway to the index), which are
    #: none of the four poses.
    blends: float = 0.0
    #: Finger curl noise: each finger joint bent in the image plane by an angle drawn
    #: from a normal distribution of this many radians (relaxed, half-bent fingers).
    curl: float = 0.0
    #: Networks trained from different seeds whose logits are averaged; shipped as one
    #: wider network (first layers side by side, later ones block-diagonal).
    members: int = 1
    #: Label smoothing: this share of each row's target spread evenly over the classes.
    label_smoothing: float = 0.0
    #: Hard negatives: from the second epoch on, ``hand`` (other) rows that the network
    #: (as it stands at the start of the epoch) reads as a pose weigh 1 + this much more.
    hard_negatives: float = 0.0
    #: Added to the trained network's ``hand`` logit (a prior towards reading no pose).
    hand_bias: float = 0.0
    #: Rows of the labelled photos (source :data:`PHOTO_SOURCE`, added by
    #: scripts/photo_folds.py) each weigh this many times a training row of their class.
    photo_weight: float = 0.0

    def __repr__(self) -> str:
        # The fields added in the December round's second pass are left out while at their
        # defaults, so a default run writes the same settings string (and weights file) as before.
        shown = [f for f in fields(self) if f.name not in _QUIET or getattr(self, f.name) != f.default]
        return f"Settings({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"


_QUIET = ("label_smoothing", "hard_negatives", "hand_bias", "photo_weight")
#: The source name of the labelled photos' hands when they join the training rows.
PHOTO_SOURCE = "labelled photos"


def canonical(points: np.ndarray) -> np.ndarray:
    """(n, 21, 2) points with the wrist at the origin, the middle knuckle straight up at
    unit distance, and the index knuckle on the same side for every hand."""
    pts = points - points[:, :1]
    axis = pts[:, HandLandmark.MIDDLE_MCP]
    length = np.maximum(np.linalg.norm(axis, axis=1), 1e-9)
    c, s = axis[:, 1] / length, axis[:, 0] / length
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    pts = np.einsum("nij,nkj->nki", rot, pts) / length[:, None, None]
    flip = pts[:, HandLandmark.INDEX_MCP, 0] < pts[:, HandLandmark.PINKY_MCP, 0]
    pts[flip, :, 0] *= -1.0
    return pts


def blends(keypoints: accuracy.KeypointSet, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` halfway blends of two posed hands with different poses (see Settings.blends)."""
    posed = np.flatnonzero(keypoints.labels != CLASSES.index("hand"))
    a = rng.choice(posed, count)
    b = rng.choice(posed, count)
    same = keypoints.labels[a] == keypoints.labels[b]
    b[same] = rng.choice(posed, int(same.sum()))  # a few stay alike: left as they come
    keep = keypoints.labels[a] != keypoints.labels[b]
    t = rng.uniform(0.35, 0.65, (count, 1, 1))
    out = (1 - t) * canonical(keypoints.points[a]) + t * canonical(keypoints.points[b])
    return out[keep]


def curl(points: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """(n, 21, 2) points with every finger joint bent in the image plane by a random
    angle (normal, ``sigma`` radians): the joint's outer part turns about the joint."""
    pts = points.copy()
    n = len(pts)
    for chain in FINGER_JOINTS.values():
        for k in range(len(chain) - 1):
            angle = rng.normal(0.0, sigma, n)
            c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
            pivot = pts[:, chain[k]]
            outer = list(chain[k + 1 :])
            rel = pts[:, outer] - pivot[:, None]
            x, y = rel[..., 0], rel[..., 1]
            pts[:, outer] = pivot[:, None] + np.stack([c * x - s * y, s * x + c * y], -1)
    return pts


def augment(points: np.ndarray, rng: np.random.Generator, settings: Settings) -> np.ndarray:
    """Webcam-like variations of (n, 21, 2) isotropic points."""
    n = len(points)
    if settings.curl > 0:
        points = curl(points, rng, settings.curl)
    pts = points - points.mean(axis=1, keepdims=True)
    spread = np.sqrt((pts**2).sum(axis=2).mean(axis=1))[:, None, None]
    pts = pts / np.maximum(spread, 1e-9)
    theta = rng.uniform(0.0, np.pi, n)
    shrink = rng.uniform(settings.foreshorten, 1.0, n)
    c, s = np.cos(theta), np.sin(theta)
    # R diag(shrink, 1) R^T: shrink along the direction theta.
    a = c * c * shrink + s * s
    b = c * s * (shrink - 1.0)
    d = s * s * shrink + c * c
    m = np.stack([np.stack([a, b], -1), np.stack([b, d], -1)], -2)
    pts = np.einsum("nij,nkj->nki", m, pts)
    k = rng.uniform(-settings.perspective, settings.perspective, (n, 1, 2))
    pts = pts / (1.0 + (pts * k).sum(axis=2, keepdims=True))
    pts = pts + rng.normal(0.0, settings.noise, pts.shape)
    return pts


def sample_weights(labels: np.ndarray, sources: np.ndarray, settings: Settings) -> np.ndarray:
    """Class-balanced weights, with no one source dominating (mean weight 1). Rows of the
    labelled photos, if any, each weigh ``settings.photo_weight`` times the mean weight
    of the keypoint rows of their class."""
    photo = sources == PHOTO_SOURCE
    if photo.any():
        w = np.zeros(len(labels))
        w[~photo] = sample_weights(labels[~photo], sources[~photo], settings)
        for c in range(len(CLASSES)):
            keypoint_rows = ~photo & (labels == c)
            if keypoint_rows.any():
                w[photo & (labels == c)] = settings.photo_weight * w[keypoint_rows].mean()
        return w * len(w) / w.sum()
    w = np.ones(len(labels))
    for source in set(sources):
        mask = sources == source
        w[mask] *= min(1.0, settings.source_cap / mask.sum())
    for c in range(len(CLASSES)):
        mask = labels == c
        if mask.any():
            w[mask] /= w[mask].sum()
    w[labels == CLASSES.index("hand")] *= settings.other_weight
    return w * len(w) / w.sum()


def onehot_of(labels: np.ndarray) -> np.ndarray:
    return np.eye(len(CLASSES))[labels]


def _init(rng: np.random.Generator, sizes: list[int]) -> list[list[np.ndarray]]:
    return [[rng.normal(0.0, np.sqrt(2.0 / a), (a, b)), np.zeros(b)] for a, b in zip(sizes, sizes[1:])]


def train(
    keypoints: accuracy.KeypointSet, settings: Settings, seed: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Feature standardisation and MLP layers trained on ``keypoints``: one network, or
    ``settings.members`` networks (seeds ``seed``, ``seed + 1000``...) merged into one
    whose logits are their mean."""
    members = [train_one(keypoints, settings, seed + 1000 * i) for i in range(settings.members)]
    if len(members) == 1:
        trained = members[0]
    else:
        mean, scale, _ = members[0]
        trained = mean, scale, merge_layers([layers for _, _, layers in members])
    if settings.hand_bias:
        mean, scale, layers = trained
        weight, bias = layers[-1]
        bias = bias.copy()
        bias[CLASSES.index("hand")] += settings.hand_bias
        trained = mean, scale, [*layers[:-1], (weight, bias.astype(np.float32).astype(float))]
    return trained


def merge_layers(members: list[list[tuple[np.ndarray, np.ndarray]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One network computing the mean logits of same-shaped networks on the same input."""
    merged = [(np.hstack([m[0][0] for m in members]), np.concatenate([m[0][1] for m in members]))]
    for i in range(1, len(members[0])):
        rows = [m[i][0].shape[0] for m in members]
        cols = [m[i][0].shape[1] for m in members]
        last = i == len(members[0]) - 1
        if last:
            weight = np.vstack([m[i][0] for m in members]) / len(members)
            bias = np.mean([m[i][1] for m in members], axis=0)
        else:
            weight = np.zeros((sum(rows), sum(cols)))
            r = c = 0
            for m, nr, nc in zip(members, rows, cols):
                weight[r : r + nr, c : c + nc] = m[i][0]
                r, c = r + nr, c + nc
            bias = np.concatenate([m[i][1] for m in members])
        merged.append((weight.astype(np.float32).astype(float), bias.astype(np.float32).astype(float)))
    return merged


def activations(params, x: np.ndarray) -> list[np.ndarray]:
    """The network's input and each layer's output (ReLU between layers, logits last)."""
    acts = [x]
    for i, (weight, bias) in enumerate(params):
        h = acts[-1] @ weight + bias
        acts.append(np.maximum(h, 0.0) if i < len(params) - 1 else h)
    return acts


def train_one(
    keypoints: accuracy.KeypointSet, settings: Settings, seed: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Feature standardisation and one MLP's layers trained on ``keypoints`` (Adam, minibatches)."""
    rng = np.random.default_rng(seed)
    plain = shape_features(keypoints.points)
    mean, scale = plain.mean(axis=0), plain.std(axis=0) + 1e-6
    weights = sample_weights(keypoints.labels, keypoints.sources, settings)
    sizes = [plain.shape[1], *settings.hidden, len(CLASSES)]
    params = _init(rng, sizes)
    m1 = [[np.zeros_like(p) for p in layer] for layer in params]
    m2 = [[np.zeros_like(p) for p in layer] for layer in params]
    beta1, beta2, step = 0.9, 0.999, 0
    n = len(plain)
    hand = CLASSES.index("hand")
    blend_weight = float(weights[keypoints.labels == hand].mean()) if (keypoints.labels == hand).any() else 1.0
    for epoch in range(settings.epochs):
        points, labels, w_all = keypoints.points, keypoints.labels, weights
        if settings.blends > 0:
            extra = blends(keypoints, int(settings.blends * n), rng)
            points = np.concatenate([points, extra])
            labels = np.concatenate([labels, np.full(len(extra), hand)])
            w_all = np.concatenate([weights, np.full(len(extra), blend_weight)])
        x_all = (shape_features(augment(points, rng, settings)) - mean) / scale
        y_all = onehot_of(labels)
        if settings.label_smoothing > 0:
            y_all = y_all * (1.0 - settings.label_smoothing) + settings.label_smoothing / len(CLASSES)
        if settings.hard_negatives > 0 and epoch > 0:
            others = np.flatnonzero(labels == hand)
            w_all = w_all.copy()
            w_all[others[np.argmax(activations(params, x_all[others])[-1], axis=1) != hand]] *= 1.0 + settings.hard_negatives
        order = rng.permutation(len(labels))
        lr = settings.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / settings.epochs))
        for start in range(0, len(order), settings.batch):
            idx = order[start : start + settings.batch]
            x, y, w = x_all[idx], y_all[idx], w_all[idx]
            acts = activations(params, x)
            grad = (softmax(acts[-1]) - y) * (w / w.sum())[:, None]
            step += 1
            for i in range(len(params) - 1, -1, -1):
                gw = acts[i].T @ grad + settings.weight_decay * params[i][0]
                gb = grad.sum(axis=0)
                if i > 0:
                    grad = (grad @ params[i][0].T) * (acts[i] > 0)
                for j, g in enumerate((gw, gb)):
                    m1[i][j] = beta1 * m1[i][j] + (1 - beta1) * g
                    m2[i][j] = beta2 * m2[i][j] + (1 - beta2) * g * g
                    hat1 = m1[i][j] / (1 - beta1**step)
                    hat2 = m2[i][j] / (1 - beta2**step)
                    params[i][j] = params[i][j] - lr * hat1 / (np.sqrt(hat2) + 1e-8)
    layers = [(w.astype(np.float32).astype(float), b.astype(np.float32).astype(float)) for w, b in params]
    return mean.astype(np.float32).astype(float), scale.astype(np.float32).astype(float), layers


def as_model(trained, temperature: float = 1.0, info: dict | None = None) -> PoseModel:
    mean, scale, layers = trained
    return PoseModel(mean=mean, scale=scale, layers=tuple(layers), temperature=temperature, info=info)


def source_folds(keypoints: accuracy.KeypointSet, folds: int) -> list[list[str]]:
    """Whole sources dealt to ``folds`` folds, largest first, back and forth (0 = one per source)."""
    sizes: dict[str, int] = {}
    for source in keypoints.sources:
        sizes[source] = sizes.get(source, 0) + 1
    ordered = sorted(sizes, key=lambda s: (-sizes[s], s))
    if folds <= 0 or folds >= len(ordered):
        return [[s] for s in ordered]
    out: list[list[str]] = [[] for _ in range(folds)]
    for i, source in enumerate(ordered):
        turn, pos = divmod(i, folds)
        out[pos if turn % 2 == 0 else folds - 1 - pos].append(source)
    return out


def cross_validate(keypoints: accuracy.KeypointSet, settings: Settings, seed: int, folds: int) -> np.ndarray:
    """Out-of-fold logits: each fold of whole training sources predicted by a model trained on the others."""
    logits = np.zeros((len(keypoints.labels), len(CLASSES)))
    for fold in source_folds(keypoints, folds):
        held = np.isin(keypoints.sources, fold)
        model = as_model(train(keypoints.subset(~held), settings, seed))
        logits[held] = model.logits(shape_features(keypoints.points[held]))
    return logits


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (golden-section on log T)."""

    def nll(log_t: float) -> float:
        p = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12)))

    lo, hi = np.log(0.2), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return round(float(np.exp((lo + hi) / 2)), 4)


def data_digest(keypoints: accuracy.KeypointSet) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(keypoints.points).tobytes())
    digest.update(np.ascontiguousarray(keypoints.labels).tobytes())
    return digest.hexdigest()[:16]


def settings_from(items: list[str]) -> Settings:
    """The default settings with ``NAME=VALUE`` items (Python literals, ``--set``) applied."""
    settings = Settings()
    for item in items:
        name, _, value = item.partition("=")
        settings = replace(settings, **{name: ast.literal_eval(value)})
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cv", action="store_true", help="also print the cross-validation figures")
    parser.add_argument("--no-test", action="store_true", help="do not evaluate on the test sources")
    parser.add_argument("--temperature", type=float, help="skip the CV and use this temperature")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting (Python literal)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of whole sources (0: one per source)")
    args = parser.parse_args(argv)
    if not (args.data / "keypoints" / "keypoints.csv").exists():
        print(f"no keypoints at {args.data / 'keypoints'}: pass --data DIR (the shared data folder)", file=sys.stderr)
        return 2
    settings = settings_from(args.set)
    started = time.monotonic()
    train_set = accuracy.load_keypoints(args.data, "train")
    print(f"training rows: {len(train_set.labels)} from {len(set(train_set.sources))} sources; {settings}")
    info: dict = {"seed": args.seed, "settings": repr(settings), "training_rows": int(len(train_set.labels))}
    info["training_data_sha256"] = data_digest(train_set)
    temperature = args.temperature
    if temperature is None:
        oof = cross_validate(train_set, settings, args.seed, args.folds)
        temperature = fit_temperature(oof, train_set.labels)
        raw = accuracy.keypoint_report(softmax(oof), train_set)
        calibrated = accuracy.keypoint_report(softmax(oof / temperature), train_set)
        print(f"{args.folds}-fold by source ECE: {raw.ece:.3f} raw, {calibrated.ece:.3f} at temperature {temperature}")
        if args.cv:
            print(accuracy.format_keypoint_report(calibrated, f"cross-validation, {args.folds} folds of whole training sources:"))
        info["cv_accuracy"] = round(calibrated.accuracy, 4)
        info["cv_ece"] = round(calibrated.ece, 4)
    info["temperature"] = temperature
    model = as_model(train(train_set, settings, args.seed), temperature, info)
    args.out.write_text(model.to_json())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {time.monotonic() - started:.0f} s")
    if not args.no_test:
        test_set = accuracy.load_keypoints(args.data, "test")
        probs = PoseModel.from_json(args.out.read_text()).probabilities(shape_features(test_set.points))
        print(accuracy.format_keypoint_report(accuracy.keypoint_report(probs, test_set), "held-out test sources:"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
