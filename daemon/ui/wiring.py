"""Puts the settings window together from the daemon's parts (called by the composition
root, ``runtime.assemble``): the live view's tap on the pipeline and the listening
server at start; the pages (and the web framework) on the first request."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from handmap.daemon.config import Config
from handmap.daemon.poses_store import PoseStore
from handmap.daemon.runtime.pipeline import Pipeline
from handmap.daemon.runtime.state import Controller
from handmap.daemon.tools.preview import PreviewState
from handmap.daemon.ui.listener import UiServer, WsgiApp
from handmap.daemon.ui.security import Access
from handmap.daemon.ui.tap import FrameTap
from handmap.mappings.loader import ProfileStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UiPaths:
    """The user's files the pages write (the daemon reloads them as they change)."""

    profiles: Path
    config: Path
    history: Path  # the face-touch history (read only)


def start_ui(controller: Controller, pipeline: Pipeline, preview_state: Callable[[], PreviewState],
             store: ProfileStore, poses: PoseStore, paths: UiPaths, config: Config,
             env: Mapping[str, str]) -> UiServer | None:
    """The running server, None (with the reason logged) when it cannot start."""
    tap = FrameTap(lambda: dataclasses.replace(preview_state(), fps=controller.status().fps))  # the daemon's rate

    def make_app(access: Access) -> WsgiApp:
        from handmap.daemon.ui.profiles import ProfilesSection
        from handmap.daemon.ui.server import UiParts, build_app
        from handmap.daemon.ui.settings import SettingsSection
        from handmap.daemon.ui.teach import PosesSection

        sections: list[Callable] = [ProfilesSection(store, paths.profiles, controller),
                                    SettingsSection(paths.config, paths.history, controller, env),
                                    PosesSection(poses, tap)]
        return build_app(access, UiParts(controller, tap, sections=sections))

    server = UiServer(make_app, port=config.ui.port, env=env, on_stop=tap.forget)
    try:
        server.start()
    except OSError as exc:
        log.warning("no settings window: %s", exc)
        return None
    pipeline.tap = tap
    return server
