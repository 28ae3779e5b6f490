"""Started as a service before the desktop: wait for the display instead of failing.

A systemd user service can start before the graphical session has published DISPLAY
(or WAYLAND_DISPLAY) to the user manager. Until it has, the daemon answers on its
control socket with the state ``waiting for display`` (so ``handmap status`` says so),
polls the manager's environment, and adopts the display variables once they appear.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping

from handmap.daemon.desktop.session import detect, has_display
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

log = logging.getLogger(__name__)

#: How often the user manager's environment is asked for the display.
POLL_S = 2.0


class WaitingController:
    """The Controller while there is no display yet: status only; quit stops waiting."""

    def __init__(self, profile: str) -> None:
        self._profile = profile
        self._started = time.monotonic()
        self.stop = threading.Event()

    def status(self) -> StatusSnapshot:
        return StatusSnapshot(state=DaemonState.WAITING_FOR_DISPLAY, profile=self._profile, fps=0.0, hands_seen=0,
                              output="", uptime_s=time.monotonic() - self._started)

    def pause(self, by: str = "") -> None:
        pass

    def resume(self) -> None:
        pass

    def toggle_pause(self, by: str = "") -> None:
        pass

    def switch_profile(self, name: str) -> None:
        raise KeyError("handmap is waiting for the display; switch profiles once it is running")

    def set_alerts_muted(self, muted: bool) -> None:
        pass

    def quit(self) -> None:
        self.stop.set()


def wait_for_display(env: MutableMapping[str, str], profile: str,
                     read_manager: Callable[[], Mapping[str, str]] | None = None,
                     poll_s: float = POLL_S, socket_path=None) -> bool:
    """Block until ``env`` has a display (adopting the user manager's variables into
    ``env``); True when it has one, False when told to quit meanwhile."""
    if has_display(env):
        return True
    from handmap.daemon.control import ControlError, ControlServer
    from handmap.daemon.desktop.service import manager_display_environment

    read_manager = read_manager or (lambda: manager_display_environment(env))
    controller = WaitingController(profile)
    made = ControlServer(controller, socket_path)
    server: ControlServer | None = made
    try:
        made.start()
    except ControlError as exc:
        log.warning("no control socket while waiting for the display: %s", exc)
        server = None
    log.warning("waiting for the display (no DISPLAY or WAYLAND_DISPLAY yet)")
    try:
        while not controller.stop.is_set():
            found = dict(read_manager())
            if has_display(found):
                env.update(found)  # the daemon passes os.environ: pynput and pystray read it
                log.warning("display %s is there", detect(found).display_name)
                return True
            controller.stop.wait(poll_s)
        return False
    finally:
        if server is not None:
            server.stop()
