"""The StatusNotifier tray in a real GNOME Shell 43 (headless Wayland, started here) with
Debian's AppIndicator extension (gnome-shell-extension-appindicator): the extension is
the watcher and the host, as on a user's desktop. The real daemon runs headless against
the session's bus; the test reads GNOME Shell's own panel through its ``Eval``
(``--unsafe-mode``): the icon is in the panel, its menu lists the profiles, and
activating the menu's Pause item (as a click does) pauses the daemon.

GNOME Shell needs logind on a system bus: python-dbusmock's logind template stands in
for it, as in the window-following tests.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from compositors import chown_tree, missing_gnome, new_desktop_session
from e2e_util import HandmapProcess, idle_trace, private_env, wait_until
from test_compositor_gnome import SHELL, shell_eval

from handmap.daemon.desktop.sni import WATCHER_NAME

APPINDICATOR_UUID = "ubuntu-appindicators@ubuntu.com"  # Debian's and Ubuntu's packaging
APPINDICATOR_DIR = Path("/usr/share/gnome-shell/extensions") / APPINDICATOR_UUID
DISPLAY = "wayland-0"
#: The handmap icon's panel button in GNOME Shell, found by the extension's id prefix.
BUTTON = "Object.entries(Main.panel.statusArea).filter(([k, v]) => k.startsWith('appindicator-') && v)"
#: Every menu item's label, submenus' items after their own label (JSON; empty while the
#: panel has no icon: the AppIndicator extension re-creates it when the item registers again).
MENU_LABELS = """(() => {
  const labels = [];
  const walk = menu => menu._getMenuItems().forEach(item => {
    if (item.label) labels.push(item.label.text);
    if (item.menu && item.menu !== menu) walk(item.menu);
  });
  const button = @BUTTON@.map(([k, v]) => v)[0];
  if (button) walk(button.menu);
  return JSON.stringify(labels);
})()""".replace("@BUTTON@", BUTTON)


def click(label: str) -> str:
    """JavaScript activating the menu item ``label`` as a click would (the extension then
    sends dbusmenu's Event "clicked")."""
    return """(() => {
  const item = @BUTTON@.map(([k, v]) => v)[0].menu._getMenuItems().find(i => i.label && i.label.text === @LABEL@);
  const Clutter = imports.gi.Clutter;
  item.activate(Clutter.Event.new(Clutter.EventType.BUTTON_RELEASE));
  return true;
})()""".replace("@BUTTON@", BUTTON).replace("@LABEL@", json.dumps(label))


@pytest.fixture()
def session():
    missing = missing_gnome()
    if not APPINDICATOR_DIR.is_dir():
        missing.append("gnome-shell-extension-appindicator")
    if missing:
        pytest.skip("the real-GNOME tray test needs " + ", ".join(missing) + " (run scripts/setup.sh --tests as root)")
    desktop = new_desktop_session()
    try:
        desktop.start_logind()
        yield desktop
    finally:
        desktop.stop()


def js(session, code: str) -> str:
    return shell_eval(session.session_bus, code)[0]


@pytest.mark.xfail(strict=False, reason=(
    "known defect, open: in about one run in three here GNOME's AppIndicator extension drops handmap's "
    "icon from the panel a few seconds after showing it, while the daemon and its item stay on the bus "
    "(the failure message shows both); the item itself is proven against a real watcher in test_sni.py"))
def test_gnome_shell_shows_the_item_and_its_menu_pauses_the_daemon(session, tmp_path):
    subprocess.run(["gsettings", "set", "org.gnome.shell", "enabled-extensions", f"['{APPINDICATOR_UUID}']"],
                   env=session.env, check=True, capture_output=True, timeout=30)
    chown_tree(session.home, session.user)
    session.start_compositor(SHELL, DISPLAY, WATCHER_NAME)  # the extension is GNOME's watcher

    env = private_env(tmp_path / "home", DBUS_SESSION_BUS_ADDRESS=session.session_bus, XDG_CURRENT_DESKTOP="GNOME")
    run = HandmapProcess(["--source", str(idle_trace(tmp_path / "idle.trace.jsonl")), "--realtime",
                          "--output", "dry-run", "--profile", "presenter"], env, tmp_path)
    try:
        run.wait_ready()
        wait_until(lambda: js(session, f"{BUTTON}.length") == "1", 30, "handmap's icon in GNOME Shell's panel")
        try:
            labels = wait_until(lambda: (found := json.loads(json.loads(js(session, MENU_LABELS))))
                                and "Pause" in found and found, 30, "the icon's menu")
        except AssertionError:
            raise AssertionError(("the daemon:", run.status(), "GNOME's panel:",
                                  js(session, "JSON.stringify(Object.keys(Main.panel.statusArea))"))) from None
        status = run.status()
        assert set(status["profiles"]) <= set(labels), labels
        assert {"Profiles", "Mute alerts", "Quit"} <= set(labels)
        assert "handmap: running" in labels or "handmap: no hand" in labels

        assert js(session, click("Pause")) == "true"
        t0 = time.monotonic()
        paused = wait_until(lambda: (s := run.status()) and s["state"] == "paused" and s, 10, "the daemon to pause")
        assert paused["paused_by"] == "the tray menu", paused
        assert time.monotonic() - t0 < 5
        wait_until(lambda: "Resume" in json.loads(json.loads(js(session, MENU_LABELS))), 10,
                   "GNOME Shell's menu to read Resume")
    finally:
        run.stop()
    wait_until(lambda: js(session, f"{BUTTON}.length") == "0", 15, "the icon to leave the panel")
