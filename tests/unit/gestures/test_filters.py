"""One Euro filter (gestures.filters): smoothing at rest, little lag in motion, time-based."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handmap.gestures.filters import OneEuroFilter, OneEuroParams


def run(filt: OneEuroFilter, times, values):
    return np.array([filt(t, v) for t, v in zip(times, values)])


def test_constant_input_passes_unchanged():
    f = OneEuroFilter(OneEuroParams(1.0, 5.0, 1.0))
    out = run(f, np.arange(30) / 30, [np.array([0.3, 0.7])] * 30)
    assert np.allclose(out, [0.3, 0.7])


def test_noise_at_rest_is_smoothed():
    rng = np.random.default_rng(1)
    times = np.arange(300) / 30
    noisy = 0.5 + rng.normal(0, 0.001, size=(300, 2))
    out = run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=5.0, d_cutoff=1.0)), times, noisy)
    raw_sd, filt_sd = noisy[60:].std(axis=0), out[60:].std(axis=0)
    assert np.all(filt_sd < raw_sd / 3), (raw_sd, filt_sd)


def test_step_response_depends_on_time_not_frames():
    # beta = 0: a plain low-pass at min_cutoff; after 0.3 s a unit step has risen by
    # about 1 - exp(-t / tau) at any frame rate.
    params = OneEuroParams(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    tau = 1 / (2 * math.pi)
    risen = {}
    for fps in (15, 30, 60, 120):
        n = int(0.3 * fps) + 1
        times = np.arange(n + 1) / fps
        values = [0.0] + [1.0] * n
        risen[fps] = float(run(OneEuroFilter(params), times, values)[-1])
    expected = 1 - math.exp(-0.3 / tau)
    for value in risen.values():
        assert value == pytest.approx(expected, abs=0.08), risen
    assert max(risen.values()) - min(risen.values()) < 0.12


def test_beta_cuts_lag_in_fast_motion():
    times = np.arange(60) / 30
    ramp = times * 2.0  # 2 units per second
    slow = run(OneEuroFilter(OneEuroParams(1.0, 0.0, 1.0)), times, ramp)
    fast = run(OneEuroFilter(OneEuroParams(1.0, 10.0, 1.0)), times, ramp)
    lag_slow, lag_fast = ramp[-1] - slow[-1], ramp[-1] - fast[-1]
    assert lag_fast < lag_slow / 5
    assert lag_fast < 2.0 / 30  # under one frame of travel


def test_repeated_timestamp_keeps_the_estimate():
    f = OneEuroFilter(OneEuroParams(1.0, 1.0, 1.0))
    f(0.0, 1.0)
    a = f(0.1, 2.0)
    assert f(0.1, 50.0) == pytest.approx(a)
    assert f(0.05, -50.0) == pytest.approx(a)


def test_reset_forgets():
    f = OneEuroFilter()
    f(0.0, 1.0)
    f.reset()
    assert f.value is None
    assert f(1.0, 5.0) == pytest.approx(5.0)


@pytest.mark.parametrize("kwargs", [dict(min_cutoff=0), dict(min_cutoff=-1), dict(beta=-0.1),
                                    dict(d_cutoff=float("nan")), dict(min_cutoff=float("inf"))])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        OneEuroParams(**kwargs)
