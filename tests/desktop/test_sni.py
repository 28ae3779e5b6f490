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

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_util import HandmapProcess, idle_trace, private_env, wait_until, write_profile

from handmap.daemon.desktop.sni import MENU_INTERFACE, WATCHER_NAME, WATCHER_PATH
from handmap.daemon.desktop.tray import start_tray

WATCHER = "status-notifier-watcher"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
SECOND_PROFILE = """\
version: 1
name: reading
pointer: {mode: none}
bindings: []
"""


class Bus:
    """A private session bus and the StatusNotifier watcher on it."""

    def __init__(self, runtime: Path) -> None:
        config = runtime / "session.conf"
        config.write_text(BUS_CONFIG.format(socket=runtime / "bus"))
        self.daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.daemon.stdout is not None
        self.address = self.daemon.stdout.readline().strip()
        self.watcher: subprocess.Popen | None = None

    def start_watcher(self) -> None:
        self.watcher = subprocess.Popen([WATCHER], env={"DBUS_SESSION_BUS_ADDRESS": self.address, "PATH": "/usr/bin"},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                     "NameHasOwner", "s", [WATCHER_NAME])[0], 10, "the StatusNotifier watcher")

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            _end(self.watcher)
            self.watcher = None

    def stop(self) -> None:
        self.stop_watcher()
        _end(self.daemon)

    def call(self, dest: str, path: str, interface: str, member: str, signature: str = "", body=()) -> list:
        """One method call, as a panel would make it; the reply's body (AssertionError on a D-Bus error)."""
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        async def call() -> list:
            bus = await MessageBus(bus_address=self.address).connect()
            try:
                reply = await asyncio.wait_for(bus.call(Message(
                    destination=dest, path=path, interface=interface, member=member, signature=signature,
                    body=list(body))), 5)
            finally:
                bus.disconnect()
            if reply.message_type is MessageType.ERROR:
                raise AssertionError(f"{member} failed: {reply.error_name} {reply.body}")
            return reply.body

        return asyncio.run(call())

    def get(self, dest: str, path: str, interface: str, name: str):
        return self.call(dest, path, "org.freedesktop.DBus.Properties", "Get", "ss", [interface, name])[0].value

    def registered_items(self) -> list[str]:
        return self.get(WATCHER_NAME, WATCHER_PATH, WATCHER_NAME, "RegisteredStatusNotifierItems")


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture()
def bus(tmp_path):
    missing = [p for p in ("dbus-daemon", WATCHER) if shutil.which(p) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: dbus-daemon haskell-status-notifier-item-utils)")
    runtime = tmp_path / "bus"
    runtime.mkdir(mode=0o700)
    session = Bus(runtime)
    try:
        session.start_watcher()
        yield session
    finally:
        session.stop()


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
    assert item.startswith("org.kde.StatusNotifierItem-")
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
    entries = wait_until(bus.registered_items, 10, "the item to register with the new watcher")
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
