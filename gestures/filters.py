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
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value (None before the first sample)."""
        return None if self._x is None else self._x.copy()

    def reset(self) -> None:
        self._t = self._x = self._dx = None

    def __call__(self, t: float, x) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds); returns the filtered value."""
        x = np.asarray(x, dtype=float)
        if self._x is None or self._t is None or self._x.shape != x.shape:
            self._t, self._x, self._dx = t, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self._t
        if not dt > 0:
            # Same (or an older) timestamp: nothing to integrate over; keep the estimate.
            return self._x.copy()
        p = self.params
        dx = (x - self._x) / dt
        a_d = smoothing_factor(dt, p.d_cutoff)
        self._dx = self._dx + a_d * (dx - self._dx)
        speed = float(np.linalg.norm(self._dx))
        a = smoothing_factor(dt, p.min_cutoff + p.beta * speed)
        self._x = self._x + a * (x - self._x)
        self._t = t
        return self._x.copy()
