"""Desktop stage, window watchers: GNOME Shell, through the handmap focus extension on the session bus.

GNOME does not let other programs see the focused window, so handmap ships a small GNOME
Shell extension (``handmap/daemon/desktop/gnome_extension``) that publishes it on the session
bus; ``handmap setup gnome`` installs it for the user, in the flavour for the installed
GNOME Shell (legacy imports for 43 and 44, ES modules from 45). The watcher reads ``GetFocus`` once,
then follows the ``FocusChanged`` signal (event driven, no polling).
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from handmap.daemon.desktop.windows.base import NO_WINDOW, ActiveWindow, process_name
from handmap.daemon.desktop.windows.dbus_watch import (
    BUS_TIMEOUT_S,
    DBUS_NAME,
    DBUS_PATH,
    DBusWatcher,
    name_owner_rule,
    session_bus_address,
)

log = logging.getLogger(__name__)

EXTENSION_UUID = "handmap-focus@handmap"
EXTENSION_PACKAGE_DIR = "gnome_extension"
#: The extension's shared part; ``extension.js`` is a header, this and a footer, per flavour.
EXTENSION_CORE = "focus.js"
#: GNOME Shell 45 loads extensions as ES modules, 43 and 44 with the legacy imports: one
#: flavour each, named by the first version it is for, with the versions it declares.
FLAVOURS = {43: ("43", "44"), 45: ("45", "46", "47", "48", "49")}
EXTENSION_METADATA = {
    "uuid": EXTENSION_UUID,
    "name": "handmap focus",
    "description": "Tells handmap which window has focus (app id, WM class, title) over the session D-Bus, "
                   "so its per-app profiles follow the focused window on GNOME Wayland.",
}
BUS_NAME = "org.handmap.Focus"
OBJECT_PATH = "/org/handmap/Focus"
INTERFACE = "org.handmap.Focus1"
SIGNAL = "FocusChanged"
ENABLE_COMMAND = f"gnome-extensions enable {EXTENSION_UUID}"
#: Whether the extension is turned on: this gsettings key lists the enabled extensions' uuids.
ENABLED_KEY = ("org.gnome.shell", "enabled-extensions")
GSETTINGS_TIMEOUT_S = 5.0
MISSING_REASON = ("GNOME Shell's handmap extension is not running; run 'handmap setup gnome', then log out and "
                  "back in (until then, switch profiles by hand: handmap profile NAME)")
GONE_REASON = "GNOME Shell's handmap extension left the session bus (GNOME Shell restarting?); waiting for it"


def extensions_dir(env: Mapping[str, str]) -> Path:
    """Where GNOME Shell looks for the user's extensions (``$XDG_DATA_HOME/gnome-shell/extensions``)."""
    data = env.get("XDG_DATA_HOME")
    base = Path(data) if data and os.path.isabs(data) else Path(env.get("HOME") or Path.home()) / ".local/share"
    return base / "gnome-shell" / "extensions"


def installed_extension_dir(env: Mapping[str, str]) -> Path:
    return extensions_dir(env) / EXTENSION_UUID


@dataclass(frozen=True)
class ExtensionInstall:
    """What ``install_extension`` did: the folder, the GNOME Shell versions the installed
    flavour is for, the version found ("" when ``gnome-shell`` is not installed), and
    whether it changed anything."""

    path: Path
    shell_versions: tuple[str, ...]
    found_version: str
    changed: bool


def shell_version(env: Mapping[str, str]) -> str:
    """GNOME Shell's version (``gnome-shell --version``: ``GNOME Shell 43.9``), "" when unknown."""
    program = shutil.which("gnome-shell", path=env.get("PATH"))
    if program is None:
        return ""
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=GSETTINGS_TIMEOUT_S,
                             check=False, env=dict(env)).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    words = out.split()
    return words[-1] if words and words[-1][:1].isdigit() else ""


def flavour_for(version: str) -> int:
    """The extension flavour for a GNOME Shell version (the newest when unknown)."""
    try:
        major = int(version.split(".")[0])
    except ValueError:
        return max(FLAVOURS)
    return max((first for first in FLAVOURS if first <= major), default=min(FLAVOURS))


def extension_files(flavour: int) -> dict[str, bytes]:
    """The files of the extension for one flavour: ``metadata.json`` and ``extension.js``."""
    source = resources.files("handmap.daemon.desktop").joinpath(EXTENSION_PACKAGE_DIR)
    script = "".join(source.joinpath(name).read_text(encoding="utf-8")
                     for name in (f"header-{flavour}.js", EXTENSION_CORE, f"footer-{flavour}.js"))
    metadata = dict(EXTENSION_METADATA, **{"shell-version": list(FLAVOURS[flavour])})
    return {"metadata.json": (json.dumps(metadata, indent=2) + "\n").encode(), "extension.js": script.encode()}


def install_extension(env: Mapping[str, str]) -> ExtensionInstall:
    """Write the extension for this GNOME Shell into the user's extensions folder (idempotent)."""
    target = installed_extension_dir(env)
    found = shell_version(env)
    flavour = flavour_for(found)
    changed = False
    target.mkdir(parents=True, exist_ok=True)
    for name, data in extension_files(flavour).items():
        path = target / name
        if path.exists() and path.read_bytes() == data:
            continue
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        changed = True
    return ExtensionInstall(target, FLAVOURS[flavour], found, changed)


def uninstall_extension(env: Mapping[str, str]) -> bool:
    """Remove the installed extension; False when it was not installed."""
    target = installed_extension_dir(env)
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


def focus_window(app_id: str, wm_class: str, title: str, pid: int) -> ActiveWindow:
    """The ``ActiveWindow`` for one ``GetFocus`` reply or ``FocusChanged`` signal.

    The class is the WM class (on Wayland, Mutter sets it from the client's app id, as
    sway's ``app_id``), falling back to the app id; all empty means no window has focus.
    """
    if not (app_id or wm_class or title):
        return NO_WINDOW
    pid_or_none = pid if pid > 0 else None
    return ActiveWindow(wm_class=wm_class or app_id, instance=app_id if wm_class else "", title=title,
                        process=process_name(pid_or_none), pid=pid_or_none)



def _parse_string_list(text: str) -> list[str]:
    """A GVariant ``as`` as ``gsettings get`` prints it (``@as []``, ``['a', 'b']``)."""
    text = text.strip()
    if text.startswith("@as"):
        text = text[3:].strip()
    value = ast.literal_eval(text or "[]")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"not a list of strings: {text!r}")
    return value


def enable_extension(env: Mapping[str, str]) -> str | None:
    """Add the extension to GNOME's enabled extensions (``gsettings``); GNOME Shell loads it at
    the next login. Returns None when done, else why not (one sentence)."""
    gsettings = shutil.which("gsettings", path=env.get("PATH"))
    if gsettings is None:
        return "gsettings is not installed"
    schema, key = ENABLED_KEY
    run_env = dict(env)
    try:
        current = subprocess.run([gsettings, "get", schema, key], env=run_env, capture_output=True, text=True,
                                 timeout=GSETTINGS_TIMEOUT_S, check=False)
        if current.returncode != 0:
            return f"gsettings could not read {schema} {key}: {current.stderr.strip() or current.returncode}"
        enabled = _parse_string_list(current.stdout)
        if EXTENSION_UUID in enabled:
            return None
        value = "[" + ", ".join(repr(uuid) for uuid in [*enabled, EXTENSION_UUID]) + "]"
        done = subprocess.run([gsettings, "set", schema, key, value], env=run_env, capture_output=True, text=True,
                              timeout=GSETTINGS_TIMEOUT_S, check=False)
    except (OSError, ValueError, SyntaxError, subprocess.TimeoutExpired) as exc:
        return f"gsettings failed: {exc}"
    if done.returncode != 0:
        return f"gsettings could not write {schema} {key}: {done.stderr.strip() or done.returncode}"
    return None


class GnomeWatcher(DBusWatcher):
    """GNOME Shell through handmap's extension: ``GetFocus`` at start and whenever the
    extension (re)appears on the bus (GNOME Shell restarting, the extension turned on),
    then each ``FocusChanged`` signal. While the extension is missing, ``reason`` says
    how to install it."""

    name = "gnome"

    async def _setup(self, bus: Any) -> None:
        await self.add_match(bus, f"type='signal',sender='{BUS_NAME}',path='{OBJECT_PATH}',"
                                  f"interface='{INTERFACE}',member='{SIGNAL}'")
        await self.add_match(bus, name_owner_rule(BUS_NAME))
        await self._read_focus(bus)

    async def _read_focus(self, bus: Any) -> None:
        from dbus_fast import DBusError

        try:
            body = await self.call(bus, BUS_NAME, OBJECT_PATH, INTERFACE, "GetFocus")
        except DBusError as exc:
            log.debug("GetFocus failed: %s", exc)
            self._set_reason(MISSING_REASON)
            return
        self._set_reason("")
        self._publish(focus_window(*body))

    def _on_message(self, message: Any) -> bool:
        from dbus_fast import MessageType

        if message.message_type != MessageType.SIGNAL:
            return False
        if message.interface == INTERFACE and message.member == SIGNAL and message.path == OBJECT_PATH:
            self._publish(focus_window(*message.body))
        elif message.member == "NameOwnerChanged" and message.body and message.body[0] == BUS_NAME:
            if message.body[2]:
                self.spawn(self._read_focus(self.bus))
            else:
                self._set_reason(GONE_REASON)
        return False


@dataclass(frozen=True)
class ExtensionState:
    """Where the GNOME extension stands for this user (for ``doctor``): its files are
    installed, GNOME's settings list it as enabled (None when gsettings cannot say), and
    it is running, that is its name is on the session bus (None when the bus cannot say)."""

    installed: bool
    enabled: bool | None
    running: bool | None

    def problem(self) -> tuple[str, str] | None:
        """None when it works; else what is wrong and the one command (or step) that fixes it."""
        if self.running:
            return None
        if not self.installed:
            return "handmap's GNOME Shell extension is not installed", "handmap setup gnome"
        if self.enabled is False:
            return "handmap's GNOME Shell extension is installed but not enabled", ENABLE_COMMAND
        return ("handmap's GNOME Shell extension is installed but not running (GNOME Shell loads new extensions "
                "at login)", "log out and back in")


def extension_state(env: Mapping[str, str]) -> ExtensionState:
    """The extension's state for the user and session in ``env``."""
    installed = all((installed_extension_dir(env) / name).exists() for name in ("metadata.json", "extension.js"))
    return ExtensionState(installed, _enabled(env), _running(env))


def _enabled(env: Mapping[str, str]) -> bool | None:
    gsettings = shutil.which("gsettings", path=env.get("PATH"))
    if gsettings is None:
        return None
    schema, key = ENABLED_KEY
    try:
        out = subprocess.run([gsettings, "get", schema, key], env=dict(env), capture_output=True, text=True,
                             timeout=GSETTINGS_TIMEOUT_S, check=False)
        return EXTENSION_UUID in _parse_string_list(out.stdout) if out.returncode == 0 else None
    except (OSError, ValueError, SyntaxError, subprocess.TimeoutExpired):
        return None


def _running(env: Mapping[str, str]) -> bool | None:
    address = session_bus_address(env)
    if address is None:
        return None
    try:
        from dbus_fast import Message
        from dbus_fast.aio import MessageBus
    except ImportError:
        return None

    async def ask() -> bool:
        bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), BUS_TIMEOUT_S)
        try:
            reply = await asyncio.wait_for(bus.call(Message(
                destination=DBUS_NAME, path=DBUS_PATH, interface=DBUS_NAME, member="NameHasOwner",
                signature="s", body=[BUS_NAME])), BUS_TIMEOUT_S)
        finally:
            bus.disconnect()
        return bool(reply.body and reply.body[0])

    try:
        return asyncio.run(ask())
    except Exception:  # no bus, refused, timed out: cannot say
        return None
