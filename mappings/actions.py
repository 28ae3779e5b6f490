"""Input actions: what the mapping engine asks an output backend to do.

Actions are plain frozen values; an output backend (``handmap.daemon.outputs``) turns
them into real input (pynput, uinput) or into the dry-run JSON Lines stream. The
``Report*`` values carry no input: they tell the stream what happened (a pose, a face
touch, a profile switch, pause and resume) and injecting backends ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Button(str, Enum):
    LEFT = "left"
    RIGHT = "right"
    MIDDLE = "middle"


@dataclass(frozen=True)
class MouseMove:
    x: int  # absolute screen pixels
    y: int


@dataclass(frozen=True)
class MouseDown:
    button: Button


@dataclass(frozen=True)
class MouseUp:
    button: Button


@dataclass(frozen=True)
class Scroll:
    dx: int  # wheel steps, positive right
    dy: int  # wheel steps, positive up


@dataclass(frozen=True)
class KeyDown:
    key: str  # pynput-style name: "a", "space", "ctrl", "left", "f5"...


@dataclass(frozen=True)
class KeyUp:
    key: str


@dataclass(frozen=True)
class TypeText:
    text: str


@dataclass(frozen=True)
class ReportPose:
    hand: str  # "left" / "right"
    pose: str
    score: float


@dataclass(frozen=True)
class ReportFaceTouch:
    state: str  # "start" / "end"
    hand: str | None
    zone: str | None = None  # a FaceZone value, when known


@dataclass(frozen=True)
class ReportTwoHands:
    """A two-hand gesture: both hands began or stopped holding ``pose`` (gesture
    ``both``, state ``start``/``end``), or a zoom or rotate step (state ``step``, with
    ``value`` and ``steps``)."""

    gesture: str  # "both", "zoom" or "rotate"
    state: str  # "start", "step" or "end"
    pose: str
    #: zoom: the distance between the hands over the distance when the measuring began
    #: (the pair formed, or both hands came back into view); rotate: degrees turned since
    #: then, clockwise positive.
    value: float | None = None
    steps: int = 0  # zoom: positive in (hands apart); rotate: positive clockwise


@dataclass(frozen=True)
class ReportProfile:
    name: str


@dataclass(frozen=True)
class ReportPaused:
    reason: str = ""  # who paused (``RequestPause.reason``); "" when not known


@dataclass(frozen=True)
class ReportResumed:
    pass


InputAction = MouseMove | MouseDown | MouseUp | Scroll | KeyDown | KeyUp | TypeText


@dataclass(frozen=True)
class Stamped:
    """An action with the source time and frame number it answers."""

    t: float
    frame: int
    action: Action


@dataclass(frozen=True)
class HandReport:
    hand: str
    pose: str | None  # stable pose, None while none is established
    score: float
    x: float  # filtered pointer, normalised
    y: float


@dataclass(frozen=True)
class ReportHands:
    """Every analysed frame's hands (``handmap run --report-frames``): for tuning and tests."""

    hands: tuple[HandReport, ...]


Report = ReportPose | ReportFaceTouch | ReportTwoHands | ReportProfile | ReportPaused | ReportResumed | ReportHands
Action = InputAction | Report
