"""Output stage, pynput backend: real mouse and keyboard input on X11, macOS and Windows.

pynput is imported only when this backend is built: on Linux its import opens the X
display and fails without ``DISPLAY``, which :func:`load_pynput` turns into an
:class:`~handmap.daemon.outputs.OutputUnavailable` with the fix. pynput reads the
display from the process environment (``os.environ["DISPLAY"]``), not from a mapping.

Key names are pynput's: a single character (``a``, ``1``, ``/``) or the name of a
``pynput.keyboard.Key`` member (``space``, ``ctrl``, ``shift``, ``alt``, ``cmd``,
``left``, ``f5``, ``enter``, ``esc``, ``tab``, ``page_down``...).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Mapping, Optional

from handmap.mappings import actions as a

from . import OutputUnavailable
from .held import HoldingOutput, journal_path

log = logging.getLogger("handmap.outputs")


@dataclass(frozen=True)
class PynputModules:
    mouse: ModuleType
    keyboard: ModuleType


def load_pynput(env: Mapping[str, str]) -> PynputModules:
    """Import pynput's mouse and keyboard, or raise OutputUnavailable saying how to fix it."""
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        raise OutputUnavailable(
            "the pynput output needs an X display, and DISPLAY is not set",
            "run handmap inside your X11 session (or set DISPLAY=:0); under Wayland use --output uinput",
        )
    try:
        import pynput.keyboard as keyboard
        import pynput.mouse as mouse
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OutputUnavailable(
            f"the pynput output cannot start: {reason}",
            "check that the X server in DISPLAY is running and accepts you (xhost/XAUTHORITY), "
            "and that pynput is installed (pip install pynput)",
        ) from exc
    return PynputModules(mouse=mouse, keyboard=keyboard)


def resolve_key(keyboard: ModuleType, name: str) -> Any:
    """The pynput key for a pynput-style name; ValueError with a readable message if none."""
    if len(name) == 1:
        return keyboard.KeyCode.from_char(name)
    member = getattr(keyboard.Key, name, None) if name and not name.startswith("_") else None
    if member is None or not isinstance(member, keyboard.Key):
        raise ValueError(
            f"unknown key name {name!r}: use one character ('a', '1', '/') or a pynput Key name "
            "such as 'space', 'ctrl', 'shift', 'alt', 'cmd', 'left', 'f5', 'enter', 'esc', 'page_down'"
        )
    return member


class PynputOutput(HoldingOutput):
    """Moves, clicks, drags, scrolls and types through pynput."""

    name = "pynput"
    injects = True

    def __init__(self, env: Mapping[str, str], journal=None, modules: Optional[PynputModules] = None) -> None:
        super().__init__(journal=journal if journal is not None else journal_path(env))
        self._pynput = modules or load_pynput(env)
        try:
            self._mouse = self._pynput.mouse.Controller()
            self._keyboard = self._pynput.keyboard.Controller()
        except Exception as exc:  # Xlib connection errors and the like
            raise OutputUnavailable(
                f"the pynput output cannot reach the display: {exc}",
                "check that DISPLAY names a running X server you may connect to",
            ) from exc
        self._buttons = {b.value: getattr(self._pynput.mouse.Button, b.value) for b in a.Button}
        self._keys: dict[str, Any] = {}

    def _check_key(self, key: str) -> None:
        self._key_for(key)

    def _key_for(self, name: str) -> Any:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = resolve_key(self._pynput.keyboard, name)
        return key

    def _move(self, item: a.Stamped, x: int, y: int) -> None:
        self._mouse.position = (x, y)

    def _button(self, button: str, down: bool, t: float, frame: int) -> None:
        if down:
            self._mouse.press(self._buttons[button])
        else:
            self._mouse.release(self._buttons[button])

    def _key(self, key: str, down: bool, t: float, frame: int) -> None:
        if down:
            self._keyboard.press(self._key_for(key))
        else:
            self._keyboard.release(self._key_for(key))

    def _scroll(self, item: a.Stamped, dx: int, dy: int) -> None:
        self._mouse.scroll(dx, dy)

    def _type(self, item: a.Stamped, text: str) -> None:
        self._keyboard.type(text)

    def _close(self) -> None:
        for controller in (self._mouse, self._keyboard):
            display = getattr(controller, "_display", None)  # the Xlib connection on X11
            if display is not None:
                try:
                    display.close()
                except Exception:  # already gone with the X server
                    pass
