"""Landmark traces (gestures.trace): exact round trip, and a clear error for each bad line.

The recorded hand is MediaPipe's own expected landmarks for its "victory" test photo.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from handmap.gestures.trace import (
    TRACE_FORMAT,
    TraceError,
    decode_header,
    decode_line,
    encode_header,
    encode_observation,
    is_header,
)
from handmap.gestures.types import (
    BodyObservation,
    FaceObservation,
    FrameObservation,
    Handedness,
    HandObservation,
    LandmarkQuality,
)


@pytest.fixture(scope="module")
def observation(data_dir) -> FrameObservation:
    data = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    victory = np.array(next(f for f in data["fixtures"] if f["name"] == "victory")["landmarks"], dtype=float)
    rng = np.random.default_rng(3)
    body = np.column_stack([rng.random((33, 3)), rng.random(33)])
    return FrameObservation(
        t=12.345678901234, frame=371, width=1280, height=720,
        hands=(HandObservation(victory, Handedness.RIGHT, 0.9731), HandObservation(victory * 0.5 + 0.1, Handedness.LEFT, 0.51)),
        faces=(FaceObservation((0.3, 0.1, 0.25, 0.33), 0.93, ((0.35, 0.2), (0.45, 0.2), (0.4, 0.25), (0.4, 0.3), (0.3, 0.22), (0.5, 0.22))),),
        body=BodyObservation(body),
    )


def same(a: FrameObservation, b: FrameObservation) -> bool:
    if (a.t, a.frame, a.width, a.height, a.faces) != (b.t, b.frame, b.width, b.height, b.faces):
        return False
    if len(a.hands) != len(b.hands) or (a.body is None) != (b.body is None):
        return False
    for h, g in zip(a.hands, b.hands):
        if (h.handedness is not g.handedness or h.score != g.score or h.quality is not g.quality
                or not np.array_equal(h.landmarks, g.landmarks)):
            return False
    return a.body is None or np.array_equal(a.body.landmarks, b.body.landmarks)


def test_round_trip_is_exact(observation):
    line = encode_observation(observation)
    assert "\n" not in line
    assert same(decode_line(line, 2), observation)


def test_round_trip_without_faces_or_body_or_hands():
    obs = FrameObservation(t=0.0, frame=0, width=640, height=480)
    back = decode_line(encode_observation(obs))
    assert back == obs and back.faces is None and back.body is None and back.hands == ()
    obs = FrameObservation(t=0.5, frame=15, width=640, height=480, faces=())
    assert decode_line(encode_observation(obs)).faces == ()


def test_two_dimensional_landmarks_from_other_tools(observation):
    data = json.loads(encode_observation(observation))
    data["hands"][0]["landmarks"] = [p[:2] for p in data["hands"][0]["landmarks"]]
    back = decode_line(json.dumps(data))
    assert back.hands[0].landmarks.shape == (21, 3)
    assert np.all(back.hands[0].landmarks[:, 2] == 0)
    assert np.array_equal(back.hands[0].landmarks[:, :2], observation.hands[0].landmarks[:, :2])


def test_header():
    line = encode_header(source="clip.mp4")
    assert is_header(line)
    assert decode_header(line)["format"] == TRACE_FORMAT
    assert not is_header('{"t": 0}')
    with pytest.raises(TraceError, match="trace line 1: not a handmap trace"):
        decode_header('{"format": "something-else", "version": 1}')
    with pytest.raises(TraceError, match="newer than this handmap"):
        decode_header(json.dumps({"format": TRACE_FORMAT, "version": 99}))
    with pytest.raises(TraceError, match="trace line 7: a trace header where an observation"):
        decode_line(line, 7)


def mutate(observation, fn) -> str:
    data = json.loads(encode_observation(observation))
    fn(data)
    return json.dumps(data)


BAD_LINES = {
    "truncated": (lambda line: line[: len(line) // 2], "not valid JSON .*truncated"),
    "empty": (lambda line: "   ", "empty line"),
    "nan": (lambda line: line.replace('"score":0.9731', '"score":NaN'), "NaN is not a number"),
    "infinity": (lambda line: line.replace('"t":12.345678901234', '"t":Infinity'), "Infinity is not a number"),
    "huge": (lambda line: line.replace('"t":12.345678901234', '"t":1e400'), "t is not finite"),
    "not an object": (lambda line: "[1, 2, 3]", "expected a JSON object"),
}


@pytest.mark.parametrize("name", ["truncated", "empty", "nan", "infinity", "huge", "not an object"])
def test_bad_lines_name_the_line_and_problem(observation, name):
    make, message = BAD_LINES[name]
    line = make(encode_observation(observation))
    with pytest.raises(TraceError, match=f"^trace line 42: {message}"):
        decode_line(line, 42)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["hands"][0]["landmarks"].pop(), "hand 0 landmarks has 20 points, expected 21"),
    (lambda d: d["hands"][1]["landmarks"].append([0.1, 0.2, 0.0]), "hand 1 landmarks has 22 points, expected 21"),
    (lambda d: d["hands"][0]["landmarks"][4].append(0.0), "hand 0 landmarks point 4 must be a list of 2 or 3 numbers"),
    (lambda d: d["hands"][0]["landmarks"][3].__setitem__(0, 5e7), "hand 0 landmarks point 3 = 5e\\+07 is out of range"),
    (lambda d: d["hands"][0]["landmarks"][3].__setitem__(1, 10 ** 400), "hand 0 landmarks point 3 is not finite"),
    (lambda d: d["hands"][0]["landmarks"][3].__setitem__(1, "0.5"), "hand 0 landmarks point 3 must be a number"),
    (lambda d: d["body"].pop(), "body has 32 points, expected 33"),
    (lambda d: d["hands"][0].__setitem__("handedness", "middle"), "hand 0: handedness must be 'left' or 'right'"),
    (lambda d: d["hands"][0].__setitem__("score", 3), "hand 0 score = 3 is out of range"),
    (lambda d: d["hands"][0].pop("score"), "hand 0: missing field 'score'"),
    (lambda d: d.pop("t"), "missing field 't'"),
    (lambda d: d.__setitem__("t", -1), "t = -1 is negative"),
    (lambda d: d.__setitem__("frame", 1.5), "frame must be an integer"),
    (lambda d: d.__setitem__("width", 0), "width = 0 is out of range"),
    (lambda d: d.__setitem__("hands", {}), "hands must be a list"),
    (lambda d: d["faces"][0].__setitem__("bbox", [0, 0, 1]), "face 0: bbox must be"),
])
def test_bad_fields_name_the_line_and_field(observation, edit, message):
    with pytest.raises(TraceError, match=f"^trace line 9: {message}"):
        decode_line(mutate(observation, edit), 9)


def test_trace_error_is_a_value_error():
    with pytest.raises(ValueError):
        decode_line("{", 1)


def test_a_doubtful_hand_keeps_its_mark_and_good_hands_write_no_key(observation):
    """A replayed trace debounces like the live run it recorded: a hand marked doubtful
    (tracked across a jump, unconfirmed) is read back doubtful; a good hand's line is as
    it was before the mark existed."""
    first, second = observation.hands
    marked = replace(observation, hands=(first, replace(second, quality=LandmarkQuality.DOUBTFUL)))
    line = encode_observation(marked)
    back = decode_line(line, 2)
    assert [h.quality for h in back.hands] == [LandmarkQuality.GOOD, LandmarkQuality.DOUBTFUL]
    hands = json.loads(line)["hands"]
    assert "quality" not in hands[0] and hands[1]["quality"] == "doubtful"
    assert "quality" not in encode_observation(observation)


def test_a_bad_quality_is_named(observation):
    data = json.loads(encode_observation(observation))
    data["hands"][1]["quality"] = "shaky"
    with pytest.raises(TraceError, match=r"line 4: hand 1: quality must be one of 'good', 'doubtful', got \"shaky\""):
        decode_line(json.dumps(data), 4)
