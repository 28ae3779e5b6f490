"""Choose the pose geometry veto's cuts (``POSE_VETO`` in gestures/poses.py) on the training sources.

    .venv/bin/python scripts/veto_cuts.py [--data ../shared/data] [--seed 0] [--check]

The pose model can read a hand as a pose its own finger states contradict (a typing hand
as point, a claw as open). The veto gives such a reading to ``hand``: the pose's support
is the log-odds of its weakest finger-state condition in the image plane
(``gestures.poses.pose_support``), and a reading whose support is under its pose's cut is
not that pose. This script chooses the cuts by the rule fixed before the first run
(docs/accuracy.md, Poses): out-of-fold predictions over whole training sources (the
training script's folds, settings, seed and temperature), read as ``classify`` reads them
(the folded-thumb rule first); per pose, the largest cut in steps of 0.25 that costs that
pose at most half a point of recall. It prints the cuts and the out-of-fold figures
without and with them. The test sources are never loaded. About 80 s (the cross-validation).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_poses as tp  # noqa: E402  (sets the BLAS thread variables before numpy loads)

# isort: split
import accuracy  # noqa: E402
import numpy as np  # noqa: E402

from handmap.gestures.pose_model import softmax  # noqa: E402
from handmap.gestures.poses import POSE_VETO, folded_thumbs_not_open, vetoed  # noqa: E402

#: The rule: per pose, the largest cut on this grid costing at most this much recall.
RECALL_BUDGET = 0.005
GRID = tuple(float(c) for c in np.arange(-12.0, 12.0 + 1e-9, 0.25))


def choose_cuts(probs: np.ndarray, keypoints: accuracy.KeypointSet, budget: float = RECALL_BUDGET,
                grid: Sequence[float] = GRID) -> dict[str, float]:
    """Per pose, the largest cut of ``grid`` whose veto alone costs that pose at most
    ``budget`` of recall on ``keypoints`` (``probs``: their readings before any veto). A
    pose with no labelled hands gets no cut."""
    before = accuracy.keypoint_report(probs, keypoints).recall
    cuts = {}
    for pose in (p for p in POSE_VETO if p in before):
        allowed = [cut for cut in grid
                   if before[pose] - accuracy.keypoint_report(vetoed(probs.copy(), keypoints.points, {pose: cut}),
                                                              keypoints).recall[pose] <= budget + 1e-12]
        cuts[pose] = max(allowed) if allowed else min(grid)
    return cuts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="exit 1 unless the cuts are the shipped ones")
    args = parser.parse_args(argv)
    if not (args.data / "keypoints" / "keypoints.csv").exists():
        print(f"no keypoints at {args.data / 'keypoints'}: pass --data DIR (the shared data folder)", file=sys.stderr)
        return 2
    started = time.monotonic()
    train_set = accuracy.load_keypoints(args.data, "train")
    settings = tp.Settings()
    oof = tp.cross_validate(train_set, settings, args.seed, 5)
    probs = folded_thumbs_not_open(softmax(oof / tp.fit_temperature(oof, train_set.labels)), train_set.points)
    cuts = choose_cuts(probs, train_set)
    print(f"out of fold over whole training sources ({len(train_set.labels)} rows, seed {args.seed}, "
          f"{time.monotonic() - started:.0f} s); per pose, the largest cut costing at most "
          f"{RECALL_BUDGET:.1%} of its recall:")
    print("  " + ", ".join(f"{pose} {cut:g}" for pose, cut in cuts.items()))
    print(accuracy.format_keypoint_report(accuracy.keypoint_report(probs, train_set), "without the veto:"))
    print(accuracy.format_keypoint_report(accuracy.keypoint_report(vetoed(probs.copy(), train_set.points, cuts), train_set),
                                          "with the veto:"))
    if args.check and cuts != dict(POSE_VETO):
        print(f"the shipped cuts are {dict(POSE_VETO)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
