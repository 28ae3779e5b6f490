"""Pointer modes: a hand's normalised control point to a cursor position or held keys.

- absolute: an active region of the camera view (the margins cut off) maps onto the
  whole screen or onto one chosen monitor;
- relative: hand motion times a gain, accelerated with speed, moves the cursor; a
  "clutch" pose (handled by the engine, which passes ``active=False``) lets the hand
  move without moving the cursor;
- joystick: the hand's offset from a neutral point, past a dead zone, drives the
  cursor's speed, or holds direction keys (WASD, arrows) for games.

The drivers are small state machines owned by the mapping engine; they see normalised
points (flipped when the profile says ``mirror``) and the engine's float cursor, and return what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from handmap.mappings.schema import Absolute, Joystick, Relative

#: Longest frame gap used for speed and joystick integration (a stall is not a fling).
MAX_DT_S = 0.2


@dataclass(frozen=True)
class Rect:
    """A screen rectangle in pixels (a monitor, or the bounds of all of them)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.right and self.y <= py < self.bottom

    def clamp(self, px: float, py: float) -> tuple[float, float]:
        return (min(max(px, self.x), self.right - 1), min(max(py, self.y), self.bottom - 1))

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """The point at fractions ``fx``, ``fy`` (0 to 1) across this rectangle."""
        return self.clamp(self.x + fx * self.width, self.y + fy * self.height)


@dataclass(frozen=True)
class ScreenGeometry:
    """The monitors, in the desktop's pixel coordinates (the first is the primary)."""

    monitors: tuple[Rect, ...]

    def __post_init__(self) -> None:
        if not self.monitors:
            raise ValueError("a screen needs at least one monitor")

    @classmethod
    def single(cls, width: int, height: int) -> ScreenGeometry:
        return cls((Rect(0, 0, width, height),))

    @property
    def bounds(self) -> Rect:
        x0 = min(m.x for m in self.monitors)
        y0 = min(m.y for m in self.monitors)
        x1 = max(m.right for m in self.monitors)
        y1 = max(m.bottom for m in self.monitors)
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def target(self, monitor: int | None) -> Rect:
        """The chosen monitor, or the bounds of all when ``monitor`` is None or absent."""
        if monitor is not None and 0 <= monitor < len(self.monitors):
            return self.monitors[monitor]
        return self.bounds

    def clamp(self, px: float, py: float) -> tuple[float, float]:
        """Keep a point on some monitor (the nearest one when it falls in a gap)."""
        if any(m.contains(px, py) for m in self.monitors):
            return px, py
        best = min(self.monitors, key=lambda m: math.dist(m.clamp(px, py), (px, py)))
        return best.clamp(px, py)


@dataclass(frozen=True)
class PointerUpdate:
    """A driver's answer for one frame: where the cursor goes (None: stays) and, in
    joystick keys mode, which keys should be held now."""

    cursor: tuple[float, float] | None = None
    keys: frozenset[str] = frozenset()


class PointerDriver(Protocol):
    def reset(self) -> None:
        """Forget motion history (hand changed, clutch, pause, profile switch)."""

    def update(self, point: tuple[float, float], active: bool, locked: bool, t: float,
               cursor: tuple[float, float]) -> PointerUpdate: ...


class AbsoluteDriver:
    def __init__(self, cfg: Absolute, screen: ScreenGeometry):
        self.cfg = cfg
        self.screen = screen

    def reset(self) -> None:
        pass

    def map(self, point: tuple[float, float]) -> tuple[float, float]:
        r = self.cfg.region
        fx = (point[0] - r.left) / (r.right - r.left)
        fy = (point[1] - r.top) / (r.bottom - r.top)
        fx, fy = min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)
        return self.screen.target(self.cfg.monitor).at(fx, fy)

    def update(self, point, active, locked, t, cursor) -> PointerUpdate:
        if not active or locked:
            return PointerUpdate()
        return PointerUpdate(cursor=self.map(point))


class RelativeDriver:
    def __init__(self, cfg: Relative, screen: ScreenGeometry):
        self.cfg = cfg
        self.screen = screen
        self._last: tuple[float, float, float] | None = None

    def reset(self) -> None:
        self._last = None

    def update(self, point, active, locked, t, cursor) -> PointerUpdate:
        last, self._last = self._last, (point[0], point[1], t)
        if last is None or not active or locked:
            return PointerUpdate()
        dx, dy = point[0] - last[0], point[1] - last[1]
        dt = min(max(t - last[2], 1e-3), MAX_DT_S)
        speed = math.hypot(dx, dy) / dt  # view widths per second
        factor = min(1.0 + self.cfg.acceleration * speed, self.cfg.max_factor)
        b = self.screen.bounds
        nx = cursor[0] + dx * self.cfg.gain * factor * b.width
        ny = cursor[1] + dy * self.cfg.gain * factor * b.height
        return PointerUpdate(cursor=self.screen.clamp(nx, ny))


class JoystickDriver:
    def __init__(self, cfg: Joystick, screen: ScreenGeometry):
        self.cfg = cfg
        self.screen = screen
        self._neutral: tuple[float, float] | None = None
        self._last_t: float | None = None

    def reset(self) -> None:
        self._neutral = None
        self._last_t = None

    def offset(self, point: tuple[float, float]) -> tuple[float, float]:
        neutral = self._neutral
        if neutral is None:
            configured = self.cfg.neutral
            neutral = point if configured == "start" else (float(configured[0]), float(configured[1]))
            self._neutral = neutral
        return point[0] - neutral[0], point[1] - neutral[1]

    def update(self, point, active, locked, t, cursor) -> PointerUpdate:
        last_t, self._last_t = self._last_t, t
        if not active:
            if self.cfg.neutral == "start":
                self._neutral = None  # re-centre where the hand is when it drives again
            return PointerUpdate()
        ox, oy = self.offset(point)
        dead = self.cfg.dead_zone
        if self.cfg.output == "keys":
            keys = set()
            if ox > dead:
                keys.add(self.cfg.keys.right)
            elif ox < -dead:
                keys.add(self.cfg.keys.left)
            if oy > dead:
                keys.add(self.cfg.keys.down)
            elif oy < -dead:
                keys.add(self.cfg.keys.up)
            return PointerUpdate(keys=frozenset(keys))
        r = math.hypot(ox, oy)
        if locked or last_t is None or r <= dead:
            return PointerUpdate()
        dt = min(max(t - last_t, 0.0), MAX_DT_S)
        amount = min((r - dead) / (self.cfg.full_offset - dead), 1.0)
        v = self.cfg.speed * amount
        nx = cursor[0] + ox / r * v * dt
        ny = cursor[1] + oy / r * v * dt
        return PointerUpdate(cursor=self.screen.clamp(nx, ny))


def make_driver(pointer, screen: ScreenGeometry) -> PointerDriver | None:
    """The driver for a profile's ``pointer`` section (None for mode ``none``)."""
    if pointer.mode == "absolute":
        return AbsoluteDriver(pointer.absolute, screen)
    if pointer.mode == "relative":
        return RelativeDriver(pointer.relative, screen)
    if pointer.mode == "joystick":
        return JoystickDriver(pointer.joystick, screen)
    return None
