"""A private session D-Bus for tests, with the StatusNotifier watcher and name owners.

The bus is a real ``dbus-daemon``; the watcher is Debian's ``status-notifier-watcher``
(package haskell-status-notifier-item-utils), an independent implementation of
``org.kde.StatusNotifierWatcher``. :meth:`Bus.own` starts a small process that owns a
well-known name (what ``doctor`` asks the bus about), and :meth:`Bus.call` makes method
calls as a panel would.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from desktop import _DBUS_CONFIG as BUS_CONFIG  # the test desktop's bus, without its X server
from e2e_util import wait_until

WATCHER = "status-notifier-watcher"
WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
NEEDED = ("dbus-daemon", "dbus-send", WATCHER)
INSTALL_HINT = "Debian: dbus-daemon dbus-bin haskell-status-notifier-item-utils"
#: A process that owns the name argv[2] on the bus argv[1] until it is ended.
_OWNER = """
import asyncio, sys
from dbus_fast.aio import MessageBus

async def main():
    bus = await MessageBus(bus_address=sys.argv[1]).connect()
    await bus.request_name(sys.argv[2])
    print("owned", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def start_watcher(address: str) -> subprocess.Popen:
    """The StatusNotifier watcher on the bus at ``address``, once it owns its name."""
    proc = subprocess.Popen([WATCHER], env={"DBUS_SESSION_BUS_ADDRESS": address, "PATH": "/usr/bin"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def owned() -> bool:  # dbus-send: no event loop on the caller's thread
        out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{WATCHER_NAME}"],
                             env={"DBUS_SESSION_BUS_ADDRESS": address}, capture_output=True, text=True, timeout=5)
        return "boolean true" in out.stdout

    try:
        wait_until(owned, 10, "the StatusNotifier watcher")
    except AssertionError:
        end(proc)
        raise
    return proc


class Bus:
    """A private session bus (in ``runtime``), optionally with the StatusNotifier watcher."""

    def __init__(self, runtime: Path) -> None:
        config = runtime / "session.conf"
        config.write_text(BUS_CONFIG.format(socket=runtime / "bus"))
        self.daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.daemon.stdout is not None
        self.address = self.daemon.stdout.readline().strip()
        self.watcher: subprocess.Popen | None = None
        self.owners: list[subprocess.Popen] = []

    def has_owner(self, name: str) -> bool:
        return bool(self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "NameHasOwner", "s", [name])[0])

    def start_watcher(self) -> None:
        self.watcher = start_watcher(self.address)

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            end(self.watcher)
            self.watcher = None

    def own(self, name: str) -> subprocess.Popen:
        """A process owning ``name`` on this bus (ended with the bus)."""
        proc = subprocess.Popen([sys.executable, "-c", _OWNER, self.address, name], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        self.owners.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "owned", f"could not own {name}"
        return proc

    def stop(self) -> None:
        for proc in self.owners:
            end(proc)
        self.stop_watcher()
        end(self.daemon)

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


@contextmanager
def running_bus(runtime: Path, watcher: bool = True) -> Iterator[Bus]:
    """A bus in ``runtime`` (made here), with the watcher when asked; the test skips
    with what to install when the programs are missing."""
    missing = [p for p in NEEDED if shutil.which(p) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} ({INSTALL_HINT})")
    runtime.mkdir(mode=0o700)
    bus = Bus(runtime)
    try:
        if watcher:
            bus.start_watcher()
        yield bus
    finally:
        bus.stop()
