"""Desktop stage, window watchers: Windows (``GetForegroundWindow`` through ctypes, polled)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from handmap.daemon.desktop.windows.base import ActiveWindow


def reader() -> Callable[[], ActiveWindow | None]:
    """A function that reads the foreground window; OSError off Windows."""
    if sys.platform != "win32":
        raise OSError("GetForegroundWindow needs Windows")
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    query_limited = 0x1000  # PROCESS_QUERY_LIMITED_INFORMATION

    def read() -> ActiveWindow | None:
        hwnd = user32.GetForegroundWindow()
        if not hwnd:
            return None
        title = ctypes.create_unicode_buffer(512)
        user32.GetWindowTextW(hwnd, title, 512)
        klass = ctypes.create_unicode_buffer(256)
        user32.GetClassNameW(hwnd, klass, 256)
        pid = wintypes.DWORD()
        user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
        exe = ""
        handle = kernel32.OpenProcess(query_limited, False, pid.value)
        if handle:
            try:
                size = wintypes.DWORD(1024)
                path = ctypes.create_unicode_buffer(size.value)
                if kernel32.QueryFullProcessImageNameW(handle, 0, path, ctypes.byref(size)):
                    exe = os.path.basename(path.value)
            finally:
                kernel32.CloseHandle(handle)
        return ActiveWindow(wm_class=klass.value, title=title.value, process=exe, pid=pid.value or None)

    return read
