"""Face-touch history (daemon/store.py): counts, threads, and no committed episode lost
when the writing process is killed with SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta

import pytest

from handmap.daemon.history.store import SCHEMA_VERSION, UNKNOWN_ZONE, TouchStore, default_history_path
from handmap.gestures.types import FaceZone, Handedness


def _at(day_offset: int, hour: int, minute: int = 0) -> float:
    """A local wall time ``day_offset`` days from today at hour:minute."""
    d = datetime.now().date() + timedelta(days=day_offset)
    return datetime(d.year, d.month, d.day, hour, minute).timestamp()


def test_default_path_is_under_xdg_data_home(tmp_path):
    assert default_history_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "handmap" / "history.sqlite3"


def test_episode_round_trip_and_wal(tmp_path):
    with TouchStore(tmp_path / "h.sqlite3") as store:
        assert store.journal_mode == "wal"
        eid = store.start_episode(Handedness.LEFT, 1000.0, profile="desktop")
        [ep] = store.episodes()
        assert (ep.id, ep.hand, ep.profile, ep.end_wall, ep.duration_s) == (eid, "left", "desktop", None, None)
        store.end_episode(eid, 1002.5)
        [ep] = store.episodes()
        assert ep.end_wall == 1002.5 and ep.duration_s == pytest.approx(2.5)
        with pytest.raises(KeyError):
            store.end_episode(eid + 99, 1003.0)
    # Another connection (another process, e.g. `handmap stats`) sees it.
    conn = sqlite3.connect(tmp_path / "h.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT hand, duration_s FROM episodes").fetchall() == [("left", 2.5)]


def test_counts_per_day_and_hour(tmp_path):
    store = TouchStore(tmp_path / "h.sqlite3")
    for t in (_at(0, 9, 5), _at(0, 9, 40), _at(0, 14), _at(-1, 9), _at(-3, 23, 59), _at(-10, 12)):
        store.start_episode("right", t)
    assert store.count_today() == 3
    days = store.per_day(7)
    assert len(days) == 7 and days[-1][0] == datetime.now().date()
    assert [n for _, n in days] == [0, 0, 0, 1, 0, 1, 3]
    hours = store.per_hour()
    assert len(hours) == 24 and hours[9] == 2 and hours[14] == 1 and sum(hours) == 3
    assert store.per_hour(datetime.now().date() - timedelta(days=3))[23] == 1
    over_week = store.hour_of_day(7)
    assert over_week[9] == 3 and over_week[23] == 1 and sum(over_week) == 5
    store.close()


def test_safe_across_threads(tmp_path):
    store = TouchStore(tmp_path / "h.sqlite3")
    ids: list[int] = []
    lock = threading.Lock()

    def writer(hand: str) -> None:
        for _ in range(50):
            eid = store.start_episode(hand)
            store.end_episode(eid)
            with lock:
                ids.append(eid)

    threads = [threading.Thread(target=writer, args=(h,)) for h in ("left", "right", "left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 200
    assert store.count_today() == 200
    assert all(ep.end_wall is not None for ep in store.episodes())
    store.close()


_WRITER = textwrap.dedent("""
    import sys, time
    from handmap.daemon.history.store import TouchStore
    store = TouchStore(sys.argv[1])
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        eid = store.start_episode("left" if n % 2 else "right", time.time(), profile="kill-test")
        print("S", eid, flush=True)
        store.end_episode(eid, time.time() + 0.25)
        print("E", eid, flush=True)
""")


def test_no_committed_episode_lost_on_sigkill(tmp_path):
    """A process writing episodes as fast as it can is killed with SIGKILL at random
    moments, five times over the same database: every start and end it printed (after
    the commit returned) is in the database, and the database passes integrity_check."""
    db = tmp_path / "history.sqlite3"
    rng = random.Random(1234)
    started: set[int] = set()
    ended: set[int] = set()
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE,
                                text=True, env=os.environ.copy())
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines():
            parts = line.split()
            if len(parts) != 2:  # a line cut by the kill: nothing was promised for it
                continue
            (started if parts[0] == "S" else ended).add(int(parts[1]))
    assert len(started) > 50, "the writer barely ran: the test proves nothing"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = {eid: end for eid, end in conn.execute("SELECT id, end_wall FROM episodes")}
    assert started <= set(rows), f"lost starts: {sorted(started - set(rows))[:10]}"
    assert all(rows[eid] is not None for eid in ended), "an end reported committed is missing"
    conn.close()
    # And the daemon can reopen it and keep going.
    with TouchStore(db) as store:
        assert store.integrity_check() == "ok"
        assert store.count_today() >= len(started)


def test_history_files_are_private(tmp_path):
    """The history says when the user touched their face: the database and its WAL files
    are readable by the user alone (0600), and an older 0644 history is tightened."""
    import os
    import stat

    old_umask = os.umask(0o022)  # the usual umask, which gives SQLite's own files 0644
    try:
        db = tmp_path / "history.sqlite3"
        with TouchStore(db) as store:
            store.end_episode(store.start_episode("left", 1000.0), 1001.0)
            files = [db, tmp_path / "history.sqlite3-wal", tmp_path / "history.sqlite3-shm"]
            assert all(f.exists() for f in files)
            assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
        older = tmp_path / "older.sqlite3"
        with TouchStore(older):
            pass
        older.chmod(0o644)
        with TouchStore(older):
            assert stat.S_IMODE(older.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


#: A history as version 1 wrote it (before zones), with its episodes.
_V1_SCHEMA = """
CREATE TABLE episodes (id INTEGER PRIMARY KEY AUTOINCREMENT, start_wall REAL NOT NULL, end_wall REAL,
                       duration_s REAL, hand TEXT NOT NULL, profile TEXT NOT NULL DEFAULT '');
CREATE INDEX episodes_start_wall ON episodes(start_wall);
PRAGMA user_version = 1;
"""


def test_zone_written_when_the_episode_ends(tmp_path):
    with TouchStore(tmp_path / "h.sqlite3") as store:
        first = store.start_episode("right", _at(0, 9), "desktop")
        store.end_episode(first, _at(0, 9) + 2.0, FaceZone.EYES)
        second = store.start_episode("left", _at(0, 10), "desktop", zone=FaceZone.CHIN)
        store.end_episode(second, _at(0, 10) + 1.0)  # no zone at the end: the start's stays
        store.start_episode("left", _at(0, 11))  # still open, no zone yet
        assert [e.zone for e in store.episodes()] == ["eyes", "chin", None]
        zones = store.time_per_zone(1, now=_at(0, 12))
    assert list(zones) == ["chin", "eyes", UNKNOWN_ZONE]  # equal counts: by name, unknown last
    assert (zones["eyes"].touches, zones["eyes"].total_s) == (1, 2.0)
    assert (zones[UNKNOWN_ZONE].touches, zones[UNKNOWN_ZONE].timed) == (1, 0)


def test_a_version_1_history_gets_zones_and_keeps_its_episodes(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
        conn.execute("INSERT INTO episodes (start_wall, end_wall, duration_s, hand, profile) VALUES (?, ?, 1.5, 'left', 'desktop')",
                     (_at(0, 8), _at(0, 8) + 1.5))
    with TouchStore(path, create=False) as reader:  # read as it is, changed in nothing
        [old] = reader.episodes()
        assert (old.hand, old.duration_s, old.zone) == ("left", 1.5, None)
        assert {zone: t.touches for zone, t in reader.time_per_zone(1, now=_at(0, 12)).items()} == {UNKNOWN_ZONE: 1}
        with pytest.raises(sqlite3.OperationalError):
            reader.start_episode("left", _at(0, 9))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    with TouchStore(path) as store:  # the writer brings it up to date
        [old] = store.episodes()
        assert (old.hand, old.duration_s, old.zone) == ("left", 1.5, None)
        store.end_episode(store.start_episode("right", _at(0, 9)), _at(0, 9) + 1.0, FaceZone.MOUTH)
        assert store.count_today(now=_at(0, 12)) == 2
        assert {zone: t.touches for zone, t in store.time_per_zone(1, now=_at(0, 12)).items()} == {
            "mouth": 1, UNKNOWN_ZONE: 1}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    with TouchStore(path) as again:  # opened a second time: nothing to migrate
        assert len(again.episodes()) == 2


def test_a_reader_does_not_create_the_history(tmp_path):
    path = tmp_path / "none" / "history.sqlite3"
    with pytest.raises(FileNotFoundError):
        TouchStore(path, create=False)
    assert not path.exists() and not path.parent.exists()
