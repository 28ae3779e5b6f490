"""Pose classifier properties (gestures/poses.py), checked with hypothesis.

Bases: the articulated synthetic hands of ``test_poses`` and MediaPipe's own expected
landmarks for its test photos. Turning a hand in the image plane, scaling it, moving it
and mirroring it (x to 1 - x) must not change its pose; noise within 1% of the hand's
size must not change a clear pose; bad input must raise LandmarkError and nothing else.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_poses import EXPECTED, VIEW_LIMITS, synthetic_hand

from handmap.gestures import classify
from handmap.gestures.landmarks import NUM_HAND_LANDMARKS
from handmap.gestures.poses import COORD_MAX, COORD_MIN, LandmarkError, as_landmarks, hand_size
from handmap.gestures.types import Pose, PoseResult

#: A clear pose: its score is at least this, so small noise cannot flip it.
CLEAR_SCORE = 0.7
PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def bases(data_dir):
    """(name, landmarks, aspect, label) for synthetic hands (3D and 2D) and MediaPipe's fixtures."""
    out = []
    views = (dict(roll=10.0), dict(roll=160.0, yaw=20.0, back=True, left=True), dict(roll=250.0, yaw=-25.0))
    for name in EXPECTED:
        if VIEW_LIMITS.get(name, (1.0,))[0] < 0.5:
            continue  # shapes the model reads as their label from only some views (test_poses)
        for i, v in enumerate(views):
            for depth in (True, False):
                hand = synthetic_hand(name, aspect=4 / 3, depth=depth, **v)
                out.append((f"{name}/{i}/{'3d' if depth else '2d'}", hand, 4 / 3, EXPECTED[name]))
    doc = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    for fixture in doc["fixtures"]:
        hand = np.array(fixture["landmarks"])
        label = {"other": "hand"}.get(fixture["expected_pose"], fixture["expected_pose"])
        out.append((f"mediapipe/{fixture['name']}", hand, 1.0, label))
        out.append((f"mediapipe/{fixture['name']}/2d", hand[:, :2], 1.0, label))
    for name, hand, aspect, label in out:  # the bases themselves are right
        assert classify(hand, aspect).label == label, name
    return out


def _transform(hand, aspect, *, angle, scale, center, mirror):
    """Mirror, turn and scale a hand about its centre in isotropic coordinates, then move it."""
    pts = as_landmarks(hand, aspect)  # isotropic: x and z times aspect
    if mirror:
        pts[:, 0] = -pts[:, 0]
    mid = pts[:, :2].mean(axis=0)
    c, s = math.cos(angle), math.sin(angle)
    xy = (pts[:, :2] - mid) @ np.array([[c, -s], [s, c]]).T * scale
    xy += np.array([center[0] * aspect, center[1]])
    out = np.column_stack([xy, pts[:, 2] * scale])
    out[:, 0] /= aspect
    out[:, 2] /= aspect
    return out if np.shape(hand)[1] == 3 else out[:, :2]


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    angle=st.floats(0.0, 2 * math.pi),
    scale=st.floats(0.15, 1.5),
    center=st.tuples(st.floats(0.3, 0.7), st.floats(0.3, 0.7)),
    mirror=st.booleans(),
)
def test_turning_scaling_moving_mirroring_keep_the_pose(bases, data, angle, scale, center, mirror):
    name, hand, aspect, label = data.draw(st.sampled_from(bases), label="base")
    before = classify(hand, aspect)
    moved = _transform(hand, aspect, angle=angle, scale=scale, center=center, mirror=mirror)
    after = classify(moved, aspect)
    assert after.label == label, name
    assert after.score == pytest.approx(before.score, abs=1e-6)
    assert after.pinch_distance == pytest.approx(before.pinch_distance, rel=1e-6)
    assert {f: s.extended for f, s in after.fingers.items()} == {f: s.extended for f, s in before.fingers.items()}


@PROPERTY_SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32 - 1), amount=st.floats(0.0, 0.01))
def test_noise_within_one_percent_of_hand_size_keeps_a_clear_pose(bases, data, seed, amount):
    clear = [b for b in bases if classify(b[1], b[2]).score >= CLEAR_SCORE]
    assert {b[3] for b in clear} >= {"open", "closed", "pinch", "point", "hand"}
    name, hand, aspect, label = data.draw(st.sampled_from(clear), label="base")
    rng = np.random.default_rng(seed)
    size = hand_size(as_landmarks(hand, aspect))  # isotropic units
    noise = rng.uniform(-1.0, 1.0, np.shape(hand)) * amount * size
    noise[:, 0] /= aspect  # back to normalised x
    if np.shape(hand)[1] == 3:
        noise[:, 2] /= aspect
    assert classify(hand + noise, aspect).label == label, name


def _valid_result(result: PoseResult) -> None:
    assert result.label in {p.value for p in Pose}
    assert 0.0 <= result.score <= 1.0
    assert all(0.5 <= s.confidence <= 1.0 for s in result.fingers.values())
    assert result.pinch_distance >= 0.0


@PROPERTY_SETTINGS
@given(points=arrays(np.float64, (NUM_HAND_LANDMARKS, 2), elements=st.floats(0.0, 1.0)))
def test_any_points_in_the_image_classify_or_raise_landmark_error(points):
    try:
        result = classify(points)
    except LandmarkError:
        return
    _valid_result(result)


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
    row=st.integers(0, NUM_HAND_LANDMARKS - 1),
)
def test_nan_or_inf_anywhere_raises_landmark_error(bases, data, bad, row):
    name, hand, aspect, _ = data.draw(st.sampled_from(bases), label="base")
    col = data.draw(st.integers(0, np.shape(hand)[1] - 1), label="column")
    broken = np.array(hand, dtype=float)
    broken[row, col] = bad
    with pytest.raises(LandmarkError, match="NaN or infinite"):
        classify(broken, aspect)


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    row=st.integers(0, NUM_HAND_LANDMARKS - 1),
    col=st.integers(0, 1),
    beyond=st.floats(1e-3, 1e6),
    low=st.booleans(),
)
def test_out_of_range_coordinates_raise_landmark_error(bases, data, row, col, beyond, low):
    name, hand, aspect, _ = data.draw(st.sampled_from(bases), label="base")
    broken = np.array(hand, dtype=float)
    broken[row, col] = COORD_MIN - beyond if low else COORD_MAX + beyond
    with pytest.raises(LandmarkError, match="out of range"):
        classify(broken, aspect)


@PROPERTY_SETTINGS
@given(
    shape=st.one_of(
        st.tuples(st.integers(0, 60).filter(lambda n: n != NUM_HAND_LANDMARKS), st.integers(2, 3)),
        st.tuples(st.just(NUM_HAND_LANDMARKS), st.integers(0, 6).filter(lambda d: d not in (2, 3))),
        st.tuples(st.integers(0, 70)),
        st.tuples(st.integers(1, 4), st.just(NUM_HAND_LANDMARKS), st.integers(2, 3)),
    )
)
def test_wrong_shapes_raise_landmark_error(shape):
    with pytest.raises(LandmarkError, match="expected 21 points"):
        classify(np.full(shape, 0.5))


JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=3)),
    lambda children: st.lists(children, max_size=22),
    max_leaves=80,
)


@PROPERTY_SETTINGS
@given(junk=JUNK)
def test_junk_input_gives_a_result_or_landmark_error_never_another_exception(junk):
    try:
        result = classify(junk)
    except LandmarkError:
        return
    _valid_result(result)
