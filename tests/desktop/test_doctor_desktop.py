"""``handmap doctor`` names the desktop, says what works there and the one command that
fixes what does not.

The session bus is a real ``dbus-daemon`` with Debian's real StatusNotifier watcher.
GNOME Shell's handmap extension and KWin are stood in for by processes that own their
well-known names on that bus (``org.handmap.Focus``, ``org.kde.KWin``): owning the name
is exactly what doctor asks the bus about; the extension and the KWin script themselves
are tested against the real compositors by the window-watcher tests. The X11 case runs
on the real test desktop (Xvfb, matchbox, trayer).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from session_bus import running_bus

from handmap.daemon.desktop.windows import gnome
from handmap.daemon.tools.doctor import SETUP_GNOME, SETUP_UINPUT, Status, check_desktop, run_checks

NO_UINPUT = not Path("/dev/uinput").exists()


@pytest.fixture()
def bus(tmp_path):
    with running_bus(tmp_path / "bus", watcher=False) as session:
        yield session


def wayland(bus, tmp_path, **extra: str) -> dict[str, str]:
    return {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "XDG_RUNTIME_DIR": str(tmp_path),
            "HOME": str(tmp_path / "home"), "DBUS_SESSION_BUS_ADDRESS": bus.address, **extra}


def test_gnome_wayland_without_the_extension_names_setup_gnome_and_the_tray_that_is_there(bus, tmp_path):
    bus.start_watcher()  # GNOME with the AppIndicator extension
    check = check_desktop(wayland(bus, tmp_path, XDG_CURRENT_DESKTOP="ubuntu:GNOME"), platform="linux")
    assert check.finding.startswith("GNOME on Wayland (XDG_CURRENT_DESKTOP=ubuntu:GNOME)")
    assert "profile switching: no (handmap's GNOME Shell extension is not installed)" in check.finding
    assert "tray: StatusNotifierItem (D-Bus)" in check.finding
    assert check.status is Status.WARN
    assert f"profile switching: {SETUP_GNOME}" in check.fix
    if NO_UINPUT:
        assert f"output: {SETUP_UINPUT}" in check.fix


def test_gnome_with_the_extension_installed_but_not_yet_loaded_says_log_in_again(bus, tmp_path):
    env = wayland(bus, tmp_path, XDG_CURRENT_DESKTOP="GNOME", PATH="/nonexistent")  # no gsettings to ask
    installed = gnome.installed_extension_dir(env)
    installed.mkdir(parents=True)
    for name in ("metadata.json", "extension.js"):
        (installed / name).write_text("{}")
    check = check_desktop(env, platform="linux")
    assert "installed but not running (GNOME Shell loads new extensions at login)" in check.finding
    assert "profile switching: log out and back in" in check.fix


def test_gnome_with_its_shell_and_the_extension_answering_works(bus, tmp_path):
    bus.own("org.gnome.Shell")
    bus.own(gnome.BUS_NAME)
    check = check_desktop(wayland(bus, tmp_path, XDG_CURRENT_DESKTOP="GNOME"), platform="linux")
    assert "org.gnome.Shell answers on the session bus" in check.finding
    assert "profile switching: handmap's GNOME Shell extension" in check.finding
    # no AppIndicator extension: the tray's fix is GNOME's
    assert "tray: no (" in check.finding and "gnome-shell-extension-appindicator" in check.fix
    assert SETUP_GNOME not in check.fix


def test_kde_wayland_with_kwin_answering(bus, tmp_path):
    bus.start_watcher()  # Plasma's panel
    bus.own("org.kde.KWin")
    check = check_desktop(wayland(bus, tmp_path, XDG_CURRENT_DESKTOP="KDE"), platform="linux")
    assert check.finding.startswith("KDE Plasma on Wayland (XDG_CURRENT_DESKTOP=KDE; org.kde.KWin answers")
    assert "profile switching: a KWin script handmap loads itself" in check.finding
    assert "tray: StatusNotifierItem (D-Bus)" in check.finding
    if NO_UINPUT:
        assert check.status is Status.WARN and check.fix == f"output: {SETUP_UINPUT}"


def test_sway_by_its_socket_and_an_unknown_compositor_by_name(bus, tmp_path):
    sock_path = tmp_path / "sway-ipc.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    try:
        check = check_desktop(wayland(bus, tmp_path, SWAYSOCK=str(sock_path)), platform="linux")
    finally:
        listener.close()
    assert check.finding.startswith("sway on Wayland")
    assert "profile switching: sway's IPC" in check.finding
    assert "add a tray to your bar" in check.fix

    check = check_desktop(wayland(bus, tmp_path, XDG_CURRENT_DESKTOP="river"), platform="linux")
    assert check.finding.startswith("river on Wayland (XDG_CURRENT_DESKTOP=river)")
    assert "profile switching: switch by hand: handmap profile NAME" in check.fix


def test_the_x11_test_desktop_is_named_and_everything_works(desktop):
    desktop.start_tray()
    checks = {c.name: c for c in run_checks(desktop.env, platform="linux", camera_opener=lambda i: (False, ""))}
    check = checks["desktop"]
    assert check.finding.startswith("an unnamed desktop on X11: profile switching: X11's active window")
    assert "tray: XEmbed (pystray)" in check.finding and "output: pynput" in check.finding
    assert check.status is Status.OK and check.fix == ""
    assert list(checks).index("desktop") == list(checks).index("display") + 1


def test_no_session_names_no_desktop(tmp_path):
    check = check_desktop({"XDG_RUNTIME_DIR": str(tmp_path)}, platform="linux")
    assert check.finding.startswith("no desktop session") and check.fix
