"""Configuration: the packaged ``config.yaml`` with the user's file merged over it,
validated so that a bad key or value is named with where it is and what to change."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from handmap.daemon.paths import user_config_dir
from handmap.gestures.engine import GestureConfig
from handmap.gestures.face_touch import FaceTouchConfig
from handmap.gestures.pointer import ControlPoint
from handmap.mappings.yamlpos import (
    MAX_DEPTH,
    MAX_VALUES,
    LoadedYaml,
    SourceError,
    SourceErrors,
    errors_from_validation,
    load_yaml,
)

PACKAGED_CONFIG = "config.yaml"
#: Limits on a configuration file, checked before it is parsed: the packaged file is ~2 KB,
#: so these only stop hostile or broken files (a YAML "billion laughs" bomb, a runaway
#: generator) from costing memory or time in the daemon that reloads them.
MAX_CONFIG_BYTES = 256 * 1024
MAX_YAML_DEPTH = MAX_DEPTH  # nested mappings/lists, aliases expanded
MAX_YAML_VALUES = MAX_VALUES  # values in the document once every alias is expanded


class ConfigError(Exception):
    """A configuration file that cannot be used; the message says where and why, every
    problem on its own line (``errors``: them as positioned ``SourceError``s, when the
    file could be read)."""

    def __init__(self, message: str, errors: Sequence[SourceError] = ()) -> None:
        super().__init__(message)
        self.errors = tuple(errors)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CameraConfig(_Section):
    index: int = Field(default=0, ge=0, le=63)
    width: int = Field(default=640, ge=64, le=7680)
    height: int = Field(default=480, ge=48, le=4320)
    fps: float = Field(default=30, gt=0, le=240)
    mirror: bool = True


class ModelConfig(_Section):
    size: Literal["full", "lite"] = "full"
    task_file: Path | None = None
    max_hands: int = Field(default=2, ge=1, le=4)
    #: With more than one hand allowed and fewer in view: how often palm detection looks
    #: for another hand, beside the tracking passes (``hands.GraphTracking``).
    hand_search_hz: float = Field(default=5, gt=0, le=240)
    min_detection_confidence: float = Field(default=0.5, ge=0, le=1)
    min_presence_confidence: float = Field(default=0.5, ge=0, le=1)
    min_tracking_confidence: float = Field(default=0.5, ge=0, le=1)
    #: A second copy of the hand model that starts the second look on a likely lost
    #: track early, on the other core (``tracker.LookAhead``): false (off), lite or full
    #: (with more than one hand allowed: on, in the tracking's own graphs).
    look_ahead: Literal[False, "lite", "full"] = "lite"


class FacesConfig(_Section):
    enabled: bool = True
    model: Literal["full_range", "short_range"] = "full_range"
    rate_hz: float = Field(default=10, gt=0, le=120)
    body_model: bool = False
    search_near_face: bool = False
    mesh: bool = True  # the face mesh near a hand: which zone of the face a touch is on


class AlertsConfig(_Section):
    notify: bool = True
    cooldown_s: float = Field(default=60, ge=0)
    sound: bool = False
    muted: bool = False


class UiSettings(_Section):
    """The settings window (``handmap ui``): served by the daemon on the loopback."""

    enabled: bool = True
    port: int = Field(default=0, ge=0, le=65535)  # 0: any free port


class _StrictSection(_Section):
    """A section read into a ``gestures`` dataclass: no coercion (a string is no number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


_GESTURE = GestureConfig()


class GestureSettings(_StrictSection):
    """The ``gestures:`` section: every :class:`~handmap.gestures.engine.GestureConfig`
    field (the defaults are the engine's); :meth:`engine_config` builds it."""

    hold_ms: float = Field(default=_GESTURE.hold_ms, ge=0)
    pose_hold_ms: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    min_score: float = Field(default=_GESTURE.min_score, ge=0, le=1)
    pinch_enter: float = Field(default=_GESTURE.pinch_enter, ge=0)
    pinch_exit: float = Field(default=_GESTURE.pinch_exit, gt=0)
    grace_ms: float = Field(default=_GESTURE.grace_ms, ge=0)
    track_max_jump: float = Field(default=_GESTURE.track_max_jump, ge=0)
    track_max_speed: float = Field(default=_GESTURE.track_max_speed, ge=0)
    control_point: ControlPoint = Field(default=ControlPoint(_GESTURE.control_point), strict=False)  # by its value
    filter_min_cutoff: float = Field(default=_GESTURE.filter_min_cutoff, gt=0)
    filter_beta: float = Field(default=_GESTURE.filter_beta, ge=0)
    filter_d_cutoff: float = Field(default=_GESTURE.filter_d_cutoff, gt=0)
    click_lock: bool = _GESTURE.click_lock
    lock_pinch_rate: float = Field(default=_GESTURE.lock_pinch_rate, ge=0)
    lock_curl_rate: float = Field(default=_GESTURE.lock_curl_rate, ge=0)
    lock_window_ms: float = Field(default=_GESTURE.lock_window_ms, gt=0)
    lock_max_ms: float = Field(default=_GESTURE.lock_max_ms, ge=0)
    lock_lookback_ms: float = Field(default=_GESTURE.lock_lookback_ms, ge=0)
    swipe: bool = _GESTURE.swipe
    swipe_min_speed: float = Field(default=_GESTURE.swipe_min_speed, gt=0)
    swipe_stroke_speed: float = Field(default=_GESTURE.swipe_stroke_speed, gt=0)
    swipe_min_travel: float = Field(default=_GESTURE.swipe_min_travel, gt=0)
    swipe_axis_ratio: float = Field(default=_GESTURE.swipe_axis_ratio, gt=0)
    swipe_velocity_window_ms: float = Field(default=_GESTURE.swipe_velocity_window_ms, gt=0)
    swipe_refractory_ms: float = Field(default=_GESTURE.swipe_refractory_ms, ge=0)
    hold_durations_ms: list[Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: list(_GESTURE.hold_durations_ms))

    @model_validator(mode="after")
    def _engine_accepts(self) -> GestureSettings:
        self.engine_config()  # the checks across keys (pinch_enter below pinch_exit): a ValueError naming them
        return self

    def engine_config(self) -> GestureConfig:
        values = self.model_dump()
        values["control_point"] = self.control_point.value
        values["hold_durations_ms"] = tuple(self.hold_durations_ms)
        return GestureConfig(**values)


_FACE = FaceTouchConfig()


class FaceTouchSettings(_StrictSection):
    """The ``face_touch:`` section: every :class:`~handmap.gestures.face_touch.FaceTouchConfig`
    field (the defaults are the detector's); :meth:`engine_config` builds it."""

    min_face_score: float = Field(default=_FACE.min_face_score, ge=0, le=1)
    unvouched_face_score: float = Field(default=_FACE.unvouched_face_score, ge=0, le=1)
    face_scale_x: float = Field(default=_FACE.face_scale_x, gt=0)
    face_scale_y: float = Field(default=_FACE.face_scale_y, gt=0)
    contact_inner: float = Field(default=_FACE.contact_inner, ge=0)
    contact_outer: float = Field(default=_FACE.contact_outer, gt=0)
    pad_weight: float = Field(default=_FACE.pad_weight, ge=0)
    knuckle_weight: float = Field(default=_FACE.knuckle_weight, ge=0)
    palm_weight: float = Field(default=_FACE.palm_weight, ge=0)
    size_in_front: float = Field(default=_FACE.size_in_front, gt=0)
    size_far_in_front: float = Field(default=_FACE.size_far_in_front, gt=0)
    size_too_small: float = Field(default=_FACE.size_too_small, ge=0)
    size_far_too_small: float = Field(default=_FACE.size_far_too_small, ge=0)
    body_z_in_front: float = _FACE.body_z_in_front
    body_z_far_in_front: float = _FACE.body_z_far_in_front
    min_body_visibility: float = Field(default=_FACE.min_body_visibility, ge=0, le=1)
    body_contact_inner: float = Field(default=_FACE.body_contact_inner, ge=0)
    body_contact_outer: float = Field(default=_FACE.body_contact_outer, gt=0)
    false_face_cover: float = Field(default=_FACE.false_face_cover, ge=0, le=1)
    false_face_inside: float = Field(default=_FACE.false_face_inside, ge=0, le=1)
    nose_vouch_radius: float = Field(default=_FACE.nose_vouch_radius, ge=0)
    vouch_scale: list[float] = Field(default_factory=lambda: list(_FACE.vouch_scale), min_length=2, max_length=2)
    threshold: float = Field(default=_FACE.threshold, gt=0, le=1)
    dwell_ms: float = Field(default=_FACE.dwell_ms, ge=0)
    release_ms: float = Field(default=_FACE.release_ms, ge=0)
    clear_release_ms: float = Field(default=_FACE.clear_release_ms, ge=0)
    hold_radius: float = Field(default=_FACE.hold_radius, gt=0)
    depth_ratio_in_front: float = Field(default=_FACE.depth_ratio_in_front, gt=0)
    depth_ratio_far_in_front: float = Field(default=_FACE.depth_ratio_far_in_front, gt=0)
    chin_rest_gap: float = Field(default=_FACE.chin_rest_gap, ge=0)
    chin_rest_above: float = _FACE.chin_rest_above
    chin_rest_depth_ratio: float = Field(default=_FACE.chin_rest_depth_ratio, gt=0)
    stale_ms: float = Field(default=_FACE.stale_ms, ge=0)

    @model_validator(mode="after")
    def _detector_accepts(self) -> FaceTouchSettings:
        self.engine_config()  # the checks across keys (contact_inner below contact_outer...)
        return self

    def engine_config(self) -> FaceTouchConfig:
        values = self.model_dump()
        values["vouch_scale"] = (self.vouch_scale[0], self.vouch_scale[1])
        return FaceTouchConfig(**values)


class Config(_Section):
    camera: CameraConfig = CameraConfig()
    model: ModelConfig = ModelConfig()
    faces: FacesConfig = FacesConfig()
    output: Literal["auto", "pynput", "uinput", "dry-run"] = "auto"
    profile: str = Field(default="desktop", min_length=1)
    tray: bool = True
    alerts: AlertsConfig = AlertsConfig()
    pause_hotkey: str | None = "<ctrl>+<alt>+h"
    #: First-run mode: a camera run starts paused with the preview until this is false.
    first_run: bool = True
    gestures: GestureSettings = GestureSettings()
    face_touch: FaceTouchSettings = FaceTouchSettings()
    ui: UiSettings = UiSettings()


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(text: str, name: str) -> LoadedYaml:
    """The document and its positions (``mappings.yamlpos``: limits, safe loader, marks);
    a duplicate key keeps its last value, as PyYAML does."""
    try:
        loaded = load_yaml(text, name, last_duplicate_wins=True)
    except SourceErrors as exc:
        raise _config_error(exc) from None
    if loaded.data is None:
        return LoadedYaml(name, {}, loaded.positions)
    if not isinstance(loaded.data, dict):
        raise ConfigError(f"{name}:1:1: the configuration must be a mapping of keys to values, "
                          f"not {type(loaded.data).__name__}")
    return loaded


def _config_error(exc: SourceErrors) -> ConfigError:
    """Every problem (by line), one a line: the user fixes them all in one go."""
    return ConfigError("\n".join(str(e) for e in exc.errors), exc.errors)


def packaged_config_text() -> str:
    return resources.files("handmap.daemon").joinpath(PACKAGED_CONFIG).read_text(encoding="utf-8")


def user_config_path(env: dict | None = None) -> Path:
    return user_config_dir(env) / "config.yaml"


def read_config_text(path: Path) -> str:
    """The text of a configuration file, refused with :class:`ConfigError` when it is not
    a regular file, is over :data:`MAX_CONFIG_BYTES`, or is not UTF-8 (before parsing)."""
    try:
        # O_NONBLOCK: a FIFO at the path must not block the daemon in open(); it is
        # then refused as not a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{path}: not a regular file; the configuration must be a YAML file")
            if info.st_size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: the file is {info.st_size} bytes; a configuration file is at most "
                                  f"{MAX_CONFIG_BYTES} bytes (is it the right file?)")
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; the configuration must be a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:  # grew while being read
        raise ConfigError(f"{path}: the file is over {MAX_CONFIG_BYTES} bytes; a configuration file is at most that")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the file as UTF-8") from None


def load_config(path: Path | None = None, env: dict | None = None) -> Config:
    """The packaged defaults, with ``path`` (or the user's config.yaml if present) over them."""
    base = _read_yaml(packaged_config_text(), "packaged config.yaml").data
    if path is None:
        candidate = user_config_path(env)
        path = candidate if candidate.exists() else None
    loaded = LoadedYaml("config.yaml", base, {})
    if path is not None:
        user = _read_yaml(read_config_text(Path(path)), str(path))
        loaded = LoadedYaml(user.file, _merge(base, user.data), user.positions)
    try:
        return Config.model_validate(loaded.data)
    except ValidationError as exc:
        errors = errors_from_validation(exc, loaded, Config, "config")
        raise _config_error(SourceErrors(errors)) from None
