"""Tray stage on D-Bus: the StatusNotifierItem and dbusmenu objects ``sni.SniTray`` exports.

dbus-fast reads each method's D-Bus signature from its annotations when the class is
defined, so this module evaluates them then (no postponed annotations) and is imported
only when the StatusNotifier tray starts (dbus-fast is a Linux-only dependency).
"""

from typing import Annotated, Any, Protocol

from dbus_fast import DBusError, PropertyAccess
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from handmap.daemon.desktop.sni import (
    DBUSMENU_VERSION,
    ITEM_INTERFACE,
    MENU_INTERFACE,
    MENU_PATH,
    MenuEntry,
    MenuId,
    all_entries,
    entry_properties,
    find_entry,
    layout,
)

Str = Annotated[str, DBusSignature("s")]
Int32 = Annotated[int, DBusSignature("i")]
UInt32 = Annotated[int, DBusSignature("u")]
Bool = Annotated[bool, DBusSignature("b")]
ObjectPath = Annotated[str, DBusSignature("o")]
Variant = Annotated[Any, DBusSignature("v")]
Strings = Annotated[list, DBusSignature("as")]
Ints = Annotated[list, DBusSignature("ai")]
Pixmaps = Annotated[list, DBusSignature("a(iiay)")]
ToolTip = Annotated[list, DBusSignature("(sa(iiay)ss)")]
READ = PropertyAccess.READ
ITEM_CATEGORY = "ApplicationStatus"
ITEM_STATUS = "Active"


class TrayModel(Protocol):
    """What the D-Bus objects read from the tray and tell it (``sni.SniTray``)."""

    name: str
    revision: int

    def title(self) -> str: ...

    def pixmaps(self) -> list[list]: ...

    def menu(self) -> MenuEntry: ...

    def fresh_menu(self) -> MenuEntry: ...

    def click(self, entry_id: int) -> None: ...


class Item(ServiceInterface):
    """``org.kde.StatusNotifierItem``: the icon, its tooltip and where its menu is."""

    def __init__(self, tray: TrayModel) -> None:
        super().__init__(ITEM_INTERFACE)
        self._tray = tray

    @dbus_property(access=READ)
    def Category(self) -> Str:
        return ITEM_CATEGORY

    @dbus_property(access=READ)
    def Id(self) -> Str:
        return self._tray.name

    @dbus_property(access=READ)
    def Title(self) -> Str:
        return self._tray.title()

    @dbus_property(access=READ)
    def Status(self) -> Str:
        return ITEM_STATUS

    @dbus_property(access=READ)
    def WindowId(self) -> Int32:
        return 0

    @dbus_property(access=READ)
    def IconName(self) -> Str:
        return ""

    @dbus_property(access=READ)
    def IconAccessibleDesc(self) -> Str:
        # Ayatana's addition, read by GNOME's AppIndicator extension on every NewIcon
        # (it logs an error for an item without it); what a screen reader says.
        return self._tray.title()

    @dbus_property(access=READ)
    def IconPixmap(self) -> Pixmaps:
        return self._tray.pixmaps()

    @dbus_property(access=READ)
    def OverlayIconName(self) -> Str:
        return ""

    @dbus_property(access=READ)
    def OverlayIconPixmap(self) -> Pixmaps:
        return []

    @dbus_property(access=READ)
    def AttentionIconName(self) -> Str:
        return ""

    @dbus_property(access=READ)
    def AttentionIconPixmap(self) -> Pixmaps:
        return []

    @dbus_property(access=READ)
    def AttentionMovieName(self) -> Str:
        return ""

    @dbus_property(access=READ)
    def ToolTip(self) -> ToolTip:
        return ["", [], self._tray.name, self._tray.title()]

    @dbus_property(access=READ)
    def ItemIsMenu(self) -> Bool:
        return False

    @dbus_property(access=READ)
    def Menu(self) -> ObjectPath:
        return MENU_PATH

    @dbus_method()
    def ContextMenu(self, x: Int32, y: Int32) -> None:
        pass  # the host shows the dbusmenu itself

    @dbus_method()
    def Activate(self, x: Int32, y: Int32) -> None:
        self._tray.click(MenuId.PAUSE)  # a left click pauses or resumes, as on the XEmbed icon

    @dbus_method()
    def SecondaryActivate(self, x: Int32, y: Int32) -> None:
        pass

    @dbus_method()
    def Scroll(self, delta: Int32, orientation: Str) -> None:
        pass

    @dbus_signal()
    def NewTitle(self) -> None:
        pass

    @dbus_signal()
    def NewIcon(self) -> None:
        pass

    @dbus_signal()
    def NewToolTip(self) -> None:
        pass

    @dbus_signal()
    def NewStatus(self) -> Str:
        return ITEM_STATUS


class Menu(ServiceInterface):
    """``com.canonical.dbusmenu``: the menu's layout, and clicks on its items."""

    def __init__(self, tray: TrayModel) -> None:
        super().__init__(MENU_INTERFACE)
        self._tray = tray

    @dbus_property(access=READ)
    def Version(self) -> UInt32:
        return DBUSMENU_VERSION

    @dbus_property(access=READ)
    def TextDirection(self) -> Str:
        return "ltr"

    @dbus_property(access=READ)
    def Status(self) -> Str:
        return "normal"

    @dbus_property(access=READ)
    def IconThemePath(self) -> Strings:
        return []

    @dbus_method()
    def GetLayout(self, parent_id: Int32, recursion_depth: Int32,
                  property_names: Strings) -> Annotated[list, DBusSignature("u(ia{sv}av)")]:
        root = self._tray.fresh_menu()
        entry = find_entry(root, parent_id) or root
        return [self._tray.revision, layout(entry, recursion_depth, property_names)]

    @dbus_method()
    def GetGroupProperties(self, ids: Ints,
                           property_names: Strings) -> Annotated[list, DBusSignature("a(ia{sv})")]:
        root = self._tray.menu()
        found = [find_entry(root, i) for i in ids] if ids else all_entries(root)
        return [[e.id, layout(e, 0, property_names)[1]] for e in found if e is not None]

    @dbus_method()
    def GetProperty(self, entry_id: Int32, name: Str) -> Variant:
        entry = find_entry(self._tray.menu(), entry_id)
        props = entry_properties(entry) if entry is not None else {}
        if name not in props:
            raise DBusError("com.canonical.dbusmenu.Error", f"no property {name!r} on item {entry_id}")
        return props[name]

    @dbus_method()
    def Event(self, entry_id: Int32, event_id: Str, data: Variant, timestamp: UInt32) -> None:
        if event_id == "clicked":
            self._tray.click(entry_id)

    @dbus_method()
    def EventGroup(self, events: Annotated[list, DBusSignature("a(isvu)")]) -> Ints:
        root = self._tray.menu()
        missing = [event[0] for event in events if find_entry(root, event[0]) is None]
        for entry_id, event_id, _data, _timestamp in events:
            if event_id == "clicked" and entry_id not in missing:
                self._tray.click(entry_id)
        return missing

    @dbus_method()
    def AboutToShow(self, entry_id: Int32) -> Bool:
        return False

    @dbus_method()
    def AboutToShowGroup(self, ids: Ints) -> Annotated[list, DBusSignature("aiai")]:
        return [[], []]

    @dbus_signal()
    def LayoutUpdated(self) -> Annotated[list, DBusSignature("ui")]:
        return [self._tray.revision, int(MenuId.ROOT)]

    @dbus_signal()
    def ItemsPropertiesUpdated(self, updated: list, removed: list) -> Annotated[
            list, DBusSignature("a(ia{sv})a(ias)")]:
        return [updated, removed]
