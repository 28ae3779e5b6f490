"""scripts/veto_cuts.py: the rule that chose the pose geometry veto's cuts (POSE_VETO).

The whole run cross-validates the pose model over the training sources (about 3 minutes,
``--check`` says whether it gives the shipped cuts; its figures are in docs/accuracy.md).
Here: the rule itself, on hands whose geometry is known.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import flat_hand
from scripts_loader import load_script

from handmap.gestures.pose_model import CLASSES


@pytest.fixture(scope="module")
def cuts_script():
    return load_script("veto_cuts.py", "handmap_veto_cuts_script")


def _set(cuts_script, bends):
    accuracy = cuts_script.accuracy
    open_i = accuracy.KEYPOINT_CLASSES.index("open")
    points = np.array([flat_hand(b) for b in bends])
    keypoints = accuracy.KeypointSet(points=points, labels=np.full(len(bends), open_i),
                                     sources=np.array(["a"] * len(bends), dtype=object), rows=np.arange(len(bends)))
    probs = np.zeros((len(bends), 5))
    probs[:, open_i] = 0.9
    probs[:, accuracy.KEYPOINT_CLASSES.index("hand")] = 0.1
    return keypoints, probs


def test_the_cut_is_the_largest_that_costs_at_most_the_budget(cuts_script):
    # 199 straight open hands and one claw, all read as open: the claw is half a point of
    # open recall, so the veto may take it and no straight hand.
    keypoints, probs = _set(cuts_script, [0.0] * 199 + [1.4])
    cuts = cuts_script.choose_cuts(probs, keypoints)
    assert set(cuts) == {"open"}  # the only pose with hands here
    read = cuts_script.vetoed(probs.copy(), keypoints.points, {"open": cuts["open"]}).argmax(axis=1)
    names = [CLASSES[i] for i in read]
    assert names[:199] == ["open"] * 199 and names[199] == "hand"
    # One step higher would cost straight hands too: the cut is the largest allowed.
    higher = cuts_script.vetoed(probs.copy(), keypoints.points, {"open": cuts["open"] + 0.25}).argmax(axis=1)
    assert (higher[:199] != read[:199]).any()


def test_no_budget_keeps_every_reading(cuts_script):
    keypoints, probs = _set(cuts_script, [0.0] * 199 + [1.4])
    cuts = cuts_script.choose_cuts(probs, keypoints, budget=0.0)
    read = cuts_script.vetoed(probs.copy(), keypoints.points, {"open": cuts["open"]}).argmax(axis=1)
    assert (read == cuts_script.accuracy.KEYPOINT_CLASSES.index("open")).all()
