"""Make 640x480, 30 fps test clips with two real hands from webcam_session35's frames
(deterministic: the same bytes each run; write them to a temporary or cache path, never
into the project).

    .venv/bin/python scripts/two_hand_clip.py OUT.mp4 [--kind side-by-side|crossing]
        [--data ../shared/data] [--seconds 20]

- ``side-by-side``: the smooth pan of ``pan_clip.py`` (open, closed and point stills in
  turn, each with its hand in the frame's right half), that half beside the mirror image of itself: two real hands, a left and
  a right one, in view on every frame, moving as the view pans.
- ``crossing``: one hand held still at the lower right (an open hand, the view made
  smaller on a wall-coloured ground) while a second, mirrored open hand enters from the
  left edge, crosses the frame above it and leaves at the right edge; the first hand
  alone before and after.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 640, 480, 30
#: Open, closed and point, each with the hand in the right half of the frame.
PAN_STILLS = ("35_pic00000.jpg", "35_pic00002.jpg", "35_pic00022.jpg")
HELD, CROSSING = "35_pic00000.jpg", "35_pic00001.jpg"  # open hands, at the right of their frames
#: The crossing clip: the held hand's view is made this much smaller, in the lower right.
HELD_SCALE = 0.6
#: The crossing hand: its crop around its hand (share of the frame's width and height),
#: scaled like the held hand, at this height (share of the frame) for its centre.
CROP_W, CROP_H, CROSS_Y = 0.36, 0.7, 0.2
#: The crossing clip's seconds: the held hand alone, then the crossing, then alone.
ALONE_S, CROSS_S = 1.5, 4.0
NOISE = 2.0  # sensor noise (colour values)


def _frames(folder: Path, names: tuple[str, ...]) -> list[np.ndarray]:
    stills = [cv2.imread(str(folder / name)) for name in names]
    if any(s is None for s in stills):
        raise SystemExit(f"cannot read the webcam frames in {folder}")
    return [cv2.resize(s, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) for s in stills]


def side_by_side(folder: Path, seconds: float, writer: cv2.VideoWriter) -> int:
    stills = _frames(folder, PAN_STILLS)
    rng = np.random.default_rng(7)
    total = int(seconds * FPS)
    per_still = total // len(stills) + 1
    half = WIDTH // 2
    for i in range(total):
        still = stills[min(i // per_still, len(stills) - 1)]
        big = cv2.resize(still, (int(WIDTH * 1.25), int(HEIGHT * 1.25)), interpolation=cv2.INTER_AREA)
        phase = 2 * math.pi * i / (FPS * 4)  # one slow back-and-forth every 4 s
        x = int((big.shape[1] - WIDTH) * (0.5 + 0.5 * math.sin(phase)))
        y = int((big.shape[0] - HEIGHT) * (0.5 + 0.5 * math.cos(phase * 0.5)))
        view = big[y:y + HEIGHT, x:x + WIDTH]
        frame = np.concatenate([view[:, half:][:, ::-1], view[:, half:]], axis=1).astype(np.float32)
        frame += rng.normal(0, NOISE, frame.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    return total


def crossing(folder: Path, writer: cv2.VideoWriter) -> int:
    held, crosser = _frames(folder, (HELD, CROSSING))
    wall = np.median(held[:HEIGHT // 4, :WIDTH // 4].reshape(-1, 3), axis=0)
    ground = np.empty((HEIGHT, WIDTH, 3), np.float32)
    ground[:] = wall
    small = cv2.resize(held, (int(WIDTH * HELD_SCALE), int(HEIGHT * HELD_SCALE)), interpolation=cv2.INTER_AREA)
    ground[HEIGHT - small.shape[0]:, WIDTH - small.shape[1]:] = small
    # The crossing hand: the mirrored frame's hand (now at its left), cut out and scaled.
    mirrored = crosser[:, ::-1]
    cw, ch = int(WIDTH * CROP_W), int(HEIGHT * CROP_H)
    x0, y0 = int(WIDTH * 0.02), int(HEIGHT * 0.12)
    hand = cv2.resize(mirrored[y0:y0 + ch, x0:x0 + cw], (int(cw * HELD_SCALE), int(ch * HELD_SCALE)),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    hh, hw = hand.shape[:2]
    # A feathered mask, so the cut-out's edges blend into the wall.
    mask = np.zeros((hh, hw), np.float32)
    edge = max(4, hw // 10)
    mask[edge:-edge, edge:-edge] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), edge / 2.0)[..., None]
    rng = np.random.default_rng(11)
    alone, cross = int(ALONE_S * FPS), int(CROSS_S * FPS)
    total = 2 * alone + cross
    top = int(HEIGHT * CROSS_Y - hh / 2)
    for i in range(total):
        frame = ground.copy()
        k = i - alone
        if 0 <= k < cross:
            left = int(-hw + (WIDTH + hw) * k / (cross - 1))  # from just off the left edge to just off the right
            a, b = max(0, left), min(WIDTH, left + hw)
            if b > a:
                part = frame[max(0, top):top + hh, a:b]
                piece = hand[max(0, -top):, a - left:b - left]
                alpha = mask[max(0, -top):, a - left:b - left]
                frame[max(0, top):top + hh, a:b] = part * (1 - alpha) + piece * alpha
        frame += rng.normal(0, NOISE, frame.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--kind", choices=("side-by-side", "crossing"), default="side-by-side")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=20.0, help="side-by-side: the clip's length")
    args = parser.parse_args()
    folder = args.data / "sequences" / "webcam_session35" / "frames"
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    try:
        total = side_by_side(folder, args.seconds, writer) if args.kind == "side-by-side" else crossing(folder, writer)
    finally:
        writer.release()
    print(f"wrote {args.out}: {total} frames, {WIDTH}x{HEIGHT} at {FPS} fps, {args.kind}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
