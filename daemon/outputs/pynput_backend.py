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
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from handmap.daemon.outputs import OutputUnavailable, pynput_problem
from handmap.daemon.outputs.held import HoldingOutput, journal_path
from handmap.mappings import actions as a

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PynputModules:
    mouse: ModuleType
    keyboard: ModuleType


def load_pynput(env: Mapping[str, str]) -> PynputModules:
    """Import pynput's mouse and keyboard, or raise OutputUnavailable saying how to fix it."""
    problem = pynput_problem(env)
    if problem is not None:
        raise problem
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


#: Characters of typed text that are keys by another name.
TEXT_KEYS = {" ": "space", "\n": "enter", "\t": "tab"}


@dataclass(frozen=True)
class Stroke:
    """A pynput key, with the modifier keys it needs held around it."""

    key: Any
    modifiers: tuple[Any, ...] = ()


def _connection_closed(exc: BaseException) -> bool:
    """Whether an error means the X connection is gone (python-xlib re-raises it on
    every later request, so it must be caught once and turned into one clear error)."""
    try:
        from Xlib import error as xerror
    except ImportError:
        return False
    return isinstance(exc, (xerror.ConnectionClosedError, xerror.DisplayConnectionError, BrokenPipeError))


class PynputOutput(HoldingOutput):
    """Moves, clicks, drags, scrolls and types through pynput.

    On X11, pynput sends character keys with XSendEvent: the X server does not see them
    as held, and games and some apps ignore such synthetic events. So character keys
    that the keyboard map has, unshifted or with shift, go through XTest instead (as
    pynput does for special keys), shift pressed around them when needed; other
    characters keep pynput's own path. Keys are counted, so a held "shift" and the shift
    that "A" needs do not release each other.
    """

    name = "pynput"
    injects = True

    def __init__(self, env: Mapping[str, str], journal=None, modules: PynputModules | None = None) -> None:
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
        self._strokes: dict[str, Stroke] = {}
        self._down: Counter = Counter()  # pynput keys pressed, counted
        self._xorg_display = getattr(self._keyboard, "_display", None) if type(self._keyboard).__module__.endswith(
            "._xorg") else None
        self.display_lost: OutputUnavailable | None = None

    def emit(self, item: a.Stamped) -> None:
        if self.display_lost:
            raise self.display_lost
        try:
            super().emit(item)
        except Exception as exc:
            if _connection_closed(exc):
                raise self._lose_display(exc) from None
            raise

    def release_all(self, t: float = 0.0, frame: int = 0) -> None:
        if self.display_lost:
            # The X server is gone and with it every key and button it held.
            with self._lock:
                for held in self.held.release_order():
                    self.held.release(held)
            return
        super().release_all(t, frame)

    def _lose_display(self, exc: BaseException) -> OutputUnavailable:
        self.display_lost = OutputUnavailable(
            f"the X display went away ({type(exc).__name__})",
            "handmap stops so that it can be started again with the desktop (a service restarts by itself)",
        )
        return self.display_lost

    def _check_key(self, key: str) -> None:
        self._stroke(key)

    def _stroke(self, name: str) -> Stroke:
        stroke = self._strokes.get(name)
        if stroke is None:
            stroke = self._strokes[name] = self._resolve(name)
        return stroke

    def _resolve(self, name: str) -> Stroke:
        keyboard = self._pynput.keyboard
        if len(name) == 1 and self._xorg_display is not None:
            from pynput._util.xorg import char_to_keysym

            keysym = char_to_keysym(name)
            levels = {index for _, index in self._xorg_display.keysym_to_keycodes(keysym)} if keysym else set()
            if 0 in levels:
                return Stroke(keyboard.KeyCode.from_vk(keysym))
            if 1 in levels:
                return Stroke(keyboard.KeyCode.from_vk(keysym), (keyboard.Key.shift,))
        key = resolve_key(keyboard, name)
        if self._xorg_display is not None and isinstance(key, keyboard.Key):
            keysym = key.value.vk  # pynput's X11 keys carry their keysym as vk
            if keysym and not self._xorg_display.keysym_to_keycode(keysym):
                # XTest with keycode 0 is an X error that leaves the connection unusable
                raise ValueError(
                    f"key {name!r} is not on this X server's keyboard map: pick another key, "
                    "or add it to the map first (xmodmap)"
                )
        return Stroke(key)

    def _press(self, key: Any) -> None:
        self._down[key] += 1
        if self._down[key] == 1:
            self._keyboard.press(key)

    def _release(self, key: Any) -> None:
        # Released for real when no other hold needs it, and also when this process never
        # pressed it (recovering a killed run's keys): a spare release is harmless.
        if self._down[key] > 1:
            self._down[key] -= 1
            return
        self._down.pop(key, None)
        self._keyboard.release(key)

    def _move(self, item: a.Stamped, x: int, y: int) -> None:
        self._mouse.position = (x, y)

    def _button(self, button: str, down: bool, t: float, frame: int) -> None:
        if down:
            self._mouse.press(self._buttons[button])
        else:
            self._mouse.release(self._buttons[button])

    def _key(self, key: str, down: bool, t: float, frame: int) -> None:
        stroke = self._stroke(key)
        if down:
            for modifier in stroke.modifiers:
                self._press(modifier)
            self._press(stroke.key)
        else:
            self._release(stroke.key)
            for modifier in reversed(stroke.modifiers):
                self._release(modifier)

    def _scroll(self, item: a.Stamped, dx: int, dy: int) -> None:
        self._mouse.scroll(dx, dy)

    def _type(self, item: a.Stamped, text: str) -> None:
        for char in text:
            name = TEXT_KEYS.get(char, char)
            try:
                self._stroke(name)
            except ValueError:  # not on the keyboard map: pynput's own typing (unicode too)
                self._keyboard.type(char)
                continue
            self._key(name, True, item.t, item.frame)
            self._key(name, False, item.t, item.frame)

    def _close(self) -> None:
        for key in list(self._down):  # belt and braces: nothing stays down
            try:
                self._keyboard.release(key)
            except Exception as exc:
                log.debug("pynput output: releasing %s on close failed: %s", key, exc)
        self._down.clear()
        # pynput's controllers close their X connection when collected (closing it here
        # too makes their __del__ fail); dropping them is enough.
        self._mouse = None
        self._keyboard = None
        self._xorg_display = None
