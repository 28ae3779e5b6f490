"""Other model families under the pose model's own cross-validation (training sources only).

    .venv/bin/pip install scikit-learn==1.9.1          # or: pip install -e ".[compare]"
    .venv/bin/python scripts/compare_families.py --family {mlp,logreg,hgb} --seed S
        [--copies K] [--param NAME=VALUE ...] [--results FILE] [--data DIR]
    .venv/bin/python scripts/compare_families.py --summary [--results FILE]

How the pose model's family was chosen (docs/accuracy.md, Poses: the model family). Every
part of the protocol is ``scripts/train_poses.py``'s own, imported: the training split
only (the test sources are never loaded), the 5 folds of whole sources, the features
(``shape_features``), the augmentation and the class/source weights of the default
settings, one temperature fitted on the out-of-fold logits, and the figures of
``scripts/accuracy.py`` (the model alone, without the folded-thumb rule).

``mlp`` is the shipped network through ``train_poses.cross_validate``. The others are
trained per fold on ``--copies`` augmented copies of the fold's training rows (the MLP
draws a fresh copy in each of its epochs), each copy carrying its rows' weights; held-out
rows go in unaugmented. Logits: logistic regression's decision function, gradient
boosting's raw scores. scikit-learn is needed here only: it is no dependency of handmap
(the optional extra ``compare``). Each run appends one JSON line to ``--results``;
``--summary`` prints the table and, against the MLP's seeds 0-2, the bar fixed before the
runs: the mean over the four poses at least 1 point higher, the mean share of ``other``
hands given a pose at most 0.2 points higher, the calibration error at most 0.05 on every
seed.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_poses as tp  # noqa: E402  (sets the BLAS thread variables before numpy loads)

# isort: split
import accuracy  # noqa: E402
import numpy as np  # noqa: E402

from handmap.gestures.pose_model import CLASSES, shape_features, softmax  # noqa: E402

FOLDS = 5
DEFAULT_RESULTS = Path(tempfile.gettempdir()) / "handmap-families.jsonl"
DEFAULTS = {
    "logreg": {"C": 1.0, "max_iter": 1000},
    "hgb": {"max_depth": 5, "learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31, "l2_regularization": 0.0},
}
#: Gradient boosting's histogram: at most this many bins a feature.
BINS = 255
#: The bar (see the docstring), in shares.
BAR_GAIN, BAR_OTHER_RISE, BAR_ECE = 0.01, 0.002, 0.05


def augmented_set(keypoints: accuracy.KeypointSet, settings: tp.Settings, rng: np.random.Generator, copies: int):
    """``copies`` augmented copies of the rows' features, with their labels and weights."""
    weights = tp.sample_weights(keypoints.labels, keypoints.sources, settings)
    x = np.concatenate([shape_features(tp.augment(keypoints.points, rng, settings)) for _ in range(copies)])
    return x, np.tile(keypoints.labels, copies), np.tile(weights, copies)


def make_model(family: str, params: dict, seed: int):
    if family == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    if family == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_depth=params["max_depth"], learning_rate=params["learning_rate"], max_iter=params["max_iter"],
            max_leaf_nodes=params["max_leaf_nodes"], l2_regularization=params["l2_regularization"],
            early_stopping=False, random_state=seed,
        )
    raise ValueError(f"unknown family {family!r}")


def quantile_edges(x: np.ndarray, bins: int = BINS) -> list[np.ndarray]:
    """Per feature: midpoints between its values, or ``bins - 1`` quantile edges.

    What gradient boosting bins by without sample weights; done here because its weighted
    binning (one weighted percentile per edge) took about 100 s a fit. The weights still
    go to the fit."""
    out = []
    for column in x.T:
        values = np.unique(column)
        if len(values) <= bins:
            out.append((values[:-1] + values[1:]) / 2)
        else:
            out.append(np.unique(np.percentile(column, np.linspace(0, 100, bins + 1)[1:-1], method="midpoint")))
    return out


def apply_edges(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Each value replaced by its bin's number (at most ``BINS`` distinct values a feature)."""
    return np.stack([np.searchsorted(e, column, side="left") for e, column in zip(edges, x.T)], axis=1).astype(np.float64)


def out_of_fold_logits(family: str, keypoints: accuracy.KeypointSet, settings: tp.Settings, seed: int,
                       copies: int, params: dict):
    """Out-of-fold logits over the script's folds; also the last fold's model and scaling."""
    logits = np.zeros((len(keypoints.labels), len(CLASSES)))
    model = mean = scale = edges = None
    for fold in tp.source_folds(keypoints, FOLDS):
        started = time.monotonic()
        held = np.isin(keypoints.sources, fold)
        train = keypoints.subset(~held)
        rng = np.random.default_rng(seed)
        plain = shape_features(train.points)
        mean, scale = plain.mean(axis=0), plain.std(axis=0) + 1e-6
        x, y, w = augmented_set(train, settings, rng, copies)
        x = (x - mean) / scale
        model = make_model(family, params, seed)
        held_x = (shape_features(keypoints.points[held]) - mean) / scale
        if family == "hgb":
            edges = quantile_edges(x)
            x, held_x = apply_edges(x, edges), apply_edges(held_x, edges)
        model.fit(x, y, sample_weight=w)
        if list(model.classes_) != list(range(len(CLASSES))):
            raise RuntimeError(f"fold {fold}: the model learned classes {list(model.classes_)}")
        logits[held] = model.decision_function(held_x)
        print(f"  fold {', '.join(fold)}: {len(y)} training rows, {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
    return logits, model, mean, scale, edges


def microseconds_per_hand(family: str, model, mean, scale, edges, points: np.ndarray) -> float:
    """Median time for one hand: features, scaling and probabilities (300 calls)."""
    row = points[:1]
    times = []
    for _ in range(300):
        started = time.perf_counter()
        if family == "mlp":
            model.probabilities(shape_features(row))
        else:
            x = (shape_features(row) - mean) / scale
            model.predict_proba(apply_edges(x, edges) if edges is not None else x)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e6)


def family_params(family: str, items: list[str]) -> dict:
    """The family's default parameters with ``NAME=VALUE`` items (Python literals) applied."""
    params = dict(DEFAULTS.get(family, {}))
    for item in items:
        name, _, value = item.partition("=")
        if name not in params:
            raise SystemExit(f"--param {name}: {family} has {', '.join(params) or 'no parameters'}")
        params[name] = ast.literal_eval(value)
    return params


def run(args: argparse.Namespace) -> dict:
    params = family_params(args.family, args.param)
    settings = tp.Settings()
    train_set = accuracy.load_keypoints(args.data, "train")
    started = time.monotonic()
    if args.family == "mlp":
        oof = tp.cross_validate(train_set, settings, args.seed, FOLDS)
        seconds = time.monotonic() - started
        last = tp.source_folds(train_set, FOLDS)[-1]
        model = tp.as_model(tp.train(train_set.subset(~np.isin(train_set.sources, last)), settings, args.seed))
        micro = microseconds_per_hand("mlp", model, None, None, None, train_set.points)
    else:
        oof, model, mean, scale, edges = out_of_fold_logits(args.family, train_set, settings, args.seed, args.copies, params)
        seconds = time.monotonic() - started
        micro = microseconds_per_hand(args.family, model, mean, scale, edges, train_set.points)
    temperature = tp.fit_temperature(oof, train_set.labels)
    report = accuracy.keypoint_report(softmax(oof / temperature), train_set)
    result = {
        "family": args.family, "params": params, "copies": args.copies if args.family != "mlp" else settings.epochs,
        "seed": args.seed, "four_poses": report.accuracy, "pinch": report.recall["pinch"],
        "point": report.recall["point"], "other_given_pose": report.other_given_pose, "ece": report.ece,
        "temperature": temperature, "cv_seconds": round(seconds, 1), "us_per_hand": round(micro, 1),
    }
    print(accuracy.format_keypoint_report(report, f"{args.family} {params} seed {args.seed}, {FOLDS} folds of whole training sources:"))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


def summary(results: Path) -> str:
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['family']} {r['params'] or ''} copies={r['copies']}", []).append(r)
    base = next((sorted(rs, key=lambda r: r["seed"]) for name, rs in groups.items()
                 if name.startswith("mlp") and sorted(r["seed"] for r in rs) == [0, 1, 2]), None)
    lines = ["| family / setting | seeds | four poses | pinch | point | other given a pose | ECE per seed | clears the bar |",
             "|---|---|---|---|---|---|---|---|"]
    for name, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        mean = {k: float(np.mean([r[k] for r in rs])) for k in ("four_poses", "pinch", "point", "other_given_pose")}
        verdict = "needs the MLP's seeds 0-2 and its own"
        if rs == base:
            verdict = "the baseline"
        elif base is not None and [r["seed"] for r in rs] == [0, 1, 2]:
            gain = mean["four_poses"] - float(np.mean([r["four_poses"] for r in base]))
            rise = mean["other_given_pose"] - float(np.mean([r["other_given_pose"] for r in base]))
            ok = gain >= BAR_GAIN and rise <= BAR_OTHER_RISE and all(r["ece"] <= BAR_ECE for r in rs)
            verdict = f"{'yes' if ok else 'no'} ({gain * 100:+.1f} points, other {rise * 100:+.2f})"
        lines.append(
            f"| {name} | {','.join(str(r['seed']) for r in rs)} | {mean['four_poses']:.1%} | {mean['pinch']:.1%} | "
            f"{mean['point']:.1%} | {mean['other_given_pose']:.2%} | {' / '.join(format(r['ece'], '.3f') for r in rs)} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=("mlp", "logreg", "hgb"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=5, help="augmented copies of each training row")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--summary", action="store_true", help="print the table of the runs in --results")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.results))
        return 0
    if args.family is None:
        parser.error("--family or --summary is needed")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
