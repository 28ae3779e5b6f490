"""The one place that says what kind of desktop session this is, from the environment alone."""

from __future__ import annotations

import pytest

from handmap.daemon.desktop.session import Session, SessionKind, detect, has_display, needs_x_display


@pytest.mark.parametrize(("env", "platform", "kind"), [
    ({}, "darwin", SessionKind.MACOS),
    ({"DISPLAY": ":0"}, "win32", SessionKind.WINDOWS),
    ({"DISPLAY": ":0"}, "linux", SessionKind.X11),
    ({"XDG_SESSION_TYPE": "x11"}, "linux", SessionKind.X11),  # logind knows before DISPLAY is imported
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", SessionKind.WAYLAND),  # Xwayland too
    ({"XDG_SESSION_TYPE": "Wayland"}, "linux", SessionKind.WAYLAND),
    ({"XDG_SESSION_TYPE": "tty"}, "linux", SessionKind.NONE),
    ({}, "linux", SessionKind.NONE),
])
def test_session_kind_from_the_environment(env, platform, kind):
    assert detect(env, platform).kind is kind


def test_display_names_and_whether_there_is_one():
    assert detect({"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":1"}, "linux") == \
        Session(SessionKind.WAYLAND, x_display=":1", wayland_display="wayland-1")
    assert detect({"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":1"}, "linux").display_name == "wayland-1"
    assert detect({"DISPLAY": ":1"}, "linux").display_name == ":1"
    assert not detect({"XDG_SESSION_TYPE": "x11"}, "linux").has_display  # said x11, but no DISPLAY yet
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"}) and not has_display({"DISPLAY": ""})


def test_x_display_needed_on_linux_and_bsd_only():
    assert needs_x_display("linux") and needs_x_display("freebsd14")
    assert not needs_x_display("darwin") and not needs_x_display("win32")
