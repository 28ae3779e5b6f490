"""Desktop stage, window watchers: the polling watcher, for platforms without focus events (macOS, Windows)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from handmap.daemon.desktop.windows.base import POLL_INTERVAL_S, ActiveWindow, OnChange, WatcherBase

log = logging.getLogger(__name__)


class PollingWatcher(WatcherBase):
    """Calls ``read()`` every ``interval_s`` on a thread (macOS, Windows)."""

    def __init__(self, name: str, read: Callable[[], ActiveWindow | None],
                 on_change: OnChange | None = None, interval_s: float = POLL_INTERVAL_S) -> None:
        super().__init__(on_change)
        self.name = name
        self._read = read
        self._interval = interval_s

    def start(self) -> None:
        self._publish(self._read())
        self._start_thread(self._run)

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self._interval):
            try:
                window = self._read()
                failures = 0
            except Exception:
                failures += 1
                log.debug("reading the active window failed", exc_info=True)
                if failures >= 50:
                    raise
                continue
            if window is not None:
                self._publish(window)
