"""Which desktop a session's environment names (what ``handmap doctor`` reports)."""

from __future__ import annotations

import pytest

from handmap.daemon.desktop.session import Desktop, desktop, desktop_label

WAYLAND = {"WAYLAND_DISPLAY": "wayland-0"}


@pytest.mark.parametrize(("env", "expected"), [
    ({**WAYLAND, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, Desktop.GNOME),
    ({"DISPLAY": ":0", "XDG_CURRENT_DESKTOP": "GNOME-Classic:GNOME"}, Desktop.GNOME),
    ({**WAYLAND, "XDG_CURRENT_DESKTOP": "KDE"}, Desktop.KDE),
    ({**WAYLAND, "DESKTOP_SESSION": "/usr/share/wayland-sessions/plasmawayland"}, Desktop.KDE),
    ({**WAYLAND, "SWAYSOCK": "/run/user/1000/sway-ipc.sock", "XDG_CURRENT_DESKTOP": "GNOME"}, Desktop.SWAY),
    ({**WAYLAND, "HYPRLAND_INSTANCE_SIGNATURE": "abc"}, Desktop.HYPRLAND),
    ({**WAYLAND, "XDG_CURRENT_DESKTOP": "Hyprland"}, Desktop.HYPRLAND),
    ({**WAYLAND, "XDG_CURRENT_DESKTOP": "river"}, Desktop.OTHER),
    ({"DISPLAY": ":0"}, Desktop.OTHER),
    ({}, Desktop.NONE),
])
def test_desktop_from_the_environment(env, expected):
    assert desktop(env, platform="linux") is expected


def test_platforms_and_labels():
    assert desktop({}, platform="darwin") is Desktop.MACOS
    assert desktop({}, platform="win32") is Desktop.WINDOWS
    assert desktop_label({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "DESKTOP_SESSION": "ubuntu"}) == "ubuntu:GNOME"
    assert desktop_label({"DESKTOP_SESSION": "sway"}) == "sway"
    assert desktop_label({}) == ""
