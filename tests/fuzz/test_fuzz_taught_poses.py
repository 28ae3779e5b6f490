"""Hostile taught-pose files: fuzzed JSON and mutated good files get one
``TaughtPoseError`` naming the file and never another exception; a store holding them
still loads its good poses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from fuzzing import EXAMPLES, FUZZ, report
from hypothesis import given
from hypothesis import strategies as st

from handmap.daemon.poses_store import PoseStore, TaughtPose, read_file
from handmap.gestures.taught import TaughtPoseError

#: A plain hand shape (not real data: the file format is what is fuzzed here).
HAND = np.array([[0.5 + 0.01 * i, 0.5 - 0.02 * (i % 5)] for i in range(21)])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


def _good(n: int = 12) -> dict:
    pose = TaughtPose("good", np.stack([HAND + 0.001 * k for k in range(n)]), np.arange(n) / 30.0)
    return json.loads(pose.to_json())


def _check(path: Path) -> None:
    try:
        read_file(path)
    except TaughtPoseError as exc:
        assert str(exc).startswith(f"{path}: "), exc


def test_fuzzed_pose_files_are_refused_cleanly(tmp_path, record_property, caplog):
    tried = 0
    path = tmp_path / "fuzzed.json"
    keys = ("format", "name", "hand", "source", "times", "points")

    @FUZZ
    @given(st.one_of(
        json_values.map(json.dumps),
        st.dictionaries(st.sampled_from(keys), json_values).map(lambda d: json.dumps({**_good(), **d})),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ))
    def check(text):
        nonlocal tried
        tried += 1
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        _check(path)

    check()
    report(record_property, "taught poses: fuzzed files", tried)
    assert tried >= EXAMPLES * 2 // 3
    # Beside a broken file, a good one still loads and trains.
    store = PoseStore(tmp_path)
    good = _good()
    good["name"] = "kept"
    (tmp_path / "kept.json").write_text(json.dumps(good))
    path.write_text('{"format": 1, "points": [[[1e308, "x"]]]}')
    with caplog.at_level(logging.WARNING):
        assert store.taught_set().names == ("kept",)
    assert "fuzzed.json" in caplog.text
