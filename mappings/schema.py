"""Mapping profile schema (version 1): what a profile YAML file may say.

A profile names the windows it is for (``match``), user-defined poses next to the
built-in five (``poses``), how the hand drives the pointer (``pointer``) and which
gesture events do what (``bindings``). ``extends`` inherits another profile (the loader
merges the two before validating the result). Every model forbids unknown keys so a
typo is reported, with a suggestion, instead of being ignored.

    version: 1
    name: example
    extends: desktop
    pointer: {mode: relative, hand: right, clutch: closed}
    bindings:
      - enter: pinch          # or exit / held (+ ms) / swipe / face_touch
        hand: right           # left, right, any (the default) or both (two hands)
        do: click             # one action or a list of actions
      - zoom: point           # two hands: their distance zooms (rotate: their angle)
        scroll: ctrl          # or in: / out: keys; rotate has clockwise: / counterclockwise:

Nothing here runs a program: actions are mouse, keys, text, profile and pause only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from handmap.gestures.landmarks import Finger
from handmap.gestures.types import Pose, PoseSpec
from handmap.mappings.keys import KeyNameError, canonical_key, parse_combo, suggest
from handmap.mappings.window_match import Window, WindowRule

#: The schema version this handmap writes and reads.
SCHEMA_VERSION = 1

#: Migrations from an older schema version N to N + 1, applied to the raw YAML data
#: before validation (none yet: version 1 is the first).
MIGRATIONS: Mapping[int, Callable[[dict], dict]] = MappingProxyType({})

#: The classifier's own poses, which a profile may bind without defining.
BUILTIN_POSES: tuple[str, ...] = tuple(p.value for p in Pose)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")

#: Upper bounds on numbers that become input events, so no profile (a typo, or one from
#: someone else) can make one binding scroll a billion steps or type a book: a pynput
#: scroll of N steps is N button clicks, sent before the next frame is handled.
MAX_SCROLL_STEPS = 100  # per action
MAX_SCROLL_SPEED = 1000.0  # drag_scroll wheel steps per view height
MAX_TYPED_TEXT = 1000  # characters per ``type`` action
MAX_GAIN = 100.0  # relative pointer gain, acceleration and its cap
MAX_CURSOR_SPEED = 100_000.0  # joystick cursor pixels per second
MAX_MONITOR = 63
#: Two-hand zoom steps, as a fraction of the distance between the hands; rotate steps in
#: degrees. The lower bounds keep a trembling hand from firing a step every frame.
MIN_ZOOM_STEP, MAX_ZOOM_STEP, DEFAULT_ZOOM_STEP = 0.03, 3.0, 0.15
MIN_ROTATE_DEGREES, MAX_ROTATE_DEGREES, DEFAULT_ROTATE_DEGREES = 3.0, 180.0, 15.0
#: What ``scroll:`` of a zoom says for a wheel with no key held.
NO_SCROLL_KEYS = "none"


class Strict(BaseModel):
    """Unknown keys are errors; values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise PydanticCustomError(
            "bad_name", "'{value}' is not a valid name; use lower-case letters, digits, '_' and '-'",
            {"value": value})
    return value


def _check_combo(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("combo_type", "expected a key name or combo such as 'space' or 'ctrl+shift+t'")
    try:
        return str(parse_combo(value))
    except KeyNameError as exc:
        raise PydanticCustomError("bad_key", str(exc)) from None


def _check_key(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("key_type", "expected a key name such as 'w' or 'up'")
    try:
        return canonical_key(value)
    except KeyNameError as exc:
        raise PydanticCustomError("bad_key", str(exc)) from None


Name = Annotated[str, AfterValidator(_check_name)]
KeyCombo = Annotated[str, BeforeValidator(_check_combo)]
KeyName = Annotated[str, BeforeValidator(_check_key)]
HandSelector = Literal["left", "right", "any"]
#: A binding's hand: one of the above, or ``both`` (the pose held by two hands at once).
BindingHand = Literal["left", "right", "any", "both"]
ButtonName = Literal["left", "right", "middle"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def _check_scroll_keys(value: Any) -> str:
    if value == NO_SCROLL_KEYS:
        return NO_SCROLL_KEYS
    if not isinstance(value, str):
        raise PydanticCustomError(
            "combo_type", "expected the keys held while the wheel turns, such as 'ctrl', or 'none'")
    return _check_combo(value)


ScrollKeys = Annotated[str, BeforeValidator(_check_scroll_keys)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# ---------------------------------------------------------------------------------
# match, alerts, poses
# ---------------------------------------------------------------------------------


class Match(Strict):
    """Which windows activate the profile (any rule matching is enough)."""

    window_class: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list, alias="class")
    title: str | None = None  # a regular expression searched in the window title
    process: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)

    @field_validator("title")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise PydanticCustomError("bad_regex", "not a valid regular expression: {err}",
                                          {"err": str(exc)}) from None
        return value

    def is_empty(self) -> bool:
        return not (self.window_class or self.title or self.process)

    def rule(self) -> WindowRule:
        """This section as the window matcher's rule."""
        return WindowRule(tuple(self.window_class), self.title, tuple(self.process))

    def matches(self, window_class: str = "", title: str = "", process: str = "") -> bool:
        return self.rule().matches(Window(wm_class=window_class, title=title, process=process))


class Alerts(Strict):
    face_touch: bool = True  # notify when a hand touches the face


FingerRule = Literal["extended", "curled", "any"]


class PoseDef(Strict):
    """A user pose: finger states (unnamed fingers may be either) and pinch bounds."""

    fingers: dict[Finger, FingerRule] = Field(default_factory=dict)
    pinch_below: Annotated[float, Field(gt=0)] | None = None
    pinch_above: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _something(self) -> PoseDef:
        if not any(r != "any" for r in self.fingers.values()) and self.pinch_below is None \
                and self.pinch_above is None:
            raise ValueError("a pose needs at least one finger state or pinch bound")
        if self.pinch_below is not None and self.pinch_above is not None \
                and self.pinch_above >= self.pinch_below:
            raise ValueError("pinch_above must be smaller than pinch_below")
        return self

    def spec(self, name: str) -> PoseSpec:
        return PoseSpec(
            name=name,
            fingers=MappingProxyType({f: r == "extended" for f, r in self.fingers.items() if r != "any"}),
            pinch_below=self.pinch_below,
            pinch_above=self.pinch_above,
        )


# ---------------------------------------------------------------------------------
# pointer
# ---------------------------------------------------------------------------------


class Region(Strict):
    """The active part of the camera view (normalised), mapped onto the screen."""

    left: Fraction = 0.15
    top: Fraction = 0.15
    right: Fraction = 0.85
    bottom: Fraction = 0.85

    @model_validator(mode="after")
    def _ordered(self) -> Region:
        if self.right - self.left < 0.05 or self.bottom - self.top < 0.05:
            raise ValueError("the region must have left < right and top < bottom (at least 0.05 apart)")
        return self


class Absolute(Strict):
    region: Region = Field(default_factory=Region)
    monitor: Annotated[int, Field(ge=0, le=MAX_MONITOR)] | None = None  # None: all monitors


class Relative(Strict):
    gain: Annotated[float, Field(gt=0, le=MAX_GAIN)] = 1.5  # screen widths per view width, slow moves
    acceleration: Annotated[float, Field(ge=0, le=MAX_GAIN)] = 1.0  # extra gain per view width/s of speed
    max_factor: Annotated[float, Field(ge=1, le=MAX_GAIN)] = 4.0  # cap on the acceleration factor


class JoystickKeys(Strict):
    up: KeyName = "w"
    down: KeyName = "s"
    left: KeyName = "a"
    right: KeyName = "d"


class Joystick(Strict):
    output: Literal["cursor", "keys"] = "cursor"
    neutral: Literal["start"] | tuple[Fraction, Fraction] = (0.5, 0.5)
    dead_zone: Annotated[float, Field(ge=0, lt=0.5)] = 0.06
    full_offset: Annotated[float, Field(gt=0, le=1)] = 0.25  # offset giving full speed
    speed: Annotated[float, Field(gt=0, le=MAX_CURSOR_SPEED)] = 1200.0  # cursor pixels per second at full offset
    keys: JoystickKeys = Field(default_factory=JoystickKeys)

    @model_validator(mode="after")
    def _zones(self) -> Joystick:
        if self.full_offset <= self.dead_zone:
            raise ValueError("full_offset must be larger than dead_zone")
        return self


class Pointer(Strict):
    """How one hand drives the pointer (or, in joystick keys mode, held keys)."""

    mode: Literal["none", "absolute", "relative", "joystick"] = "none"
    hand: HandSelector = "any"
    #: Flip left and right. The daemon already mirrors camera frames (config camera.mirror),
    #: so this is for a source that is not mirrored.
    mirror: bool = False
    poses: list[str] | None = None  # poses in which the pointer moves; none given: any
    clutch: str | None = None  # a pose that moves the hand without moving the pointer
    absolute: Absolute = Field(default_factory=Absolute)
    relative: Relative = Field(default_factory=Relative)
    joystick: Joystick = Field(default_factory=Joystick)


# ---------------------------------------------------------------------------------
# actions
# ---------------------------------------------------------------------------------


class Click(Strict):
    click: ButtonName = "left"


class DoubleClick(Strict):
    double_click: ButtonName = "left"


class MouseDown(Strict):
    mouse_down: ButtonName = "left"
    sticky: bool = False  # keep it down after the pose ends, until mouse_up or hand lost


class MouseUp(Strict):
    mouse_up: ButtonName = "left"


class KeyTap(Strict):
    key: KeyCombo


class KeyHold(Strict):
    hold: KeyCombo
    sticky: bool = False  # keep it down after the pose ends, until release or hand lost


class KeyRelease(Strict):
    release: KeyCombo


class ScrollSteps(Strict):
    dx: Annotated[int, Field(ge=-MAX_SCROLL_STEPS, le=MAX_SCROLL_STEPS)] = 0
    dy: Annotated[int, Field(ge=-MAX_SCROLL_STEPS, le=MAX_SCROLL_STEPS)] = 0  # positive: wheel up


class ScrollAction(Strict):
    scroll: ScrollSteps


class DragScrollSpec(Strict):
    speed: Annotated[float, Field(gt=0, le=MAX_SCROLL_SPEED)] = 25.0  # wheel steps per view height of motion
    natural: bool = True  # the page follows the hand (hand up scrolls down)


class DragScroll(Strict):
    drag_scroll: DragScrollSpec = Field(default_factory=DragScrollSpec)


class TypeText(Strict):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TYPED_TEXT)] = Field(alias="type")


class ScreenPoint(Strict):
    x: Fraction = 0.5
    y: Fraction = 0.5


class MoveTo(Strict):
    move: ScreenPoint = Field(default_factory=ScreenPoint)


class SwitchProfile(Strict):
    profile: Name


class Control(Strict):
    control: Literal["pause", "resume", "toggle_pause"]


class UnknownAction(Strict):
    """Never valid: reports an unknown action name with a suggestion."""

    @model_validator(mode="before")
    @classmethod
    def _fail(cls, value: Any) -> Any:
        name = value if isinstance(value, str) else ", ".join(map(str, value)) if isinstance(value, dict) else value
        hint = suggest(name, ACTION_NAMES) if isinstance(name, str) else ""
        raise PydanticCustomError(
            "unknown_action", "unknown action {name}{hint} (actions: {choices})",
            {"name": repr(name), "hint": hint, "choices": ", ".join(ACTION_NAMES)})


#: Action shorthands written as a bare word.
_SHORTHANDS: Mapping[str, dict] = MappingProxyType({
    "click": {"click": "left"},
    "left_click": {"click": "left"},
    "right_click": {"click": "right"},
    "middle_click": {"click": "middle"},
    "double_click": {"double_click": "left"},
    "mouse_down": {"mouse_down": "left"},
    "mouse_up": {"mouse_up": "left"},
    "drag_scroll": {"drag_scroll": {}},
    "move": {"move": {}},
    "pause": {"control": "pause"},
    "resume": {"control": "resume"},
    "toggle_pause": {"control": "toggle_pause"},
})

_ACTION_MODELS: Mapping[str, type] = MappingProxyType({
    "click": Click, "double_click": DoubleClick, "mouse_down": MouseDown, "mouse_up": MouseUp,
    "key": KeyTap, "hold": KeyHold, "release": KeyRelease, "scroll": ScrollAction,
    "drag_scroll": DragScroll, "type": TypeText, "move": MoveTo, "profile": SwitchProfile,
    "control": Control,
})

ACTION_NAMES: tuple[str, ...] = tuple(sorted((set(_ACTION_MODELS) | set(_SHORTHANDS)) - {"control", "left_click"}))


def _action_tag(value: Any) -> str:
    if isinstance(value, BaseModel):
        for tag, model in _ACTION_MODELS.items():
            if isinstance(value, model):
                return tag
    if isinstance(value, dict):
        tags = [k for k in value if k in _ACTION_MODELS]
        if len(tags) == 1:
            return tags[0]
    return "__unknown__"


def _normalise_actions(value: Any) -> Any:
    if value is None or value == "none":
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str) and item in _SHORTHANDS:
            out.append(dict(_SHORTHANDS[item]))
        elif isinstance(item, dict) and len(item) >= 1:
            first = next(iter(item))
            if first in _SHORTHANDS and first not in _ACTION_MODELS and len(item) == 1 \
                    and item[first] in (None, True):
                out.append(dict(_SHORTHANDS[first]))  # e.g. {pause: true}
            else:
                out.append(item)
        else:
            out.append(item)
    return out


if TYPE_CHECKING:  # the checker cannot read a union built at run time: every action is a Strict model
    ActionSpec = Strict
else:
    ActionSpec = Annotated[
        Union[tuple(Annotated[m, Tag(t)] for t, m in _ACTION_MODELS.items())  # noqa: UP007 (built at run time)
              + (Annotated[UnknownAction, Tag("__unknown__")],)],
        Discriminator(_action_tag),
    ]


# ---------------------------------------------------------------------------------
# bindings and the profile
# ---------------------------------------------------------------------------------

TRIGGERS = ("enter", "exit", "held", "swipe", "face_touch", "zoom", "rotate")
#: Triggers of gestures that need two hands (a binding with ``hand: both`` is another).
TWO_HAND_TRIGGERS = ("zoom", "rotate")
#: The settings that go with one trigger only (no other binding may use them).
_TRIGGER_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "held": ("ms",),
    "zoom": ("step", "scroll", "zoom_in", "zoom_out"),
    "rotate": ("degrees", "clockwise", "counterclockwise"),
})
#: How the fields above are written in a profile.
_FIELD_KEYS: Mapping[str, str] = MappingProxyType({"zoom_in": "in", "zoom_out": "out"})


class Binding(Strict):
    """One trigger (exactly one of ``enter``, ``exit``, ``held``, ``swipe``,
    ``face_touch``, ``zoom``, ``rotate``), an optional hand, and the actions to run.

    ``hand: both`` makes ``enter``/``exit``/``held`` a two-hand trigger: both hands hold
    the pose. ``zoom`` and ``rotate`` are two-hand gestures while both hands hold their
    pose; they say what they do with their own keys instead of ``do``."""

    enter: str | None = None  # a pose became stable
    exit: str | None = None  # a pose ended
    held: str | None = None  # a pose lasted ``ms`` milliseconds
    ms: Annotated[int, Field(gt=0, le=60000)] | None = None
    swipe: Literal["left", "right", "up", "down", "any"] | None = None
    face_touch: Literal["start", "end"] | None = None
    #: Both hands hold this pose: the change in the distance between them zooms.
    zoom: str | None = None
    step: Annotated[float, Field(ge=MIN_ZOOM_STEP, le=MAX_ZOOM_STEP)] | None = None
    scroll: ScrollKeys | None = None  # wheel steps with these keys held ("none": no key)
    zoom_in: KeyCombo | None = Field(default=None, alias="in")
    zoom_out: KeyCombo | None = Field(default=None, alias="out")
    #: Both hands hold this pose: turning the line between them presses keys.
    rotate: str | None = None
    degrees: Annotated[float, Field(ge=MIN_ROTATE_DEGREES, le=MAX_ROTATE_DEGREES)] | None = None
    clockwise: KeyCombo | None = None
    counterclockwise: KeyCombo | None = None
    hand: BindingHand = "any"
    do: Annotated[list[ActionSpec], BeforeValidator(_normalise_actions)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_trigger(self) -> Binding:
        given = [t for t in TRIGGERS if getattr(self, t) is not None]
        if len(given) != 1:
            raise ValueError(
                "a binding needs exactly one trigger: enter, exit, held, swipe, face_touch, zoom or rotate"
                + (f" (found {', '.join(given)})" if given else ""))
        if self.held is not None and self.ms is None:
            raise ValueError("a 'held' binding needs 'ms' (how long the pose must last, in milliseconds)")
        for trigger, names in _TRIGGER_FIELDS.items():
            if trigger != self.trigger:
                for name in names:
                    if getattr(self, name) is not None:
                        raise ValueError(f"'{_FIELD_KEYS.get(name, name)}' only goes with a '{trigger}' trigger")
        if self.hand == "both" and self.trigger not in ("enter", "exit", "held"):
            raise ValueError("'hand: both' goes with an enter, exit or held trigger (zoom and rotate always"
                             " take both hands)")
        if self.trigger in TWO_HAND_TRIGGERS:
            self._check_two_hand_gesture()
        if self.trigger not in ("enter", "held"):
            for a in self.do:
                if isinstance(a, DragScroll) or (isinstance(a, (MouseDown, KeyHold)) and not a.sticky):
                    raise ValueError(
                        f"'{_action_tag(a)}' lasts while a pose lasts, so it needs an 'enter' or 'held'"
                        " trigger (or 'sticky: true' and a later release)")
        if self.hand == "both" and any(isinstance(a, DragScroll) for a in self.do):
            raise ValueError("'drag_scroll' follows one hand; it does not go with 'hand: both'")
        return self

    def _check_two_hand_gesture(self) -> None:
        name = self.trigger
        if self.hand != "any":
            raise ValueError(f"a '{name}' takes both hands; leave out 'hand'")
        if self.do:
            keys = "'scroll' or 'in' and 'out'" if name == "zoom" else "'clockwise' and 'counterclockwise'"
            raise ValueError(f"a '{name}' binding says what it does with {keys}, not with 'do'")
        if name == "zoom":
            pair = (self.zoom_in is not None) + (self.zoom_out is not None)
            if self.scroll is not None and pair:
                raise ValueError("a 'zoom' either scrolls ('scroll') or presses keys ('in' and 'out'), not both")
            if self.scroll is None and pair != 2:
                raise ValueError("a 'zoom' needs 'scroll' (the keys held while the wheel turns, e.g. 'ctrl',"
                                 " or 'none') or both 'in' and 'out' (e.g. ctrl+plus and ctrl+minus)")
        elif self.clockwise is None and self.counterclockwise is None:
            raise ValueError("a 'rotate' needs 'clockwise' or 'counterclockwise' (a key or combo to press"
                             " each step), or both")

    @property
    def trigger(self) -> str:
        return next(t for t in TRIGGERS if getattr(self, t) is not None)

    @property
    def pose(self) -> str | None:
        return self.enter or self.exit or self.held or self.zoom or self.rotate

    @property
    def two_hands(self) -> bool:
        """Whether this binding needs both hands (zoom, rotate, or ``hand: both``)."""
        return self.hand == "both" or self.trigger in TWO_HAND_TRIGGERS

    @property
    def zoom_step(self) -> float:
        return self.step if self.step is not None else DEFAULT_ZOOM_STEP

    @property
    def rotate_degrees(self) -> float:
        return self.degrees if self.degrees is not None else DEFAULT_ROTATE_DEGREES


class Profile(Strict):
    version: int
    name: Name | None = None
    description: str = ""
    extends: Name | None = None
    match: Match = Field(default_factory=Match)
    alerts: Alerts = Field(default_factory=Alerts)
    poses: dict[Name, PoseDef] = Field(default_factory=dict)
    pointer: Pointer = Field(default_factory=Pointer)
    bindings: list[Binding] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise PydanticCustomError(
                "bad_version", "unsupported profile version {v}; this handmap reads version {cur}",
                {"v": value, "cur": SCHEMA_VERSION})
        return value

    @field_validator("poses")
    @classmethod
    def _not_builtin(cls, value: dict) -> dict:
        for name in value:
            if name in BUILTIN_POSES or name in ("face", "tip", "pinchtip"):
                raise PydanticCustomError(
                    "builtin_pose", "'{name}' is a built-in pose; give your pose another name",
                    {"name": name})
        return value

    # -- what other stages need -------------------------------------------------------

    def pose_names(self) -> tuple[str, ...]:
        return BUILTIN_POSES + tuple(self.poses)

    def pose_specs(self) -> tuple[PoseSpec, ...]:
        """The profile's own poses, for the classifier's ``custom=`` argument."""
        return tuple(d.spec(n) for n, d in self.poses.items())

    def hold_durations_ms(self) -> tuple[int, ...]:
        """The one-hand ``held`` durations bound, for the gesture engine's PoseHeld reports
        (the mapping engine times ``hand: both`` itself)."""
        return tuple(sorted({b.ms for b in self.bindings
                             if b.held is not None and b.ms is not None and b.hand != "both"}))

    def two_hand_bindings(self) -> tuple[int, ...]:
        """The indices of the bindings that need two hands."""
        return tuple(i for i, b in enumerate(self.bindings) if b.two_hands)

    def two_hand_warning(self, max_hands: int) -> str | None:
        """What to say when this profile's two-hand bindings cannot fire because the
        tracker follows fewer than two hands (config ``model.max_hands``); None if fine."""
        if max_hands >= 2 or not self.two_hand_bindings():
            return None
        return (f"this profile has two-hand bindings, but model.max_hands is {max_hands}, so they never fire;"
                " set 'model: {max_hands: 2}' in config.yaml to use them")

    def matches(self, window_class: str = "", title: str = "", process: str = "") -> bool:
        return self.match.matches(window_class, title, process)

    def to_yaml_data(self) -> dict:
        """Plain data (as YAML would hold it) of the resolved profile."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
