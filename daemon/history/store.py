"""Face-touch history stage: every episode (start, end, hand, profile) in SQLite.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. Each
``start_episode``/``end_episode`` is its own transaction, committed before the call
returns, and in WAL mode a commit is a ``write()`` of the transaction's pages to the
``-wal`` file: once that returns, the data is in the kernel's page cache and survives the
process being killed (``kill -9``, a crash, an OOM kill) at any later moment. What
``NORMAL`` gives up against ``FULL`` is the fsync per commit, so only an operating-system
crash or power loss can drop the last few commits; the database stays consistent
either way. That trade keeps an fsync (milliseconds on a slow disk) off the frame loop
that records an episode. ``synchronous="FULL"`` is available for who wants it.

Counts by day and hour use local time (the user's day), computed in Python from the
stored Unix times.

Each episode keeps the face zone the hand touched (``FaceZone`` names), written when the
episode ends; schema version 2 added that column, and a database from before it gets
the column when it is first opened (its old episodes read as zone unknown).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path

from handmap.daemon.paths import data_dir

log = logging.getLogger(__name__)

HISTORY_FILENAME = "history.sqlite3"
SCHEMA_VERSION = 2
#: How an episode without a zone (recorded before zones, or never told one) is counted.
UNKNOWN_ZONE = "unknown"
HOURS_PER_DAY = 24
BUSY_TIMEOUT_MS = 5000
#: The history says when the user touched their face: readable by the user alone (SQLite
#: gives its ``-wal`` and ``-shm`` files the database file's mode).
HISTORY_FILE_MODE = 0o600
SYNCHRONOUS_MODES = ("NORMAL", "FULL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    start_wall REAL NOT NULL,
    end_wall REAL,
    duration_s REAL,
    hand TEXT NOT NULL,
    profile TEXT NOT NULL DEFAULT '',
    zone TEXT
);
CREATE INDEX IF NOT EXISTS episodes_start_wall ON episodes(start_wall);
"""


def default_history_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/handmap/history.sqlite3``."""
    return data_dir(env) / HISTORY_FILENAME


@dataclass(frozen=True)
class TouchTime:
    """Touches in a span (a day, an hour of the day) and how long they lasted: ``timed``
    of them have a duration (an episode still open, or cut by a killed daemon, has none),
    ``total_s`` is the sum of those durations."""

    touches: int = 0
    timed: int = 0
    total_s: float = 0.0

    @property
    def mean_s(self) -> float | None:
        return self.total_s / self.timed if self.timed else None

    def add(self, duration_s: float | None) -> TouchTime:
        if duration_s is None:
            return TouchTime(self.touches + 1, self.timed, self.total_s)
        return TouchTime(self.touches + 1, self.timed + 1, self.total_s + duration_s)


@dataclass(frozen=True)
class Episode:
    """One face touch. ``end_wall``/``duration_s`` are None while it lasts (or when the
    daemon was killed during it)."""

    id: int
    start_wall: float
    end_wall: float | None
    duration_s: float | None
    hand: str
    profile: str
    zone: str | None = None  # a FaceZone value; None: unknown


def _local_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


class TouchStore:
    """The episode history. Thread-safe: one connection guarded by a lock, so the frame
    loop, the tray and the control socket may all call it."""

    def __init__(self, path: str | Path | None = None, synchronous: str = "NORMAL", create: bool = True) -> None:
        """Open (``create``: or make) the history at ``path``. With ``create`` False it
        is opened read-only (a reader: ``handmap stats``, a run that keeps no history):
        nothing in it is changed, a missing file raises ``FileNotFoundError``, and a
        history from before zones is read as it is (zones unknown)."""
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, not {synchronous!r}")
        self.path = Path(path) if path is not None else default_history_path()
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private_file(self.path)
        elif not self.path.is_file():
            raise FileNotFoundError(f"no face-touch history at {self.path}")
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, every statement below is its own transaction
        # and is committed when execute() returns.
        target = str(self.path) if create else f"{self.path.resolve().as_uri()}?mode=ro"
        self._conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                     check_same_thread=False, uri=not create)
        self._zone = "zone"  # the zone column, or NULL in a read-only history from before zones
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not create:
                self._conn.execute("SELECT count(*) FROM episodes").fetchone()  # a history at all?
                if "zone" not in _columns(self._conn):
                    self._zone = "NULL"
                self.journal_mode = str(self._conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
                self.synchronous = synchronous
                return
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                # WAL needs shared memory (not on some network file systems): fall back to
                # a rollback journal with an fsync per commit, durable against crashes too.
                log.warning("history %s: WAL mode unavailable (journal %s); using synchronous=FULL", self.path, mode)
                synchronous = "FULL"
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.executescript(_SCHEMA)
            _migrate(self._conn)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            self._conn.close()
            raise
        self.journal_mode = str(mode).lower()
        self.synchronous = synchronous

    # -- writing -------------------------------------------------------------------------

    def start_episode(self, hand: str, start_wall: float | None = None, profile: str = "",
                      zone: Enum | str | None = None) -> int:
        """Record the start of a face touch; committed before it returns. Returns its id."""
        start = time.time() if start_wall is None else float(start_wall)
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO episodes (start_wall, hand, profile, zone) VALUES (?, ?, ?, ?)",
                (start, _hand_name(hand), profile, _zone_name(zone)))
            if cur.lastrowid is None:  # sqlite sets it for every INSERT into a rowid table
                raise sqlite3.DatabaseError("the episode was not inserted")
            return cur.lastrowid

    def end_episode(self, episode_id: int, end_wall: float | None = None, zone: Enum | str | None = None) -> None:
        """Record the end of an episode (its duration is end - start) and, when given,
        the zone the hand touched; committed at once."""
        end = time.time() if end_wall is None else float(end_wall)
        with self._lock:
            cur = self._conn.execute(
                "UPDATE episodes SET end_wall = ?, duration_s = max(0.0, ? - start_wall), zone = coalesce(?, zone) "
                "WHERE id = ?", (end, end, _zone_name(zone), int(episode_id)))
        if cur.rowcount == 0:
            raise KeyError(f"no face-touch episode with id {episode_id}")

    # -- reading -------------------------------------------------------------------------

    def episodes(self, since: float | None = None, until: float | None = None) -> list[Episode]:
        lo = float("-inf") if since is None else since
        hi = float("inf") if until is None else until
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, start_wall, end_wall, duration_s, hand, profile, {self._zone} FROM episodes "
                "WHERE start_wall >= ? AND start_wall < ? ORDER BY start_wall, id", (lo, hi)).fetchall()
        return [Episode(*row) for row in rows]

    def _starts(self, since: float, until: float) -> list[float]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT start_wall FROM episodes WHERE start_wall >= ? AND start_wall < ?", (since, until)).fetchall()
        return [r[0] for r in rows]

    def count_today(self, now: float | None = None) -> int:
        """Episodes that started today (local time)."""
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        since = _local_midnight(today)
        until = _local_midnight(today + timedelta(days=1))
        with self._lock:
            return int(self._conn.execute(
                "SELECT count(*) FROM episodes WHERE start_wall >= ? AND start_wall < ?", (since, until)).fetchone()[0])

    def per_day(self, days: int = 7, now: float | None = None) -> list[tuple[date, int]]:
        """Touches per local day for the last ``days`` days, oldest first, today last,
        days without touches included as 0."""
        if days < 1:
            raise ValueError("days must be at least 1")
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        first = today - timedelta(days=days - 1)
        counts = {first + timedelta(days=i): 0 for i in range(days)}
        for t in self._starts(_local_midnight(first), _local_midnight(today + timedelta(days=1))):
            d = datetime.fromtimestamp(t).date()
            if d in counts:
                counts[d] += 1
        return sorted(counts.items())

    def _timed(self, since: float, until: float) -> list[tuple[float, float | None]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT start_wall, duration_s FROM episodes WHERE start_wall >= ? AND start_wall < ?",
                (since, until)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def time_per_day(self, days: int = 7, now: float | None = None) -> list[tuple[date, TouchTime]]:
        """Touches and touch time per local day for the last ``days`` days, oldest first
        (the days of ``per_day``)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        first = today - timedelta(days=days - 1)
        spans = {first + timedelta(days=i): TouchTime() for i in range(days)}
        for t, duration in self._timed(_local_midnight(first), _local_midnight(today + timedelta(days=1))):
            d = datetime.fromtimestamp(t).date()
            if d in spans:
                spans[d] = spans[d].add(duration)
        return sorted(spans.items())

    def time_per_hour_of_day(self, days: int = 7, now: float | None = None) -> list[TouchTime]:
        """Touches and touch time per hour of the day (0..23) over the last ``days`` days,
        each episode in the hour it started."""
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        first = today - timedelta(days=days - 1)
        hours = [TouchTime()] * HOURS_PER_DAY
        for t, duration in self._timed(_local_midnight(first), _local_midnight(today + timedelta(days=1))):
            hour = datetime.fromtimestamp(t).hour
            hours[hour] = hours[hour].add(duration)
        return hours

    def time_per_zone(self, days: int = 7, now: float | None = None) -> dict[str, TouchTime]:
        """Touches and touch time per face zone over the last ``days`` days, the most
        touched first; episodes without a zone under ``UNKNOWN_ZONE``."""
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        first = today - timedelta(days=days - 1)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._zone}, duration_s FROM episodes WHERE start_wall >= ? AND start_wall < ?",
                (_local_midnight(first), _local_midnight(today + timedelta(days=1)))).fetchall()
        zones: dict[str, TouchTime] = {}
        for zone, duration in rows:
            name = zone or UNKNOWN_ZONE
            zones[name] = zones.get(name, TouchTime()).add(duration)
        return dict(sorted(zones.items(), key=lambda item: (-item[1].touches, item[0] == UNKNOWN_ZONE, item[0])))

    def per_hour(self, day: date | None = None) -> list[int]:
        """Touches in each local hour (0..23) of ``day`` (default today)."""
        day = datetime.now().date() if day is None else day
        hours = [0] * HOURS_PER_DAY
        for t in self._starts(_local_midnight(day), _local_midnight(day + timedelta(days=1))):
            hours[datetime.fromtimestamp(t).hour] += 1
        return hours

    def hour_of_day(self, days: int = 7, now: float | None = None) -> list[int]:
        """Touches per hour of the day (0..23), summed over the last ``days`` days."""
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        first = today - timedelta(days=days - 1)
        hours = [0] * HOURS_PER_DAY
        for t in self._starts(_local_midnight(first), _local_midnight(today + timedelta(days=1))):
            hours[datetime.fromtimestamp(t).hour] += 1
        return hours

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TouchStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _private_file(path: Path) -> None:
    """Create ``path`` empty with ``HISTORY_FILE_MODE`` before SQLite opens it (SQLite
    would create it 0644 less the umask), or tighten an existing history's mode."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, HISTORY_FILE_MODE)
    except FileExistsError:
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            try:
                if name.stat().st_mode & 0o077:
                    os.chmod(name, HISTORY_FILE_MODE)
            except OSError:  # absent, or not ours: SQLite says what is wrong when it opens it
                pass
        return
    os.close(fd)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database from an older version up to ``SCHEMA_VERSION`` (version 1 had
    no zone: its episodes keep NULL, zone unknown)."""
    if "zone" not in _columns(conn):
        try:
            conn.execute("ALTER TABLE episodes ADD COLUMN zone TEXT")
        except sqlite3.OperationalError as exc:  # another process added it just now
            if "duplicate column" not in str(exc):
                raise
        else:
            log.info("face-touch history: added the zone column (older episodes: zone unknown)")


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(episodes)")}


def _zone_name(zone: Enum | str | None) -> str | None:
    """``FaceZone.EYES`` or ``"eyes"`` -> ``"eyes"``; None stays None (unknown)."""
    if zone is None:
        return None
    return str(zone.value) if isinstance(zone, Enum) else str(zone)


def _hand_name(hand: Enum | str | None) -> str:
    """``Handedness.LEFT`` or ``"left"`` -> ``"left"``; None -> ``"unknown"``."""
    if hand is None:
        return "unknown"
    return str(hand.value) if isinstance(hand, Enum) else str(hand)

