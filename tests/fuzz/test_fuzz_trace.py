"""Hostile landmark traces (issue 7): every fuzzed line decodes to a sane observation or
raises one clear ``TraceError``; a trace file with damaged lines plays its good frames
and skips the rest; ``handmap run`` over such a file ends normally, never with a
traceback; a file that is not a trace is refused in one line.

The fuzzers are hypothesis strategies with a fixed ``max_examples``
(``HANDMAP_FUZZ_EXAMPLES`` raises it for a deeper run); each prints how many inputs it
tried (``pytest -s`` or ``-rP``) and records it as the junit property ``inputs_tried``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from cli import handmap, json_lines
from fuzzing import EXAMPLES, FUZZ, report
from hypothesis import given, settings
from hypothesis import strategies as st

from handmap.daemon.capture import SourceError
from handmap.daemon.capture.trace import MAX_LINE_BYTES, MAX_WARNINGS, TraceSource
from handmap.gestures.landmarks import NUM_BODY_LANDMARKS, NUM_HAND_LANDMARKS
from handmap.gestures.trace import (
    MAX_COORDINATE,
    MAX_HANDS,
    TraceError,
    decode_line,
    encode_header,
    encode_observation,
)
from handmap.gestures.types import BodyObservation, FaceObservation, FrameObservation, Handedness, HandObservation

LINE = 7  # the line number the decoder is told, to check messages name it


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="hm-fuzz-trace-") as d:
        yield Path(d)


# ----------------------------------------------------------------------------- strategies

coord = st.floats(-2.0, 2.0, allow_nan=False)
unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def observations(draw) -> FrameObservation:
    dims = draw(st.sampled_from([2, 3]))
    hands = tuple(
        HandObservation(np.array(draw(st.lists(st.lists(coord, min_size=dims, max_size=dims),
                                               min_size=NUM_HAND_LANDMARKS, max_size=NUM_HAND_LANDMARKS)))
                        if dims == 3 else
                        np.column_stack([np.array(draw(st.lists(st.lists(coord, min_size=2, max_size=2),
                                                                min_size=NUM_HAND_LANDMARKS, max_size=NUM_HAND_LANDMARKS))),
                                         np.zeros(NUM_HAND_LANDMARKS)]),
                        draw(st.sampled_from(list(Handedness))), draw(unit))
        for _ in range(draw(st.integers(0, 2))))
    faces = draw(st.one_of(st.none(), st.lists(st.builds(
        lambda box, score, kps: FaceObservation(tuple(box), score, tuple(tuple(k) for k in kps)),
        st.lists(unit, min_size=4, max_size=4), unit,
        st.lists(st.lists(unit, min_size=2, max_size=2), max_size=6)), max_size=2).map(tuple)))
    body = draw(st.one_of(st.none(), st.lists(st.lists(coord, min_size=4, max_size=4), min_size=NUM_BODY_LANDMARKS,
                                              max_size=NUM_BODY_LANDMARKS).map(lambda p: BodyObservation(np.array(p)))))
    return FrameObservation(t=draw(st.floats(0, 1e6)), frame=draw(st.integers(0, 1 << 40)),
                            width=draw(st.integers(1, 4096)), height=draw(st.integers(1, 4096)),
                            hands=hands, faces=faces, body=body)


HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e308", "-1e308", "1e999", "-1e400", "9" * 400, "9" * 5000,
                   "-0", "1e-400", '"0.5"', "null", "true", "[]", "{}", "[0.5]", '"\\u0000"', "0.5e", "--1"]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@st.composite
def mutated_lines(draw) -> str:
    """A valid line with one hostile edit: truncated, a number replaced, a point added
    or removed, a field dropped or retyped, or junk inserted."""
    obs = draw(observations())
    line = encode_observation(obs)
    kind = draw(st.sampled_from(["truncate", "number", "points", "field", "insert", "hands"]))
    if kind == "truncate":
        return line[: draw(st.integers(0, len(line) - 1))]
    if kind == "number":
        spans = [m.span() for m in NUMBER.finditer(line)]
        for _ in range(draw(st.integers(1, 3))):
            a, b = spans[draw(st.integers(0, len(spans) - 1))]
            line = line[:a] + draw(st.sampled_from(HOSTILE_NUMBERS)) + line[b:]
            spans = [m.span() for m in NUMBER.finditer(line)] or [(0, 0)]
        return line
    if kind == "insert":
        at = draw(st.integers(0, len(line)))
        return line[:at] + draw(st.text(min_size=1, max_size=20)) + line[at:]
    data = json.loads(line)
    if kind == "points":
        targets = [h["landmarks"] for h in data["hands"]] + ([data["body"]] if data["body"] else [])
        targets += [f["keypoints"] for f in data["faces"] or []]
        if not targets:
            data["hands"] = [{"handedness": "left", "score": 0.5, "landmarks": [[0.5, 0.5]] * draw(st.integers(0, 40))}]
        else:
            points = targets[draw(st.integers(0, len(targets) - 1))]
            action = draw(st.sampled_from(["drop", "add", "short", "long", "empty"]))
            if action == "drop" and points:
                points.pop(draw(st.integers(0, len(points) - 1)))
            elif action == "add":
                points.append(points[0] if points else [0.5, 0.5])
            elif action in ("short", "long") and points:
                i = draw(st.integers(0, len(points) - 1))
                points[i] = points[i][:1] if action == "short" else points[i] + [0.1, 0.2, 0.3]
            else:
                points.clear()
    elif kind == "hands":
        data["hands"] = [data["hands"][0] if data["hands"] else {"handedness": "right", "score": 1,
                                                                 "landmarks": [[0.5, 0.5]] * 21}] * draw(st.integers(0, 40))
    else:
        key = draw(st.sampled_from(["t", "frame", "width", "height", "hands", "faces", "body"]))
        if draw(st.booleans()):
            data.pop(key)
        else:
            data[key] = draw(st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.integers(-(10 ** 30), 10 ** 30),
                                       st.floats(), st.just([]), st.just({})))
    return json.dumps(data)


def check_decoded(line: str) -> FrameObservation | TraceError:
    """decode_line's contract: a sane observation, or one TraceError naming the line."""
    try:
        obs = decode_line(line, LINE)
    except TraceError as exc:
        message = str(exc)
        assert message.startswith(f"trace line {LINE}: ") and "\n" not in message and len(message) < 400, message
        return exc
    assert math.isfinite(obs.t) and obs.t >= 0 and obs.width >= 1 and obs.height >= 1
    assert len(obs.hands) <= MAX_HANDS
    for hand in obs.hands:
        assert hand.landmarks.shape == (NUM_HAND_LANDMARKS, 3)
        assert np.all(np.isfinite(hand.landmarks)) and np.all(np.abs(hand.landmarks) <= MAX_COORDINATE)
        assert 0 <= hand.score <= 1
    if obs.body is not None:
        assert obs.body.landmarks.shape == (NUM_BODY_LANDMARKS, 4) and np.all(np.isfinite(obs.body.landmarks))
    for face in obs.faces or ():
        assert len(face.bbox) == 4 and all(math.isfinite(v) for v in face.bbox)
    return obs


# ----------------------------------------------------------------------------- line fuzzers


def test_fuzz_valid_observations_round_trip(record_property):
    tried = 0

    @FUZZ
    @given(observations())
    def check(obs):
        nonlocal tried
        tried += 1
        back = check_decoded(encode_observation(obs))
        assert isinstance(back, FrameObservation)
        assert (back.t, back.frame, back.width, back.height, back.faces) == (obs.t, obs.frame, obs.width, obs.height, obs.faces)
        assert all(np.array_equal(a.landmarks, b.landmarks) for a, b in zip(back.hands, obs.hands))

    check()
    report(record_property, "trace: valid observations (round trip)", tried)
    assert tried >= EXAMPLES * 2 // 3


def test_fuzz_mutated_lines(record_property):
    tried = rejected = 0

    @settings(FUZZ, max_examples=EXAMPLES * 2)
    @given(mutated_lines())
    def check(line):
        nonlocal tried, rejected
        tried += 1
        rejected += isinstance(check_decoded(line), TraceError)

    check()
    report(record_property, f"trace: mutated lines ({rejected} rejected)", tried)
    assert tried >= EXAMPLES and rejected > tried // 2


def test_fuzz_arbitrary_text_lines(record_property):
    tried = 0

    @FUZZ
    @given(st.one_of(st.text(max_size=300), st.text(alphabet='{}[]:,"0123456789.eE-+ tfalsenuNIy', max_size=300)))
    def check(line):
        nonlocal tried
        tried += 1
        check_decoded(line)

    check()
    report(record_property, "trace: arbitrary text lines", tried)
    assert tried >= EXAMPLES * 2 // 3


@pytest.mark.parametrize("line, expected", [
    ('{"t": 0.1, "frame": 1, "width": 640, "height": 480, "hands": [{"handedness": "right", "sco', "not valid JSON"),
    ('{"t": NaN, "frame": 1, "width": 640, "height": 480, "hands": []}', "NaN is not a number"),
    ('{"t": Infinity, "frame": 1, "width": 640, "height": 480, "hands": []}', "Infinity is not a number"),
    ('{"t": 1e308, "frame": 1, "width": 640, "height": 480, "hands": []}', "t = 1e+308 is out of range"),
    ('{"t": 1e999, "frame": 1, "width": 640, "height": 480, "hands": []}', "t is not finite"),
    ('{"t": 0, "frame": ' + "9" * 5000 + ', "width": 640, "height": 480, "hands": []}', "not valid JSON"),
    ('{"t": 0, "frame": 1e3, "width": 640, "height": 480, "hands": []}', "frame must be an integer"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": [{"handedness": "right", "score": 1, '
     '"landmarks": ' + json.dumps([[0.5, 0.5, 0]] * 20) + '}]}', "hand 0 landmarks has 20 points, expected 21"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": [], "body": ' + json.dumps([[0.5] * 4] * 34) + '}',
     "body has 34 points, expected 33"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": [{"handedness": "right", "score": 1, '
     '"landmarks": ' + json.dumps([[0.5, 0.5, 1e300]] * 21) + '}]}', "out of range"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": ' + json.dumps(
        [{"handedness": "right", "score": 1, "landmarks": [[0.5, 0.5]] * 21}] * 1000) + '}', "1000 hands (at most"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "JSON nested too deeply"),
    ("[" * 100_000, "JSON nested too deeply"),
    ('{"t": 0, "frame": 1, "width": 640, "height": 480, "hands": [], "pad": "' + "x" * (2 << 20) + '"}',
     "characters long (at most"),
    ("\x00\x01\x02", "not valid JSON"),
    ('{"format": "handmap-trace", "version": 1}', "a trace header where an observation was expected"),
])
def test_hostile_lines_get_one_clear_error(line, expected):
    with pytest.raises(TraceError) as err:
        decode_line(line, LINE)
    assert str(err.value).startswith(f"trace line {LINE}: ") and expected in str(err.value), str(err.value)
    assert len(str(err.value)) < 300


# ----------------------------------------------------------------------------- files

damaged_lines = st.one_of(
    st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b),
    st.text(min_size=1, max_size=200).filter(lambda t: "\n" not in t).map(lambda t: t.encode("utf-8")),
    mutated_lines().map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xff\xfe\xfd", b"\xc3", b"{\"t\": 0.5, \x80}", b"\x00" * 50, b"{}", b"null", b"   ", b"\r"]),
)


def is_damage(raw: bytes) -> bool:
    """Whether the source must count the line as skipped (blank lines are not damage)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    if not text.strip():
        return False
    try:
        decode_line(text)
    except TraceError:
        return True
    return False  # a mutation that happens to be valid is a frame


def play(path: Path) -> tuple[list[FrameObservation], int]:
    source = TraceSource(path)
    frames = []
    try:
        while (frame := source.read()) is not None:
            frames.append(frame.observation)
            assert len(frames) < 10_000
    finally:
        source.close()
    return frames, source.skipped_lines


def test_fuzz_trace_files_with_damaged_lines(scratch, record_property):
    """Good frames interleaved with damage: exactly the good frames play, in order, and
    every damaged line is counted as skipped."""
    path = scratch / "damaged.jsonl"
    tried = 0

    @settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
    @given(st.lists(st.one_of(observations().map(lambda o: ("frame", o)), damaged_lines.map(lambda b: ("damage", b))),
                    max_size=12), st.booleans())
    def check(items, final_newline):
        nonlocal tried
        tried += 1
        lines = [encode_header(source="fuzz").encode()]
        expected, damage = [], 0
        for kind, item in items:
            if kind == "frame":
                lines.append(encode_observation(item).encode())
                expected.append(item)
            else:
                lines.append(item)
                if is_damage(item):
                    damage += 1
                else:
                    text = item.decode("utf-8")
                    expected.append(decode_line(text) if text.strip() else None)
        expected = [e for e in expected if e is not None]
        path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
        frames, skipped = play(path)
        assert [(f.t, f.frame) for f in frames] == [(e.t, e.frame) for e in expected]
        assert skipped == damage

    check()
    report(record_property, "trace: files with damaged lines", tried)
    assert tried >= max(EXAMPLES // 4, 5)


def good_line(i: int) -> str:
    hand = HandObservation(np.full((NUM_HAND_LANDMARKS, 3), 0.5), Handedness.RIGHT, 0.9)
    return encode_observation(FrameObservation(t=i / 30, frame=i, width=640, height=480, hands=(hand,)))


def test_huge_line_is_skipped_without_holding_it(scratch):
    path = scratch / "huge-line.jsonl"
    with open(path, "wb") as f:
        f.write(encode_header().encode() + b"\n" + good_line(0).encode() + b"\n")
        f.write(b"9" * (3 * MAX_LINE_BYTES + 17) + b"\n")  # 12 MB of digits on one line
        f.write(good_line(1).encode() + b"\n")
        f.write(b"x" * (MAX_LINE_BYTES + 1))  # and an unterminated one at the end
    frames, skipped = play(path)
    assert [f.frame for f in frames] == [0, 1] and skipped == 2


def test_damaged_lines_warn_a_bounded_number_of_times(scratch, caplog):
    path = scratch / "noisy.jsonl"
    path.write_text(encode_header() + "\n" + "\n".join(["{broken"] * 500 + [good_line(3)]) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="handmap"):
        frames, skipped = play(path)
    assert [f.frame for f in frames] == [3] and skipped == 500
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == MAX_WARNINGS + 2, warnings  # ten lines, "further...", and the total
    assert warnings[-1] == f"{path}: 500 damaged lines skipped in all"


@pytest.mark.parametrize("content, expected", [
    (b"", "not a handmap trace header"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
    (b"\x00" * 4096, "not a handmap trace header"),
    (b'{"t": 0, "frame": 0, "width": 640, "height": 480, "hands": []}\n', "not a handmap trace header"),
    (b'{"format": "handmap-trace", "version": 99}\n', "trace version 99 is newer than this handmap reads"),
    (b'{"format": "handmap-trace", "version": "1"}\n', "header has no valid version"),
    (b'{"format": "handmap-trace", "vers', "not a handmap trace header"),
    (b"[" * 200_000 + b"\n", "not a handmap trace header"),
    (b"9" * (MAX_LINE_BYTES + 10), "longer than"),
])
def test_a_file_that_is_not_a_trace_is_refused(scratch, content, expected):
    path = scratch / "not-a-trace.jsonl"
    path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        TraceSource(path)
    message = str(err.value)
    assert message.startswith(f"{path} is not a handmap trace: ") and expected in message and "\n" not in message


def test_realtime_replay_does_not_wait_out_a_clock_jump(scratch):
    """t jumps by 900 million seconds (a damaged or foreign clock): realtime pacing goes on
    from the new time instead of sleeping for 28 years."""
    path = scratch / "jump.jsonl"
    lines = [encode_header(), good_line(0), good_line(1)]
    lines.append(good_line(2).replace('"t":0.06666666666666667', '"t":900000000.0'))
    lines.append(good_line(3).replace('"t":0.1', '"t":900000000.05'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = TraceSource(path, realtime=True)
    start = time.monotonic()
    ts = [source.read().t for _ in range(4)]
    source.close()
    assert ts == [0.0, 1 / 30, 900000000.0, 900000000.05]
    assert time.monotonic() - start < 5.0  # paced frames take ~0.1 s in all


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def real_hands(data_dir) -> list[np.ndarray]:
    data = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    return [np.array(f["landmarks"], dtype=float) for f in data["fixtures"]]


def run_env(folder: Path) -> dict:
    return {"XDG_RUNTIME_DIR": str(folder), "XDG_CONFIG_HOME": str(folder / "config"),
            "XDG_DATA_HOME": str(folder / "data"), "XDG_CACHE_HOME": str(folder / "cache"), "DISPLAY": "",
            "WAYLAND_DISPLAY": ""}


def test_handmap_run_over_a_damaged_trace_gives_the_clean_traces_events(scratch, real_hands):
    """MediaPipe's own landmarks for its test photos (fist, pointing up, thumb up,
    victory), held for a second each: the trace with garbage between its lines gives the
    same dry-run events as the clean trace, exit 0, and no traceback."""
    folder = scratch / "e2e"
    folder.mkdir(mode=0o700)
    frames = []
    for i in range(120):
        hand = HandObservation(real_hands[(i // 30) % len(real_hands)], Handedness.RIGHT, 0.95)
        frames.append(encode_observation(FrameObservation(t=i / 30, frame=i, width=640, height=480, hands=(hand,))))
    garbage = ['{"t": NaN}', "\x00\x00", frames[5][:40], "[" * 50_000, '{"t": 1e308, "frame": 1}', "not json at all",
               frames[7].replace("[", "{", 3), "🖐" * 1000]
    clean, damaged = folder / "clean.jsonl", folder / "damaged.jsonl"
    clean.write_text(encode_header() + "\n" + "\n".join(frames) + "\n", encoding="utf-8")
    mixed = [encode_header()]
    for i, line in enumerate(frames):
        mixed += [line, garbage[i % len(garbage)]]
    damaged.write_bytes(("\n".join(mixed) + "\n").encode() + b"\xff\xfe broken utf-8\n")
    env = run_env(folder)
    expected = handmap("run", "--source", str(clean), "--output", "dry-run", "--no-tray", env=env, timeout=120)
    got = handmap("run", "--source", str(damaged), "--output", "dry-run", "--no-tray", env=env, timeout=120)
    assert expected.returncode == 0, expected.stderr
    assert got.returncode == 0, got.stderr
    assert "Traceback" not in got.stderr
    events = json_lines(got.stdout)
    assert any(e["type"] == "pose" for e in events)
    assert events == json_lines(expected.stdout)
    assert "121 damaged lines skipped in all" in got.stderr


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + bytes(range(256)), b'{"hello": "world"}\n', b""])
def test_handmap_run_refuses_a_non_trace_in_one_line(scratch, content):
    folder = scratch / "e2e-refuse"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "not-a-trace.jsonl"
    path.write_bytes(content)
    result = handmap("run", "--source", str(path), "--output", "dry-run", "--no-tray", env=run_env(folder), timeout=120)
    assert result.returncode != 0 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [line for line in errors if line.startswith(f"handmap: error: {path} is not a handmap trace: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- privacy


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def test_nothing_the_camera_sees_is_written_unless_asked(scratch, data_dir):
    """A real photo through the real tracker (hands and faces), with HOME, the XDG
    folders and the working folder all empty temporary folders: the run writes no file
    anywhere but the runtime folder (control socket, lock, held-input journal) and the
    model cache unless ``--record`` asks for a trace, which then holds the landmarks. The face-touch
    history is off for file sources (it would hold episode times, hand and profile only).
    """
    photo = data_dir / "hands" / "ht" / "0.jpg"
    folder = scratch / "privacy"
    home, work, runtime = folder / "home", folder / "work", folder / "run"
    for d in (home, work, runtime):
        d.mkdir(parents=True, mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_RUNTIME_DIR": str(runtime), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(photo),
                               "--output", "dry-run", "--no-tray", *extra],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)

    def written() -> set[Path]:
        """Files written outside the caches of models (built from the mediapipe wheel)
        and of matplotlib's font list (imported by mediapipe)."""
        cache = home / ".cache"
        return {p for p in files_under(home) | files_under(work)
                if not (p.is_relative_to(cache / "handmap" / "models") and p.suffix == ".task")
                and not p.is_relative_to(cache / "matplotlib")}

    result = run()
    assert result.returncode == 0, result.stderr
    assert any(e["type"] in ("pose", "mouse_move") for e in json_lines(result.stdout)), result.stdout  # saw a hand
    assert written() == set()
    trace = work / "asked.jsonl"
    result = run("--record", str(trace))
    assert result.returncode == 0, result.stderr
    assert written() == {trace}
    lines = trace.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["format"] == "handmap-trace" and decode_line(lines[1], 2).hands
