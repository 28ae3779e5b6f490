"""Cross-person check of taught poses on the shared keypoints.

    .venv/bin/python scripts/taught_eval.py [--data ../shared/data] [--frames 240] [--quick]

Teaches ``thumbs_up`` from ONE training source's thumbs-up rows (the first ``--frames``
rows in recording order, as ``handmap teach`` would record them), once per training
source that has them, then measures on the held-out test sources (people never seen):
the recall of the taught shape, the share of other hands wrongly given it (thumbs down
apart: the features do not change when a hand turns, so a thumbs down is the same shape
turned over), the taught score's calibration, and the four built-in poses' accuracy with
the taught pose in the classifier against without it.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402

from handmap.gestures.pose_model import CLASSES, shipped_model  # noqa: E402
from handmap.gestures.taught import MIN_PROBABILITY, TaughtSet, decide, features, train  # noqa: E402

THUMBS_UP = re.compile(r"thumb.*up|thu_up|^like$", re.I)
THUMBS_DOWN = re.compile(r"thumb.*down", re.I)
POSES = ("open", "closed", "pinch", "point")


def shape_labels(data: Path) -> dict[tuple[str, int], str]:
    """(source, row) -> the author's own class name."""
    with open(data / "keypoints" / "keypoints.csv", newline="") as f:
        return {(r["source"], int(r["row"])): r["src_label"] for r in csv.DictReader(f)}


def final_labels(taught: TaughtSet, points: np.ndarray, plain: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The label classify gives each hand (``taught.decide``; ``plain``: the taught pose
    whenever its probability reaches MIN_PROBABILITY) and the taught probability."""
    model = shipped_model()
    probs = model.probabilities(features(points) * model.scale + model.mean)
    prob = taught.models[0].probability(features(points))
    name = taught.models[0].name
    labels = [decide(CLASSES[int(np.argmax(q))], 0.0 if plain else float(q.max()),
                     (name, float(p)) if p >= MIN_PROBABILITY else None)[0]
              for q, p in zip(probs, prob)]
    return np.array(labels, dtype=object), prob


def ece(prob: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """Calibration error of P(taught) against the truth, over the hands it is given to
    (score = prob) and those it is not (score = 1 - prob)."""
    score = np.where(prob >= MIN_PROBABILITY, prob, 1 - prob)
    correct = (prob >= MIN_PROBABILITY) == truth
    return accuracy.expected_calibration_error(score, correct, bins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--frames", type=int, default=240, help="rows a teaching takes (8 s at 30 fps)")
    parser.add_argument("--quick", action="store_true", help="one teacher only")
    parser.add_argument("--plain", action="store_true",
                        help="the taught pose wins whenever it reaches MIN_PROBABILITY (the rule decide replaced)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="measure on the test sources (default) or on the other training sources (to choose "
                             "settings without the test sources; their hands made the negative set, so the share "
                             "of other hands given the pose is optimistic there)")
    args = parser.parse_args(argv)
    names = shape_labels(args.data)
    train_set = accuracy.load_keypoints(args.data, "train")
    test = accuracy.load_keypoints(args.data, args.split)
    src_label = np.array([names[(s, int(r))] for s, r in zip(test.sources, test.rows)], dtype=object)
    up_all = np.array([bool(THUMBS_UP.search(s)) for s in src_label])
    down_all = np.array([bool(THUMBS_DOWN.search(s)) for s in src_label])
    truth = np.array(CLASSES, dtype=object)[test.labels]
    posed_all = np.isin(truth, POSES)
    model = shipped_model()
    base = np.array(CLASSES, dtype=object)[np.argmax(model.probabilities(
        features(test.points) * model.scale + model.mean), axis=1)]
    base_acc = float(np.mean(base[posed_all] == truth[posed_all]))
    print(f"{args.split} sources: {len(set(test.sources))}, hands {len(test.labels)}, thumbs up {int(up_all.sum())} "
          f"(from {len(set(test.sources[up_all]))} sources), thumbs down {int(down_all.sum())}")
    print(f"built-in accuracy over the four poses without taught poses: {base_acc:.2%}")
    train_up = np.array([bool(THUMBS_UP.search(names[(s, int(r))])) for s, r in zip(train_set.sources, train_set.rows)])
    teachers = sorted({s for s in train_set.sources[train_up]},
                      key=lambda s: -int(np.sum(train_up & (train_set.sources == s))))
    teachers = [s for s in teachers if np.sum(train_up & (train_set.sources == s)) >= args.frames // 2]
    if args.quick:
        teachers = teachers[:1]
    print(f"\n{'taught from (one source)':<48} {'rows':>5} {'s':>5} {'recall':>7} {'others':>7} "
          f"{'down':>6} {'ece':>6} {'4-pose acc':>10}")
    rows = []
    for teacher in teachers:
        mask = train_up & (train_set.sources == teacher)
        order = np.argsort(train_set.rows[mask])
        points = train_set.points[mask][order][: args.frames]
        start = time.perf_counter()
        taught = TaughtSet((train("thumbs_up", points),))
        seconds = time.perf_counter() - start
        label, prob = final_labels(taught, test.points, args.plain)
        given = label == "thumbs_up"
        # On the training split the teacher's own hands are not a measure.
        keep = test.sources != teacher if args.split == "train" else np.ones(len(given), dtype=bool)
        up, down, posed = up_all & keep, down_all & keep, posed_all & keep
        rest = ~up_all & ~down_all & keep
        recall = float(np.mean(given[up]))
        others = float(np.mean(given[rest]))
        down_rate = float(np.mean(given[down])) if down.any() else float("nan")
        acc = float(np.mean(label[posed] == truth[posed]))
        calib = ece(prob[up | rest], up[up | rest])
        rows.append((recall, others, acc))
        print(f"{teacher:<48} {len(points):>5} {seconds:>5.2f} {recall:>7.1%} {others:>7.2%} {down_rate:>6.1%} "
              f"{calib:>6.3f} {acc:>10.2%}")
        per = {s: float(np.mean(given[up & (test.sources == s)])) for s in sorted(set(test.sources[up]))}
        if args.split == "train":
            base_acc_here = float(np.mean(base[posed] == truth[posed]))
            print(f"    four-pose accuracy without the taught pose on these sources: {base_acc_here:.2%}")
        print("    recall per test source: " + ", ".join(f"{s.split('/')[0]} {v:.0%}" for s, v in per.items()))
    r = np.array(rows)
    print(f"\nmean over {len(rows)} teachers: recall {r[:, 0].mean():.1%}, other hands given it {r[:, 1].mean():.2%}, "
          f"four-pose accuracy {r[:, 2].mean():.2%} (without: {base_acc:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
