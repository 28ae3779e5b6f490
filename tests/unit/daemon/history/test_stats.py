"""`handmap stats` (daemon/cli/stats.py): tables of touches per day and per hour from a
real history database, and the --plot PNG."""

from __future__ import annotations

import argparse
import io
import random
import re
from datetime import datetime, timedelta

import pytest
from PIL import Image

from handmap.daemon.cli import stats
from handmap.daemon.history.store import TouchStore


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="handmap")
    stats.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["stats", *argv])


def _at(day_offset: int, hour: int, minute: int = 0) -> float:
    d = datetime.now().date() + timedelta(days=day_offset)
    return datetime(d.year, d.month, d.day, hour, minute).timestamp()


@pytest.fixture()
def history(tmp_path):
    """A week of touches: more in the afternoon, none three days ago."""
    db = tmp_path / "history.sqlite3"
    rng = random.Random(7)
    with TouchStore(db) as store:
        for day in range(-6, 1):
            if day == -3:
                continue
            for _ in range(5 + 2 * (day + 6)):
                hour = rng.choice([9, 10, 14, 15, 15, 16, 16, 16, 21])
                eid = store.start_episode(rng.choice(["left", "right"]), _at(day, hour, rng.randrange(60)))
                store.end_episode(eid, _at(day, hour, 0) + 3600)
        store.start_episode("left", _at(0, 8, 30))  # today, still open (daemon killed mid-touch)
    return db


def test_tables(history):
    out = io.StringIO()
    args = _parse("--db", str(history), "--days", "7")
    assert args.func is stats.run
    assert stats.run(args, out) == 0
    text = out.getvalue()
    day_lines = [row for row in text.splitlines() if re.match(r"  \d{4}-\d\d-\d\d ", row)]
    assert len(day_lines) == 7
    today = datetime.now().date()
    assert day_lines[-1].split()[0] == today.isoformat()
    assert int(day_lines[-1].split()[2]) == 5 + 2 * 6 + 1  # the open episode counts too
    assert int(day_lines[3].split()[2]) == 0  # three days ago: none
    with TouchStore(history) as store:
        expected_total = sum(n for _, n in store.per_day(7))
    assert f"total{expected_total:>15d}".replace(" ", "") in text.replace(" ", "")
    hour_lines = [row for row in text.splitlines() if row.strip()[:2].isdigit() and ":00-" in row]
    assert len(hour_lines) == 24
    assert int(hour_lines[8].split()[1]) == 1  # 08h: only the open episode
    assert int(hour_lines[16].split()[1]) > int(hour_lines[9].split()[1])  # afternoon peak


def test_plot_png(history, tmp_path):
    png = tmp_path / "touches.png"
    out = io.StringIO()
    assert stats.run(_parse("--db", str(history), "--plot", str(png)), out) == 0
    assert png.stat().st_size > 10_000
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1000, 700)
        colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
    # Not a blank canvas: the red day bars and the blue hour bars are drawn.
    assert colours is not None and len(colours) > 20
    by_colour = {c: n for n, c in colours}
    assert by_colour.get((0xD9, 0x53, 0x4F), 0) > 2000
    assert by_colour.get((0x5B, 0x8B, 0xD9), 0) > 2000


def test_no_history_yet(tmp_path):
    out = io.StringIO()
    assert stats.run(_parse("--db", str(tmp_path / "none.sqlite3")), out) == 0
    assert "No face touches recorded yet" in out.getvalue()
    assert not (tmp_path / "none.sqlite3").exists()


def test_bad_arguments(history, tmp_path, capsys):
    assert stats.run(_parse("--db", str(history), "--plot", str(tmp_path / "x.jpg")), io.StringIO()) == 2
    assert "PNG" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse("--days", "0")
    bad = tmp_path / "garbage.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    assert stats.run(_parse("--db", str(bad)), io.StringIO()) == 1
    assert "cannot read" in capsys.readouterr().err


def test_tables_show_touch_time_per_day_and_hour(tmp_path):
    """Durations the store keeps are shown: total and mean touch time a day, total per
    hour of the day; an episode with no end counts as a touch but adds no time."""
    db = tmp_path / "history.sqlite3"
    with TouchStore(db) as store:
        for start, seconds in ((_at(0, 9, 0), 2.0), (_at(0, 9, 30), 4.0), (_at(-1, 15, 0), 90.0)):
            store.end_episode(store.start_episode("left", start), start + seconds)
        store.start_episode("right", _at(0, 10, 0))  # never ended
    out = io.StringIO()
    assert stats.run(_parse("--db", str(db), "--days", "2"), out) == 0
    rows = {row.split()[0]: row.split() for row in out.getvalue().splitlines() if row.strip()}
    today, yesterday = datetime.now().date(), datetime.now().date() - timedelta(days=1)
    assert rows[today.isoformat()][2:5] == ["3", "6.0s", "3.0s"]  # 3 touches, 6 s in all, 3 s each
    assert rows[yesterday.isoformat()][2:5] == ["1", "1m30s", "1m30s"]
    assert rows["total"][1:4] == ["4", "1m36s", "32.0s"]
    assert rows["09:00-09:59"][1] == "2" and rows["09:00-09:59"][4] == "6.0s"
    assert rows["10:00-10:59"][1] == "1" and rows["10:00-10:59"][4] == "-"  # no end, no time
    assert rows["15:00-15:59"][4] == "1m30s"


def test_plot_into_a_missing_folder_is_a_one_line_error(history, tmp_path):
    from cli import handmap

    missing = tmp_path / "no" / "such" / "folder"
    done = handmap("stats", "--db", str(history), "--plot", str(missing / "touches.png"), timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"handmap stats: cannot write {missing / 'touches.png'}: the folder {missing} does not exist."]
    assert not (tmp_path / "no").exists()  # nothing created behind the user's back


def _zoned_history(db):
    """Today: three at the chin (2 s each), two at the eyes (1 s), one from before zones."""
    with TouchStore(db) as store:
        for i, (zone, seconds) in enumerate([("chin", 2.0)] * 3 + [("eyes", 1.0)] * 2 + [(None, 3.0)]):
            start = _at(0, 0, i)
            store.end_episode(store.start_episode("left", start), start + seconds, zone)


def test_zone_table(tmp_path):
    db = tmp_path / "history.sqlite3"
    _zoned_history(db)
    out = io.StringIO()
    assert stats.run(_parse("--db", str(db), "--days", "1"), out) == 0
    text = out.getvalue()
    zone_part = text[text.index("Face touches per zone"):].splitlines()
    rows = [row.split() for row in zone_part[2:] if row.strip() and not row.strip().startswith("(")]
    assert [row[:5] for row in rows] == [["chin", "3", "50%", "6.0s", "2.0s"], ["eyes", "2", "33%", "2.0s", "1.0s"],
                                         ["unknown", "1", "17%", "3.0s", "3.0s"]]


def test_plot_draws_the_zones(tmp_path):
    db = tmp_path / "history.sqlite3"
    _zoned_history(db)
    png = tmp_path / "touches.png"
    assert stats.run(_parse("--db", str(db), "--plot", str(png)), io.StringIO()) == 0
    with Image.open(png) as img:
        colours = {c: n for n, c in img.convert("RGB").getcolors(maxcolors=1 << 16)}
    assert colours.get((0x5C, 0xB8, 0x5C), 0) > 2000  # the green zone bars


def test_today_adds_a_running_daemons_unrecorded_touches(tmp_path):
    """What ``status`` calls face_touches_unrecorded goes into today's row and the total
    (the daemon side is in tests/integration/test_e2e_count.py)."""
    per_day = [(datetime.now().date() - timedelta(days=1), stats.TouchTime(2, 2, 4.0)),
               (datetime.now().date(), stats.TouchTime(3, 3, 3.0))]
    text = stats.format_tables(per_day, [stats.TouchTime()] * 24, [0] * 24, {}, unrecorded=2)
    rows = {row.split()[0]: row.split() for row in text.splitlines() if row.strip()}
    assert rows[datetime.now().date().isoformat()][2] == "5"
    assert rows["total"][1] == "7"
    assert "2 counted by the running daemon" in text
