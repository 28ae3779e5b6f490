"""Key names for profiles: the pynput-style names actions carry, aliases, and combos.

A profile names keys as pynput does (``a``, ``space``, ``ctrl``, ``left``, ``f5``...);
a few common aliases (``control``, ``return``, ``escape``, ``super``...) are accepted
and turned into the canonical name. A combo is keys joined by ``+``, modifiers first:
``ctrl+shift+t``. ``plus`` names the ``+`` key itself.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Modifier keys, as pynput names them.
MODIFIER_KEYS: frozenset[str] = frozenset(
    {"ctrl", "ctrl_l", "ctrl_r", "shift", "shift_l", "shift_r", "alt", "alt_l", "alt_r", "alt_gr",
     "cmd", "cmd_l", "cmd_r"}
)

#: Named (non-character) keys, as pynput's ``Key`` enum names them.
SPECIAL_KEYS: frozenset[str] = frozenset(
    {"backspace", "caps_lock", "delete", "down", "end", "enter", "esc", "home", "insert", "left",
     "menu", "num_lock", "page_down", "page_up", "pause", "print_screen", "right", "scroll_lock",
     "space", "tab", "up", "media_play_pause", "media_volume_mute", "media_volume_down",
     "media_volume_up", "media_previous", "media_next"}
    | {f"f{i}" for i in range(1, 21)}
)

#: Printable single characters a key may be named by.
CHARACTER_KEYS: frozenset[str] = frozenset(
    string.ascii_lowercase + string.digits + "`-=[]\\;',./"
)

#: Other spellings users write, to the canonical name.
KEY_ALIASES: Mapping[str, str] = MappingProxyType({
    "control": "ctrl", "ctl": "ctrl", "option": "alt", "altgr": "alt_gr",
    "super": "cmd", "win": "cmd", "windows": "cmd", "meta": "cmd", "command": "cmd",
    "return": "enter", "escape": "esc", "del": "delete", "ins": "insert",
    "pgup": "page_up", "pageup": "page_up", "pgdn": "page_down", "pagedown": "page_down",
    "arrow_up": "up", "arrow_down": "down", "arrow_left": "left", "arrow_right": "right",
    "capslock": "caps_lock", "printscreen": "print_screen", "prtsc": "print_screen",
    "spacebar": "space", "bksp": "backspace", "plus": "+", "minus": "-", "comma": ",",
    "period": ".", "slash": "/",
})

ALL_KEY_NAMES: frozenset[str] = MODIFIER_KEYS | SPECIAL_KEYS | CHARACTER_KEYS | {"+"}


class KeyNameError(ValueError):
    """A key name or combo that is not valid; the message says what to write instead."""


def suggest(word: str, choices, n: int = 1) -> str:
    """`` ; did you mean 'x'?`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(word), sorted(str(c) for c in choices), n=n, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def canonical_key(name: str) -> str:
    """The pynput-style name for ``name`` (case-insensitive, aliases resolved)."""
    raw = name.strip()
    low = raw.lower()
    if len(raw) == 1 and raw.isupper():
        low = raw.lower()
    low = KEY_ALIASES.get(low, low)
    if low in ALL_KEY_NAMES:
        return low
    hint = suggest(low, ALL_KEY_NAMES - CHARACTER_KEYS if len(low) > 2 else ALL_KEY_NAMES) or suggest(low, KEY_ALIASES)
    raise KeyNameError(f"unknown key name '{name}'" + hint)


@dataclass(frozen=True)
class KeyCombo:
    """Keys pressed together: modifiers in order, then (usually) one main key."""

    keys: tuple[str, ...]

    def __str__(self) -> str:
        return "+".join("plus" if k == "+" else k for k in self.keys)


def parse_combo(text: str) -> KeyCombo:
    """Parse ``ctrl+shift+t`` (or one key) into a :class:`KeyCombo`."""
    if not isinstance(text, str) or not text.strip():
        raise KeyNameError("expected a key name or combo such as 'space' or 'ctrl+shift+t'")
    parts = text.split("+")
    # "ctrl++" names ctrl and the plus key.
    if text.endswith("++"):
        parts = text[:-2].split("+") + ["+"]
    keys = []
    for part in parts:
        if part == "" and len(parts) > 1:
            raise KeyNameError(f"empty key name in combo '{text}'; write keys joined by '+', e.g. 'ctrl+shift+t'")
        keys.append(canonical_key(part if part else "+"))
    for k in keys[:-1]:
        if k not in MODIFIER_KEYS:
            raise KeyNameError(
                f"in combo '{text}' only the last key may be a non-modifier ('{k}' is not a modifier;"
                " modifiers are ctrl, shift, alt, alt_gr, cmd)"
            )
    if len(set(keys)) != len(keys):
        raise KeyNameError(f"combo '{text}' names a key twice")
    return KeyCombo(tuple(keys))
