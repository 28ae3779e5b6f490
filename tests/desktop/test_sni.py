"""The StatusNotifierItem tray, through a real session bus and a real watcher.

A private ``dbus-daemon`` and Debian's ``status-notifier-watcher`` (package
haskell-status-notifier-item-utils: an independent implementation of
``org.kde.StatusNotifierWatcher``, the service KDE's panel and GNOME's AppIndicator
extension run) are started per test. The real daemon runs headless on an idle trace; the
test then acts as the panel would: it finds the item through the watcher, reads the menu
with dbusmenu's GetLayout and clicks items with its Event method, and checks what the
daemon's control socket says. Nothing is mocked.
"""

from __future__ import annotations

import gc
import shutil

import pytest
from e2e_util import HandmapProcess, idle_trace, private_env, wait_until, write_profile
from session_bus import NEEDED, Bus, end, running_bus, start_watcher

from handmap.daemon.desktop.sni import MENU_INTERFACE, WATCHER_NAME, SniTray
from handmap.daemon.desktop.tray import Tray, start_tray
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

SECOND_PROFILE = """\
version: 1
name: reading
pointer: {mode: none}
bindings: []
"""


@pytest.fixture()
def bus(tmp_path):
    with running_bus(tmp_path / "bus") as session:
        yield session


def _item_name(entry: str) -> str:
    """The bus name in a watcher's entry (``name`` or ``name/path``)."""
    return entry.split("/", 1)[0]


def _labels(node) -> dict[str, int]:
    """Every labelled item of a GetLayout ``(ia{sv}av)``: label -> id."""
    entry_id, props, children = node
    found = {props["label"].value: entry_id} if "label" in props else {}
    for child in children:
        found.update(_labels(child.value))
    return found


def _toggles(node) -> dict[str, int]:
    """The toggle state of every checkable item: label -> 0 or 1."""
    entry_id, props, children = node
    found = {props["label"].value: props["toggle-state"].value} if "toggle-state" in props else {}
    for child in children:
        found.update(_toggles(child.value))
    return found


def _menu(bus: Bus, item: str):
    """The item's whole menu, read as a panel does: the Menu property, then GetLayout."""
    path = bus.get(item, "/StatusNotifierItem", "org.kde.StatusNotifierItem", "Menu")
    revision, layout = bus.call(item, path, MENU_INTERFACE, "GetLayout", "iias", [0, -1, []])
    return path, revision, layout


def _click(bus: Bus, item: str, path: str, entry_id: int) -> None:
    from dbus_fast import Variant

    bus.call(item, path, MENU_INTERFACE, "Event", "isvu", [entry_id, "clicked", Variant("s", ""), 0])


@pytest.fixture()
def daemon(bus, tmp_path):
    env = private_env(tmp_path / "home", DBUS_SESSION_BUS_ADDRESS=bus.address)
    write_profile(env, "reading", SECOND_PROFILE)
    run = HandmapProcess(["--source", str(idle_trace(tmp_path / "idle.trace.jsonl")), "--realtime",
                          "--output", "dry-run", "--profile", "presenter"], env, tmp_path)
    try:
        run.wait_ready()
        yield run
    finally:
        run.stop()


def test_the_item_registers_its_menu_lists_the_profiles_and_pause_pauses_the_daemon(bus, daemon):
    entries = wait_until(bus.registered_items, 30, "the daemon's item in the watcher's list")
    item = _item_name(entries[0])
    assert item.startswith(":")  # its connection's unique name (see sni.SniTray._start)
    assert "handmap" in bus.get(item, "/StatusNotifierItem", "org.kde.StatusNotifierItem", "Title")
    pixmaps = bus.get(item, "/StatusNotifierItem", "org.kde.StatusNotifierItem", "IconPixmap")
    assert pixmaps and all(len(data) == 4 * w * h for w, h, data in pixmaps)

    path, _, layout = _menu(bus, item)
    labels = _labels(layout)
    status = daemon.status()
    assert status["profiles"] and set(status["profiles"]) <= set(labels)
    assert {"presenter", "reading"} <= set(labels)
    assert _toggles(layout)["presenter"] == 1 and _toggles(layout)["reading"] == 0
    assert {"Pause", "Mute alerts", "Quit", "Face touches today: 0"} <= set(labels)

    _click(bus, item, path, labels["Pause"])
    paused = wait_until(lambda: (s := daemon.status()) and s["state"] == "paused" and s, 10, "the daemon to pause")
    assert paused["paused_by"] == "the tray menu"
    _, _, layout = _menu(bus, item)
    assert "Resume" in _labels(layout) and "handmap: paused" in _labels(layout)

    _click(bus, item, path, _labels(layout)["reading"])
    wait_until(lambda: (daemon.status() or {}).get("profile") == "reading", 10, "the switch to 'reading'")
    wait_until(lambda: _toggles(_menu(bus, item)[2])["reading"] == 1, 10, "the menu to check 'reading'")

    _click(bus, item, path, _labels(layout)["Quit"])
    assert daemon.wait(30) == 0


def test_the_item_registers_again_when_the_watcher_restarts(bus, daemon):
    wait_until(bus.registered_items, 30, "the daemon's item in the watcher's list")
    bus.stop_watcher()
    bus.start_watcher()
    try:
        entries = wait_until(bus.registered_items, 10, "the item to register with the new watcher")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the daemon said:\n{daemon.stderr()}") from None
    _, _, layout = _menu(bus, _item_name(entries[0]))
    assert "presenter" in _labels(layout)
    assert daemon.status()["state"] != "paused"


def test_without_a_watcher_a_headless_daemon_gets_no_tray_and_says_why(bus):
    class NoCalls:
        def status(self):
            raise AssertionError("no tray should be made")

    bus.stop_watcher()
    tray, reason = start_tray(NoCalls(), ("presenter",), {"DBUS_SESSION_BUS_ADDRESS": bus.address})  # type: ignore[arg-type]
    assert tray is None
    assert "no graphical session" in reason and WATCHER_NAME in reason


class StillController:
    """A small real Controller whose status never changes (only the tray's choice is tested)."""

    def status(self) -> StatusSnapshot:
        return StatusSnapshot(state=DaemonState.RUNNING, profile="presenter", fps=30.0, hands_seen=0,
                              output="dry-run", uptime_s=1.0, profiles=("presenter",))

    def pause(self, by: str = "") -> None: ...

    def resume(self) -> None: ...

    def toggle_pause(self, by: str = "") -> None: ...

    def switch_profile(self, name: str) -> None: ...

    def set_alerts_muted(self, muted: bool) -> None: ...

    def quit(self) -> None: ...


def test_on_x11_the_xembed_icon_docks_unless_a_status_notifier_tray_runs(desktop, monkeypatch):
    if missing := [p for p in NEEDED if shutil.which(p) is None]:
        pytest.skip(f"needs {', '.join(missing)}")
    desktop.start_tray()
    monkeypatch.setenv("DISPLAY", desktop.display)  # pystray's icon connects to this process's DISPLAY
    tray, why = start_tray(StillController(), ("presenter",), desktop.env)
    try:
        assert isinstance(tray, Tray), why
    finally:
        if tray is not None:
            tray.stop()
        gc.collect()  # pystray's X11 icon closes its connection while the X server runs
    watcher = start_watcher(desktop.dbus_address)
    try:
        tray, why = start_tray(StillController(), ("presenter",), desktop.env)
        assert isinstance(tray, SniTray), why
        assert tray.registered
        tray.stop()
    finally:
        end(watcher)


def test_on_wayland_the_item_waits_for_a_tray_that_starts_after_the_daemon(bus, tmp_path):
    """A login service can start before the panel (or GNOME's AppIndicator extension):
    with no watcher on the bus yet, the daemon on a Wayland session tries the tray again
    (every 10 s) and its item registers once a watcher has appeared; the menu then works."""
    bus.stop_watcher()
    env = private_env(tmp_path / "home", DBUS_SESSION_BUS_ADDRESS=bus.address, WAYLAND_DISPLAY="wayland-handmap-test",
                      XDG_SESSION_TYPE="wayland")
    run = HandmapProcess(["--source", str(idle_trace(tmp_path / "idle.trace.jsonl")), "--realtime",
                          "--output", "dry-run", "--profile", "presenter"], env, tmp_path)
    try:
        run.wait_ready()
        bus.start_watcher()
        try:
            entries = wait_until(bus.registered_items, 25, "the item to register with the watcher that appeared")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the daemon said:\n{run.stderr()}") from None
        item = _item_name(entries[0])
        path, _, layout = _menu(bus, item)
        _click(bus, item, path, _labels(layout)["Pause"])
        wait_until(lambda: (run.status() or {}).get("state") == "paused", 10, "the daemon to pause")
    finally:
        run.stop()
