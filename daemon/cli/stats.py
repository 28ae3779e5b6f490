"""``handmap stats``: face touches per day, per hour and per face zone from the history
store, with how long they lasted (total and mean touch time), as tables on stdout and,
with ``--plot FILE.png``, as a chart (matplotlib, Agg).

Today's count is the one ``handmap status``, the tray and the notification give: the
history's, plus the touches a running daemon that keeps no history has counted today
(asked over its control socket; only for the default history, not ``--db``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from handmap.daemon.history.store import HOURS_PER_DAY, UNKNOWN_ZONE, TouchStore, TouchTime, default_history_path

log = logging.getLogger(__name__)

DEFAULT_DAYS = 7
BAR_WIDTH = 40
BAR_CHAR = "#"
PLOT_SIZE_IN = (10.0, 7.0)
PLOT_DPI = 100
DAY_COLOUR, HOUR_COLOUR, ZONE_COLOUR = "#d9534f", "#5b8bd9", "#5cb85c"
#: How long ``stats`` waits for a running daemon's count of unrecorded touches.
DAEMON_TIMEOUT_S = 1.0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("stats", help="face touches per day, per hour and per face zone",
                              description="Show face touches per day, per hour of the day and per face zone.")
    p.add_argument("--plot", metavar="FILE.png", type=Path, help="also draw the counts into this PNG file")
    p.add_argument("--days", metavar="N", type=_positive_int, default=DEFAULT_DAYS,
                   help=f"how many days back, today included (default {DEFAULT_DAYS})")
    p.add_argument("--db", metavar="FILE", type=Path, default=None,
                   help="history database (default $XDG_DATA_HOME/handmap/history.sqlite3)")
    p.set_defaults(func=run)
    return p


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _bar(n: int, most: int) -> str:
    if n == 0 or most == 0:
        return ""
    return BAR_CHAR * max(1, round(BAR_WIDTH * n / most))


def duration(seconds: float | None) -> str:
    """A touch time as people read it, one word: ``-``, ``2.4s``, ``3m05s``, ``1h02m``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_tables(per_day: list[tuple[date, TouchTime]], per_hour: list[TouchTime], today_hours: list[int],
                  per_zone: dict[str, TouchTime] | None = None, unrecorded: int = 0) -> str:
    """The day table (touches, total and mean touch time), the hour-of-day table
    (touches, today's in brackets, total touch time) and the zone table (touches, share,
    total and mean touch time). The count stays the first number on each line, as
    scripts read it. ``unrecorded``: today's touches a running daemon counted without
    keeping them (in today's row and the total, in no other table)."""
    if unrecorded and per_day:
        day, today = per_day[-1]
        per_day = [*per_day[:-1], (day, TouchTime(today.touches + unrecorded, today.timed, today.total_s))]
    lines = [f"Face touches per day (last {len(per_day)} days)",
             f"  {'':13s}{'touches':>7s}  {'time':>7s}  {'mean':>6s}"]
    most = max((t.touches for _, t in per_day), default=0)
    for d, t in per_day:
        lines.append(f"  {d.isoformat()} {d.strftime('%a')}  {t.touches:5d}  {duration(t.total_s if t.timed else None):>7s}"
                     f"  {duration(t.mean_s):>6s}  {_bar(t.touches, most)}")
    total = sum(t.touches for _, t in per_day)
    timed = sum(t.timed for _, t in per_day)
    total_s = sum(t.total_s for _, t in per_day)
    lines.append(f"  {'total':15s}{total:5d}  {duration(total_s if timed else None):>7s}"
                 f"  {duration(total_s / timed if timed else None):>6s}"
                 f"  (average {total / max(1, len(per_day)):.1f} a day)")
    if unrecorded:
        lines.append(f"  (today: {unrecorded} counted by the running daemon, which keeps no history:"
                     " in no other table)")
    lines.append("")
    lines.append(f"Face touches per hour of the day (last {len(per_day)} days; today in brackets)")
    lines.append(f"  {'':9s}{'touches':>9s} {'today':>6s}  {'time':>7s}")
    most = max((t.touches for t in per_hour), default=0)
    for hour in range(HOURS_PER_DAY):
        t = per_hour[hour]
        lines.append(f"  {hour:02d}:00-{hour:02d}:59  {t.touches:5d}  ({today_hours[hour]:3d})"
                     f"  {duration(t.total_s if t.timed else None):>7s}  {_bar(t.touches, most)}")
    if per_zone is not None:
        lines.append("")
        lines.extend(_zone_table(per_zone, len(per_day)))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _zone_table(per_zone: dict[str, TouchTime], days: int) -> list[str]:
    lines = [f"Face touches per zone (last {days} days)",
             f"  {'':10s}{'touches':>7s}  {'share':>5s}  {'time':>7s}  {'mean':>6s}"]
    total = sum(t.touches for t in per_zone.values())
    most = max((t.touches for t in per_zone.values()), default=0)
    for zone, t in per_zone.items():
        lines.append(f"  {zone:10s}{t.touches:7d}  {t.touches / total:5.0%}  {duration(t.total_s if t.timed else None):>7s}"
                     f"  {duration(t.mean_s):>6s}  {_bar(t.touches, most)}")
    if not per_zone:
        lines.append("  (no touches)")
    elif UNKNOWN_ZONE in per_zone:
        lines.append(f"  ({UNKNOWN_ZONE}: recorded before zones, or no face landmarks at the time)")
    return lines


def plot(path: Path, per_day: list[tuple[date, int]], per_hour: list[int], per_zone: dict[str, int] | None = None) -> None:
    """Per-day bars above a per-hour histogram and, beside it, touches per face zone,
    written as PNG. Uses matplotlib's object API with the Agg canvas: no pyplot state,
    no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=PLOT_SIZE_IN, dpi=PLOT_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 3)
    ax_day = fig.add_subplot(grid[0, :])
    ax_hour = fig.add_subplot(grid[1, :2])
    ax_zone = fig.add_subplot(grid[1, 2])
    labels = [d.strftime("%a\n%d %b") for d, _ in per_day]
    counts = [n for _, n in per_day]
    bars = ax_day.bar(range(len(counts)), counts, color=DAY_COLOUR)
    ax_day.bar_label(bars, padding=2)
    ax_day.set_xticks(range(len(counts)), labels, fontsize=8 if len(counts) > 14 else 10)
    ax_day.set_ylabel("face touches")
    ax_day.set_title(f"Face touches per day (last {len(counts)} days)")
    ax_day.set_ylim(0, max(counts + [1]) * 1.15)
    ax_hour.bar(range(HOURS_PER_DAY), per_hour, width=0.9, color=HOUR_COLOUR)
    ax_hour.set_xticks(range(0, HOURS_PER_DAY, 3), [f"{h:02d}h" for h in range(0, HOURS_PER_DAY, 3)])
    ax_hour.set_xlim(-0.6, HOURS_PER_DAY - 0.4)
    ax_hour.set_ylim(0, max(per_hour + [1]) * 1.15)
    ax_hour.set_xlabel("hour of the day")
    ax_hour.set_ylabel("face touches")
    ax_hour.set_title("Per hour of the day (same days)")
    zones = per_zone or {}
    names = list(zones)[::-1]  # the most touched on top
    bars = ax_zone.barh(range(len(names)), [zones[n] for n in names], color=ZONE_COLOUR)
    ax_zone.bar_label(bars, padding=2)
    ax_zone.set_yticks(range(len(names)), names)
    ax_zone.set_xlim(0, max(list(zones.values()) + [1]) * 1.2)
    ax_zone.set_xlabel("face touches")
    ax_zone.set_title("Per face zone (same days)")
    ax_zone.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_zone.grid(axis="x", alpha=0.3)
    for ax in (ax_day, ax_hour):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
    fig.savefig(path, format="png")


def unrecorded_today() -> int:
    """Today's touches a running daemon counted but keeps in no history (0 when none
    runs, or it does not answer within ``DAEMON_TIMEOUT_S``)."""
    from handmap.daemon.control import ControlClient, ControlError, NotRunningError, StatusRequest

    try:
        with ControlClient(timeout=DAEMON_TIMEOUT_S) as client:
            answer = client.request(StatusRequest())
    except (NotRunningError, ControlError):
        return 0
    status = answer.get("status", answer)
    value = status.get("face_touches_unrecorded", 0) if isinstance(status, dict) else 0
    return value if isinstance(value, int) and value > 0 else 0


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        print(f"handmap stats: --plot writes PNG; name the file with .png (got {args.plot}).", file=sys.stderr)
        return 2
    if args.plot is not None and not args.plot.parent.is_dir():
        print(f"handmap stats: cannot write {args.plot}: the folder {args.plot.parent} does not exist.", file=sys.stderr)
        return 1
    db = args.db if args.db is not None else default_history_path()
    unrecorded = unrecorded_today() if args.db is None else 0
    zones: dict[str, TouchTime] = {}
    if not db.exists():
        times = _empty_days(args.days)
        hour_times = [TouchTime()] * HOURS_PER_DAY
        if unrecorded:
            out.write(format_tables(times, hour_times, [0] * HOURS_PER_DAY, zones, unrecorded))
        else:
            out.write(f"No face touches recorded yet ({db} does not exist).\n")
        if args.plot is None:
            return 0
    else:
        try:
            with TouchStore(db, create=False) as store:
                times = store.time_per_day(args.days)
                hour_times = store.time_per_hour_of_day(args.days)
                today_hours = store.per_hour()
                zones = store.time_per_zone(args.days)
        except Exception as exc:  # sqlite3.DatabaseError, permissions...
            print(f"handmap stats: cannot read {db}: {exc}. Check the file or pass --db.", file=sys.stderr)
            return 1
        out.write(format_tables(times, hour_times, today_hours, zones, unrecorded))
    if args.plot is not None:
        try:
            days = [(d, t.touches) for d, t in times]
            if unrecorded:
                days[-1] = (days[-1][0], days[-1][1] + unrecorded)
            plot(args.plot, days, [t.touches for t in hour_times], {zone: t.touches for zone, t in zones.items()})
        except OSError as exc:
            print(f"handmap stats: cannot write {args.plot}: {exc}.", file=sys.stderr)
            return 1
        out.write(f"Chart written to {args.plot}\n")
    return 0


def _empty_days(days: int) -> list[tuple[date, TouchTime]]:
    today = datetime.now().date()
    return [(today - timedelta(days=days - 1 - i), TouchTime()) for i in range(days)]
