"""Configuration: the packaged ``config.yaml`` with the user's file merged over it,
validated so that a bad key or value is named with where it is and what to change."""

from __future__ import annotations

import os
import reprlib
import stat
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handmap.daemon.paths import user_config_dir
from handmap.mappings.yamlpos import MAX_DEPTH, MAX_VALUES, SafeLoader, limit_error

PACKAGED_CONFIG = "config.yaml"
#: Limits on a configuration file, checked before it is parsed: the packaged file is ~2 KB,
#: so these only stop hostile or broken files (a YAML "billion laughs" bomb, a runaway
#: generator) from costing memory or time in the daemon that reloads them.
MAX_CONFIG_BYTES = 256 * 1024
MAX_YAML_DEPTH = MAX_DEPTH  # nested mappings/lists, aliases expanded
MAX_YAML_VALUES = MAX_VALUES  # values in the document once every alias is expanded
_MAX_SHOWN = 80  # characters of a bad value or key quoted in a message


def _shown(value: Any) -> str:
    """A value for a one-line message: short and escaped, however big or nested (reprlib
    stops at a few levels and items, so even an alias bomb's value prints at once)."""
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = 60
    shorter.maxlevel, shorter.maxdict, shorter.maxlist = 2, 3, 4
    text = shorter.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _key_text(key: str) -> str:
    """A key path for a one-line message: control characters escaped, shortened."""
    text = key if key.isprintable() else repr(key)[1:-1]
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class ConfigError(Exception):
    """A configuration file that cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CameraConfig(_Section):
    index: int = Field(0, ge=0, le=63)
    width: int = Field(640, ge=64, le=7680)
    height: int = Field(480, ge=48, le=4320)
    fps: float = Field(30, gt=0, le=240)
    mirror: bool = True


class ModelConfig(_Section):
    size: Literal["full", "lite"] = "full"
    task_file: Path | None = None
    max_hands: int = Field(1, ge=1, le=4)
    min_detection_confidence: float = Field(0.5, ge=0, le=1)
    min_presence_confidence: float = Field(0.5, ge=0, le=1)
    min_tracking_confidence: float = Field(0.5, ge=0, le=1)
    #: A second copy of the hand model that starts the second look on a likely lost
    #: track early, on the other core (``tracker.LookAhead``): false (off), lite or full.
    look_ahead: Literal[False, "lite", "full"] = "lite"


class FacesConfig(_Section):
    enabled: bool = True
    model: Literal["full_range", "short_range"] = "full_range"
    rate_hz: float = Field(10, gt=0, le=120)
    body_model: bool = False
    search_near_face: bool = False


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
    pause_hotkey: str | None = "<ctrl>+<alt>+h"
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


def check_yaml_limits(text: str, name: str) -> None:
    """Refuse a YAML document nested too deeply, too big once its aliases are expanded (a
    "billion laughs" bomb) or with a tag on a mapping or list, before anything builds it:
    :class:`ConfigError` with where (the profiles' check, ``mappings.yamlpos``)."""
    problem = limit_error(text)
    if problem is not None:
        line, column, message = problem
        raise ConfigError(f"{name}:{line}:{column}: {message}")


def _read_yaml(text: str, name: str) -> tuple[dict, yaml.Node | None]:
    try:
        check_yaml_limits(text, name)
        node = yaml.compose(text, Loader=SafeLoader)
        data = yaml.load(text, Loader=SafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # a control character (NUL...): say where
            line = text.count("\n", 0, exc.position) + 1
            column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
            where = f"{name}:{line}:{column}"
            problem = f"control character #x{exc.character:04x} is not allowed in YAML"
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        return {}, node
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1:1: the configuration must be a mapping of keys to values, not {type(data).__name__}")
    return data, node


def _node_at(node: yaml.Node | None, loc: tuple) -> yaml.Node | None:
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


def _describe(err: dict, name: str, node: yaml.Node | None) -> str:
    loc = tuple(err["loc"])
    key = _key_text(".".join(str(p) for p in loc))
    target = _node_at(node, loc)
    where = name
    if target is not None and target is not node:
        where = f"{name}:{target.start_mark.line + 1}:{target.start_mark.column + 1}"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}' (remove it or check its spelling)"
    value = _shown(err.get("input"))
    return f"{where}: {key}: {value} is not valid: {err['msg'][0].lower() + err['msg'][1:]}"


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
    base, _ = _read_yaml(packaged_config_text(), "packaged config.yaml")
    if path is None:
        candidate = user_config_path(env)
        path = candidate if candidate.exists() else None
    node = None
    name = "config.yaml"
    if path is not None:
        name = str(path)
        text = read_config_text(Path(path))
        user, node = _read_yaml(text, name)
        base = _merge(base, user)
    try:
        return Config.model_validate(base)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(_describe(first, name, node) + suffix) from None
