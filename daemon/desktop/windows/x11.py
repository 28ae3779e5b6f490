"""Desktop stage, window watchers: X11 (EWMH ``_NET_ACTIVE_WINDOW`` through python-xlib, event driven)."""

from __future__ import annotations

import logging
import select
from typing import Any

from handmap.daemon.desktop.windows.base import (
    EVENT_WAIT_S,
    NO_WINDOW,
    ActiveWindow,
    OnChange,
    WatcherBase,
    process_name,
)

log = logging.getLogger(__name__)


class X11Watcher(WatcherBase):
    """EWMH active window through python-xlib, event driven.

    Listens for PropertyNotify on the root window (``_NET_ACTIVE_WINDOW``) and on the
    active window (``_NET_WM_NAME``/``WM_NAME``, so title rules follow title changes).
    Needs an EWMH window manager; ``display`` is the X display name (``env["DISPLAY"]``).
    """

    name = "x11"

    def __init__(self, display: str, on_change: OnChange | None = None) -> None:
        super().__init__(on_change)
        self._display_name = display
        self._dpy: Any = None

    def start(self) -> None:
        """Connect and read the active window now; raises OSError if the display is unreachable."""
        from Xlib import X  # python-xlib, a pynput dependency
        from Xlib import display as xdisplay
        from Xlib import error as xerror

        try:
            dpy = xdisplay.Display(self._display_name)
        except (xerror.DisplayError, OSError) as exc:
            raise OSError(f"cannot open X display {self._display_name!r}: {exc}") from exc
        dpy.set_error_handler(lambda err, *_: log.debug("X error (window probably closed): %s", err))
        self._dpy = dpy
        self._atoms = {n: dpy.intern_atom(n) for n in (
            "_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "WM_NAME", "_NET_WM_PID", "UTF8_STRING", "_NET_SUPPORTED")}
        self._root = dpy.screen().root
        self._root.change_attributes(event_mask=X.PropertyChangeMask)
        supported = self._root.get_full_property(self._atoms["_NET_SUPPORTED"], X.AnyPropertyType)
        if supported is None or self._atoms["_NET_ACTIVE_WINDOW"] not in list(supported.value):
            self._set_reason("the window manager does not publish _NET_ACTIVE_WINDOW (EWMH); "
                             "automatic profile switching needs an EWMH window manager")
        self._has_xres = dpy.has_extension("X-Resource")
        self._watched: Any = None
        self._refresh()
        self._start_thread(self._run)

    def stop(self) -> None:
        super().stop()
        dpy, self._dpy = self._dpy, None
        if dpy is not None:
            try:
                dpy.close()
            except Exception:
                log.debug("closing the X display failed", exc_info=True)

    def _run(self) -> None:
        from Xlib import X

        dpy = self._dpy
        fd = dpy.fileno()
        while not self._stop.is_set():
            if not dpy.pending_events():
                readable, _, _ = select.select([fd], [], [], EVENT_WAIT_S)
                if not readable:
                    continue
            refresh = False
            while dpy.pending_events():  # drain, then read the window once
                event = dpy.next_event()
                if event.type != X.PropertyNotify:
                    continue
                if event.atom == self._atoms["_NET_ACTIVE_WINDOW"]:
                    refresh = True
                elif event.atom in (self._atoms["_NET_WM_NAME"], self._atoms["WM_NAME"]):
                    refresh = True
            if refresh:
                self._refresh()

    def _refresh(self) -> None:
        from Xlib import X
        from Xlib import error as xerror

        try:
            prop = self._root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], X.AnyPropertyType)
            wid = int(prop.value[0]) if prop is not None and len(prop.value) else 0
            if not wid:
                self._watch(None)
                self._publish(NO_WINDOW)  # nothing focused (the desktop): the default profile
                return
            win = self._dpy.create_resource_object("window", wid)
            self._watch(win)
            self._publish(self._describe(win))
        except xerror.XError as exc:  # the window went away between event and query
            log.debug("active window vanished: %s", exc)

    def _watch(self, win: Any) -> None:
        from Xlib import X

        if self._watched is not None and (win is None or self._watched.id != win.id):
            try:
                self._watched.change_attributes(event_mask=X.NoEventMask)
            except Exception:
                pass
        if win is not None and (self._watched is None or self._watched.id != win.id):
            win.change_attributes(event_mask=X.PropertyChangeMask)
        self._watched = win

    def _describe(self, win: Any) -> ActiveWindow:
        from Xlib import X

        wm_class = win.get_wm_class() or ("", "")
        title_prop = win.get_full_property(self._atoms["_NET_WM_NAME"], X.AnyPropertyType)
        if title_prop is not None and len(title_prop.value):
            raw = title_prop.value
            title = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        else:
            name = win.get_wm_name()
            title = name.decode("latin-1") if isinstance(name, bytes) else (name or "")
        pid_prop = win.get_full_property(self._atoms["_NET_WM_PID"], X.AnyPropertyType)
        pid = int(pid_prop.value[0]) if pid_prop is not None and len(pid_prop.value) else None
        if pid is None:
            pid = self._client_pid(win)
        return ActiveWindow(wm_class=wm_class[1] or "", instance=wm_class[0] or "", title=title,
                            process=process_name(pid), pid=pid)


    def _client_pid(self, win: Any) -> int | None:
        """The pid of a local client that does not set ``_NET_WM_PID`` (Tk, plain Xlib
        programs), from the X-Resource extension, as ``xprop``-less tools do."""
        if not self._has_xres:
            return None
        from Xlib.ext import res

        try:
            reply = self._dpy.res_query_client_ids([{"client": win.id, "mask": res.LocalClientPIDMask}])
        except Exception:
            log.debug("X-Resource client-id query failed", exc_info=True)
            return None
        for entry in reply.ids:
            if entry.spec.mask == res.LocalClientPIDMask and entry.value:
                return int(entry.value[0])
        return None
