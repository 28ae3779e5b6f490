"""Evaluate face-touch detection on the labelled photographs and time the body model.

    .venv/bin/python scripts/facetouch_eval.py [--data ../shared/data] [--verbose]

For every hand in hands/labels.csv with face_touch yes/no that MediaPipe finds, judges
that hand alone (with the image's faces and body) and compares with the plain rule
"hand box overlaps face box"; then judges each image whole; then times the pose model
(VIDEO mode, 640x480), the second look around the face, and ``touch_score``.

Face-touch episodes on the labelled video clips: ``scripts/facetouch_clips.py``.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--verbose", action="store_true", help="print every hand's cues")
    parser.add_argument("--faces", choices=("full", "short"), default="full", help="face detector (the daemon's default: full)")
    args = parser.parse_args(argv)
    labels_path = args.data / "hands" / "labels.csv"
    if not labels_path.exists():
        print(f"no labels at {labels_path}: pass --data with the shared data folder", file=sys.stderr)
        return 2

    import cv2
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    from handmap.daemon.perception.body import BodyTracker, FaceRegionHandFinder, RunningMode
    from handmap.daemon.perception.models import hand_bundle
    from handmap.gestures.face_touch import touch_score
    from handmap.gestures.types import FrameObservation, Handedness, HandObservation

    cache = Path(tempfile.mkdtemp(prefix="handmap-eval-"))
    atexit.register(shutil.rmtree, cache, True)  # the models built for this run
    modules = Path(os.path.dirname(mp.__file__)) / "modules"
    bundle = hand_bundle("full", cache)
    hands_model = vision.HandLandmarker.create_from_options(
        vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(bundle)),
            running_mode=vision.RunningMode.IMAGE,
            num_hands=4,
        )
    )
    from handmap.daemon.perception.faces import FullRangeFaces, ShortRangeFaces

    if args.faces == "full":
        face_model = FullRangeFaces(0.5)
    else:
        face_model = ShortRangeFaces(modules / "face_detection" / "face_detection_short_range.tflite", 0.5)
    body_model = BodyTracker(cache, RunningMode.IMAGE)
    finder = FaceRegionHandFinder(bundle)
    from handmap.daemon.perception.face_mesh import FaceMesh

    mesh_model = FaceMesh.create()  # the mesh on each face, as the daemon runs it on faces a hand is near

    def observe(path: Path) -> tuple[FrameObservation, np.ndarray]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        r = hands_model.detect(image)
        hands = tuple(
            HandObservation(np.array([[p.x, p.y, p.z] for p in lms], dtype=np.float32), Handedness(hd[0].category_name.lower()), hd[0].score,
                            world=np.array([[p.x, p.y, p.z] for p in metric], dtype=np.float64))
            for lms, hd, metric in zip(r.hand_landmarks, r.handedness, r.hand_world_landmarks)
        )
        faces = face_model.detect(rgb)
        if mesh_model is not None:
            faces = tuple(replace(f, mesh=mesh_model.landmarks(rgb, f)) if f.score >= 0.6 else f for f in faces)
        near = finder.find(rgb, [f for f in faces if f.score >= 0.6], hands)
        return FrameObservation(0.0, 0, w, h, hands, faces, body_model.detect(rgb, None), near), rgb

    def box_overlap(obs: FrameObservation, hand: HandObservation) -> bool:
        (x0, y0), (x1, y1) = hand.landmarks[:, :2].min(axis=0), hand.landmarks[:, :2].max(axis=0)
        for fx, fy, fw, fh in (f.bbox for f in obs.faces or () if f.score >= 0.6):
            if min(x1, fx + fw) > max(x0, fx) and min(y1, fy + fh) > max(y0, fy):
                return True
        return False

    with open(labels_path, newline="") as f:
        rows = list(csv.DictReader(f))
    observed = {name: observe(args.data / "hands" / name)[0] for name in sorted({r["file"] for r in rows})}

    counts = {"yes": [0, 0, 0], "no": [0, 0, 0]}  # judged, ours, box rule
    for row in rows:
        label = row["face_touch"]
        if label not in counts or not row["hand_center_x"]:
            continue
        obs = observed[row["file"]]
        want = np.array([float(row["hand_center_x"]), float(row["hand_center_y"])])
        near = [hd for hd in obs.hands if np.linalg.norm(hd.landmarks[:, :2].mean(axis=0) - want) < 0.08]
        if not near:
            continue
        hand = near[0]
        decision = touch_score(replace(obs, hands=(hand,), near_face_hands=()))
        box = box_overlap(obs, hand)
        c = counts[label]
        c[0] += 1
        c[1] += decision.touching
        c[2] += box
        if args.verbose or decision.touching != (label == "yes"):
            ratios = ", ".join(f"{c.depth_ratio:.2f}" for c in decision.cues if c.source == "hand")
            print(f"{row['file']:34s} label={label:3s} ours={decision.touching!s:5s} box={box!s:5s} {decision.reason}"
                  f" (distance/face's: {ratios})")
    n, ours, box = counts["no"]
    print(f"face_touch=no hands:  {n} judged; flagged: face_touch {ours} ({100 * ours / max(n, 1):.1f}%), box overlap {box} ({100 * box / max(n, 1):.1f}%)")
    n, ours, box = counts["yes"]
    print(f"face_touch=yes hands: {n} judged; found:   face_touch {ours}, box overlap {box}")

    print("images:")
    for name, obs in observed.items():
        wanted = {r["face_touch"] for r in rows if r["file"] == name}
        expect = "yes" in wanted
        d = touch_score(obs)
        mark = "" if d.touching == expect or wanted == {"na"} else "  <-- wrong"
        print(f"  {name:60s} touch={d.touching!s:5s} labels={','.join(sorted(wanted)):7s} {d.reason}{mark}")

    # Timing, 640x480.
    rgb = cv2.resize(observe(args.data / "hands" / "ht" / "7.jpg")[1], (640, 480))
    video = BodyTracker(cache, RunningMode.VIDEO)
    for i in range(5):
        video.detect(rgb, i * 100)
    times = []
    for i in range(60):
        t0 = time.perf_counter()
        video.detect(np.roll(rgb, i % 7, axis=1), 1000 + i * 100)
        times.append(time.perf_counter() - t0)
    video.close()
    print(f"pose model, VIDEO mode, 640x480: p50 {1e3 * np.median(times):.1f} ms, p95 {1e3 * np.percentile(times, 95):.1f} ms")
    face = max(observed["ht/7.jpg"].faces, key=lambda f: f.score)
    times = []
    for i in range(20):
        t0 = time.perf_counter()
        finder.find(np.roll(rgb, i, axis=1), [face])
        times.append(time.perf_counter() - t0)
    print(f"second look around one face, 640x480: p50 {1e3 * np.median(times):.1f} ms")
    obs = observed["ft/parvathi_1.jpg"]
    t0 = time.perf_counter()
    for _ in range(500):
        touch_score(obs)
    print(f"touch_score (1 hand, 1 face, body): {1e3 * (time.perf_counter() - t0) / 500:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
