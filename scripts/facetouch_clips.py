"""Face-touch episodes on the labelled clips (``../shared/data/facetouch``), scored per clip.

    .venv/bin/python scripts/facetouch_clips.py [--data ../shared/data] [--clip NAME]...
        [--body-model] [--near-face] [--set face_touch.KEY=VALUE]... [--json]

Each clip plays through the daemon ``handmap run --source CLIP --output dry-run`` builds
(the same objects, in this process, with the face-touch-only profile), and the
``face_touch`` events of its dry-run stream are scored against ``segments.csv``:

- **touches caught**: ``yes`` segments overlapped by an episode, and how many of those
  are one episode (not split);
- **false alerts**: episodes that start in a ``no`` segment (those starting in an
  ``ambiguous`` one are counted apart);
- **frame recall**: the share of ``yes`` frames inside an episode; **false frames**: the
  share of ``no`` frames inside one (``ambiguous`` frames are left out of both);
- **start latency**: an episode's START time minus its segment's start; **end latency**:
  the END time minus the segment's end (``end_s``, the first frame after contact).

An episode spans its START frame up to (not including) its END frame, as the history
counts it. The thresholds in ``gestures/face_touch.py`` were tuned on these clips (the
only labelled face-touch video there is), so their figures are not a held-out measure:
the labelled photos (``scripts/facetouch_eval.py``) are the second set.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Segment:
    start_frame: int
    end_frame: int  # inclusive
    start_s: float
    end_s: float  # (end_frame + 1) / fps
    label: str  # yes, no, ambiguous
    note: str = ""


@dataclass(frozen=True)
class Episode:
    start_frame: int
    start_t: float
    end_frame: int  # the END event's frame: the first frame not counted as touching
    end_t: float
    hand: str | None = None
    zones: tuple[str, ...] = ()  # the START's and END's zones, where given


@dataclass
class ClipScore:
    clip: str
    frames: int
    episodes: list[Episode]
    touches: int = 0
    caught: int = 0
    one_episode: int = 0  # caught touches overlapped by exactly one episode
    false_alerts: int = 0  # episodes starting in a `no` segment
    ambiguous_starts: int = 0  # episodes starting in an `ambiguous` segment
    yes_frames: int = 0
    yes_hit: int = 0
    no_frames: int = 0
    no_hit: int = 0
    start_latency: list[float] = field(default_factory=list)  # per caught touch, s
    end_latency: list[float] = field(default_factory=list)
    touch_zones: list[tuple[str, ...]] = field(default_factory=list)  # per caught touch

    @property
    def recall(self) -> float:
        return self.yes_hit / self.yes_frames if self.yes_frames else float("nan")

    @property
    def false_frames(self) -> float:
        return self.no_hit / self.no_frames if self.no_frames else float("nan")


def load_segments(data: Path) -> dict[str, list[Segment]]:
    """``facetouch/segments.csv``: each clip's segments in frame order."""
    out: dict[str, list[Segment]] = {}
    with open(data / "facetouch" / "segments.csv", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["clip"], []).append(Segment(
                int(row["start_frame"]), int(row["end_frame"]), float(row["start_s"]), float(row["end_s"]),
                row["face_touch"], row["note"]))
    for segments in out.values():
        segments.sort(key=lambda s: s.start_frame)
    return out


def episodes_from_stream(lines: Sequence[str], last_frame: int, last_t: float) -> list[Episode]:
    """Episodes from a dry-run stream's ``face_touch`` events (an open one ends at the
    stream's end)."""
    episodes: list[Episode] = []
    start: dict | None = None
    for line in lines:
        event = json.loads(line)
        if event.get("type") != "face_touch":
            continue
        if event["state"] == "start":
            start = event
        elif event["state"] == "end" and start is not None:
            zones = tuple(z for z in (start.get("zone"), event.get("zone")) if z)
            episodes.append(Episode(start["frame"], start["t"], event["frame"], event["t"], start.get("hand"), zones))
            start = None
    if start is not None:
        episodes.append(Episode(start["frame"], start["t"], last_frame + 1, last_t, start.get("hand"),
                                tuple(z for z in (start.get("zone"),) if z)))
    return episodes


def score(clip: str, segments: Sequence[Segment], episodes: Sequence[Episode]) -> ClipScore:
    frames = segments[-1].end_frame + 1
    inside = [False] * frames
    for e in episodes:
        for i in range(max(e.start_frame, 0), min(e.end_frame, frames)):
            inside[i] = True
    result = ClipScore(clip, frames, list(episodes))
    for seg in segments:
        span = inside[seg.start_frame:seg.end_frame + 1]
        if seg.label == "yes":
            result.yes_frames += len(span)
            result.yes_hit += sum(span)
            result.touches += 1
            over = [e for e in episodes if e.start_frame <= seg.end_frame and e.end_frame > seg.start_frame]
            if over:
                result.caught += 1
                result.one_episode += len(over) == 1
                result.start_latency.append(round(over[0].start_t - seg.start_s, 3))
                result.end_latency.append(round(over[-1].end_t - seg.end_s, 3))
                result.touch_zones.append(tuple(z for e in over for z in e.zones))
        elif seg.label == "no":
            result.no_frames += len(span)
            result.no_hit += sum(span)
    for e in episodes:
        seg = next((s for s in segments if s.start_frame <= e.start_frame <= s.end_frame), None)
        if seg is not None and seg.label == "no":
            result.false_alerts += 1
        elif seg is not None and seg.label == "ambiguous":
            result.ambiguous_starts += 1
    return result


def play(clip: Path, overrides: dict | None = None) -> tuple[list[str], int, float]:
    """Play ``clip`` through the daemon ``handmap run --output dry-run`` builds (the
    default configuration with ``overrides`` merged in, the face-touch-only profile);
    the dry-run stream's lines, the last frame's number and time."""
    from handmap.daemon.config import load_config
    from handmap.daemon.runtime.assemble import RunOptions, build

    with tempfile.TemporaryDirectory(prefix="handmap-clips-") as home:
        env = {"HOME": home, "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "XDG_CACHE_HOME": f"{home}/cache", "XDG_RUNTIME_DIR": home}
        config = load_config(None, env)
        if overrides:
            data = config.model_dump(mode="json")
            for section, values in overrides.items():
                data[section] = {**data.get(section, {}), **values}
            config = type(config).model_validate(data)
        stream = io.StringIO()
        built = build(RunOptions(source=str(clip), output="dry-run", profile="face-touch-only", stream=stream,
                                 control_socket=False, window_switching=False, hotkey=False, tray=False,
                                 alerts=False, history=False), env=env, config=config)
        try:
            built.daemon.run()
            last = (built.pipeline.last_frame, built.pipeline.last_t)
        finally:
            built.close()
    return stream.getvalue().splitlines(), *last


def evaluate(data: Path, clips: Sequence[str] = (), overrides: dict | None = None) -> list[ClipScore]:
    segments = load_segments(data)
    out = []
    for clip in clips or sorted(segments):
        lines, last_frame, last_t = play(data / "facetouch" / clip, overrides)
        out.append(score(clip, segments[clip], episodes_from_stream(lines, last_frame, last_t)))
    return out


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):+.2f}" if values else "-"


def report(scores: Sequence[ClipScore]) -> str:
    rows = ["clip                                  touches caught one-ep false amb-start  recall  false-fr  start   end  zones"]
    for s in scores:
        rows.append(
            f"{s.clip:38s} {s.touches:7d} {s.caught:6d} {s.one_episode:6d} {s.false_alerts:5d} {s.ambiguous_starts:9d}"
            f"  {_pct(s.yes_hit, s.yes_frames):>6s}  {_pct(s.no_hit, s.no_frames):>8s}"
            f"  {' '.join(f'{x:+.2f}' for x in s.start_latency) or '-':>5s} {' '.join(f'{x:+.2f}' for x in s.end_latency) or '-':>5s}"
            f"  {','.join('/'.join(z) or '?' for z in s.touch_zones)}")
    touches = sum(s.touches for s in scores)
    starts = [x for s in scores for x in s.start_latency]
    ends = [x for s in scores for x in s.end_latency]
    rows.append(
        f"all: {sum(s.caught for s in scores)}/{touches} touches caught, {sum(s.one_episode for s in scores)} as one episode; "
        f"{sum(s.false_alerts for s in scores)} false alerts ({sum(s.ambiguous_starts for s in scores)} episodes start in "
        f"ambiguous segments); frame recall {_pct(sum(s.yes_hit for s in scores), sum(s.yes_frames for s in scores))}, "
        f"false frames {_pct(sum(s.no_hit for s in scores), sum(s.no_frames for s in scores))}; "
        f"median start latency {_median(starts)} s, end latency {_median(ends)} s")
    return "\n".join(rows)


def _pct(hit: int, n: int) -> str:
    return f"{100 * hit / n:.1f}%" if n else "-"


def _overrides(items: Sequence[str], body: bool, near: bool) -> dict:
    out: dict[str, dict] = {}
    if body or near:
        out["faces"] = {"body_model": body, "search_near_face": near}
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if not name or not value:
            raise SystemExit(f"--set wants SECTION.KEY=VALUE, not {item!r}")
        out.setdefault(section, {})[name] = json.loads(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clip", action="append", default=[], help="only this clip (repeatable)")
    parser.add_argument("--body-model", action="store_true", help="with faces.body_model on")
    parser.add_argument("--near-face", action="store_true", help="with faces.search_near_face on")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a configuration value (JSON), e.g. face_touch.release_ms=150")
    parser.add_argument("--json", action="store_true", help="one JSON object per clip")
    args = parser.parse_args(argv)
    if not (args.data / "facetouch" / "segments.csv").exists():
        print(f"no labelled clips at {args.data / 'facetouch'}: pass --data with the shared data folder", file=sys.stderr)
        return 2
    scores = evaluate(args.data, args.clip, _overrides(args.set, args.body_model, args.near_face))
    if args.json:
        for s in scores:
            print(json.dumps({**asdict(s), "recall": s.recall, "false_frames": s.false_frames}))
    else:
        print(report(scores))
    return 0


if __name__ == "__main__":
    sys.exit(main())
