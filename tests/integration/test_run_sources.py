"""``handmap run --output dry-run`` over the real webcam sequence, as a video and as frames."""

from __future__ import annotations

import csv

import pytest
from cli import handmap, json_lines


@pytest.fixture(scope="module")
def timeline(session35):
    with open(session35 / "timeline.csv", newline="") as f:
        return list(csv.DictReader(f))


def _frames_with_hands(events: list[dict]) -> dict[int, int]:
    return {e["frame"]: len(e["hands"]) for e in events if e["type"] == "hands"}


@pytest.mark.slow
def test_video_reports_a_hand_in_every_frame_the_timeline_marks(session35, timeline):
    done = handmap("run", "--source", str(session35 / "subhih_session35_10fps_x5.mp4"), "--output", "dry-run",
                   "--report-frames")
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    hands = _frames_with_hands(events)
    missing = []
    for row in timeline:
        if int(row["mp_hands_detected"]) < 1:
            continue
        first, last = (int(v) for v in row["video_frames"].split("-"))
        missing += [n for n in range(first, last + 1) if hands.get(n, 0) < 1]
    assert len(hands) == 190  # every frame analysed
    assert not missing, f"no hand reported in video frames {missing}"
    assert any(e["type"] == "pose" for e in events)
    assert "frames per second" in done.stderr.splitlines()[-1]


@pytest.mark.slow
def test_frames_folder_reports_a_hand_in_every_frame_the_timeline_marks(session35, timeline):
    done = handmap("run", "--source", str(session35 / "frames"), "--fps", "2", "--output", "dry-run", "--report-frames")
    assert done.returncode == 0, done.stderr
    hands = _frames_with_hands(json_lines(done.stdout))
    missing = [int(r["seq_index"]) for r in timeline if int(r["mp_hands_detected"]) >= 1 and hands.get(int(r["seq_index"]), 0) < 1]
    assert not missing, f"no hand reported in frames {missing}"
    assert len(hands) == len(timeline)


def test_a_single_image_is_a_one_frame_source(data_dir):
    done = handmap("run", "--source", str(data_dir / "hands" / "ht" / "9.jpg"), "--output", "dry-run", "--report-frames")
    assert done.returncode == 0, done.stderr
    events = json_lines(done.stdout)
    assert [e["frame"] for e in events if e["type"] == "hands"] == [0]
    assert "handmap: 1 frame in " in done.stderr
