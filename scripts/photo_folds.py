"""Would the labelled photos' hands, added to the pose model's training, teach it incidental hands?

    .venv/bin/python scripts/photo_folds.py [--data ../shared/data] [--set photo_weight=20] [--folds 5]

The keypoint set's ``other`` hands are deliberate gestures (peace, thumbs up...); most of the
labelled photos' ``other`` hands are incidental (typing, holding a cup, a claw, a hand
hanging at the side), and the model reads many of them as a pose. The issue allows training
on the photos' landmarks, so this measures whether it would help, without making the photo
figure a training figure: the photos' hands (``hands/labels.csv``; landmarks from ``handmap
detect``, matched to their labels as scripts/accuracy.py does) are dealt to folds of whole
images, and each fold is read by a model trained on the keypoint training sources plus the
other folds' photo hands (each weighing ``photo_weight`` training rows of its class; the
training script's settings and seed otherwise). webcam_session35's stills are never trained
on. The baseline is the shipped model (the same training without photos). The test sources
are not loaded. Reads as ``classify`` does: the model, the folded-thumb rule and the geometry veto.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_poses as tp  # noqa: E402  (sets the BLAS thread variables before numpy loads)

# isort: split
import accuracy  # noqa: E402
import numpy as np  # noqa: E402

from handmap.gestures.pose_model import CLASSES, PoseModel  # noqa: E402
from handmap.gestures.poses import builtin_probabilities  # noqa: E402

#: The bar fixed before the first run (docs/accuracy.md): out of fold, at most half the
#: baseline's ``other`` photo hands given a pose, and at most one posed photo hand fewer right.
OTHER_SHARE_OF_BASELINE = 0.5
POSED_SLACK = 1


@dataclass(frozen=True)
class PhotoHand:
    image: str  # relative to the data folder
    pose: str  # the label: open, closed, pinch, point or other
    also: str  # a second answer that is not wrong, or ""
    points: np.ndarray  # (21, 2) isotropic: x times the image's aspect, y

    @property
    def wanted(self) -> set[str]:
        return {accuracy.OTHER_AS_PREDICTED.get(a, a) for a in (self.pose, self.also) if a}


@dataclass(frozen=True)
class Score:
    posed_right: int
    posed: int
    other_given_a_pose: int
    other: int

    def line(self) -> str:
        return (f"posed hands right {self.posed_right}/{self.posed}, "
                f"other hands given a pose {self.other_given_a_pose}/{self.other}")


def score(hands: Sequence[PhotoHand], labels: Sequence[str]) -> Score:
    """Posed hands read right (a labelled second answer counts), and ``other`` hands read as
    one of the four poses that is not an acceptable answer."""
    posed = [(h, lab) for h, lab in zip(hands, labels) if h.pose != "other"]
    other = [(h, lab) for h, lab in zip(hands, labels) if h.pose == "other"]
    return Score(sum(lab in h.wanted for h, lab in posed), len(posed),
                 sum(lab in accuracy.POSES and lab not in h.wanted for h, lab in other), len(other))


def clears_the_bar(baseline: Score, candidate: Score) -> bool:
    return (candidate.other_given_a_pose <= OTHER_SHARE_OF_BASELINE * baseline.other_given_a_pose
            and candidate.posed_right >= baseline.posed_right - POSED_SLACK)


def image_folds(hands: Sequence[PhotoHand], folds: int) -> np.ndarray:
    """Each hand's fold: whole images, sorted by name and dealt in turn."""
    images = sorted({h.image for h in hands})
    fold_of = {image: i % folds for i, image in enumerate(images)}
    return np.array([fold_of[h.image] for h in hands], dtype=int)


def as_rows(hands: Sequence[PhotoHand]) -> accuracy.KeypointSet:
    """The hands as training rows of source :data:`train_poses.PHOTO_SOURCE`."""
    labels = [CLASSES.index(accuracy.OTHER_AS_PREDICTED.get(h.pose, h.pose)) for h in hands]
    return accuracy.KeypointSet(np.array([h.points for h in hands], dtype=float).reshape(-1, 21, 2),
                                np.array(labels, dtype=int), np.array([tp.PHOTO_SOURCE] * len(hands), dtype=object),
                                np.arange(len(hands)))


def joined(a: accuracy.KeypointSet, b: accuracy.KeypointSet) -> accuracy.KeypointSet:
    return accuracy.KeypointSet(*(np.concatenate([x, y]) for x, y in
                                  ((a.points, b.points), (a.labels, b.labels), (a.sources, b.sources), (a.rows, b.rows))))


def read(model: PoseModel, hands: Sequence[PhotoHand]) -> list[str]:
    """The built-in pose of each hand, as ``classify`` reads it."""
    points = np.array([h.points for h in hands], dtype=float).reshape(-1, 21, 2)
    return [CLASSES[i] for i in np.argmax(builtin_probabilities(points, model), axis=1)]


def detected_hands(data: Path) -> list[PhotoHand]:
    """The labelled hands that ``handmap detect`` finds, with its landmarks."""
    labelled = accuracy.load_labels(data)
    report = accuracy.match_hands(labelled, accuracy.predict_with_detect(data, (h.image for h in labelled)))
    return [PhotoHand(m.truth.image, m.truth.pose, m.truth.also_acceptable,
                      np.array([(p[0] * m.predicted.aspect, p[1]) for p in m.predicted.landmarks], dtype=float))
            for m in report.matches]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=accuracy.DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="folds of whole photos")
    parser.add_argument("--set", action="append", default=["photo_weight=20"], metavar="NAME=VALUE",
                        help="a training setting (Python literal); default photo_weight=20")
    args = parser.parse_args(argv)
    if not (args.data / "keypoints" / "keypoints.csv").exists() or not (args.data / "hands" / "labels.csv").exists():
        print(f"no keypoints or labelled photos under {args.data}: pass --data DIR (the shared data folder)",
              file=sys.stderr)
        return 2
    settings = tp.settings_from(args.set)
    hands = detected_hands(args.data)
    photos = [h for h in hands if h.image.startswith("hands/")]
    stills = [h for h in hands if not h.image.startswith("hands/")]
    shipped = PoseModel.from_json(tp.DEFAULT_OUT.read_text())
    baseline = score(photos, read(shipped, photos))
    print(f"{len(photos)} photo hands, {len(stills)} webcam_session35 stills; {settings}")
    print(f"shipped model (no photos in training): {baseline.line()}; "
          f"session35 stills {score(stills, read(shipped, stills)).line()}")
    train_set = accuracy.load_keypoints(args.data, "train")
    rows = as_rows(photos)
    folds = image_folds(photos, args.folds)
    labels: list[str] = [""] * len(photos)
    started = time.monotonic()
    for k in range(args.folds):
        model = tp.as_model(tp.train(joined(train_set, rows.subset(folds != k)), settings, args.seed))
        held = np.flatnonzero(folds == k)
        for i, label in zip(held, read(model, [photos[i] for i in held])):
            labels[i] = label
    candidate = score(photos, labels)
    print(f"photos in training, out of fold ({args.folds} folds of whole photos, "
          f"{time.monotonic() - started:.0f} s): {candidate.line()}")
    for hand, label in zip(photos, labels):
        if label not in hand.wanted:
            print(f"  {hand.image}: labelled {hand.pose}, read {label}")
    verdict = "clears" if clears_the_bar(baseline, candidate) else "does not clear"
    print(f"{verdict} the bar (other hands given a pose at most {OTHER_SHARE_OF_BASELINE:g} of the baseline's, "
          f"posed hands right at least the baseline's minus {POSED_SLACK})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
