"""Opening the running daemon's settings window in the user's browser (``handmap ui``,
the tray's "Settings..." item)."""

from __future__ import annotations

import logging
import webbrowser
from collections.abc import Mapping

from handmap.daemon.ui.security import read_access

log = logging.getLogger(__name__)


def open_settings(env: Mapping[str, str] | None = None) -> bool:
    """Open the login address in the browser; False (with the reason logged) when no
    settings window is served or no browser starts."""
    access = read_access(env)
    if access is None:
        log.warning("no settings window is served: it is off in config.yaml (ui: {enabled: false})")
        return False
    if not webbrowser.open(access.login_url()):
        log.warning("no web browser could be started; 'handmap ui --print-url' prints the address")
        return False
    return True
