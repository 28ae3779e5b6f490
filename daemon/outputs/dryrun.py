"""Output stage, dry-run backend: the JSON Lines event stream of CONTRACTS.md.

Nothing is injected. Each action becomes one JSON object per line, flushed at once::

    {"t": 1.234, "frame": 37, "type": "mouse_down", "button": "left"}

Held buttons and keys are tracked as in the injecting backends, so ``release_all`` (on
pause, hand loss, profile switch, exit) writes the matching ``mouse_up``/``key_up``
lines and every down in the stream is followed by its up. Typed text becomes a
``key_down``/``key_up`` pair per character (the contract has no text event).
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from handmap.daemon.outputs.held import HoldingOutput
from handmap.mappings import actions as a

#: Characters whose pynput-style key name is a word, for typed text.
CHAR_KEY_NAMES = {" ": "space", "\n": "enter", "\t": "tab"}


def char_key_name(char: str) -> str:
    """The pynput-style key name that types ``char``."""
    return CHAR_KEY_NAMES.get(char, char)


class DryRunOutput(HoldingOutput):
    """Writes the contract's JSON Lines stream to ``stream`` (stdout by default)."""

    name = "dry-run"
    injects = False

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(journal=None)
        self._stream = stream if stream is not None else sys.stdout
        self._last_t = 0.0
        self._last_frame = 0

    def release_all(self, t: float = 0.0, frame: int = 0) -> None:
        # Releases written after the last event never go back in time, even when the
        # caller (an exit path) does not know the source time.
        with self._lock:
            super().release_all(max(t, self._last_t), max(frame, self._last_frame))

    def _write(self, t: float, frame: int, type_: str, **fields) -> None:
        self._last_t = max(self._last_t, t)
        self._last_frame = max(self._last_frame, frame)
        record = {"t": round(float(t), 3), "frame": int(frame), "type": type_, **fields}
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()

    def _move(self, item: a.Stamped, x: int, y: int) -> None:
        self._write(item.t, item.frame, "mouse_move", x=x, y=y)

    def _button(self, button: str, down: bool, t: float, frame: int) -> None:
        self._write(t, frame, "mouse_down" if down else "mouse_up", button=button)

    def _key(self, key: str, down: bool, t: float, frame: int) -> None:
        self._write(t, frame, "key_down" if down else "key_up", key=key)

    def _scroll(self, item: a.Stamped, dx: int, dy: int) -> None:
        self._write(item.t, item.frame, "scroll", dx=dx, dy=dy)

    def _type(self, item: a.Stamped, text: str) -> None:
        for char in text:
            key = char_key_name(char)
            self._write(item.t, item.frame, "key_down", key=key)
            self._write(item.t, item.frame, "key_up", key=key)

    def _report(self, item: a.Stamped) -> None:
        action = item.action
        if isinstance(action, a.ReportPose):
            self._write(item.t, item.frame, "pose", hand=action.hand, pose=action.pose,
                        score=round(float(action.score), 3))
        elif isinstance(action, a.ReportFaceTouch):
            self._write(item.t, item.frame, "face_touch", state=action.state, hand=action.hand,
                        **({"zone": action.zone} if action.zone else {}))
        elif isinstance(action, a.ReportTwoHands):
            extra = {} if action.value is None else {"value": round(float(action.value), 3), "steps": action.steps}
            self._write(item.t, item.frame, "two_hands", gesture=action.gesture, state=action.state,
                        pose=action.pose, **extra)
        elif isinstance(action, a.ReportProfile):
            self._write(item.t, item.frame, "profile", name=action.name)
        elif isinstance(action, a.ReportPaused):
            self._write(item.t, item.frame, "paused", **({"reason": action.reason} if action.reason else {}))
        elif isinstance(action, a.ReportResumed):
            self._write(item.t, item.frame, "resumed")
        elif isinstance(action, a.ReportHands):
            self._write(item.t, item.frame, "hands", hands=[
                {"hand": h.hand, "pose": h.pose, "score": h.score, "x": h.x, "y": h.y} for h in action.hands])
        else:
            raise TypeError(f"dry-run output: unknown action {action!r}")

    def _close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):  # stdout closed or a broken pipe: nothing left to say
            pass
