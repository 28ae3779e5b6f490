"""Tray stage on D-Bus: a StatusNotifierItem with a dbusmenu menu, in pure Python.

The StatusNotifierItem (``org.kde.StatusNotifierItem``) is the tray KDE Plasma shows
natively and GNOME shows with the AppIndicator extension; its menu is published over
``com.canonical.dbusmenu``. Both are served with dbus-fast (the library the
notifications already use), so the full menu works without PyGObject and without X:
the same entries as the XEmbed tray (state, profile, the profiles to switch to, pause,
mute, today's face touches, quit). :func:`menu_entries` builds the menu from a status
snapshot (pure); :class:`SniTray` serves it on its own thread and event loop, registers
with the ``org.kde.StatusNotifierWatcher`` under its unique bus name (again when the
watcher restarts) and sends the menu's clicks to the controller.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from handmap.daemon.desktop.tray import draw_icon, tooltip, touches_text
from handmap.daemon.desktop.windows.dbus_watch import name_owner_rule, session_bus_address
from handmap.daemon.runtime.state import Controller, DaemonState, StatusSnapshot

log = logging.getLogger(__name__)

APP_NAME = "handmap"
WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_INTERFACE = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU_INTERFACE = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
#: The dbusmenu protocol version served (libdbusmenu's).
DBUSMENU_VERSION = 3
#: Icon sizes offered (the host picks the nearest to its panel).
ICON_SIZES = (22, 32, 64)
BUS_TIMEOUT_S = 2.0
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0
#: Tries at registering with a watcher that just appeared, the n-th after n * REGISTER_RETRY_S.
REGISTER_ATTEMPTS = 6
REGISTER_RETRY_S = 0.2


class MenuId(IntEnum):
    """The menu's item ids (dbusmenu's); profile ``i`` is ``PROFILE_BASE + i``."""

    ROOT = 0
    STATE = 1
    PROFILE = 2
    PROFILES = 3
    SEPARATOR_TOP = 4
    PAUSE = 5
    MUTE = 6
    TOUCHES = 7
    SEPARATOR_BOTTOM = 8
    QUIT = 9
    SETTINGS = 10
    PROFILE_BASE = 100


class Toggle:
    """dbusmenu's ``toggle-type`` values."""

    NONE = ""
    CHECKMARK = "checkmark"
    RADIO = "radio"


@dataclass(frozen=True)
class MenuEntry:
    """One menu item as dbusmenu shows it."""

    id: int
    label: str = ""
    enabled: bool = True
    separator: bool = False
    toggle: str = Toggle.NONE
    checked: bool = False
    children: tuple[MenuEntry, ...] = ()


def menu_entries(snapshot: StatusSnapshot, profiles: Sequence[str]) -> MenuEntry:
    """The whole menu (its root) for this status: the XEmbed tray's menu, item for item."""
    names = snapshot.profiles or tuple(profiles)
    profile_items = tuple(
        MenuEntry(MenuId.PROFILE_BASE + i, name, toggle=Toggle.RADIO, checked=snapshot.profile == name)
        for i, name in enumerate(names)
    ) or (MenuEntry(MenuId.PROFILE_BASE, "(no profiles)", enabled=False),)
    paused = snapshot.state is DaemonState.PAUSED
    return MenuEntry(MenuId.ROOT, children=(
        MenuEntry(MenuId.STATE, f"handmap: {snapshot.state.value}", enabled=False),
        MenuEntry(MenuId.PROFILE, f"Profile: {snapshot.profile or '-'}", enabled=False),
        MenuEntry(MenuId.PROFILES, "Profiles", children=profile_items),
        MenuEntry(MenuId.SEPARATOR_TOP, separator=True),
        MenuEntry(MenuId.PAUSE, "Resume" if paused else "Pause"),
        MenuEntry(MenuId.MUTE, "Mute alerts", toggle=Toggle.CHECKMARK, checked=snapshot.alerts_muted),
        MenuEntry(MenuId.TOUCHES, touches_text(snapshot), enabled=False),
        MenuEntry(MenuId.SETTINGS, "Settings..."),
        MenuEntry(MenuId.SEPARATOR_BOTTOM, separator=True),
        MenuEntry(MenuId.QUIT, "Quit"),
    ))


def find_entry(root: MenuEntry, entry_id: int) -> MenuEntry | None:
    if root.id == entry_id:
        return root
    for child in root.children:
        found = find_entry(child, entry_id)
        if found is not None:
            return found
    return None


def entry_properties(entry: MenuEntry) -> dict[str, Any]:
    """The item's dbusmenu properties (as dbus-fast Variants)."""
    from dbus_fast import Variant

    if entry.separator:
        return {"type": Variant("s", "separator")}
    if entry.id == MenuId.ROOT:
        return {"children-display": Variant("s", "submenu")}
    props = {"label": Variant("s", entry.label), "enabled": Variant("b", entry.enabled),
             "visible": Variant("b", True)}
    if entry.toggle:
        props["toggle-type"] = Variant("s", entry.toggle)
        props["toggle-state"] = Variant("i", 1 if entry.checked else 0)
    if entry.children:
        props["children-display"] = Variant("s", "submenu")
    return props


def layout(entry: MenuEntry, depth: int = -1, names: Sequence[str] = ()) -> list:
    """``(ia{sv}av)`` for ``entry`` and its children down to ``depth`` (-1: all)."""
    from dbus_fast import Variant

    props = entry_properties(entry)
    if names:
        props = {k: v for k, v in props.items() if k in names}
    children = [] if depth == 0 else [
        Variant("(ia{sv}av)", layout(child, depth - 1, names)) for child in entry.children]
    return [int(entry.id), props, children]


def icon_pixmaps(state: DaemonState, muted: bool) -> list[list]:
    """The tray picture as ``a(iiay)``: ARGB32 in network byte order, one per size."""
    from PIL import Image

    pixmaps = []
    for size in ICON_SIZES:
        r, g, b, a = draw_icon(state, muted, size).split()
        pixmaps.append([size, size, Image.merge("RGBA", (a, r, g, b)).tobytes()])
    return pixmaps


async def _name_has_owner(bus: Any, name: str) -> bool:
    from dbus_fast import Message

    reply = await asyncio.wait_for(bus.call(Message(
        destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
        member="NameHasOwner", signature="s", body=[name])), BUS_TIMEOUT_S)
    return bool(reply.body and reply.body[0])


def name_has_owner(address: str, name: str) -> tuple[bool | None, str]:
    """(True/False, "") whether ``name`` has an owner on the bus at ``address``; (None, why) if unknown."""
    try:
        from dbus_fast.aio import MessageBus
    except ImportError as exc:
        return None, f"dbus-fast is not installed ({exc})"

    async def ask() -> bool:
        bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), BUS_TIMEOUT_S)
        try:
            return await _name_has_owner(bus, name)
        finally:
            bus.disconnect()

    try:
        return asyncio.run(ask()), ""
    except Exception as exc:  # connection refused, bad address, timeout...
        return None, f"cannot reach the session D-Bus ({exc or type(exc).__name__})"


def available(env: Mapping[str, str], platform: str = sys.platform) -> tuple[bool, str]:
    """(True, "") when a StatusNotifierWatcher is on the session bus, else (False, why not)."""
    if not platform.startswith("linux") and "bsd" not in platform:
        return False, "StatusNotifier trays are a Linux and BSD desktop thing"
    address = session_bus_address(env)
    if address is None:
        return False, "no session D-Bus (DBUS_SESSION_BUS_ADDRESS is unset)"
    owned, why = name_has_owner(address, WATCHER_NAME)
    if owned is None:
        return False, why
    if not owned:
        return False, f"no StatusNotifier tray on the session bus ({WATCHER_NAME} has no owner)"
    return True, ""


def menu_shape(entry: MenuEntry) -> tuple:
    """The menu's structure (ids and nesting), without the items' texts and checks."""
    return entry.id, entry.separator, tuple(menu_shape(child) for child in entry.children)


def property_changes(old: MenuEntry, new: MenuEntry) -> tuple[list, list]:
    """dbusmenu's ``ItemsPropertiesUpdated`` body from ``old`` to ``new``: the changed
    properties of the items in both (``a(ia{sv})``) and the ones an item lost (``a(ias)``)."""
    before = {e.id: entry_properties(e) for e in all_entries(old)}
    updated, removed = [], []
    for entry in all_entries(new):
        if entry.id not in before:
            continue
        was, now = before[entry.id], entry_properties(entry)
        changed = {k: v for k, v in now.items()
                   if k not in was or (was[k].signature, was[k].value) != (v.signature, v.value)}
        if changed:
            updated.append([entry.id, changed])
        gone = [k for k in was if k not in now]
        if gone:
            removed.append([entry.id, gone])
    return updated, removed


def all_entries(root: MenuEntry) -> list[MenuEntry]:
    return [root] + [e for child in root.children for e in all_entries(child)]


class SniTray:
    """The StatusNotifierItem for a running daemon; every menu action goes to ``controller``.

    Same life cycle as the XEmbed ``Tray``: ``start()`` (False with ``reason`` when it
    cannot be shown), ``update(snapshot)`` (returns at once), ``stop()``.
    """

    def __init__(self, controller: Controller, profiles: Sequence[str], name: str = APP_NAME,
                 env: Mapping[str, str] | None = None) -> None:
        self._controller = controller
        self._profiles = tuple(profiles)
        self.name = name
        self._env = os.environ if env is None else env
        self._snapshot: StatusSnapshot | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bus: Any = None
        self._item: Any = None
        self._menu_object: Any = None
        self._bus_name = ""
        self._shown: tuple = ()
        self.revision = 1
        self.registered = False  # the watcher accepted the item
        self.reason = ""

    # -- what the host reads (loop thread) -----------------------------------------------

    def _current(self) -> StatusSnapshot:
        if self._snapshot is None:
            self._snapshot = self._controller.status()
        return self._snapshot

    def menu(self) -> MenuEntry:
        return menu_entries(self._current(), self._profiles)

    def fresh_menu(self) -> MenuEntry:
        """The menu as the daemon is now (the host is about to show it)."""
        try:
            self._show(self._controller.status())
        except Exception:
            log.debug("tray: status for the menu failed", exc_info=True)
        return self.menu()

    def title(self) -> str:
        return tooltip(self._current())

    def pixmaps(self) -> list[list]:
        snap = self._current()
        return icon_pixmaps(snap.state, snap.alerts_muted)

    @property
    def bus_name(self) -> str:
        """The item's name on the session bus (what the watcher lists)."""
        return self._bus_name

    # -- menu actions (loop thread) --------------------------------------------------------

    def click(self, entry_id: int) -> None:
        """Carry out the menu item ``entry_id`` (a click from the host)."""
        action = self._action(entry_id)
        if action is None:
            return
        try:
            action()
        except KeyError as exc:
            log.warning("tray: %s", exc.args[0] if exc.args else exc)
        except Exception:
            log.warning("tray: the menu action failed", exc_info=True)
        try:
            self._show(self._controller.status())
        except Exception:
            log.debug("tray: status after a menu action failed", exc_info=True)

    def _action(self, entry_id: int) -> Callable[[], None] | None:
        snap = self._current()
        if entry_id == MenuId.PAUSE:
            return lambda: self._controller.toggle_pause(by="the tray menu")
        if entry_id == MenuId.MUTE:
            return lambda: self._controller.set_alerts_muted(not snap.alerts_muted)
        if entry_id == MenuId.QUIT:
            return self._controller.quit
        if entry_id == MenuId.SETTINGS:
            from handmap.daemon.ui.launch import open_settings

            def settings() -> None:
                open_settings(self._env)
            return settings
        names = snap.profiles or self._profiles
        index = entry_id - MenuId.PROFILE_BASE
        if 0 <= index < len(names):
            return lambda: self._controller.switch_profile(names[index])
        return None

    # -- lifetime --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._bus is not None

    def start(self) -> bool:
        """Serve the item and register it with the watcher; False (``reason``) when not possible."""
        address = session_bus_address(self._env)
        if address is None:
            return self._fail("no session D-Bus (DBUS_SESSION_BUS_ADDRESS is unset)")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="handmap-sni", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(address), loop).result(START_TIMEOUT_S)
        except Exception as exc:
            self._stop_loop()
            text = str(exc) or type(exc).__name__
            return self._fail(f"the StatusNotifier item could not register ({text})")
        log.info("tray icon shown (StatusNotifierItem %s)", self._bus_name)
        return True

    def _fail(self, why: str) -> bool:
        self.reason = why
        log.info("running without a StatusNotifier tray icon: %s", why)
        return False

    async def _start(self, address: str) -> None:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), BUS_TIMEOUT_S)
        try:
            from handmap.daemon.desktop.sni_bus import Item, Menu

            self._item, self._menu_object = Item(self), Menu(self)
            bus.export(ITEM_PATH, self._item)
            bus.export(MENU_PATH, self._menu_object)
            # The item goes by its connection's unique name, not a well-known
            # "org.kde.StatusNotifierItem-PID-N": GNOME's AppIndicator extension (v53)
            # watches a well-known name on its own, and when that watch reports the
            # name after the item's properties arrived it drops the Id and Menu it read,
            # fails to read them back and removes the icon (about one start in three).
            # A unique name is also what it finds on its own when it starts after us.
            self._bus_name = bus.unique_name or ""
            await asyncio.wait_for(bus.call(Message(
                destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
                member="AddMatch", signature="s",
                body=[name_owner_rule(WATCHER_NAME)],
            )), BUS_TIMEOUT_S)

            def on_message(message: Any) -> None:
                if (message.message_type is MessageType.SIGNAL and message.member == "NameOwnerChanged"
                        and message.body and message.body[0] == WATCHER_NAME and message.body[2]):
                    log.info("tray: a StatusNotifier watcher appeared; registering the item with it")
                    asyncio.ensure_future(self._register_with_retries())

            bus.add_message_handler(on_message)
            self._bus = bus
            await self._register(raise_errors=True)
        except BaseException:
            self._bus = None
            bus.disconnect()
            raise

    async def _register_with_retries(self) -> None:
        """Register with a watcher that has just taken its name: it may answer its
        methods a moment later, so a failed attempt is repeated a few times."""
        for attempt in range(REGISTER_ATTEMPTS):
            if self._bus is None:
                return
            await self._register(quiet=attempt + 1 < REGISTER_ATTEMPTS)
            if self.registered:
                return
            await asyncio.sleep(REGISTER_RETRY_S * (attempt + 1))

    async def _register(self, raise_errors: bool = False, quiet: bool = False) -> None:
        from dbus_fast import Message, MessageType

        bus = self._bus
        if bus is None:
            return
        try:
            reply = await asyncio.wait_for(bus.call(Message(
                destination=WATCHER_NAME, path=WATCHER_PATH, interface=WATCHER_NAME,
                member="RegisterStatusNotifierItem", signature="s", body=[self._bus_name])), BUS_TIMEOUT_S)
            if reply.message_type is MessageType.ERROR:
                raise RuntimeError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")
            self.registered = True
        except Exception:
            self.registered = False
            if raise_errors:
                raise
            if quiet:
                log.debug("tray: registering with the StatusNotifier watcher failed; trying again", exc_info=True)
            else:
                log.warning("tray: registering with the StatusNotifier watcher failed", exc_info=True)

    def update(self, snapshot: StatusSnapshot) -> None:
        """Show this status; returns at once (the item's loop tells the host)."""
        loop = self._loop
        if loop is not None and self._bus is not None:
            try:
                loop.call_soon_threadsafe(self._show, snapshot)
            except RuntimeError:  # stopped meanwhile: its loop is closed
                pass

    def _show(self, snapshot: StatusSnapshot) -> None:
        # Loop thread: tell the host what changed; it reads the properties again.
        self._snapshot = snapshot
        if self._item is None or self._menu_object is None:
            return
        look = (snapshot.state, snapshot.alerts_muted)
        title = self.title()
        menu = self.menu()
        shown = (look, title, menu)
        if shown == self._shown:
            return
        old_look, old_title, old_menu = self._shown or (None, None, None)
        self._shown = shown
        if look != old_look:
            self._item.NewIcon()
        if title != old_title:
            self._item.NewTitle()
            self._item.NewToolTip()
        if menu == old_menu:
            return
        # dbusmenu hosts fetch an item's properties once: a changed label or check goes
        # out as ItemsPropertiesUpdated; LayoutUpdated only when items came or went.
        if old_menu is not None:
            updated, removed = property_changes(old_menu, menu)
            if updated or removed:
                self._menu_object.ItemsPropertiesUpdated(updated, removed)
        if old_menu is None or menu_shape(menu) != menu_shape(old_menu):
            self.revision += 1
            self._menu_object.LayoutUpdated()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Leave the bus (the watcher drops the item) and end the thread; bounded wait."""
        loop, bus = self._loop, self._bus
        self._bus = None
        if loop is not None and bus is not None:
            try:
                loop.call_soon_threadsafe(bus.disconnect)
            except RuntimeError:  # the loop is closed already
                pass
        self._stop_loop(timeout)

    def _stop_loop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()
        self._loop = None
        self._thread = None

