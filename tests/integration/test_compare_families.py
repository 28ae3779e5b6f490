"""scripts/compare_families.py: the parts that need no scikit-learn.

The comparison itself needs scikit-learn, which is no dependency of handmap (the
``compare`` extra), and minutes of training; its figures are in docs/accuracy.md. Here:
gradient boosting's binning and the bar the summary judges each family by.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scripts_loader import load_script


@pytest.fixture(scope="module")
def families():
    return load_script("compare_families.py", "handmap_compare_families_script")


def test_binning_keeps_few_values_and_caps_many(families):
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(size=2000), rng.choice([0.1, 0.5, 0.9], size=2000)], axis=1)
    binned = families.apply_edges(x, families.quantile_edges(x))
    assert len(np.unique(binned[:, 0])) == families.BINS
    assert sorted(np.unique(binned[:, 1]).tolist()) == [0.0, 1.0, 2.0]
    # Bins keep the order of the values they stand for.
    order = np.argsort(x[:, 0], kind="stable")
    assert np.all(np.diff(binned[order, 0]) >= 0)


def _row(family, seed, four, other, ece=0.03):
    return {"family": family, "params": {}, "copies": 5, "seed": seed, "four_poses": four, "pinch": 0.7,
            "point": 0.7, "other_given_pose": other, "ece": ece}


def test_summary_judges_each_family_by_the_bar_against_the_mlps_three_seeds(families, tmp_path):
    rows = [_row("mlp", s, 0.874, 0.0466) for s in (0, 1, 2)]
    rows += [_row("better", s, 0.889, 0.0476) for s in (0, 1, 2)]  # +1.5 points, other +0.1
    rows += [_row("leaky", s, 0.894, 0.0526) for s in (0, 1, 2)]  # +2 points, other +0.6
    rows += [_row("jumpy", s, 0.889, 0.0466, ece=0.06 if s == 1 else 0.02) for s in (0, 1, 2)]
    rows += [_row("once", 0, 0.95, 0.01)]
    results = tmp_path / "runs.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = {line.split(" |")[0].lstrip("| ").split()[0]: line for line in families.summary(results).splitlines()[2:]}
    assert "| yes (+1.5 points, other +0.10) |" in table["better"]
    assert "| no (+2.0 points, other +0.60) |" in table["leaky"]
    assert "| no (" in table["jumpy"]
    assert "needs the MLP's seeds 0-2" in table["once"]
    assert "| the baseline |" in table["mlp"]


def test_an_unknown_parameter_is_refused_before_any_training(families):
    assert families.family_params("hgb", ["max_depth=3"])["max_depth"] == 3
    with pytest.raises(SystemExit, match="max_dept: hgb has max_depth"):
        families.family_params("hgb", ["max_dept=3"])
