"""Write the taught poses' negative set: cluster centres of the keypoints' training hands.

    .venv/bin/python scripts/taught_negatives.py [--data ../shared/data] [--seed 0]
        [--per-pose 48] [--other 160] [--out gestures/taught_negatives.json]

Reads only the training sources of ``keypoints/keypoints.csv``. Per class (open, closed,
pinch, point, and the ``other`` shapes), k-means in the taught poses' feature space
(``gestures/taught.py``) with every source's rows weighing alike; each centre is stored
as the mean of its members' canonical points (an average of many rows, never a row).
Deterministic: same data and seed, same file, byte for byte.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402

from handmap.gestures.pose_model import CLASSES  # noqa: E402
from handmap.gestures.taught import Negatives, canonical, features  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "gestures" / "taught_negatives.json"
#: Fewest rows a centre averages (smaller clusters are dropped: no centre is near one row).
MIN_MEMBERS = 5
ITERATIONS = 30


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster index of each row (k-means++ start, Lloyd iterations)."""
    centres = [x[rng.integers(len(x))]]
    d2 = np.sum((x - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
        d2 = np.minimum(d2, np.sum((x - centres[-1]) ** 2, axis=1))
    c = np.array(centres)
    assign = np.zeros(len(x), dtype=int)
    for _ in range(ITERATIONS):
        dist = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
        assign = np.argmin(dist, axis=1)
        for j in range(k):
            members = assign == j
            if members.any():
                c[j] = x[members].mean(axis=0)
    return assign


def balanced(sources: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices with at most ``cap`` rows per source (each source weighs about alike)."""
    keep = []
    for source in sorted(set(sources)):
        rows = np.flatnonzero(sources == source)
        keep.append(np.sort(rng.choice(rows, min(cap, len(rows)), replace=False)))
    return np.concatenate(keep)


def build(keypoints: accuracy.KeypointSet, per_pose: int, other: int, seed: int) -> Negatives:
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for index, name in enumerate(CLASSES):
        chosen = keypoints.subset(keypoints.labels == index)
        rows = balanced(chosen.sources, 600, rng)
        canon = canonical(chosen.points[rows])
        assign = kmeans(features(canon), other if name == "hand" else per_pose, rng)
        for j in range(assign.max() + 1):
            members = assign == j
            if members.sum() >= MIN_MEMBERS:
                points.append(canon[members].mean(axis=0))
                labels.append(index)
    info = {"data": "keypoints training sources", "seed": seed, "per_pose": per_pose, "other": other,
            "min_members": MIN_MEMBERS}
    return Negatives(np.array(points), np.array(labels), info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-pose", type=int, default=48)
    parser.add_argument("--other", type=int, default=160)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    negatives = build(accuracy.load_keypoints(args.data, "train"), args.per_pose, args.other, args.seed)
    args.out.write_text(negatives.to_json())
    counts = {c: int(np.sum(negatives.labels == i)) for i, c in enumerate(CLASSES)}
    print(f"wrote {args.out}: {len(negatives.labels)} centres {counts}, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
