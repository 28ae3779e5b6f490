"""Desktop stage, window watchers: the shared part of the watchers that hear the focused
window over the session D-Bus (GNOME Shell's extension, KWin's script).

``DBusWatcher`` runs one asyncio loop with a dbus-fast connection on the watcher's thread;
a subclass says what to do once connected (``_setup``) and with each message
(``_on_message``), and its reason stays set while the desktop side is missing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handmap.daemon.desktop.windows.base import OnChange, WatcherBase

log = logging.getLogger(__name__)

SESSION_BUS_VAR = "DBUS_SESSION_BUS_ADDRESS"
BUS_TIMEOUT_S = 5.0
DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"


def session_bus_address(env: Mapping[str, str]) -> str | None:
    """The session bus's address in ``env`` (the default socket when unset), or None."""
    address = env.get(SESSION_BUS_VAR)
    if address:
        return address
    default = Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / "bus"
    return f"unix:path={default}" if default.exists() else None


def name_owner_rule(name: str) -> str:
    """The match rule for ``name`` appearing on or leaving the bus."""
    return (f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',member='NameOwnerChanged',"
            f"arg0='{name}'")


class DBusWatcher(WatcherBase):
    """A watcher whose thread runs an asyncio loop on a session-bus connection."""

    def __init__(self, bus_address: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._address = bus_address
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.bus: Any = None
        self._tasks: set[asyncio.Future] = set()

    def start(self) -> None:
        """Connect and run ``_setup``; raises OSError when the session bus cannot be reached."""
        self._ready.clear()
        self._start_thread(lambda: asyncio.run(self._main()))
        if not self._ready.wait(BUS_TIMEOUT_S + 1):
            raise OSError("the session D-Bus did not answer")
        if self._error is not None:
            super().stop()
            raise OSError(f"cannot use the session D-Bus: {self._error}") from self._error

    async def _main(self) -> None:
        from dbus_fast.aio import MessageBus  # a Linux-only dependency, imported where used

        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        try:
            bus = await asyncio.wait_for(MessageBus(bus_address=self._address).connect(), BUS_TIMEOUT_S)
            self.bus = bus
            bus.add_message_handler(self._on_message)
            await self._setup(bus)
        except Exception as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._done.wait()
        finally:
            await self._teardown(bus)
            bus.disconnect()

    async def _setup(self, bus: Any) -> None:
        """Subscribe and read the focused window now (on the watcher's loop)."""
        raise NotImplementedError

    async def _teardown(self, bus: Any) -> None:
        """Undo what ``_setup`` did on the desktop's side, if anything (on the watcher's loop)."""

    def _on_message(self, message: Any) -> bool:
        """Handle one message from the bus; True when it was a method call this watcher answered."""
        return False

    async def add_match(self, bus: Any, rule: str) -> None:
        await self.call(bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, "AddMatch", "s", [rule])

    async def call(self, bus: Any, destination: str, path: str, interface: str, member: str,
                   signature: str = "", body: list | None = None) -> list:
        """A method call; its reply's body, or DBusError with the error's name and text."""
        from dbus_fast import DBusError, Message, MessageType

        reply = await asyncio.wait_for(bus.call(Message(
            destination=destination, path=path, interface=interface, member=member,
            signature=signature, body=body or [])), BUS_TIMEOUT_S)
        if reply.message_type == MessageType.ERROR:
            raise DBusError(reply.error_name, str(reply.body[0]) if reply.body else reply.error_name)
        return list(reply.body)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` on the watcher's loop (from a message handler); errors are logged."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    def stop(self) -> None:
        loop, done = self._loop, self._done
        if loop is not None and done is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(done.set)
            except RuntimeError:  # the loop has just closed
                pass
        super().stop()


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("D-Bus window watcher task failed", exc_info=task.exception())
