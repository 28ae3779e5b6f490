"""Desktop stage: the global pause hotkey (pynput ``GlobalHotKeys``) that toggles the daemon's pause."""

from __future__ import annotations

import logging
import os
import threading

from handmap.daemon.desktop.session import needs_x_display, x_display
from handmap.daemon.runtime.state import Controller

log = logging.getLogger(__name__)


class HotkeyUnavailable(Exception):
    """The global pause hotkey cannot be registered here (no X11 display, bad combo)."""


def normalize_combo(combo: str) -> str:
    """``"ctrl+alt+p"`` or ``"<ctrl>+<alt>+p"`` → pynput's ``"<ctrl>+<alt>+p"``."""
    parts = [p.strip() for p in combo.strip().lower().split("+")]
    if not combo.strip() or any(not p for p in parts):
        raise HotkeyUnavailable(f"pause hotkey {combo!r} is not a key combination like 'ctrl+alt+p'")
    out = []
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            out.append(part)
        elif len(part) == 1:
            out.append(part)
        else:
            out.append(f"<{part}>")
    return "+".join(out)


class PauseHotkey:
    """A global hotkey (pynput ``GlobalHotKeys``) that calls ``controller.toggle_pause()``.

    ``combo`` uses pynput's syntax or the plain ``ctrl+alt+p`` form. On Linux it needs an
    X11 display (pynput has no Wayland backend); ``start()`` raises
    :class:`HotkeyUnavailable` with the reason when it cannot listen.
    """

    START_TIMEOUT_S = 5.0

    def __init__(self, combo: str, controller: Controller) -> None:
        self.combo = normalize_combo(combo)
        self.controller = controller
        self._listener = None

    def _on_activate(self) -> None:
        log.info("pause hotkey %s pressed", self.combo)
        try:
            self.controller.toggle_pause(by=f"the hotkey {self.combo}")
        except Exception:  # never let a daemon error kill the listener thread
            log.exception("pause hotkey: toggle_pause failed")

    def start(self) -> None:
        if self._listener is not None:
            return
        if needs_x_display() and not x_display(os.environ):
            raise HotkeyUnavailable("the global pause hotkey needs an X11 display (DISPLAY is not set; "
                                    "pynput cannot listen on Wayland)")
        try:
            from pynput import keyboard  # lazy: importing needs a display on Linux
        except Exception as exc:
            raise HotkeyUnavailable(f"the global pause hotkey is unavailable: {exc}") from None
        try:
            keyboard.HotKey.parse(self.combo)
        except ValueError as exc:
            raise HotkeyUnavailable(f"pause hotkey {self.combo!r} is not valid: {exc}") from None
        listener = keyboard.GlobalHotKeys({self.combo: self._on_activate})
        listener.start()
        waiter = threading.Thread(target=listener.wait, daemon=True)
        waiter.start()
        waiter.join(self.START_TIMEOUT_S)
        if waiter.is_alive() or not listener.is_alive():
            listener.stop()
            raise HotkeyUnavailable("the global pause hotkey could not start listening to the keyboard "
                                    "(X RECORD extension missing, or no access to the display)")
        self._listener = listener
        log.info("pause hotkey %s active", self.combo)

    def stop(self) -> None:
        if self._listener is None:
            return
        listener, self._listener = self._listener, None
        listener.stop()
        # pynput's X11 listener queues its "disable" request on the recording connection,
        # which is blocked until the next key event; send it on the control connection
        # too (as pynput itself does on exit) so stop() does not wait for a key press.
        display, context = getattr(listener, "_display_stop", None), getattr(listener, "_context", None)
        if display is not None and context is not None:
            try:
                display.record_disable_context(context)
                display.flush()
            except Exception:  # the listener may already have closed it
                pass
        listener.join(2.0)

    @property
    def running(self) -> bool:
        return self._listener is not None and self._listener.is_alive()
