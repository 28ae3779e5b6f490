"""``teach`` from a live source: the countdown is not recorded, the recording lasts
``--seconds`` of the source's time, and the terminal says what to do and how far it is.
No camera here: a real trace of real hands (the shared keypoints) stands in for one,
flagged live (the only thing of a camera the recording reads)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from keypoint_traces import keypoint_rows, observations, write_trace

from handmap.daemon.capture import TraceSource
from handmap.daemon.cli.teach import COUNTDOWN_S, Progress, record
from handmap.daemon.config import load_config


class LiveTrace(TraceSource):
    """A trace played as a camera would be (``live``): a stand-in, as no camera runs here."""

    live = True


@pytest.fixture()
def trace(data_dir, tmp_path) -> Path:
    if not (data_dir / "keypoints" / "keypoints.csv").exists():
        pytest.skip("the shared keypoints are not there")
    hands = keypoint_rows(data_dir, "Baron105", "thumbs_up")[:240]  # 8 s at 30 fps
    return write_trace(tmp_path / "live.jsonl", observations(hands, fps=30.0, start=12.5))


def test_the_countdown_is_not_recorded_and_the_recording_lasts_its_seconds(trace):
    err = io.StringIO()
    source = LiveTrace(trace)
    try:
        recorder = record(source, load_config(), "any", 2.0, Progress(err), "thumbs_up")
    finally:
        source.close()
    assert len(recorder.points) == 60  # 2 s at 30 fps, after the 3 s countdown
    assert recorder.times[0] == pytest.approx(12.5 + COUNTDOWN_S) and recorder.times[-1] < 12.5 + COUNTDOWN_S + 2.0
    lines = err.getvalue().splitlines()
    assert lines[:3] == [f"get ready: show thumbs_up to the camera in {n}..." for n in (3, 2, 1)], lines
    assert lines[3].startswith("recording thumbs_up: hold it and move it a little") and "0 s of 2" in lines[3]
    assert "1 s of 2, 31 hands" in lines[-1] and len(lines) == 5, lines


def test_only_the_hand_asked_for_is_recorded(trace):
    source = TraceSource(trace)  # every hand in it is a right hand
    try:
        assert len(record(source, load_config(), "left", 2.0, Progress(io.StringIO())).points) == 0
    finally:
        source.close()
