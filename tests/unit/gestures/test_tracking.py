"""Hand identity (gestures.tracking): stable ids, grace time, new hands, handedness flips.

Hands are MediaPipe's own expected landmarks for its test photos
(hands/mediapipe_testdata_landmarks.json), moved about the image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmap.gestures.tracking import HandIdentities, IdentityParams, hand_size, palm_centre
from handmap.gestures.types import Handedness, HandObservation

L, R = Handedness.LEFT, Handedness.RIGHT


@pytest.fixture(scope="module")
def fist(data_dir) -> np.ndarray:
    data = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())
    pts = np.array(next(f for f in data["fixtures"] if f["name"] == "fist")["landmarks"], dtype=float)
    # Scaled to a typical webcam size (0.12 of the image from wrist to middle knuckle).
    pts[:, :2] = 0.5 + (pts[:, :2] - 0.5) * (0.12 / hand_size(pts))
    return pts


def at(landmarks: np.ndarray, x: float, y: float, side=R, score=0.95) -> HandObservation:
    """The hand moved so its palm centre is at (x, y)."""
    pts = landmarks.copy()
    pts[:, :2] += np.array([x, y]) - palm_centre(landmarks)
    return HandObservation(landmarks=pts, handedness=side, score=score)


def ids_by_side(result, hands):
    return {hands[j].handedness: hand_id for hand_id, j in result.matched}


def test_two_hands_keep_their_ids_while_moving(fist):
    tr = HandIdentities()
    first = None
    for i in range(60):
        t = i / 30
        hands = [at(fist, 0.3 + 0.1 * np.sin(t), 0.5, L), at(fist, 0.7 - 0.1 * np.sin(t), 0.5 + 0.05 * t, R)]
        if i % 2:
            hands.reverse()  # the detector's order means nothing
        res = tr.update(t, hands)
        assert not res.lost and not res.missing
        ids = ids_by_side(res, hands)
        if first is None:
            first = ids
            assert sorted(res.new) == sorted(ids.values())
        else:
            assert ids == first and not res.new


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_dropped_detection_within_grace_keeps_the_id(fps):
    tr = HandIdentities(IdentityParams(grace_ms=150))
    base = np.zeros((21, 3))
    base[:, 0] = np.linspace(0.4, 0.5, 21)
    base[:, 1] = np.linspace(0.4, 0.6, 21)
    hand = HandObservation(landmarks=base, handedness=R, score=0.9)
    frame_s = 1 / fps
    t = 0.0
    (hand_id, _), = tr.update(t, [hand]).matched
    # One frame missing, then back: same id, nothing lost.
    t += frame_s
    res = tr.update(t, [])
    assert res.missing == (hand_id,) and not res.lost
    t += frame_s
    res = tr.update(t, [hand])
    assert res.matched == ((hand_id, 0),) and not res.new
    # Now gone: reported lost exactly once, when the grace time (150 ms) has passed.
    gone_at = t
    lost_at = []
    for _ in range(int(0.5 * fps)):
        t += frame_s
        res = tr.update(t, [])
        if res.lost:
            assert res.lost[0].hand_id == hand_id and res.lost[0].handedness is R
            lost_at.append(t)
    assert len(lost_at) == 1
    assert 0.150 - 1e-6 <= lost_at[0] - gone_at <= 0.150 + frame_s + 1e-6
    # A hand seen again afterwards is a new hand.
    res = tr.update(t + frame_s, [hand])
    assert res.new and res.new[0] != hand_id


def test_a_second_hand_gets_a_new_id(fist):
    tr = HandIdentities()
    (a, _), = tr.update(0.0, [at(fist, 0.3, 0.5, R)]).matched
    res = tr.update(0.033, [at(fist, 0.31, 0.5, R), at(fist, 0.8, 0.5, L)])
    assert len(res.new) == 1 and res.new[0] != a
    assert dict(res.matched)[a] == 0


def test_handedness_flip_for_a_frame_does_not_change_identity(fist):
    tr = HandIdentities()
    (a, _), = tr.update(0.0, [at(fist, 0.5, 0.5, R)]).matched
    res = tr.update(0.033, [at(fist, 0.51, 0.5, L)])
    assert res.matched == ((a, 0),) and not res.new
    assert tr.handedness(a) is R
    for i in range(2, 6):
        tr.update(i * 0.033, [at(fist, 0.5, 0.5, L)])
    assert tr.handedness(a) is L  # a persistent change is accepted


def test_far_jump_same_side_keeps_the_one_hand(fist):
    # A single right hand re-detected far away (the tracker lost it in a fast move).
    tr = HandIdentities()
    (a, _), = tr.update(0.0, [at(fist, 0.2, 0.5, R)]).matched
    res = tr.update(0.033, [at(fist, 0.85, 0.3, R)])
    assert res.matched == ((a, 0),) and not res.new and not res.lost
    # Without that rule it is a new hand, and the old one is lost after the grace time.
    tr = HandIdentities(IdentityParams(same_side_rematch=False))
    (a, _), = tr.update(0.0, [at(fist, 0.2, 0.5, R)]).matched
    res = tr.update(0.033, [at(fist, 0.85, 0.3, R)])
    assert res.new and res.missing == (a,)
    res = tr.update(0.2, [at(fist, 0.85, 0.3, R)])
    assert [h.hand_id for h in res.lost] == [a]


def test_nearest_pairs_win_for_two_hands_of_one_side(fist):
    # Two right hands (two people): each keeps its id by position.
    tr = HandIdentities()
    res = tr.update(0.0, [at(fist, 0.2, 0.5, R), at(fist, 0.8, 0.5, R)])
    left_id, right_id = dict((j, i) for i, j in res.matched)[0], dict((j, i) for i, j in res.matched)[1]
    res = tr.update(0.033, [at(fist, 0.78, 0.5, R), at(fist, 0.22, 0.5, R)])
    assert dict(res.matched) == {left_id: 1, right_id: 0}


def test_drop_all_and_reset(fist):
    tr = HandIdentities()
    tr.update(0.0, [at(fist, 0.2, 0.5, R), at(fist, 0.8, 0.5, L)])
    lost = tr.drop_all()
    assert [h.hand_id for h in lost] == [1, 2] and tr.ids == ()
    res = tr.update(0.1, [at(fist, 0.2, 0.5, R)])
    assert res.new == (3,)  # ids are never reused


def test_hand_size_and_centre_use_aspect(fist):
    wide = hand_size(fist, aspect=16 / 9)
    assert wide > hand_size(fist) * 0.99
    c = palm_centre(fist, aspect=2.0)
    assert c[0] == pytest.approx(2.0 * palm_centre(fist)[0])


def test_ghost_of_a_redetected_hand_is_merged_back(fist):
    # MediaPipe (VIDEO mode, two hands) after a jump: for one frame it reports the hand
    # at its new place and a ghost at the old tracking region; then only the new one.
    tr = HandIdentities()
    (a, _), = tr.update(0.0, [at(fist, 0.2, 0.5, R)]).matched
    res = tr.update(0.1, [at(fist, 0.2, 0.5, R, score=0.6), at(fist, 0.8, 0.3, R)])
    (young,) = res.new
    res = tr.update(0.2, [at(fist, 0.8, 0.3, R)])
    assert res.matched == ((a, 0),) and res.merged == ((young, a),) and not res.lost
    assert tr.ids == (a,)
    # Two hands of one side seen together for longer than the grace time are two hands.
    tr = HandIdentities()
    tr.update(0.0, [at(fist, 0.2, 0.5, R)])
    for i in range(1, 6):
        tr.update(i * 0.05, [at(fist, 0.2, 0.5, R), at(fist, 0.8, 0.3, R)])
    res = tr.update(0.3, [at(fist, 0.8, 0.3, R)])
    assert not res.merged and res.missing == (1,)
