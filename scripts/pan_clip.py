"""Make a smooth 640x480, 30 fps test clip from one real webcam frame: the view pans
slowly back and forth across the frame, so the hand moves the way a hand in front of a
webcam does (no jump cuts, unlike webcam_session35's mp4, which shows each still five
times and so loses tracking on every fifth frame).

    .venv/bin/python scripts/pan_clip.py OUT.mp4 [--data ../shared/data] [--seconds 20]

With ``--no-hand`` it makes instead a still view with no hand in it (a real photo with
sensor noise), for measuring the idle rate: ``handmap bench --idle --source OUT.mp4``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 30
FRAMES = ("35_pic00000.jpg", "35_pic00002.jpg", "35_pic00008.jpg")  # open, closed, point


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-hand", action="store_true", help="a still view with no hand (for the idle rate)")
    args = parser.parse_args()
    if args.no_hand:
        return still_without_hand(args)
    folder = args.data / "sequences" / "webcam_session35" / "frames"
    stills = [cv2.imread(str(folder / name)) for name in FRAMES]
    if any(s is None for s in stills):
        parser.error(f"cannot read the webcam frames in {folder}")
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    rng = np.random.default_rng(7)
    total = int(args.seconds * FPS)
    per_still = total // len(stills) + 1
    for i in range(total):
        still = stills[min(i // per_still, len(stills) - 1)]
        big = cv2.resize(still, (int(WIDTH * 1.25), int(HEIGHT * 1.25)), interpolation=cv2.INTER_AREA)
        phase = 2 * math.pi * i / (FPS * 4)  # one slow back-and-forth every 4 s
        x = int((big.shape[1] - WIDTH) * (0.5 + 0.5 * math.sin(phase)))
        y = int((big.shape[0] - HEIGHT) * (0.5 + 0.5 * math.cos(phase * 0.5)))
        frame = big[y:y + HEIGHT, x:x + WIDTH].astype(np.float32)
        frame += rng.normal(0, 2.0, frame.shape)  # sensor noise
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    print(f"wrote {args.out}: {total} frames, {WIDTH}x{HEIGHT} at {FPS} fps")
    return 0


def still_without_hand(args) -> int:
    photo = args.data / "hands" / "ft" / "mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"
    image = cv2.imread(str(photo))
    if image is None:
        raise SystemExit(f"cannot read {photo}")
    image = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    rng = np.random.default_rng(1)
    total = int(args.seconds * FPS)
    for _ in range(total):
        writer.write(np.clip(image + rng.normal(0, 3.0, image.shape), 0, 255).astype(np.uint8))
    writer.release()
    print(f"wrote {args.out}: {total} frames with no hand, {WIDTH}x{HEIGHT} at {FPS} fps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
