"""The running daemon's state and the control interface the tray and socket use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class DaemonState(str, Enum):
    STARTING = "starting"
    RUNNING = "running"  # hands in view, input mapped
    NO_HAND = "no hand"  # running, no hand in view (idle rate)
    PAUSED = "paused"
    CAMERA_LOST = "camera lost"  # retrying with backoff
    WAITING_FOR_CAMERA = "waiting for camera"  # started as a service before the camera
    WAITING_FOR_DISPLAY = "waiting for display"
    STOPPING = "stopping"


@dataclass(frozen=True)
class StatusSnapshot:
    """What ``handmap status`` prints (as JSON) and the tray shows."""

    state: DaemonState
    profile: str
    fps: float
    hands_seen: int  # hands in view now
    output: str  # output backend name
    uptime_s: float
    source: str = ""
    #: Today's face touches: the history's, plus this run's own when it keeps no history
    #: (``FaceTouchLog``); the tray, the notification and ``handmap stats`` say the same.
    face_touches_today: int = 0
    alerts_muted: bool = False
    profiles: tuple[str, ...] = field(default_factory=tuple)
    #: Profiles that cannot be loaded (unknown key, not YAML...): name -> the first
    #: ``file:line:col: message``. They are still in ``profiles``.
    broken_profiles: Mapping[str, str] = field(default_factory=dict)
    #: Why the daemon is paused (``handmap pause``, the hotkey, a pose binding...);
    #: empty while it runs.
    paused_by: str = ""
    #: Of ``face_touches_today``, those this run counted but keeps in no history (it runs
    #: with ``--no-history``): ``handmap stats`` adds them to today.
    face_touches_unrecorded: int = 0

    def to_json(self) -> dict:
        return {
            "state": self.state.value,
            "profile": self.profile,
            "fps": round(self.fps, 1),
            "hands_seen": self.hands_seen,
            "output": self.output,
            "uptime_s": round(self.uptime_s, 1),
            "source": self.source,
            "face_touches_today": self.face_touches_today,
            "alerts_muted": self.alerts_muted,
            "profiles": list(self.profiles),
            "broken_profiles": dict(self.broken_profiles),
            "paused_by": self.paused_by,
            "face_touches_unrecorded": self.face_touches_unrecorded,
        }


class SwitchRefused(Exception):
    """A profile switch the daemon will not make (the profile is broken); the message
    says why, with the file's ``file:line:col`` problems."""


class Controller(Protocol):
    """Commands the tray, the control socket and the pause hotkey send to the daemon.

    Every method is thread-safe and returns quickly: the daemon applies the request on
    its next frame (releasing held input first where the request changes mode).
    """

    def status(self) -> StatusSnapshot: ...

    def pause(self, by: str = "") -> None:
        """Pause; ``by`` says who asked (``handmap pause``, the hotkey...), for the status."""

    def resume(self) -> None: ...

    def toggle_pause(self, by: str = "") -> None: ...

    def switch_profile(self, name: str) -> None:
        """Raises KeyError (with a readable message) when no such profile exists and
        :class:`SwitchRefused` when it cannot be loaded (the current one stays)."""

    def set_alerts_muted(self, muted: bool) -> None: ...

    def quit(self) -> None: ...
