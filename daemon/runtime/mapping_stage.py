"""The mapping stage as the daemon runs it: the active profile (from the profile store),
the pure mapping engine, and the gesture engine's profile-defined poses and hold times,
kept in step. Requests a binding makes (switch profile, pause, resume) are split from
the input actions and left for the daemon loop to carry out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from handmap.gestures.engine import GestureEngine
from handmap.gestures.types import GestureFrame
from handmap.mappings.loader import ProfileLoadError, ProfileStore
from handmap.mappings.mapper import MappingEngine, Request, RequestPause, RequestProfile, RequestResume
from handmap.mappings.pointer_modes import ScreenGeometry
from handmap.mappings.schema import Control, Profile

log = logging.getLogger(__name__)

REQUEST_TYPES = (RequestProfile, RequestPause, RequestResume)
RESUMING_CONTROLS = ("resume", "toggle_pause")


class MappingStage:
    """The active profile's mapping engine, with the gesture engine kept in step; the
    pipeline's ``Mapper`` and the daemon's handle for mode changes."""

    def __init__(self, store: ProfileStore, profile_name: str, screen: ScreenGeometry, gestures: GestureEngine,
                 max_hands: int | None = None) -> None:
        self.store = store
        self.gestures = gestures
        #: How many hands the tracker follows (None: as many as the source holds, a trace).
        self.max_hands = max_hands
        profile = store.load(profile_name)
        self.name = profile_name
        self.engine = MappingEngine(profile, screen)
        self._requests: list[Request] = []
        # Frames may be mapped on the pipeline's second thread while the daemon loop
        # takes the requests they made: the list changes hands under this lock.
        self._requests_lock = threading.Lock()
        self._configure(profile)

    @property
    def profile(self) -> Profile:
        return self.engine.profile

    @property
    def paused(self) -> bool:
        return self.engine.paused

    def _configure(self, profile: Profile) -> None:
        if self.max_hands is not None and profile.two_hand_warning(self.max_hands) is not None \
                and profile.name is not None:
            # Where the user wrote them (a bundled profile's stay idle without a word).
            try:
                warnings = self.store.check(profile.name, self.max_hands)[1]
            except KeyError:  # the file went away since it was loaded
                warnings = []
            for warning in warnings:
                log.warning("%s", warning)
        self.gestures.set_custom_poses(profile.pose_specs())
        durations = profile.hold_durations_ms()
        if durations:
            self.gestures.set_hold_durations(sorted(durations))

    def _split(self, outputs: list) -> list:
        actions = []
        for item in outputs:
            if isinstance(item, REQUEST_TYPES):
                with self._requests_lock:
                    self._requests.append(item)
            else:
                actions.append(item)
        return actions

    def take_requests(self) -> list[Request]:
        with self._requests_lock:
            requests, self._requests = self._requests, []
        return requests

    # -- the Mapper protocol (pipeline) ---------------------------------------------------

    def handle(self, frame: GestureFrame) -> list:
        return self._split(self.engine.handle(frame))

    def release_all(self) -> list:
        return self._split(self.engine.release_all())

    # -- mode changes (the daemon loop) ---------------------------------------------------

    def switch(self, name: str) -> list:
        """Releases, then switches; KeyError / ProfileLoadError leave the old profile on."""
        profile = self.store.load(name)
        self._configure(profile)
        self.name = name
        return self._split(self.engine.switch_profile(profile))

    def reload(self) -> list | None:
        """The active profile again from its file; on error the old one stays, and the
        error propagates for the daemon to report."""
        profile = self.store.load(self.name)
        self._configure(profile)
        return self._split(self.engine.reload(profile))

    def pause(self, reason: str = "") -> list:
        return self._split(self.engine.pause(reason))

    def resume(self) -> list:
        return self._split(self.engine.resume())

    def shutdown(self) -> list:
        return self._split(self.engine.shutdown())

    def wants_frames_while_paused(self) -> bool:
        """Whether a binding can resume from a gesture (so frames are still analysed)."""
        return any(_control(action) in RESUMING_CONTROLS for binding in self.profile.bindings for action in binding.do)


def _control(action: object) -> str | None:
    """A control action's command (pause, resume...), None for any other action."""
    return action.control if isinstance(action, Control) else None


class ProfileHealth:
    """Which profiles cannot be loaded, and why (``status``'s ``broken_profiles``, the
    refusal of a switch). Checked again only when the user's profile files change, so
    the status the tray polls every second does not parse every profile."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._broken: dict[str, str] = {}

    def _files_key(self) -> tuple:
        folder = self.store.user_dir
        if folder is None or not folder.is_dir():
            return ()
        key = []
        for path in sorted(folder.glob("*.yaml")):
            try:
                info = path.stat()
            except OSError:
                continue
            key.append((path.name, info.st_mtime_ns, info.st_size))
        return tuple(key)

    def broken(self) -> Mapping[str, str]:
        """Broken profile name -> its first problem (``file:line:col: message``)."""
        key = self._files_key()
        with self._lock:
            if key != self._key:
                self._broken = {name: problem for name in self.store.names()
                                if (problem := self.problem(name)) is not None}
                self._key = key
            return dict(self._broken)

    def problem(self, name: str) -> str | None:
        """Why profile ``name`` cannot be loaded (every problem, one a line), None when it
        loads; KeyError when there is no such profile."""
        try:
            self.store.load(name)
        except ProfileLoadError as exc:
            return "\n".join(str(e) for e in exc.errors)
        return None
