"""Where handmap keeps its files (XDG base directories, as CONTRACTS.md gives them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "handmap"


def _xdg(env: Mapping[str, str] | None, var: str, fallback: str) -> Path:
    env = os.environ if env is None else env
    value = env.get(var)
    if value and os.path.isabs(value):
        return Path(value) / APP
    home = Path(env.get("HOME") or Path.home())
    return home / fallback / APP


def user_config_dir(env: Mapping[str, str] | None = None) -> Path:
    return _xdg(env, "XDG_CONFIG_HOME", ".config")


def user_profiles_dir(env: Mapping[str, str] | None = None) -> Path:
    return user_config_dir(env) / "profiles"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    return _xdg(env, "XDG_DATA_HOME", ".local/share")


def user_poses_dir(env: Mapping[str, str] | None = None) -> Path:
    """Taught poses (``handmap teach``): one file per pose."""
    return data_dir(env) / "poses"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return _xdg(env, "XDG_CACHE_HOME", ".cache")


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """$XDG_RUNTIME_DIR (the control socket and the held-input journal live here)."""
    env = os.environ if env is None else env
    value = env.get("XDG_RUNTIME_DIR")
    if value and os.path.isabs(value):
        return Path(value)
    return Path("/tmp") / f"{APP}-{os.getuid()}"


def control_socket_path(env: Mapping[str, str] | None = None) -> Path:
    return runtime_dir(env) / f"{APP}.sock"
