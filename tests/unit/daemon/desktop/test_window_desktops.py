"""The GNOME, KDE, sway and Hyprland watchers' own decisions, without a compositor: which
extension flavour a GNOME Shell gets, how reports become windows, where a restarted
compositor's socket is looked for. The compositors themselves: tests/desktop/test_compositor_*.py."""

from __future__ import annotations

import json
import os
import time

import pytest

from handmap.daemon.desktop.windows import gnome
from handmap.daemon.desktop.windows.base import NO_WINDOW, ActiveWindow
from handmap.daemon.desktop.windows.hyprland import socket_dir_candidates
from handmap.daemon.desktop.windows.kwin import PLUGIN_NAME, kwin_window, script_text
from handmap.daemon.desktop.windows.sway import socket_candidates


@pytest.mark.parametrize(("version", "flavour"), [
    ("43.9", 43), ("44.1", 43), ("45.0", 45), ("47.2", 45), ("49.alpha", 45), ("42.5", 43), ("", 45), ("x", 45),
])
def test_gnome_flavour_follows_the_shell_version(version, flavour):
    assert gnome.flavour_for(version) == flavour


def test_gnome_extension_files_per_flavour():
    legacy = gnome.extension_files(43)
    modules = gnome.extension_files(45)
    assert json.loads(legacy["metadata.json"])["shell-version"] == ["43", "44"]
    assert json.loads(modules["metadata.json"])["uuid"] == gnome.EXTENSION_UUID
    assert b"imports.gi" in legacy["extension.js"] and b"function init()" in legacy["extension.js"]
    assert b"export default class" in modules["extension.js"] and b"imports.gi" not in modules["extension.js"]
    for files in (legacy, modules):  # the one focus part, with the D-Bus names the watcher uses
        assert gnome.BUS_NAME.encode() in files["extension.js"] and gnome.SIGNAL.encode() in files["extension.js"]


def test_gsettings_lists_are_read_and_bad_ones_refused():
    assert gnome._parse_string_list("@as []\n") == []
    assert gnome._parse_string_list("['a@b', 'handmap-focus@handmap']") == ["a@b", "handmap-focus@handmap"]
    with pytest.raises((ValueError, SyntaxError)):
        gnome._parse_string_list("[1, 2]")
    with pytest.raises((ValueError, SyntaxError)):
        gnome._parse_string_list("__import__('os')")


def test_focus_reports_become_windows():
    pid = os.getpid()
    window = gnome.focus_window("org.gnome.TextEditor", "org.gnome.TextEditor", "notes", pid)
    assert window.wm_class == "org.gnome.TextEditor" and window.pid == pid and window.process
    assert gnome.focus_window("", "foot", "~", 0) == ActiveWindow("foot", "~", "", None, "")
    assert gnome.focus_window("", "", "", 0) is NO_WINDOW
    assert kwin_window("org.kde.dolphin", "org.kde.dolphin", "Home", str(pid)).pid == pid
    assert kwin_window("gamea", "", "Game A", "") == ActiveWindow("gamea", "Game A", "", None, "")
    assert kwin_window("", "", "", "") is NO_WINDOW


def test_kwin_script_carries_handmaps_bus_name():
    text = script_text(":1.42")
    assert 'const SERVICE = ":1.42";' in text and "__HANDMAP_BUS_NAME__" not in text
    assert PLUGIN_NAME == "handmap-focus"


def test_a_restarted_sway_or_hyprland_is_looked_for_beside_the_old_socket(tmp_path):
    old = tmp_path / "sway-ipc.1000.111.sock"
    for name in ("sway-ipc.1000.222.sock", "sway-ipc.1001.333.sock", "sway-ipc.1000.444.sock"):
        (tmp_path / name).touch()
        time.sleep(0.01)  # distinct modification times: the newest is tried first
    assert socket_candidates(str(old)) == [str(old), str(tmp_path / "sway-ipc.1000.444.sock"),
                                           str(tmp_path / "sway-ipc.1000.222.sock")]
    hypr = tmp_path / "hypr"
    for signature in ("old", "new", "dead"):
        (hypr / signature).mkdir(parents=True)
    (hypr / "new" / ".socket2.sock").touch()
    assert socket_dir_candidates(hypr / "old") == [hypr / "old", hypr / "new"]
