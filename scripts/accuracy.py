"""Pose accuracy on the real labelled photos and the webcam_session35 frames.

Runs ``handmap detect --json`` over every labelled image (or, with --landmarks-json,
classifies already-dumped MediaPipe landmarks directly), matches each detected hand to
the labelled hand with the nearest centre, and prints the confusion matrix (rows: the
labelled pose, ``other`` included; columns: the predicted label) and the two headline
figures the issue sets floors for:

- pose accuracy: labelled open/closed/pinch/point hands given their pose (or their
  ``also_acceptable`` answer), floor 97%;
- other false poses: ``other`` hands given one of the four poses (not their
  ``also_acceptable`` answer), ceiling 10%.

Usage: ``.venv/bin/python scripts/accuracy.py [--data DIR] [--landmarks-json FILE]
[--2d] [--check]``. ``--2d`` classifies the landmarks again without z, as a 2D trace
would give them. With --check the exit status is 1 when a figure misses its floor.
The matching and scoring functions are importable (tests/test_accuracy.py uses them).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

POSES = ("open", "closed", "pinch", "point")
LABEL_ROWS = POSES + ("other",)
PRED_COLUMNS = POSES + ("hand",)
#: Labelled ``other`` and predicted ``hand`` mean the same thing.
OTHER_AS_PREDICTED = {"other": "hand"}
#: A detected hand matches a labelled one when their centres are this close (normalised).
MATCH_RADIUS = 0.05
POSE_ACCURACY_FLOOR = 0.97
OTHER_FALSE_CEILING = 0.10
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class LabelledHand:
    image: str  # path relative to the data folder
    pose: str  # open, closed, pinch, point or other
    also_acceptable: str  # "" or a second answer that is not wrong
    center: tuple[float, float] | None  # None where MediaPipe finds no hand
    note: str = ""


@dataclass(frozen=True)
class PredictedHand:
    image: str  # path relative to the data folder
    label: str
    score: float
    center: tuple[float, float]
    landmarks: tuple = ()  # the 21 landmarks, when known (to classify again)
    aspect: float = 1.0  # the image's width over height


@dataclass(frozen=True)
class Match:
    truth: LabelledHand
    predicted: PredictedHand

    @property
    def correct(self) -> bool:
        wanted = {OTHER_AS_PREDICTED.get(a, a) for a in (self.truth.pose, self.truth.also_acceptable) if a}
        return self.predicted.label in wanted


@dataclass(frozen=True)
class Report:
    matches: tuple[Match, ...]
    missed: tuple[LabelledHand, ...]  # labelled hands no prediction matched
    extra: tuple[PredictedHand, ...]  # predictions matching no labelled hand
    confusion: Counter = field(default_factory=Counter)  # (labelled pose, predicted label)

    @property
    def pose_hands(self) -> list[Match]:
        return [m for m in self.matches if m.truth.pose in POSES]

    @property
    def other_hands(self) -> list[Match]:
        return [m for m in self.matches if m.truth.pose == "other"]

    @property
    def pose_accuracy(self) -> float:
        hands = self.pose_hands
        return sum(m.correct for m in hands) / len(hands) if hands else float("nan")

    @property
    def other_false_rate(self) -> float:
        hands = self.other_hands
        false = [m for m in hands if not m.correct and m.predicted.label in POSES]
        return len(false) / len(hands) if hands else float("nan")

    def passes(self) -> bool:
        return self.pose_accuracy >= POSE_ACCURACY_FLOOR and self.other_false_rate <= OTHER_FALSE_CEILING


def load_labels(data: Path) -> list[LabelledHand]:
    """Every labelled hand: hands/labels.csv and webcam_session35's timeline."""
    hands: list[LabelledHand] = []
    with open(data / "hands" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            center = None
            if row["hand_center_x"] and row["hand_center_y"]:
                center = (float(row["hand_center_x"]), float(row["hand_center_y"]))
            hands.append(
                LabelledHand(
                    "hands/" + row["file"], row["pose"], row["also_acceptable"], center, " ".join(row["note"].split())
                )
            )
    session = data / "sequences" / "webcam_session35"
    if (session / "timeline.csv").exists():
        with open(session / "timeline.csv", newline="") as f:
            for row in csv.DictReader(f):
                center = None
                if row["mp_hand_center_x"] and row["mp_hand_center_y"]:
                    center = (float(row["mp_hand_center_x"]), float(row["mp_hand_center_y"]))
                image = "sequences/webcam_session35/" + row["file"]
                hands.append(LabelledHand(image, row["expected_pose"], "", center, row["dataset_class"]))
    return hands


def match_hands(labelled: Sequence[LabelledHand], predicted: Sequence[PredictedHand]) -> Report:
    """Pair predictions with labelled hands in the same image, nearest centres first."""
    by_image: dict[str, tuple[list[LabelledHand], list[PredictedHand]]] = {}
    for hand in labelled:
        by_image.setdefault(hand.image, ([], []))[0].append(hand)
    for pred in predicted:
        by_image.setdefault(pred.image, ([], []))[1].append(pred)
    matches: list[Match] = []
    missed: list[LabelledHand] = []
    extra: list[PredictedHand] = []
    for truths, preds in by_image.values():
        pairs = []
        for i, t in enumerate(truths):
            if t.center is None:
                continue
            for j, p in enumerate(preds):
                d = ((t.center[0] - p.center[0]) ** 2 + (t.center[1] - p.center[1]) ** 2) ** 0.5
                if d <= MATCH_RADIUS:
                    pairs.append((d, i, j))
        used_t: set[int] = set()
        used_p: set[int] = set()
        for _, i, j in sorted(pairs):
            if i in used_t or j in used_p:
                continue
            used_t.add(i)
            used_p.add(j)
            matches.append(Match(truths[i], preds[j]))
        missed.extend(t for i, t in enumerate(truths) if i not in used_t)
        extra.extend(p for j, p in enumerate(preds) if j not in used_p)
    confusion = Counter((m.truth.pose, m.predicted.label) for m in matches)
    return Report(tuple(matches), tuple(missed), tuple(extra), confusion)


def _center(landmarks) -> tuple[float, float]:
    xs = [p[0] for p in landmarks]
    ys = [p[1] for p in landmarks]
    return (sum(xs) / len(xs), sum(ys) / len(ys))


def predict_with_detect(data: Path, images: Iterable[str]) -> list[PredictedHand]:
    """Run ``handmap detect --json`` once over all images; hands are the predictions with landmarks."""
    images = sorted(set(images))
    cmd = [sys.executable, "-m", "handmap.daemon.cli", "detect", "--json", *[str(data / i) for i in images]]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"handmap detect failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    back = {str(data / i): i for i in images}
    out: list[PredictedHand] = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        image = back.get(record["image"]) or os.path.relpath(record["image"], data)
        aspect = record["width"] / record["height"]
        for pred in record.get("predictions", []):
            if "landmarks" not in pred:
                continue  # faces, tips
            landmarks = tuple(tuple(p) for p in pred["landmarks"])
            out.append(PredictedHand(image, pred["label"], float(pred["score"]), _center(landmarks), landmarks, aspect))
    return out


def reclassify(predicted: Iterable[PredictedHand], flat: bool = False) -> list[PredictedHand]:
    """Classify the predictions' landmarks again here (``flat``: without z, as 2D traces)."""
    from handmap.gestures.poses import classify

    out = []
    for p in predicted:
        landmarks = [q[:2] for q in p.landmarks] if flat else p.landmarks
        result = classify(landmarks, p.aspect)
        out.append(PredictedHand(p.image, result.label, result.score, p.center, p.landmarks, p.aspect))
    return out


def predict_from_dump(dump_path: Path, flat: bool = False) -> list[PredictedHand]:
    """Classify landmarks dumped beforehand: a JSON list of {file, width, height, hands: [{landmarks}]}
    (``file`` relative to the data folder)."""
    hands = []
    for record in json.loads(Path(dump_path).read_text()):
        aspect = record["width"] / record["height"]
        for hand in record["hands"]:
            landmarks = tuple(tuple(p) for p in hand["landmarks"])
            hands.append(PredictedHand(record["file"], "", 0.0, _center(landmarks), landmarks, aspect))
    return reclassify(hands, flat=flat)


def format_report(report: Report) -> str:
    lines = ["labelled \\ predicted " + " ".join(f"{c:>7s}" for c in PRED_COLUMNS)]
    for row in LABEL_ROWS:
        lines.append(f"{row:20s} " + " ".join(f"{report.confusion[(row, c)]:7d}" for c in PRED_COLUMNS))
    pose = report.pose_hands
    other = report.other_hands
    false_other = [m for m in other if not m.correct and m.predicted.label in POSES]
    lines.append("")
    lines.append(
        f"pose accuracy: {sum(m.correct for m in pose)}/{len(pose)} = {report.pose_accuracy:.1%}"
        f" (floor {POSE_ACCURACY_FLOOR:.0%}; also_acceptable counts as right)"
    )
    lines.append(
        f"other hands given a pose: {len(false_other)}/{len(other)} = {report.other_false_rate:.1%}"
        f" (ceiling {OTHER_FALSE_CEILING:.0%})"
    )
    wrong = [m for m in report.matches if not m.correct]
    if wrong:
        lines.append("")
        lines.append("not right:")
        for m in wrong:
            alt = f" (or {m.truth.also_acceptable})" if m.truth.also_acceptable else ""
            lines.append(
                f"  {m.truth.image}: labelled {m.truth.pose}{alt}, predicted {m.predicted.label}"
                f" ({m.predicted.score:.2f}) {m.truth.note[:40]}"
            )
    if report.missed:
        lines.append(f"labelled hands with no detection: {len(report.missed)}")
    if report.extra:
        lines.append(f"detected hands with no label: {len(report.extra)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("HANDMAP_TEST_DATA", DEFAULT_DATA)))
    parser.add_argument("--landmarks-json", type=Path, help="classify these dumped landmarks instead of running detect")
    parser.add_argument(
        "--2d", dest="flat", action="store_true", help="classify the landmarks here without z (as 2D traces)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a figure misses its floor")
    args = parser.parse_args(argv)
    if not (args.data / "hands" / "labels.csv").exists():
        print(f"no labels at {args.data / 'hands' / 'labels.csv'}: pass --data DIR (the shared data folder)", file=sys.stderr)
        return 2
    labelled = load_labels(args.data)
    if args.landmarks_json:
        predicted = predict_from_dump(args.landmarks_json, flat=args.flat)
    else:
        try:
            predicted = predict_with_detect(args.data, (h.image for h in labelled))
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        if args.flat:
            predicted = reclassify(predicted, flat=True)
    report = match_hands(labelled, predicted)
    print(format_report(report))
    if args.check and not report.passes():
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
