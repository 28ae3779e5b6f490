"""``handmap detect IMAGE... [--json] [--annotate DIR]``: hands, poses and faces in stills."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from handmap.daemon.capture import SourceError, read_image
from handmap.daemon.config import load_config

#: Photos often hold several hands; the live daemon's max_hands is for tracking.
DETECT_MAX_HANDS = 8
#: A still has no previous frame to confirm a hand, and MediaPipe's landmark model is
#: less sure of itself on photos than on webcam streams: at the stream's 0.5 presence
#: threshold IMAGE mode misses hands that MediaPipe Hands' static-image mode finds.
DETECT_MIN_PRESENCE = 0.3


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("detect", help="find hands, poses and faces in images",
                              description="Find hands (with their poses) and faces in images, as handtrack.js-style predictions.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    p.add_argument("--json", action="store_true", help="one JSON object per image, one per line (see CONTRACTS.md)")
    p.add_argument("--annotate", metavar="DIR", type=Path, help="write each image with boxes, labels, scores, landmarks and the face-touch verdict drawn into DIR")
    p.add_argument("--config", type=Path, help="configuration file (default: the packaged one with yours over it)")
    p.add_argument("--max-hands", type=int, default=DETECT_MAX_HANDS, help=f"most hands per image (default {DETECT_MAX_HANDS})")
    p.set_defaults(func=run)


def _annotated_name(out_dir: Path, image: Path, used: set[str]) -> Path:
    name = image.name
    stem, suffix = image.stem, image.suffix or ".png"
    n = 1
    while name in used:
        n += 1
        name = f"{stem}-{n}{suffix}"
    used.add(name)
    return out_dir / name


def _table(result: dict) -> str:
    lines = [f"{result['image']}  {result['width']}x{result['height']}  face touch: {'yes' if result['face_touch'] else 'no'}"]
    if not result["predictions"]:
        lines.append("  (no hands or faces)")
    for p in result["predictions"]:
        x, y, w, h = p["bbox"]
        who = p.get("handedness", "")
        lines.append(f"  {p['label']:<9} {p['score']:.2f}  {who:<5}  box x={x:.0f} y={y:.0f} w={w:.0f} h={h:.0f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import cv2

    from handmap.daemon.perception.factory import make_tracker
    from handmap.daemon.tools.annotate import draw_predictions
    from handmap.daemon.tools.predictions import detect_json, predictions_for
    from handmap.gestures import classify

    images = []
    for name in args.images:  # check every file before loading any model
        images.append((name, read_image(Path(name))))
    config = load_config(args.config)
    if args.annotate:
        try:
            args.annotate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(f"cannot create the --annotate folder {args.annotate}: {exc.strerror or exc}") from None
    # Stills get every model: the pose model and a second look around faces find hands
    # on a face that the hand model misses (cost does not matter for a photo).
    tracker = make_tracker(config, video=False, max_hands=args.max_hands, faces=True, body=True, near_face=True,
                           min_presence_confidence=min(DETECT_MIN_PRESENCE, config.model.min_presence_confidence))
    touch = _face_touch_decider(config)
    used: set[str] = set()
    try:
        for name, bgr in images:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            obs = tracker.observe(rgb, t=0.0, frame=0, with_faces=True, selfie=False)
            if obs.near_face_hands:  # a photo's answer includes the hands found near faces
                obs = dataclasses.replace(obs, hands=obs.hands + obs.near_face_hands, near_face_hands=())
            poses = [classify(h.landmarks, aspect=obs.aspect) for h in obs.hands]
            preds = predictions_for(obs, poses)
            result = detect_json(name, obs, preds, touch(obs))
            print(json.dumps(result) if args.json else _table(result), flush=True)
            if args.annotate:
                cv2.imwrite(str(_annotated_name(args.annotate, Path(name), used)), draw_predictions(bgr, preds, result["face_touch"]))
    finally:
        tracker.close()
    return 0


def _face_touch_decider(config):
    """The per-frame face-touch decision for a still (no dwell time applies)."""
    try:
        from handmap.gestures.face_touch import touch_score
    except ImportError:
        return lambda obs: False
    settings = config.face_touch.engine_config()
    return lambda obs: bool(touch_score(obs, settings).touching)
