"""Face-touch episodes to the history and to alerts; the active profile can turn alerts off;
one count of today's touches with and without history, which the notification says."""

from __future__ import annotations

import time

from handmap.daemon.desktop.notify import FaceTouchAlerts
from handmap.daemon.history.store import TouchStore
from handmap.daemon.runtime.daemon import FaceTouchLog
from handmap.gestures.types import FaceTouch, FaceTouchState, FaceZone, Handedness


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


def _zoned(state, t, zone):
    return FaceTouch(t=t, frame=int(t * 30), state=state, hand=Handedness.LEFT, zone=zone)


def _history_with(path, touches: int) -> None:
    """A history with ``touches`` episodes from earlier today (another run's)."""
    now = time.time()
    with TouchStore(path) as store:
        for i in range(touches):
            store.end_episode(store.start_episode("right", now - 60 - i, "desktop"), now - 59 - i, FaceZone.CHIN)


def test_one_count_with_and_without_history(tmp_path):
    """A run that writes the history counts what is in it; a run that writes none counts
    the history's touches plus its own; the notification says the same number."""
    path = tmp_path / "history.sqlite3"
    _history_with(path, 3)
    notifier = Collected()
    writing = TouchStore(path)
    recorded = FaceTouchLog(store=writing, alerts=FaceTouchAlerts(notifier, cooldown_s=0))
    assert recorded.touches_today() == 3 and recorded.unrecorded_today() == 0
    recorded.on_event(_zoned(FaceTouchState.START, 1.0, None))
    recorded.on_event(_zoned(FaceTouchState.END, 2.0, FaceZone.EYES))  # the zone, known at the end
    assert recorded.touches_today() == 4 and recorded.unrecorded_today() == 0
    assert notifier.sent[-1][1].endswith("Face touches today: 4.")
    assert writing.episodes()[-1].zone == "eyes"
    writing.close()

    # Without history: the file is read (not written), this run's own touches added.
    unrecorded = FaceTouchLog(alerts=FaceTouchAlerts(notifier, cooldown_s=0),
                              reader=lambda: TouchStore(path, create=False))
    assert unrecorded.touches_today() == 4
    unrecorded.on_event(_zoned(FaceTouchState.START, 1.0, FaceZone.NOSE))
    assert notifier.sent[-1][1] == "Your left hand touched your face (nose). Face touches today: 5."
    unrecorded.on_event(_zoned(FaceTouchState.END, 2.0, FaceZone.NOSE))
    assert (unrecorded.touches_today(), unrecorded.unrecorded_today()) == (5, 1)
    unrecorded.close()
    with TouchStore(path, create=False) as store:
        assert store.count_today() == 4  # nothing written


def test_without_a_history_file_the_run_counts_its_own(tmp_path):
    path = tmp_path / "absent.sqlite3"
    log = FaceTouchLog(reader=lambda: TouchStore(path, create=False))
    log.on_event(_zoned(FaceTouchState.START, 1.0, None))
    log.on_event(_zoned(FaceTouchState.END, 1.5, None))
    assert log.touches_today() == 1
    assert not path.exists()  # a reader never creates it
