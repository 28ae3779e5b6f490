"""The uinput backend: actions to evdev events, device capabilities, and the diagnostics.

This machine's kernel has no uinput (no /dev/uinput, and ``evdev.UInput()`` fails), so no
real virtual device can be made here. The translation is pure and tested directly; the
backend is tested end to end against a stand-in device that records ``write()`` and
``syn()`` calls exactly as python-evdev's ``UInput`` receives them. That stand-in is the
only mock in this file, and it exists because the real part cannot run on this kernel.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from evdev import AbsInfo, ecodes

from handmap.daemon.outputs import OutputUnavailable, choose_output, recover_stale_held, select_output
from handmap.daemon.outputs import uinput_backend as u
from handmap.mappings.actions import (
    Button,
    KeyDown,
    KeyUp,
    MouseDown,
    MouseMove,
    MouseUp,
    ReportPose,
    Scroll,
    Stamped,
    TypeText,
)

SYN = ("syn",)


class StandInDevice:
    """Records what a python-evdev ``UInput`` would be given (no uinput in this kernel)."""

    def __init__(self, capabilities: dict, name: str):
        self.capabilities = capabilities
        self.name = name
        self.calls: list[tuple] = []
        self.closed = False

    def write(self, etype: int, code: int, value: int) -> None:
        assert not self.closed
        self.calls.append((etype, code, value))

    def syn(self) -> None:
        self.calls.append(SYN)

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[tuple]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture()
def devices(tmp_path):
    made: dict[str, StandInDevice] = {}

    def factory(capabilities, name):
        made[name] = StandInDevice(capabilities, name)
        return made[name]

    output = u.UInputOutput({"XDG_RUNTIME_DIR": str(tmp_path)}, screen=(1920, 1080), device_factory=factory)
    yield output, made[u.POINTER_NAME], made[u.KEYBOARD_NAME]
    output.close()


def key(code: int, value: int) -> tuple:
    return (ecodes.EV_KEY, code, value)


def test_device_capabilities_make_an_absolute_pointer_and_a_keyboard(devices):
    _, pointer, keyboard = devices
    caps = pointer.capabilities
    assert caps[ecodes.EV_KEY] == [ecodes.BTN_LEFT, ecodes.BTN_RIGHT, ecodes.BTN_MIDDLE]
    assert set(caps[ecodes.EV_REL]) == {ecodes.REL_WHEEL, ecodes.REL_HWHEEL}
    assert dict(caps[ecodes.EV_ABS]) == {
        ecodes.ABS_X: AbsInfo(0, 0, 1919, 0, 0, 0),
        ecodes.ABS_Y: AbsInfo(0, 0, 1079, 0, 0, 0),
    }
    assert ecodes.EV_ABS not in keyboard.capabilities
    codes = set(keyboard.capabilities[ecodes.EV_KEY])
    assert {ecodes.KEY_A, ecodes.KEY_SPACE, ecodes.KEY_LEFTCTRL, ecodes.KEY_LEFTSHIFT, ecodes.KEY_F5,
            ecodes.KEY_PAGEDOWN, ecodes.KEY_LEFTMETA, ecodes.KEY_ESC} <= codes


def test_key_table_agrees_with_the_kernel_names():
    """Every pynput-style name maps to the evdev code of the same key."""
    expected = {"a": "KEY_A", "z": "KEY_Z", "0": "KEY_0", "space": "KEY_SPACE", "ctrl": "KEY_LEFTCTRL",
                "ctrl_r": "KEY_RIGHTCTRL", "alt_gr": "KEY_RIGHTALT", "cmd": "KEY_LEFTMETA", "left": "KEY_LEFT",
                "page_down": "KEY_PAGEDOWN", "f12": "KEY_F12", "f13": "KEY_F13", "enter": "KEY_ENTER",
                "esc": "KEY_ESC", "tab": "KEY_TAB", "print_screen": "KEY_SYSRQ", "/": "KEY_SLASH",
                "media_play_pause": "KEY_PLAYPAUSE", "menu": "KEY_COMPOSE"}
    for name, code_name in expected.items():
        assert u.KEY_CODES[name] == getattr(ecodes, code_name), name
    # pynput's Key names (those on every platform) are all covered
    pynput_keys = {"alt", "alt_l", "alt_r", "alt_gr", "backspace", "caps_lock", "cmd", "cmd_l", "cmd_r", "ctrl",
                   "ctrl_l", "ctrl_r", "delete", "down", "end", "enter", "esc", "home", "left", "page_down",
                   "page_up", "right", "shift", "shift_l", "shift_r", "space", "tab", "up"}
    assert pynput_keys <= set(u.KEY_CODES)


def test_move_lands_on_absolute_pixels_clamped_to_the_screen(devices):
    output, pointer, _ = devices
    output.emit(Stamped(0.0, 0, MouseMove(640, 360)))
    output.emit(Stamped(0.1, 3, MouseMove(5000, -20)))
    assert pointer.take() == [(ecodes.EV_ABS, ecodes.ABS_X, 640), (ecodes.EV_ABS, ecodes.ABS_Y, 360), SYN,
                              (ecodes.EV_ABS, ecodes.ABS_X, 1919), (ecodes.EV_ABS, ecodes.ABS_Y, 0), SYN]


def test_drag_and_scroll(devices):
    output, pointer, keyboard = devices
    output.emit(Stamped(0.0, 0, MouseDown(Button.LEFT)))
    output.emit(Stamped(0.1, 3, MouseMove(100, 100)))
    output.emit(Stamped(0.2, 6, MouseUp(Button.LEFT)))
    output.emit(Stamped(0.3, 9, Scroll(0, -2)))
    output.emit(Stamped(0.4, 12, Scroll(1, 3)))
    output.emit(Stamped(0.5, 15, Scroll(0, 0)))  # nothing to send
    assert pointer.take() == [
        key(ecodes.BTN_LEFT, 1), SYN,
        (ecodes.EV_ABS, ecodes.ABS_X, 100), (ecodes.EV_ABS, ecodes.ABS_Y, 100), SYN,
        key(ecodes.BTN_LEFT, 0), SYN,
        (ecodes.EV_REL, ecodes.REL_WHEEL, -2), SYN,
        (ecodes.EV_REL, ecodes.REL_WHEEL, 3), (ecodes.EV_REL, ecodes.REL_HWHEEL, 1), SYN,
    ]
    assert keyboard.take() == []


def test_combo_and_shifted_characters(devices):
    output, _, keyboard = devices
    for action in (KeyDown("ctrl"), KeyDown("shift"), KeyDown("t"), KeyUp("t"), KeyUp("shift"), KeyUp("ctrl")):
        output.emit(Stamped(1.0, 30, action))
    assert keyboard.take() == [key(ecodes.KEY_LEFTCTRL, 1), SYN, key(ecodes.KEY_LEFTSHIFT, 1), SYN,
                               key(ecodes.KEY_T, 1), SYN, key(ecodes.KEY_T, 0), SYN,
                               key(ecodes.KEY_LEFTSHIFT, 0), SYN, key(ecodes.KEY_LEFTCTRL, 0), SYN]
    # "A" needs shift; a profile's own held shift is not let go when "A" is released
    output.emit(Stamped(2.0, 60, KeyDown("shift")))
    output.emit(Stamped(2.0, 60, KeyDown("A")))
    output.emit(Stamped(2.1, 63, KeyUp("A")))
    assert keyboard.take() == [key(ecodes.KEY_LEFTSHIFT, 1), SYN, key(ecodes.KEY_A, 1), SYN, key(ecodes.KEY_A, 0), SYN]
    output.emit(Stamped(2.2, 66, KeyUp("shift")))
    assert keyboard.take() == [key(ecodes.KEY_LEFTSHIFT, 0), SYN]


def test_typed_text_and_untypeable_text(devices):
    output, _, keyboard = devices
    output.emit(Stamped(0.0, 0, TypeText("Hi\n")))
    assert keyboard.take() == [
        key(ecodes.KEY_LEFTSHIFT, 1), SYN, key(ecodes.KEY_H, 1), SYN, key(ecodes.KEY_H, 0), SYN,
        key(ecodes.KEY_LEFTSHIFT, 0), SYN, key(ecodes.KEY_I, 1), SYN, key(ecodes.KEY_I, 0), SYN,
        key(ecodes.KEY_ENTER, 1), SYN, key(ecodes.KEY_ENTER, 0), SYN,
    ]
    with pytest.raises(ValueError, match="only US-layout ASCII; cannot type 'é'"):
        output.emit(Stamped(0.0, 0, TypeText("café")))
    assert keyboard.take() == []  # nothing typed at all


def test_release_all_and_close_leave_nothing_down(devices, tmp_path):
    output, pointer, keyboard = devices
    output.emit(Stamped(0.0, 0, MouseDown(Button.RIGHT)))
    output.emit(Stamped(0.0, 0, KeyDown("w")))
    output.emit(Stamped(0.0, 0, KeyDown("?")))  # shift + slash
    output.emit(Stamped(0.0, 0, ReportPose("left", "open", 0.9)))  # injects nothing
    assert (tmp_path / "handmap-held.json").exists()
    pointer.take(), keyboard.take()
    output.release_all()
    assert keyboard.take() == [key(ecodes.KEY_SLASH, 0), SYN, key(ecodes.KEY_LEFTSHIFT, 0), SYN,
                               key(ecodes.KEY_W, 0), SYN]
    assert pointer.take() == [key(ecodes.BTN_RIGHT, 0), SYN]
    assert not (tmp_path / "handmap-held.json").exists()
    output.emit(Stamped(0.0, 0, KeyDown("space")))
    output.close()
    assert keyboard.take() == [key(ecodes.KEY_SPACE, 1), SYN, key(ecodes.KEY_SPACE, 0), SYN]
    assert pointer.closed and keyboard.closed


def test_unknown_key_is_refused_before_anything_is_held(devices):
    output, _, keyboard = devices
    with pytest.raises(ValueError, match="unknown key name 'ctrll'"):
        output.emit(Stamped(0.0, 0, KeyDown("ctrll")))
    assert len(output.held) == 0 and keyboard.take() == []


def test_recovery_releases_keys_this_device_never_pressed(devices, tmp_path):
    output, pointer, keyboard = devices
    (tmp_path / "handmap-held.json").write_text(
        '{"version": 1, "pid": 0, "backend": "uinput", "held": [{"kind": "key", "name": "w"}, '
        '{"kind": "button", "name": "left"}]}')
    assert len(recover_stale_held(output)) == 2
    assert pointer.take() == [key(ecodes.BTN_LEFT, 0), SYN]
    assert keyboard.take() == [key(ecodes.KEY_W, 0), SYN]


# --- diagnostics: these run for real against this machine's /dev ---------------------------


def test_missing_device_node_says_to_load_the_module(tmp_path):
    problem = u.uinput_problem(str(tmp_path / "uinput"), platform="linux")
    assert "does not exist: the uinput kernel module is not loaded" in problem.problem
    assert "handmap setup uinput" in problem.fix and "sudo modprobe uinput" in problem.fix


def test_unwritable_device_node_says_setup_uinput_and_the_udev_rule(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: every file is writable, so the permission check cannot fail here")
    node = tmp_path / "uinput"
    node.write_text("")
    node.chmod(stat.S_IRUSR)
    problem = u.uinput_problem(str(node), platform="linux")
    assert "is not writable" in problem.problem
    assert "handmap setup uinput" in problem.fix
    assert 'KERNEL=="uinput", SUBSYSTEM=="misc", GROUP="uinput", MODE="0660"' in problem.fix
    assert "usermod -aG uinput" in problem.fix


def test_writable_device_node_passes(tmp_path):
    node = tmp_path / "uinput"
    node.write_text("")
    assert u.uinput_problem(str(node), platform="linux") is None
    assert "only on Linux" in u.uinput_problem(str(node), platform="darwin").problem


@pytest.mark.skipif(Path(u.UINPUT_DEVNODE).exists(), reason="this machine has /dev/uinput")
def test_requesting_uinput_on_this_kernel_explains_why_not():
    with pytest.raises(OutputUnavailable, match="/dev/uinput does not exist.*sudo modprobe uinput"):
        select_output("uinput", {"XDG_RUNTIME_DIR": "/nonexistent"}, platform="linux")


def test_auto_choice_by_session():
    missing = OutputUnavailable("/dev/uinput does not exist", "sudo modprobe uinput")
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert choose_output(None, wayland, platform="linux", check_uinput=False).name == "uinput"
    fallback = choose_output(None, {**wayland, "DISPLAY": ":0"}, platform="linux", uinput_problem=missing)
    assert fallback.name == "pynput" and fallback.usable and "Xwayland" in fallback.reason
    stuck = choose_output(None, wayland, platform="linux", uinput_problem=missing)
    assert stuck.name == "uinput" and not stuck.usable
    bare = choose_output("auto", {}, platform="linux", uinput_problem=missing)
    assert not bare.usable and "--output dry-run" in str(bare.problem)
    assert choose_output(None, {}, platform="linux", check_uinput=False).name == "uinput"
    assert choose_output(None, {"DISPLAY": ":0"}, platform="linux").name == "pynput"
    assert choose_output(None, {}, platform="darwin").name == "pynput"
    assert choose_output(None, {}, platform="win32").name == "pynput"


def test_every_profile_key_name_has_a_key(devices):
    """Whatever key a valid profile names (mappings/keys.py), the uinput keyboard can press it."""
    from handmap.mappings.keys import ALL_KEY_NAMES

    output, _, keyboard = devices
    for name in sorted(ALL_KEY_NAMES):
        output.emit(Stamped(0.0, 0, KeyDown(name)))
        output.emit(Stamped(0.0, 0, KeyUp(name)))
    calls = keyboard.take()
    codes = set(keyboard.capabilities[ecodes.EV_KEY])
    assert {c[1] for c in calls if c != SYN} <= codes
    assert sum(1 for c in calls if c != SYN and c[2] == 1) >= len(ALL_KEY_NAMES)
    assert len(output.held) == 0
