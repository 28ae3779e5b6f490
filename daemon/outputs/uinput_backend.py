"""Output stage, uinput backend: a virtual mouse and keyboard made by the Linux kernel.

Events written to ``/dev/uinput`` (through python-evdev) come out of new input devices
that the kernel, X11, every Wayland compositor and games reading raw input all see as
real hardware. Two devices are made:

- ``handmap pointer``: an absolute pointer (``ABS_X``/``ABS_Y`` spanning the screen, as
  a QEMU or VirtualBox tablet does) with left/right/middle buttons and both wheels, so
  ``MouseMove(x, y)`` lands on pixel (x, y) wherever the pointer was;
- ``handmap keyboard``: the keys of :data:`KEY_CODES`.

Translation from actions to ``(type, code, value)`` events is pure
(:func:`move_report`, :func:`button_report`, :func:`scroll_report`, :func:`key_strokes`,
:func:`text_strokes`) and testable without a device. Key names are pynput's; typed text
and shifted characters assume a US layout, because uinput sends key positions, not
characters (the desktop's layout turns them into characters).

:func:`uinput_problem` says why uinput cannot work here (module not loaded, device not
writable, python-evdev missing) and how to fix it (``handmap setup uinput``, ``uinput_setup.py``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from handmap.daemon.outputs import OutputUnavailable
from handmap.daemon.outputs.held import HoldingOutput, journal_path
from handmap.mappings import actions as a

UINPUT_DEVNODE = "/dev/uinput"
POINTER_NAME = "handmap pointer"
KEYBOARD_NAME = "handmap keyboard"
DEFAULT_SCREEN = (1920, 1080)

# evdev's constants (linux/input-event-codes.h), so translation needs no evdev import.
EV_KEY = 0x01
EV_REL = 0x02
EV_ABS = 0x03
ABS_X = 0x00
ABS_Y = 0x01
REL_HWHEEL = 0x06
REL_WHEEL = 0x08
BTN_LEFT = 0x110
BTN_RIGHT = 0x111
BTN_MIDDLE = 0x112
KEY_LEFTSHIFT = 42

BUTTON_CODES: Mapping[str, int] = {
    a.Button.LEFT.value: BTN_LEFT,
    a.Button.RIGHT.value: BTN_RIGHT,
    a.Button.MIDDLE.value: BTN_MIDDLE,
}

#: pynput-style key names to Linux key codes (linux/input-event-codes.h).
KEY_CODES: Mapping[str, int] = {
    # letters and digits
    **{chr(ord("a") + i): code for i, code in enumerate(
        (30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44))},
    "1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
    # unshifted punctuation, US layout
    "-": 12, "=": 13, "[": 26, "]": 27, ";": 39, "'": 40, "`": 41, "\\": 43, ",": 51, ".": 52, "/": 53,
    " ": 57,
    # pynput Key names
    "esc": 1, "backspace": 14, "tab": 15, "enter": 28, "space": 57, "caps_lock": 58,
    "ctrl": 29, "ctrl_l": 29, "ctrl_r": 97,
    "shift": 42, "shift_l": 42, "shift_r": 54,
    "alt": 56, "alt_l": 56, "alt_r": 100, "alt_gr": 100,
    "cmd": 125, "cmd_l": 125, "cmd_r": 126,
    "f1": 59, "f2": 60, "f3": 61, "f4": 62, "f5": 63, "f6": 64, "f7": 65, "f8": 66, "f9": 67, "f10": 68,
    "f11": 87, "f12": 88, "f13": 183, "f14": 184, "f15": 185, "f16": 186, "f17": 187, "f18": 188,
    "f19": 189, "f20": 190,
    "num_lock": 69, "scroll_lock": 70, "print_screen": 99, "pause": 119, "menu": 127,
    "home": 102, "up": 103, "page_up": 104, "left": 105, "right": 106, "end": 107, "down": 108,
    "page_down": 109, "insert": 110, "delete": 111,
    "media_volume_mute": 113, "media_volume_down": 114, "media_volume_up": 115,
    "media_play_pause": 164, "media_next": 163, "media_previous": 165,
}

#: Characters typed with shift held, and the unshifted key that makes them (US layout).
SHIFTED: Mapping[str, str] = {
    **{chr(ord("A") + i): chr(ord("a") + i) for i in range(26)},
    "!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8", "(": "9", ")": "0",
    "_": "-", "+": "=", "{": "[", "}": "]", ":": ";", '"': "'", "~": "`", "|": "\\", "<": ",", ">": ".", "?": "/",
}

#: Characters of typed text that are keys by another name.
TEXT_KEYS: Mapping[str, str] = {"\n": "enter", "\t": "tab"}


class Target(str, Enum):
    POINTER = "pointer"
    KEYBOARD = "keyboard"


Event = tuple[int, int, int]  # (type, code, value), as python-evdev's UInput.write takes them


@dataclass(frozen=True)
class Report:
    """Events for one device that belong together; a SYN_REPORT follows them."""

    target: Target
    events: tuple[Event, ...]


@dataclass(frozen=True)
class KeyStroke:
    """A key by code, with the modifiers (codes) it needs held around it."""

    code: int
    modifiers: tuple[int, ...] = ()


def is_known_key(name: str) -> bool:
    return name in KEY_CODES or name in SHIFTED


def key_stroke(name: str) -> KeyStroke:
    """The key code (and shift, for ``A`` or ``!``) for a pynput-style name."""
    if name in KEY_CODES:
        return KeyStroke(KEY_CODES[name])
    if name in SHIFTED:
        return KeyStroke(KEY_CODES[SHIFTED[name]], (KEY_LEFTSHIFT,))
    raise ValueError(
        f"unknown key name {name!r} for the uinput output: use a US-layout character ('a', 'A', '1', '/') "
        "or a pynput Key name such as 'space', 'ctrl', 'shift', 'alt', 'cmd', 'left', 'f5', 'enter', 'esc'"
    )


def move_report(x: int, y: int, screen: tuple[int, int]) -> Report:
    """Absolute pointer position, clamped to the screen."""
    width, height = screen
    return Report(Target.POINTER, (
        (EV_ABS, ABS_X, min(max(int(x), 0), width - 1)),
        (EV_ABS, ABS_Y, min(max(int(y), 0), height - 1)),
    ))


def button_report(button: str, down: bool) -> Report:
    return Report(Target.POINTER, ((EV_KEY, BUTTON_CODES[button], 1 if down else 0),))


def scroll_report(dx: int, dy: int) -> Report:
    """Wheel steps: dy positive scrolls up (REL_WHEEL), dx positive right (REL_HWHEEL)."""
    events: list[Event] = []
    if dy:
        events.append((EV_REL, REL_WHEEL, int(dy)))
    if dx:
        events.append((EV_REL, REL_HWHEEL, int(dx)))
    return Report(Target.POINTER, tuple(events))


def key_report(code: int, down: bool) -> Report:
    return Report(Target.KEYBOARD, ((EV_KEY, code, 1 if down else 0),))


def key_strokes(name: str, down: bool) -> tuple[Report, ...]:
    """A key going down (modifiers first) or up (modifiers last), one report per key."""
    stroke = key_stroke(name)
    if down:
        return tuple(key_report(m, True) for m in stroke.modifiers) + (key_report(stroke.code, True),)
    return (key_report(stroke.code, False),) + tuple(key_report(m, False) for m in reversed(stroke.modifiers))


def text_strokes(text: str) -> tuple[Report, ...]:
    """Every character pressed and released in turn; ValueError before anything if one cannot be typed."""
    names = [TEXT_KEYS.get(char, char) for char in text]
    bad = sorted({n for n in names if not is_known_key(n)})
    if bad:
        raise ValueError(f"the uinput output can type only US-layout ASCII; cannot type {''.join(bad)!r}")
    reports: list[Report] = []
    for name in names:
        reports += key_strokes(name, True) + key_strokes(name, False)
    return tuple(reports)


def pointer_capabilities(screen: tuple[int, int]) -> dict[int, list]:
    """Capabilities of the absolute pointer device, in python-evdev's ``UInput`` form."""
    from evdev import AbsInfo

    width, height = screen
    return {
        EV_KEY: [BTN_LEFT, BTN_RIGHT, BTN_MIDDLE],
        EV_REL: [REL_WHEEL, REL_HWHEEL],
        EV_ABS: [
            (ABS_X, AbsInfo(value=0, min=0, max=width - 1, fuzz=0, flat=0, resolution=0)),
            (ABS_Y, AbsInfo(value=0, min=0, max=height - 1, fuzz=0, flat=0, resolution=0)),
        ],
    }


def keyboard_capabilities() -> dict[int, list]:
    return {EV_KEY: sorted(set(KEY_CODES.values()))}


class Device(Protocol):
    """What the backend needs of a ``evdev.UInput``."""

    def write(self, etype: int, code: int, value: int) -> None: ...

    def syn(self) -> None: ...

    def close(self) -> None: ...


#: Builds a device from (capabilities, name); the default makes a real ``evdev.UInput``.
DeviceFactory = Callable[[dict, str], Device]


def uinput_problem(devnode: str = UINPUT_DEVNODE, platform: str = sys.platform) -> OutputUnavailable | None:
    """Why uinput cannot work here (with the fix), or None when it can."""
    if not platform.startswith("linux"):
        return OutputUnavailable("the uinput output exists only on Linux", "use --output pynput")
    if importlib.util.find_spec("evdev") is None:
        return OutputUnavailable(
            "the uinput output needs python-evdev, which is not installed",
            "pip install evdev (it builds from source: needs gcc, the Python headers and linux-libc-dev)",
        )
    if not os.path.exists(devnode):
        return OutputUnavailable(
            f"{devnode} does not exist: the uinput kernel module is not loaded",
            "run 'handmap setup uinput' (it runs 'sudo modprobe uinput' and loads the module at every boot); "
            "if modprobe fails, this kernel was built without CONFIG_INPUT_UINPUT",
        )
    if not os.access(devnode, os.R_OK | os.W_OK):
        from handmap.daemon.outputs.uinput_setup import GROUP, UDEV_RULE, UDEV_RULE_FILE

        return OutputUnavailable(
            f"{devnode} is not writable by this user",
            f"run 'handmap setup uinput', then log out and in (by hand: the udev rule {UDEV_RULE.strip()} "
            f"in {UDEV_RULE_FILE}, 'sudo udevadm control --reload && sudo udevadm trigger', "
            f"'sudo usermod -aG {GROUP} $USER', then a new login)",
        )
    return None


def _evdev_device(capabilities: dict, name: str) -> Device:
    from evdev import UInput

    return UInput(events=capabilities, name=name, devnode=UINPUT_DEVNODE)


class UInputOutput(HoldingOutput):
    """A virtual absolute pointer and keyboard; works under X11, Wayland and in games."""

    name = "uinput"
    injects = True

    def __init__(
        self,
        env: Mapping[str, str],
        screen: tuple[int, int] = DEFAULT_SCREEN,
        journal=None,
        device_factory: DeviceFactory | None = None,
    ) -> None:
        super().__init__(journal=journal if journal is not None else journal_path(env))
        if device_factory is None:
            problem = uinput_problem()
            if problem is not None:
                raise problem
            device_factory = _evdev_device
        self.screen = screen
        try:
            pointer = device_factory(pointer_capabilities(screen), POINTER_NAME)
        except OSError as exc:
            raise OutputUnavailable(f"could not create the uinput pointer: {exc}",
                                    "run 'handmap doctor' to check uinput access") from exc
        try:
            keyboard = device_factory(keyboard_capabilities(), KEYBOARD_NAME)
        except OSError as exc:
            pointer.close()
            raise OutputUnavailable(f"could not create the uinput keyboard: {exc}",
                                    "run 'handmap doctor' to check uinput access") from exc
        self._devices: dict[Target, Device] = {Target.POINTER: pointer, Target.KEYBOARD: keyboard}
        # Key codes down on the device, counted: "shift" held by a profile and the shift
        # that "A" needs must not release each other.
        self._codes_down: Counter[int] = Counter()

    def _send(self, reports: Sequence[Report]) -> None:
        for report in reports:
            if not report.events:
                continue
            device = self._devices[report.target]
            for etype, code, value in report.events:
                device.write(etype, code, value)
            device.syn()

    def _key_code(self, code: int, down: bool) -> None:
        """Press or release one key code on the keyboard, counting overlapping holds."""
        if down:
            self._codes_down[code] += 1
            if self._codes_down[code] == 1:
                self._send((key_report(code, True),))
        elif self._codes_down[code] > 1:
            self._codes_down[code] -= 1
        else:  # the last hold, or one this device never pressed: a spare release is harmless
            self._codes_down.pop(code, None)
            self._send((key_report(code, False),))

    def _check_button(self, button: str) -> None:
        if button not in BUTTON_CODES:
            raise ValueError(f"unknown mouse button {button!r}")

    def _check_key(self, key: str) -> None:
        key_stroke(key)

    def _move(self, item: a.Stamped, x: int, y: int) -> None:
        self._send((move_report(x, y, self.screen),))

    def _button(self, button: str, down: bool, t: float, frame: int) -> None:
        self._send((button_report(button, down),))

    def _key(self, key: str, down: bool, t: float, frame: int) -> None:
        stroke = key_stroke(key)
        if down:
            for code in stroke.modifiers + (stroke.code,):
                self._key_code(code, True)
        else:
            for code in (stroke.code,) + tuple(reversed(stroke.modifiers)):
                self._key_code(code, False)

    def _scroll(self, item: a.Stamped, dx: int, dy: int) -> None:
        self._send((scroll_report(dx, dy),))

    def _type(self, item: a.Stamped, text: str) -> None:
        text_strokes(text)  # raises before typing anything when a character cannot be typed
        for char in text:
            name = TEXT_KEYS.get(char, char)
            self._key(name, True, item.t, item.frame)
            self._key(name, False, item.t, item.frame)

    def _close(self) -> None:
        for code in list(self._codes_down):  # belt and braces: nothing stays down on the device
            self._send((key_report(code, False),))
        self._codes_down.clear()
        for device in self._devices.values():
            try:
                device.close()
            except OSError:
                pass
