"""Face-touch episodes to the history and to alerts; the active profile can turn alerts off."""

from __future__ import annotations

from handmap.daemon.desktop.notify import FaceTouchAlerts
from handmap.daemon.history.store import TouchStore
from handmap.daemon.runtime.daemon import FaceTouchLog
from handmap.gestures.types import FaceTouch, FaceTouchState, Handedness


class Collected:
    """A notifier that keeps what it is given (the D-Bus path is tested with dunst)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, title: str, body: str) -> None:
        self.sent.append((title, body))


def _touch(state, t):
    return FaceTouch(t=t, frame=int(t * 30), state=state, hand=Handedness.RIGHT)


def test_episodes_are_stored_and_alerts_follow_the_profile(tmp_path):
    notifier = Collected()
    wanted = [True]
    store = TouchStore(tmp_path / "history.sqlite3")
    log = FaceTouchLog(store=store, alerts=FaceTouchAlerts(notifier, cooldown_s=0),
                       profile=lambda: "desktop", alerts_wanted=lambda: wanted[0])
    log.on_event(_touch(FaceTouchState.START, 1.0))
    log.on_event(_touch(FaceTouchState.END, 2.0))
    wanted[0] = False  # e.g. a game profile with alerts: {face_touch: false}
    log.on_event(_touch(FaceTouchState.START, 3.0))
    log.on_event(_touch(FaceTouchState.END, 4.0))
    assert len(notifier.sent) == 1 and "right hand" in notifier.sent[0][1]
    episodes = store.episodes()
    assert len(episodes) == 2 and all(e.end_wall is not None for e in episodes)
    assert {e.profile for e in episodes} == {"desktop"}
    store.close()
