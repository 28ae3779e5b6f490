"""Stage: signal filters. The One Euro filter (Casiez, Roussel, Vogel, CHI 2012).

A low-pass filter whose cutoff rises with speed: at rest it smooths hard (``min_cutoff``
Hz removes landmark jitter), in fast motion it follows closely (``beta`` raises the cutoff
by ``beta`` Hz per unit/second of speed), so a still pointer is steady and a fast sweep
does not lag. Time-based: it uses the observations' timestamps, never a frame count, so
it behaves the same at 15 and 60 fps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """The filter's three parameters (Casiez et al. names)."""

    min_cutoff: float = 1.0  # Hz, the cutoff at rest
    beta: float = 0.0  # Hz per (unit/second) of speed
    d_cutoff: float = 1.0  # Hz, the cutoff of the speed estimate

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"One Euro {name} must be a positive number of Hz, got {value!r}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"One Euro beta must be zero or positive, got {self.beta!r}")


def smoothing_factor(dt: float, cutoff: float) -> float:
    """The exponential smoothing factor of a first-order low-pass at ``cutoff`` Hz."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over a vector (any shape; each component filtered alike).

    Speed, for the adaptive cutoff, is the norm of the filtered derivative, so a 2D point
    gets one cutoff for both axes (a diagonal sweep is not lagged more than a straight one).
    """

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self._t: float | None = None
        self._shape: tuple[int, ...] | None = None
        # The estimate and its derivative as plain floats: the filter runs on a point or
        # two per frame, where numpy's per-call cost is most of the work.
        self._x: list[float] = []
        self._dx: list[float] = []

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value (None before the first sample)."""
        return None if self._shape is None else self._out()

    def reset(self) -> None:
        self._t = self._shape = None
        self._x, self._dx = [], []

    def _out(self) -> np.ndarray:
        assert self._shape is not None
        return np.array(self._x, dtype=float).reshape(self._shape)

    def __call__(self, t: float, x) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds); returns the filtered value."""
        x = np.asarray(x, dtype=float)
        values = x.ravel().tolist()
        if self._shape is None or self._t is None or self._shape != x.shape:
            self._t, self._shape = t, x.shape
            self._x, self._dx = values, [0.0] * len(values)
            return self._out()
        dt = t - self._t
        if not dt > 0:
            # Same (or an older) timestamp: nothing to integrate over; keep the estimate.
            return self._out()
        p = self.params
        a_d = smoothing_factor(dt, p.d_cutoff)
        self._dx = [d + a_d * ((v - e) / dt - d) for v, e, d in zip(values, self._x, self._dx)]
        speed = math.hypot(*self._dx)
        a = smoothing_factor(dt, p.min_cutoff + p.beta * speed)
        self._x = [e + a * (v - e) for v, e in zip(values, self._x)]
        self._t = t
        return self._out()
