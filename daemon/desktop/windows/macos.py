"""Desktop stage, window watchers: macOS (AppKit ``NSWorkspace`` through pyobjc, polled)."""

from __future__ import annotations

import os
from collections.abc import Callable

from handmap.daemon.desktop.windows.base import ActiveWindow


def reader() -> Callable[[], ActiveWindow | None]:
    """A function that reads the frontmost app's window; ImportError without pyobjc."""
    from AppKit import NSWorkspace  # pyobjc; ImportError when not installed

    try:
        import Quartz  # window titles need the Screen Recording permission; empty otherwise
    except ImportError:
        Quartz = None

    workspace = NSWorkspace.sharedWorkspace()

    def read() -> ActiveWindow | None:
        app = workspace.frontmostApplication()
        if app is None:
            return None
        pid = int(app.processIdentifier())
        title = ""
        if Quartz is not None:
            windows = Quartz.CGWindowListCopyWindowInfo(
                Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements,
                Quartz.kCGNullWindowID) or []
            for info in windows:
                if int(info.get("kCGWindowOwnerPID", -1)) == pid and int(info.get("kCGWindowLayer", 1)) == 0:
                    title = str(info.get("kCGWindowName") or "")
                    break
        path = app.executableURL().path() if app.executableURL() is not None else ""
        return ActiveWindow(wm_class=str(app.bundleIdentifier() or ""), title=title,
                            process=os.path.basename(str(path)) or str(app.localizedName() or ""), pid=pid)

    return read
