"""Desktop stage, window watchers: KDE Plasma's KWin, through a KWin script handmap loads over D-Bus.

KWin does not let other programs see the active window on Wayland, but it runs scripts:
handmap exports ``/org/handmap/KWinFocus`` on its own session-bus connection, loads the
shipped script (``handmap/daemon/desktop/kwin_script/focus.js``, with handmap's bus name
written in) through ``org.kde.KWin /Scripting``, and the script calls ``Focus`` for each
active-window or caption change. Nothing to install; the script is unloaded on stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from handmap.daemon.desktop.windows.base import NO_WINDOW, ActiveWindow, OnChange, process_name
from handmap.daemon.desktop.windows.dbus_watch import DBusWatcher, name_owner_rule

log = logging.getLogger(__name__)

KWIN_NAME = "org.kde.KWin"
SCRIPTING_PATH = "/Scripting"
SCRIPTING_INTERFACE = "org.kde.kwin.Scripting"
SCRIPT_INTERFACE = "org.kde.kwin.Script"
PLUGIN_NAME = "handmap-focus"
SCRIPT_PACKAGE_DIR = "kwin_script"
SCRIPT_FILE = "focus.js"
BUS_NAME_PLACEHOLDER = "__HANDMAP_BUS_NAME__"
OBJECT_PATH = "/org/handmap/KWinFocus"
INTERFACE = "org.handmap.KWinFocus1"
METHOD = "Focus"
#: KWin reports "no active window" between two windows (the old one loses focus before
#: the new one gets it); that report counts only when no other follows within this time.
NO_WINDOW_GRACE_S = 0.05
KWIN_READY_S = 5.0
RETRY_S = 0.1
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"
MISSING_REASON = ("KWin's scripting interface is not on the session bus (org.kde.KWin /Scripting), so the "
                  "focused window cannot be followed; switch profiles by hand: handmap profile NAME")


def script_text(bus_name: str) -> str:
    """The shipped KWin script with handmap's bus name written in."""
    source = resources.files("handmap.daemon.desktop").joinpath(SCRIPT_PACKAGE_DIR).joinpath(SCRIPT_FILE)
    return source.read_text(encoding="utf-8").replace(BUS_NAME_PLACEHOLDER, bus_name)


def kwin_window(resource_class: str, desktop_file: str, caption: str, pid: str) -> ActiveWindow:
    """The ``ActiveWindow`` for one ``Focus`` call: the class is the window's resource class
    (the Wayland app id or X11 class), the instance its desktop file name; all empty means
    no window is active."""
    if not (resource_class or desktop_file or caption):
        return NO_WINDOW
    pid_or_none = int(pid) if pid.isdigit() and int(pid) > 0 else None
    return ActiveWindow(wm_class=resource_class or desktop_file, instance=desktop_file if resource_class else "",
                        title=caption, process=process_name(pid_or_none), pid=pid_or_none)


class KWinWatcher(DBusWatcher):
    """KWin (Plasma 5.27 and 6) through the loaded script; loads it again when KWin
    comes back on the bus (``kwin --replace``, a crash)."""

    name = "kde"

    def __init__(self, bus_address: str, on_change: OnChange | None = None,
                 script_dir: Path | None = None) -> None:
        super().__init__(bus_address, on_change)
        self._script_dir = script_dir
        self._script: Path | None = None
        self._no_window: Any = None  # the pending NO_WINDOW report (an asyncio TimerHandle)

    async def _setup(self, bus: Any) -> None:
        await self.add_match(bus, name_owner_rule(KWIN_NAME))
        folder = self._script_dir or Path(tempfile.gettempdir())
        fd, name = tempfile.mkstemp(prefix="handmap-kwin-", suffix=".js", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(script_text(bus.unique_name))
        self._script = Path(name)
        self._script.chmod(0o644)  # KWin reads it; it holds nothing private
        await self._load(bus)

    async def _load(self, bus: Any) -> None:
        from dbus_fast import DBusError

        deadline = asyncio.get_running_loop().time() + KWIN_READY_S
        while True:
            try:
                await self._load_once(bus)
            except DBusError as exc:
                # KWin takes its bus name before it registers /Scripting: wait for it a moment.
                if exc.type == UNKNOWN_OBJECT and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(RETRY_S)
                    continue
                log.debug("loading the KWin script failed: %s", exc)
                self._set_reason(MISSING_REASON if exc.type == SERVICE_UNKNOWN else
                                 f"KWin did not run handmap's focus script: {exc.text}")
                return
            self._set_reason("")
            return

    async def _load_once(self, bus: Any) -> None:
        from dbus_fast import DBusError

        await self._unload(bus)  # one left by a handmap that did not stop cleanly
        (script_id,) = await self.call(bus, KWIN_NAME, SCRIPTING_PATH, SCRIPTING_INTERFACE, "loadScript",
                                       "ss", [str(self._script), PLUGIN_NAME])
        if script_id < 0:
            raise DBusError("org.handmap.Error", f"KWin refused the script ({script_id})")
        for path in (f"/{script_id}", f"{SCRIPTING_PATH}/Script{script_id}"):  # KWin 5; KWin 6
            try:
                await self.call(bus, KWIN_NAME, path, SCRIPT_INTERFACE, "run")
                return
            except DBusError as exc:
                if exc.type != UNKNOWN_OBJECT:
                    raise
        raise DBusError("org.handmap.Error", "KWin loaded the script but has no object to run it")

    async def _unload(self, bus: Any) -> None:
        (loaded,) = await self.call(bus, KWIN_NAME, SCRIPTING_PATH, SCRIPTING_INTERFACE, "isScriptLoaded",
                                    "s", [PLUGIN_NAME])
        if loaded:
            await self.call(bus, KWIN_NAME, SCRIPTING_PATH, SCRIPTING_INTERFACE, "unloadScript", "s", [PLUGIN_NAME])

    async def _teardown(self, bus: Any) -> None:
        try:
            await self._unload(bus)
        except Exception as exc:  # KWin gone: nothing to unload
            log.debug("unloading the KWin script failed: %s", exc)
        if self._script is not None:
            self._script.unlink(missing_ok=True)

    def _report(self, window: ActiveWindow) -> None:
        if self._no_window is not None:
            self._no_window.cancel()
            self._no_window = None
        if window == NO_WINDOW and self._loop is not None:
            self._no_window = self._loop.call_later(NO_WINDOW_GRACE_S, self._publish, NO_WINDOW)
        else:
            self._publish(window)

    def _on_message(self, message: Any) -> Any:
        from dbus_fast import Message, MessageType

        if (message.message_type == MessageType.METHOD_CALL and message.path == OBJECT_PATH
                and message.interface == INTERFACE and message.member == METHOD):
            if message.signature == "ssss":
                self._report(kwin_window(*message.body))
            return Message.new_method_return(message)
        if (message.message_type == MessageType.SIGNAL and message.member == "NameOwnerChanged"
                and message.body and message.body[0] == KWIN_NAME):
            if message.body[2]:
                self.spawn(self._load(self.bus))
            else:
                self._set_reason("KWin left the session bus; waiting for it to come back")
        return False
