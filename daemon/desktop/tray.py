"""Tray stage: a system-tray icon showing the daemon's state, the active profile and
today's face-touch count, with a menu to switch profile, pause/resume, mute alerts and
quit. :func:`start_tray` picks the tray: the D-Bus StatusNotifierItem (``sni.py``) when
the desktop has a StatusNotifier watcher, else this module's pystray icon (XEmbed on X11).

The tray is optional: ``available()`` says why it cannot run (no display, no tray
manager, no pystray) and ``Tray.start()`` then returns False so the daemon carries on
without it. The icon's event loop runs on its own thread; ``update()`` only stores the
latest status and wakes the tray's refresh thread, so the frame loop never waits on X.

pystray's X11 backend (``xorg``, the one available without PyGObject) draws no menu:
there the icon shows the state (colour and glyph), a tooltip when the pointer rests on
it (drawn by the icon itself: the XEmbed tray protocol has none), and a left click
pauses or resumes (the menu's default item). On X11 the icon is drawn at the size the
tray gives it, round (the window is shaped to the disc, so the panel shows around it)
and never stretched. The gtk/appindicator backends, when PyGObject is installed, show
the full menu.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from handmap.daemon.desktop.session import SessionKind, detect, needs_x_display, x_display
from handmap.daemon.runtime.state import Controller, DaemonState, StatusSnapshot

log = logging.getLogger(__name__)

APP_NAME = "handmap"
ICON_SIZE = 64
ICON_MARGIN = 4
STOP_TIMEOUT_S = 2.0
START_TIMEOUT_S = 5.0
#: Longest wait for pystray's X11 event loop to carry out one request.
X_CALL_TIMEOUT_S = 5.0
#: How often the X11 icon checks that it is docked (pystray docks only once).
DOCK_CHECK_S = 2.0
#: How long an unanswered dock request is given before it is sent again.
REDOCK_AFTER_S = 10.0

#: Icon colour per state (RGB).
STATE_COLOURS: Mapping[DaemonState, tuple[int, int, int]] = {
    DaemonState.STARTING: (130, 130, 130),
    DaemonState.RUNNING: (40, 167, 69),
    DaemonState.NO_HAND: (52, 120, 200),
    DaemonState.PAUSED: (240, 173, 78),
    DaemonState.CAMERA_LOST: (217, 83, 79),
    DaemonState.WAITING_FOR_CAMERA: (217, 83, 79),
    DaemonState.WAITING_FOR_DISPLAY: (130, 130, 130),
    DaemonState.STOPPING: (90, 90, 90),
}
GLYPH_COLOUR = (255, 255, 255, 255)
MUTED_BADGE_COLOUR = (40, 40, 40, 255)
#: A pixel of the X11 icon belongs to its window's shape when at least this opaque.
SHAPE_ALPHA = 128
#: What the shaped-out pixels of the X11 icon's picture hold (never shown).
SHAPE_FILL = (128, 128, 128)
TOOLTIP_FONT_PX = 13
TOOLTIP_PAD = 4
TOOLTIP_OFFSET = 16  # below (or above) the pointer
TOOLTIP_BACKGROUND = (255, 255, 225)
TOOLTIP_TEXT = (0, 0, 0)
TOOLTIP_EDGE = (90, 90, 90)
TOOLTIP_CLASS = ("handmap-tooltip", "handmap")


def tray_selection(display: Any) -> Any:
    """The atom ``_NET_SYSTEM_TRAY_S<screen>`` a system-tray manager owns, on an open Xlib display."""
    return display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")


def tray_manager(display: Any) -> int | None:
    """The window owning the system-tray selection on an open Xlib display, or None."""
    import Xlib.X

    owner = display.get_selection_owner(tray_selection(display))
    return None if owner == Xlib.X.NONE else int(owner.id)


def x_tray_owner(display_name: str) -> tuple[bool | None, str]:
    """Whether an X system-tray manager runs on ``display_name``: (True, ""), (False, why
    not) when none owns the selection, (None, why not) when the display cannot be asked."""
    try:
        import Xlib.display
    except ImportError as exc:
        return None, f"python-xlib is not installed ({exc})"
    try:
        display = Xlib.display.Display(display_name)
    except Exception as exc:  # Xlib.error.DisplayError and friends
        return None, f"cannot open X display {display_name} ({exc})"
    try:
        if tray_manager(display) is None:
            return False, (f"no system tray on display {display_name} (_NET_SYSTEM_TRAY_S"
                           f"{display.get_default_screen()} has no owner: no tray manager is running)")
        return True, ""
    finally:
        display.close()


def available(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(True, "") when a tray icon can be shown here, else (False, why not)."""
    env = os.environ if env is None else env
    session = detect(env)
    if session.kind is SessionKind.MACOS:
        return False, "the macOS menu-bar icon needs the main thread, which the frame loop uses"
    if needs_x_display() and not session.x_display:
        if session.wayland_display:
            return False, "Wayland without XWayland (DISPLAY is not set): no tray"
        return False, "no graphical session (DISPLAY is not set)"
    try:
        import pystray
    except ImportError as exc:
        return False, f"pystray is not usable here ({exc})"
    except Exception as exc:  # a backend failing to load
        return False, f"pystray failed to load ({exc})"
    if pystray.Icon.__module__.endswith("._xorg"):
        owned, why = x_tray_owner(session.x_display)
        return bool(owned), why
    return True, ""


class TrayIcon(Protocol):
    """A started tray (the XEmbed ``Tray`` or the StatusNotifier ``sni.SniTray``)."""

    def update(self, snapshot: StatusSnapshot) -> None: ...

    def stop(self) -> None: ...


def start_tray(controller: Controller, profiles: Sequence[str],
               env: Mapping[str, str] | None = None) -> tuple[TrayIcon | None, str]:
    """The tray for this desktop, shown: a StatusNotifierItem when a StatusNotifier
    watcher is on the session bus (KDE, GNOME with the AppIndicator extension, most
    wlroots bars), else pystray's icon (XEmbed on X11). (None, why) when neither can be."""
    from handmap.daemon.desktop.sni import SniTray
    from handmap.daemon.desktop.sni import available as sni_available

    env = os.environ if env is None else env
    sni_ok, sni_why = sni_available(env)
    if sni_ok:
        sni = SniTray(controller, profiles, env=env)
        if sni.start():
            return sni, ""
        sni_why = sni.reason
    ok, why = available(env)
    if ok:
        tray = Tray(controller, profiles, env=env)
        if tray.start():
            return tray, ""
        why = tray.reason
    return None, f"{why}; {sni_why}"


def draw_icon(state: DaemonState, muted: bool = False, size: int = ICON_SIZE):
    """The tray image: a disc in the state's colour with a glyph (dot: hand in view,
    ring: no hand, bars: paused, cross: camera lost) and a dark corner badge when
    alerts are muted."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    m = ICON_MARGIN * size // ICON_SIZE
    d.ellipse((m, m, size - 1 - m, size - 1 - m), fill=STATE_COLOURS.get(state, (130, 130, 130)) + (255,))
    c = size / 2
    r = size * 0.18
    w = max(2, size // 10)
    if state is DaemonState.RUNNING:
        d.ellipse((c - r, c - r, c + r, c + r), fill=GLYPH_COLOUR)
    elif state is DaemonState.NO_HAND:
        d.ellipse((c - r, c - r, c + r, c + r), outline=GLYPH_COLOUR, width=w)
    elif state is DaemonState.PAUSED:
        d.rectangle((c - r, c - r * 1.2, c - r + w * 1.3, c + r * 1.2), fill=GLYPH_COLOUR)
        d.rectangle((c + r - w * 1.3, c - r * 1.2, c + r, c + r * 1.2), fill=GLYPH_COLOUR)
    elif state in (DaemonState.CAMERA_LOST, DaemonState.WAITING_FOR_CAMERA):
        d.line((c - r, c - r, c + r, c + r), fill=GLYPH_COLOUR, width=w)
        d.line((c - r, c + r, c + r, c - r), fill=GLYPH_COLOUR, width=w)
    else:
        d.ellipse((c - w, c - w, c + w, c + w), fill=GLYPH_COLOUR)
    if muted:
        b = size * 0.34
        d.rectangle((size - b, size - b, size - 1, size - 1), fill=MUTED_BADGE_COLOUR)
    return img


def fit_icon(image, width: int, height: int):
    """The X11 icon's picture for a ``width`` x ``height`` window, and its shape.

    The icon (RGBA) is drawn as a square as large as the window's shorter side, in the
    middle: never stretched whatever shape the tray gives the window. Returns the RGB
    picture and the shape as ``(x, y, width, 1)`` runs of pixels at least
    ``SHAPE_ALPHA`` opaque: the window keeps those only, so the panel shows around the
    disc instead of black corners."""
    from PIL import Image

    side = max(1, min(width, height))
    square = image.convert("RGBA").resize((side, side), Image.Resampling.LANCZOS)
    left, top = (width - side) // 2, (height - side) // 2
    picture = Image.new("RGB", (width, height), SHAPE_FILL)
    picture.paste(square, (left, top), square)
    alpha = square.getchannel("A").load()
    runs = []
    for y in range(side):
        x = 0
        while x < side:
            if alpha[x, y] < SHAPE_ALPHA:
                x += 1
                continue
            start = x
            while x < side and alpha[x, y] >= SHAPE_ALPHA:
                x += 1
            runs.append((left + start, top + y, x - start, 1))
    return picture, runs


def tooltip_image(text: str):
    """The tooltip's picture: ``text`` on a pale box with a grey edge (RGB)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=TOOLTIP_FONT_PX)
    _, top, right, bottom = (round(v) for v in font.getbbox(text))
    img = Image.new("RGB", (right + 2 * TOOLTIP_PAD, bottom - top + 2 * TOOLTIP_PAD), TOOLTIP_BACKGROUND)
    draw = ImageDraw.Draw(img)
    draw.text((TOOLTIP_PAD, TOOLTIP_PAD - top), text, fill=TOOLTIP_TEXT, font=font)
    draw.rectangle((0, 0, img.width - 1, img.height - 1), outline=TOOLTIP_EDGE)
    return img


def touches_text(snapshot: StatusSnapshot) -> str:
    """The menu's line about face touches (the count ``handmap status`` gives)."""
    return f"Face touches today: {snapshot.face_touches_today}"


def tooltip(snapshot: StatusSnapshot) -> str:
    """The icon's title and tooltip."""
    text = f"handmap: {snapshot.state.value}, profile {snapshot.profile or '-'}"
    text += f", {snapshot.face_touches_today} face touches today"
    if snapshot.alerts_muted:
        text += " (alerts muted)"
    return text


class Tray:
    """The tray icon for a running daemon; every menu action goes to ``controller``."""

    def __init__(self, controller: Controller, profiles: Sequence[str], name: str = APP_NAME,
                 env: Mapping[str, str] | None = None) -> None:
        self._controller = controller
        self._profiles = tuple(profiles)
        self._name = name
        self._env = env
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._snapshot: StatusSnapshot | None = None
        self._dirty = False
        self._stopping = False
        self._ready = threading.Event()
        self._icon: Any = None  # a pystray.Icon (pystray ships no types)
        self._loop_thread: threading.Thread | None = None
        self._refresh_thread: threading.Thread | None = None
        self._driver: _Driver | None = None
        self.reason = ""  # why the tray is not running, when it is not

    # -- what the menu shows ---------------------------------------------------------

    def _current(self) -> StatusSnapshot:
        with self._lock:
            snap = self._snapshot
        if snap is None:
            snap = self._controller.status()
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = snap
        return snap

    def profiles(self) -> tuple[str, ...]:
        snap = self._current()
        return snap.profiles or self._profiles

    def build_menu(self):
        """The pystray menu; its texts and checks read the latest status when shown."""
        import pystray

        Item, Menu = pystray.MenuItem, pystray.Menu

        def profile_items():
            return tuple(
                Item(p, self._profile_action(p), checked=lambda item, p=p: self._current().profile == p, radio=True)
                for p in self.profiles()
            ) or (Item("(no profiles)", None, enabled=False),)

        return Menu(
            Item(lambda item: f"handmap: {self._current().state.value}", None, enabled=False),
            Item(lambda item: f"Profile: {self._current().profile or '-'}", None, enabled=False),
            Item("Profiles", Menu(profile_items)),
            Menu.SEPARATOR,
            Item(lambda item: "Resume" if self._current().state is DaemonState.PAUSED else "Pause",
                 self._on_toggle_pause, default=True),
            Item("Mute alerts", self._on_mute, checked=lambda item: self._current().alerts_muted),
            Item(lambda item: touches_text(self._current()), None, enabled=False),
            Item("Settings...", self._on_settings),
            Menu.SEPARATOR,
            Item("Quit", self._on_quit),
        )

    # -- menu actions (run on pystray's thread) ----------------------------------------

    def _profile_action(self, name: str) -> Callable[[], None]:
        def action() -> None:
            try:
                self._controller.switch_profile(name)
            except KeyError as exc:
                log.warning("tray: %s", exc.args[0] if exc.args else exc)
            self._refresh_from_controller()
        return action

    def _on_toggle_pause(self) -> None:
        self._controller.toggle_pause(by="the tray menu")
        self._refresh_from_controller()

    def _on_mute(self) -> None:
        self._controller.set_alerts_muted(not self._current().alerts_muted)
        self._refresh_from_controller()

    def _on_settings(self) -> None:
        from handmap.daemon.ui.launch import open_settings

        open_settings(self._env)

    def _on_quit(self) -> None:
        self._controller.quit()

    def _refresh_from_controller(self) -> None:
        try:
            self.update(self._controller.status())
        except Exception:
            log.debug("tray: status after a menu action failed", exc_info=True)

    # -- lifetime ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._ready.is_set() and not self._stopping

    @property
    def icon(self):
        """The pystray Icon (None before ``start`` and after ``stop``)."""
        return self._icon

    def start(self) -> bool:
        """Show the icon. False (with the reason logged and in ``reason``) when no tray
        can be shown here; the daemon then runs without one."""
        ok, why = available(self._env)
        if not ok:
            return self._fail(why)
        try:
            import pystray

            snap = self._current()
            self._icon = pystray.Icon(self._name, draw_icon(snap.state, snap.alerts_muted), tooltip(snap),
                                      menu=self.build_menu())
            self._driver = _XorgDriver.for_icon(self._icon) or _PystrayDriver(self._icon)
        except Exception as exc:
            return self._fail(f"cannot create the tray icon ({exc})")
        self._loop_thread = threading.Thread(target=self._run_icon, name="handmap-tray", daemon=True)
        self._loop_thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            self._stop_icon()
            return self._fail("the tray icon did not come up")
        self._refresh_thread = threading.Thread(target=self._refresh_loop, name="handmap-tray-refresh", daemon=True)
        self._refresh_thread.start()
        log.info("tray icon shown (%s backend)", type(self._icon).__module__.rsplit("._", 1)[-1])
        return True

    def _fail(self, why: str) -> bool:
        self.reason = why
        log.info("running without a tray icon: %s", why)
        return False

    def _run_icon(self) -> None:
        icon, driver = self._icon, self._driver
        if icon is None or driver is None:  # start() makes both before this thread
            return

        def setup(icon) -> None:
            try:
                driver.show()
            except Exception:
                log.warning("tray: showing the icon failed", exc_info=True)
                return
            self._ready.set()

        try:
            icon.run(setup)
        except Exception:
            log.warning("tray: the icon's event loop failed", exc_info=True)

    def update(self, snapshot: StatusSnapshot) -> None:
        """Show this status; returns at once (the refresh thread redraws)."""
        with self._wake:
            self._snapshot = snapshot
            self._dirty = True
            self._wake.notify()

    def _refresh_loop(self) -> None:
        icon, driver = self._icon, self._driver
        if icon is None or driver is None:  # start() makes both before this thread
            return
        shown: tuple = ()
        next_check = time.monotonic() + DOCK_CHECK_S
        while True:
            with self._wake:
                if not self._dirty and not self._stopping:
                    self._wake.wait(max(0.0, next_check - time.monotonic()))
                if self._stopping:
                    return
                dirty, self._dirty = self._dirty, False
                snap = self._snapshot
            # The dock check keeps its own clock: the daemon's refreshes (every second)
            # must not put it off for good.
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + DOCK_CHECK_S
                try:
                    self._check_docked(driver)
                except Exception:
                    if self._stopping:
                        return
                    log.warning("tray: checking that the icon is docked failed", exc_info=True)
            if not dirty or snap is None:
                continue
            try:
                look = (snap.state, snap.alerts_muted)
                if look != shown:
                    driver.set_image(draw_icon(snap.state, snap.alerts_muted))
                title = tooltip(snap)
                if title != icon.title:
                    driver.set_title(title)
                icon.update_menu()
                shown = look
            except Exception:
                if self._stopping:
                    return
                log.warning("tray: refreshing the icon failed", exc_info=True)

    def _check_docked(self, driver: _Driver) -> None:
        """Dock again when a new tray manager has appeared (started after the daemon,
        or restarted) or when a dock request went unanswered for ``REDOCK_AFTER_S``."""
        if driver.is_docked() is not False:
            return
        reason = driver.needs_dock()
        if reason:
            log.info("tray: the icon is not docked (%s); asking the tray manager again", reason)
            driver.dock()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Remove the icon and end its threads (bounded wait: never hangs the exit)."""
        with self._wake:
            if self._stopping:
                return
            self._stopping = True
            self._wake.notify_all()
        if self._refresh_thread is not None:
            self._refresh_thread.join(timeout)
        self._stop_icon(timeout)

    def _stop_icon(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self._icon is None:
            return
        driver, loop = self._driver, self._loop_thread
        if driver is None:  # making the driver failed: the icon's loop never ran
            self._icon = None
            return
        # Bounded: if the X connection is gone, pystray would wait for its loop forever.
        stopper = threading.Thread(target=driver.stop, name="handmap-tray-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if loop is not None:
            loop.join(timeout)
        self._ready.clear()
        if loop is None or not loop.is_alive():
            # Drop the icon now, while the X connection is still there to close cleanly.
            self._icon = None
            driver.close()


class _Driver(Protocol):
    """How the tray thread changes the icon (one per pystray backend family)."""

    def show(self) -> None: ...

    def set_image(self, image) -> None: ...

    def set_title(self, title: str) -> None: ...

    def is_docked(self) -> bool | None: ...

    def needs_dock(self) -> str:
        """Why the icon should ask to be docked again ("" when it should not)."""

    def dock(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class _PystrayDriver:
    """pystray's public API, for the backends whose icons are safe to change from any
    thread (gtk, appindicator, win32)."""

    def __init__(self, icon) -> None:
        self._icon = icon

    def show(self) -> None:
        self._icon.visible = True

    def set_image(self, image) -> None:
        self._icon.icon = image

    def set_title(self, title: str) -> None:
        self._icon.title = title

    def is_docked(self) -> bool | None:
        return None

    def needs_dock(self) -> str:
        return ""

    def dock(self) -> None:
        pass

    def stop(self) -> None:
        self._icon.stop()

    def close(self) -> None:
        pass


class _XorgDriver:
    """Changes pystray's X11 icon without touching its X connection from another thread.

    pystray 0.19 runs each change to an X11 icon (image, title, show, stop) on its
    event-loop thread: the caller sends the icon window a ClientMessage naming the change
    (atom ``_PYSTRAY_<METHOD>``) over the icon's own X connection, then waits on the
    icon's reply queue. python-xlib 0.33 does not share one connection between threads
    reliably: measured here, about one such call in a few hundred never came back, and
    once the loop itself deadlocked inside python-xlib. So this driver sends the same
    ClientMessage over a second X connection of its own; the icon's connection is then
    used by its loop thread alone. The waits are bounded (``X_CALL_TIMEOUT_S``). It also
    enables left clicks (pystray's window does not select ButtonPress) and can tell
    whether the icon is docked, to dock it again when the tray manager was late.
    """

    def __init__(self, icon, display_name: str) -> None:
        import Xlib.display

        self._icon = icon
        self._window_id = icon._window.id
        self._lock = threading.Lock()
        self._display = Xlib.display.Display(display_name)
        self._dock_manager: int | None = None
        self._dock_time = 0.0
        self._tip: tuple[Any, Any] | None = None  # (window, pixmap), on the loop thread only
        self._enable_clicks()
        self._take_over_drawing()

    @classmethod
    def for_icon(cls, icon) -> _XorgDriver | None:
        if not type(icon).__module__.endswith("._xorg") or not hasattr(icon, "_window"):
            return None
        return cls(icon, x_display(os.environ))  # pystray's own connection reads os.environ

    def _enable_clicks(self) -> None:
        # Before the loop starts: the icon's connection has a single user here.
        import Xlib.X

        try:
            self._icon._window.change_attributes(
                event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
                | Xlib.X.EnterWindowMask | Xlib.X.LeaveWindowMask)
            self._icon._display.flush()
        except Exception:
            log.debug("tray: could not enable clicks on the X11 icon", exc_info=True)

    def _take_over_drawing(self) -> None:
        """pystray stretches the image over the whole window and draws its transparent
        corners black: the icon's picture is made by ``fit_icon`` instead, and the
        pointer resting on the icon shows the tooltip. Both run on the loop thread
        (pystray's ``_draw`` and its event handlers), on the icon's own connection."""
        import Xlib.X

        icon = self._icon
        icon._assert_icon_data = self._fit
        press = icon._message_handlers.get(Xlib.X.ButtonPress)

        def on_press(event) -> None:
            self._hide_tooltip()
            if press is not None:
                press(event)

        icon._message_handlers.update({
            Xlib.X.EnterNotify: lambda event: self._show_tooltip(event.root_x, event.root_y),
            Xlib.X.LeaveNotify: lambda event: self._hide_tooltip(),
            Xlib.X.ButtonPress: on_press,
        })

    def _fit(self, width: int, height: int) -> None:
        # Loop thread (pystray's _draw), before it puts icon._icon_data in the window.
        import Xlib.X

        icon = self._icon
        if icon._icon_data is not None and icon._icon_data.size == (width, height):
            return
        picture, runs = fit_icon(icon._icon, width, height)
        picture.tostring = picture.tobytes  # what pystray's own drawing sets for python-xlib
        icon._icon_data = picture
        if icon._display.has_extension("SHAPE"):
            from Xlib.ext import shape

            # The disc alone is the window then: clicks and the tooltip answer on it.
            icon._window.shape_rectangles(shape.SO.Set, shape.SK.Bounding, Xlib.X.Unsorted, 0, 0, runs)

    def _show_tooltip(self, x: int, y: int) -> None:
        """The icon's title in a small window by the pointer (loop thread)."""
        self._hide_tooltip()
        icon = self._icon
        text = icon.title or APP_NAME
        try:
            screen = icon._display.screen()
            img = tooltip_image(text)
            left = min(max(0, x - img.width // 2), screen.width_in_pixels - img.width)
            top = y + TOOLTIP_OFFSET
            if top + img.height > screen.height_in_pixels:
                top = y - TOOLTIP_OFFSET - img.height
            pixmap = screen.root.create_pixmap(img.width, img.height, screen.root_depth)
            gc = pixmap.create_gc()
            pixmap.put_pil_image(gc, 0, 0, img)
            gc.free()
            window = screen.root.create_window(left, top, img.width, img.height, 0, screen.root_depth,
                                               override_redirect=True, background_pixmap=pixmap)
            window.set_wm_name(text)
            window.set_wm_class(*TOOLTIP_CLASS)
            window.map()
            icon._display.flush()
            self._tip = (window, pixmap)
        except Exception:
            log.debug("tray: could not show the tooltip", exc_info=True)

    def _hide_tooltip(self) -> None:
        tip, self._tip = self._tip, None
        if tip is None:
            return
        window, pixmap = tip
        try:
            window.destroy()
            pixmap.free()
            self._icon._display.flush()
        except Exception:
            log.debug("tray: could not hide the tooltip", exc_info=True)

    def _set_net_wm_name(self, title: str) -> None:
        """The title as ``_NET_WM_NAME`` (UTF-8) too, beside pystray's ``WM_NAME``: what
        window lists and tray hosts that name their icons read."""
        with self._lock:
            try:
                window = self._display.create_resource_object("window", self._window_id)
                window.change_property(self._display.intern_atom("_NET_WM_NAME"),
                                       self._display.intern_atom("UTF8_STRING"), 8, title.encode("utf-8"))
                self._display.flush()
            except Exception:
                log.debug("tray: could not set _NET_WM_NAME", exc_info=True)

    def _call(self, method: str, timeout: float = X_CALL_TIMEOUT_S) -> None:
        """Run the icon's ``method`` on its loop thread and wait until it has run."""
        import Xlib.protocol.event

        with self._lock:
            replies = self._icon._queue
            while not replies.empty():  # a late reply to a call that timed out
                replies.get_nowait()
            window = self._display.create_resource_object("window", self._window_id)
            atom = self._display.intern_atom(f"_PYSTRAY_{method.upper()}")
            window.send_event(Xlib.protocol.event.ClientMessage(
                window=window, client_type=atom, data=(32, [0] * 5)), event_mask=0)
            self._display.flush()
            try:
                result = replies.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"the tray icon's event loop did not run {method} within {timeout} s") from None
        if result is not True:
            raise result[1].with_traceback(result[2])

    def show(self) -> None:
        # What pystray's ``visible = True`` does, with the calls carried by _call.
        icon = self._icon
        if not icon._icon_valid:
            self._call("_update_icon")
        self._set_net_wm_name(icon.title)
        self.dock()
        icon._visible = True

    def set_image(self, image) -> None:
        self._icon._icon = image
        self._icon._icon_valid = False
        self._call("_update_icon")

    def set_title(self, title: str) -> None:
        self._icon._title = title
        self._call("_update_title")
        self._set_net_wm_name(title)

    def dock(self) -> None:
        self._dock_manager = self._tray_manager()
        self._dock_time = time.monotonic()
        self._call("_show")

    def _tray_manager(self) -> int | None:
        """The window owning the system-tray selection now, if any."""
        with self._lock:
            try:
                return tray_manager(self._display)
            except Exception:
                log.debug("tray: could not find the tray manager", exc_info=True)
                return None

    def needs_dock(self) -> str:
        manager = self._tray_manager()
        if manager is None:
            return ""
        if manager != self._dock_manager:
            return "a new tray manager appeared"
        if time.monotonic() - self._dock_time >= REDOCK_AFTER_S:
            return f"no answer to the dock request within {REDOCK_AFTER_S:.0f} s"
        return ""

    def is_docked(self) -> bool | None:
        with self._lock:
            try:
                tree = self._display.create_resource_object("window", self._window_id).query_tree()
                return tree.parent.id != tree.root.id
            except Exception:
                log.debug("tray: could not check docking", exc_info=True)
                return None

    def stop(self) -> None:
        if not self._icon._running:
            return
        # The loop ends when it sees its window destroyed (pystray's _stop).
        self._call("_stop")
        self._icon._running = False
        self._icon._visible = False

    def close(self) -> None:
        with self._lock:
            try:
                self._display.close()
            except Exception:
                pass
