"""Configuration: the packaged ``config.yaml`` with the user's file merged over it,
validated so that a bad key or value is named with where it is and what to change."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .paths import user_config_dir

PACKAGED_CONFIG = "config.yaml"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Section):
    index: int = Field(0, ge=0, le=63)
    width: int = Field(640, ge=64, le=7680)
    height: int = Field(480, ge=48, le=4320)
    fps: float = Field(30, gt=0, le=240)
    mirror: bool = True


class ModelConfig(_Section):
    size: Literal["full", "lite"] = "full"
    task_file: Optional[Path] = None
    max_hands: int = Field(1, ge=1, le=4)
    min_detection_confidence: float = Field(0.5, ge=0, le=1)
    min_presence_confidence: float = Field(0.5, ge=0, le=1)
    min_tracking_confidence: float = Field(0.5, ge=0, le=1)


class FacesConfig(_Section):
    enabled: bool = True
    model: Literal["full_range", "short_range"] = "full_range"
    rate_hz: float = Field(10, gt=0, le=120)
    body_model: bool = True


class AlertsConfig(_Section):
    notify: bool = True
    cooldown_s: float = Field(60, ge=0)
    sound: bool = False
    muted: bool = False


class Config(_Section):
    camera: CameraConfig = CameraConfig()
    model: ModelConfig = ModelConfig()
    faces: FacesConfig = FacesConfig()
    output: Literal["auto", "pynput", "uinput", "dry-run"] = "auto"
    profile: str = Field("desktop", min_length=1)
    tray: bool = True
    alerts: AlertsConfig = AlertsConfig()
    pause_hotkey: Optional[str] = "<ctrl>+<alt>+h"
    gestures: dict[str, Any] = Field(default_factory=dict)
    face_touch: dict[str, Any] = Field(default_factory=dict)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(text: str, name: str) -> tuple[dict, Optional[yaml.Node]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        return {}, node
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1:1: the configuration must be a mapping of keys to values, not {type(data).__name__}")
    return data, node


def _node_at(node: Optional[yaml.Node], loc: tuple) -> Optional[yaml.Node]:
    """The YAML node at a validation error's location (for its line and column)."""
    current = node
    for part in loc:
        if not isinstance(current, yaml.MappingNode):
            break
        for key_node, value_node in current.value:
            if key_node.value == str(part):
                current = value_node
                break
        else:
            break
    return current


def _describe(err: dict, name: str, node: Optional[yaml.Node]) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    target = _node_at(node, loc)
    where = name
    if target is not None and target is not node:
        where = f"{name}:{target.start_mark.line + 1}:{target.start_mark.column + 1}"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}' (remove it or check its spelling)"
    value = err.get("input")
    return f"{where}: {key}: {value!r} is not valid: {err['msg'][0].lower() + err['msg'][1:]}"


def packaged_config_text() -> str:
    return resources.files("handmap.daemon").joinpath(PACKAGED_CONFIG).read_text(encoding="utf-8")


def user_config_path(env: Optional[dict] = None) -> Path:
    return user_config_dir(env) / "config.yaml"


def load_config(path: Optional[Path] = None, env: Optional[dict] = None) -> Config:
    """The packaged defaults, with ``path`` (or the user's config.yaml if present) over them."""
    base, _ = _read_yaml(packaged_config_text(), "packaged config.yaml")
    if path is None:
        candidate = user_config_path(env)
        path = candidate if candidate.exists() else None
    node = None
    name = "config.yaml"
    if path is not None:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the configuration file ({exc})") from None
        user, node = _read_yaml(text, name)
        base = _merge(base, user)
    try:
        return Config.model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(_describe(first, name, node) + suffix) from None
