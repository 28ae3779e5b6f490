"""Hot reload: notice edited profiles and config.yaml, validate them, apply good ones.

Stage: around the daemon loop. ``ReloadMonitor.poll()`` (called by the loop each frame,
cheap, rate-limited to ``interval_s``) returns the files whose content changed and has
settled; ``HotReloader`` validates those files and hands only the good ones to the
daemon, logging each problem of a broken one as ``file:line:column: message`` while the
last good version stays active. ``FileWatcher`` runs a monitor on its own thread for
callers without a loop.

Why polling rather than inotify/watchdog: a few small files, stat()ed four times a
second, cost nothing measurable; polling behaves the same on Linux, macOS and Windows and
on any filesystem (NFS and bind-mounted homes included), survives editors that replace a
file (write a temporary file, then rename over it: an inotify watch on the file itself
is lost), and sees a folder that does not exist yet being created. A change is reported
once its file has stopped changing for ``settle_s`` (one quiet poll), so a burst of
writes or a truncate-then-write is reported once, after it is complete. Changes that end
with the same content as before (``touch``, delete-and-recreate with the same text) are
not reported.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handmap.mappings.yamlpos import SourceError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25  # 4 Hz: a change applies within ~0.5 s, well inside the 1 s promise
SETTLE_S = 0.2  # a file must be quiet this long before it is reported
MAX_DEFER_S = 2.0  # a file that never stops changing is reported anyway after this long
DEFAULT_PATTERNS = ("*.yaml", "*.yml")
_LOCATED = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): ?(?P<message>.*)$", re.S)


@dataclass(frozen=True)
class FileState:
    """What a poll sees of one file: ``exists`` and, if so, its identity and content hash."""

    exists: bool
    inode: int = 0
    size: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    digest: str = ""

    @property
    def content(self) -> tuple[bool, str]:
        """What a reload cares about: presence and content."""
        return self.exists, self.digest


_MISSING = FileState(False)


def _stat(path: Path, previous: FileState | None) -> FileState:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return _MISSING
    except OSError as exc:
        log.debug("cannot stat %s: %s", path, exc)
        return previous or _MISSING
    state = FileState(True, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if previous is not None and previous.exists and (previous.inode, previous.size, previous.mtime_ns,
                                                     previous.ctime_ns) == (state.inode, state.size,
                                                                            state.mtime_ns, state.ctime_ns):
        return previous  # unchanged: keep the hash, do not read the file
    try:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:  # e.g. a directory matching the pattern, or no permission
        log.debug("cannot read %s: %s", path, exc)
        digest = f"unreadable:{st.st_mtime_ns}:{st.st_size}"
    return FileState(True, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)


class ReloadMonitor:
    """Watches files and folders by polling; ``poll()`` returns settled changes.

    ``paths``: files (watched even while they do not exist, e.g. a user config.yaml not
    written yet) and folders (the files directly inside matching ``patterns``; created,
    edited, replaced and deleted files are all reported). The state at construction is the
    baseline and is not reported. Not thread-safe: one caller polls (the daemon loop or a
    ``FileWatcher``).
    """

    def __init__(self, paths: Iterable[os.PathLike | str], patterns: Sequence[str] = DEFAULT_PATTERNS,
                 interval_s: float = POLL_INTERVAL_S, settle_s: float = SETTLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.patterns = tuple(patterns)
        self.interval_s = interval_s
        self.settle_s = settle_s
        self._clock = clock
        self._seen: dict[Path, FileState] = {}
        self._reported: dict[Path, tuple[bool, str]] = {}
        self._first_change: dict[Path, float] = {}
        self._last_change: dict[Path, float] = {}
        self._next_scan = 0.0
        self._scan_into(self._seen)
        self._reported = {p: s.content for p, s in self._seen.items()}

    def _candidates(self) -> set[Path]:
        found: set[Path] = set()
        for path in self.paths:
            if path.is_dir():
                try:
                    names = [entry.name for entry in os.scandir(path) if not entry.is_dir()]
                except OSError as exc:
                    log.debug("cannot list %s: %s", path, exc)
                    names = []
                found.update(path / name for name in names
                             if not name.startswith(".") and any(fnmatch.fnmatch(name, pat) for pat in self.patterns))
            elif path.suffix:  # a file, present or not (a missing path without a suffix is a folder to come)
                found.add(path)
        return found

    def _scan_into(self, states: dict[Path, FileState]) -> None:
        for path in self._candidates() | set(states):
            states[path] = _stat(path, states.get(path))

    def watched(self) -> tuple[Path, ...]:
        """Every file currently known (present or watched while absent)."""
        return tuple(sorted(self._seen))

    def poll(self, force: bool = False) -> set[Path]:
        """Files whose content changed (created, edited, replaced, deleted) and then
        stayed quiet for ``settle_s``; an empty set between scans (``force`` scans now)."""
        now = self._clock()
        if not force and now < self._next_scan:
            return set()
        self._next_scan = now + self.interval_s
        previous = dict(self._seen)
        self._scan_into(self._seen)
        for path, state in self._seen.items():
            if previous.get(path) != state:
                self._last_change[path] = now
                self._first_change.setdefault(path, now)
        ready: set[Path] = set()
        for path in list(self._last_change):
            quiet = now - self._last_change[path] >= self.settle_s
            overdue = now - self._first_change[path] >= MAX_DEFER_S
            if not (quiet or overdue):
                continue
            del self._last_change[path]
            del self._first_change[path]
            content = self._seen[path].content
            if content != self._reported.get(path, (False, "")):
                self._reported[path] = content
                ready.add(path)
        for path in [p for p, s in self._seen.items() if not s.exists and p not in self._last_change
                     and p not in self.paths]:
            del self._seen[path]  # a deleted file in a watched folder: forget it once reported
            self._reported.pop(path, None)
        return ready


class FileWatcher:
    """Runs a ``ReloadMonitor`` on a thread and calls ``on_change(paths)`` there."""

    def __init__(self, paths: Iterable[os.PathLike | str], on_change: Callable[[set[Path]], None],
                 patterns: Sequence[str] = DEFAULT_PATTERNS, interval_s: float = POLL_INTERVAL_S,
                 settle_s: float = SETTLE_S) -> None:
        self.monitor = ReloadMonitor(paths, patterns, interval_s, settle_s)
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="handmap-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.monitor.interval_s):
            try:
                changed = self.monitor.poll(force=True)
                if changed:
                    self._on_change(changed)
            except Exception:
                log.exception("file watcher callback failed")


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, for the log, ``status`` and ``doctor``."""

    path: Path
    message: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    @classmethod
    def from_error(cls, error: SourceError | BaseException, path: Path) -> Problem:
        """From a loader's error (``SourceError``: file, line, column, message), a YAML
        error (its ``problem_mark``, 0-based) or an exception whose text starts
        ``FILE:LINE:COLUMN:`` (``ConfigError``)."""
        if isinstance(error, SourceError):
            text = error.message
            located = _LOCATED.match(text)
            if located and located["line"] == str(error.line):
                text = located["message"]  # the message already carries the location
            return cls(Path(error.file) if error.file else path, text, error.line, error.column)
        if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
            mark = error.problem_mark
            return cls(path, f"not valid YAML: {error.problem or error}", mark.line + 1, mark.column + 1)
        text = str(error)
        located = _LOCATED.match(text)
        if located:
            return cls(Path(located["path"]), located["message"], int(located["line"]), int(located["column"]))
        return cls(path, text or type(error).__name__)


Validator = Callable[[Path], Any]


def yaml_problems(path: Path) -> list[Problem]:
    """A syntax-only validator: the file parses as YAML (a fallback for other files)."""
    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return [Problem.from_error(exc, Path(path))]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(Path(path), f"cannot read the file: {exc}")]
    return []


@dataclass(frozen=True)
class ReloadResult:
    """One round of reloads: files applied (valid, or deleted) and files kept at their
    last good version, with their problems."""

    applied: frozenset[Path] = frozenset()
    rejected: Mapping[Path, tuple[Problem, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.applied or self.rejected)


class HotReloader:
    """Validates changed files and applies the good ones.

    ``validate(path)`` returns a list of problems (a loader's errors, exceptions, or
    ``Problem``; anything that is not a list or tuple, e.g. the loaded config, means
    fine) or raises, which counts as one problem: ``ProfileStore.validate_file`` and
    ``load_config`` both fit. It is not called for deleted files,
    which are passed to ``apply`` (the daemon falls back to the bundled profile or the
    packaged config). ``apply(paths)`` gets only the files that validated; the daemon
    re-reads exactly those and keeps its objects for the rest, so a broken edit leaves
    the last good version active. ``problems`` lists files broken right now.
    """

    def __init__(self, monitor: ReloadMonitor, validate: Validator,
                 apply: Callable[[frozenset[Path]], None]) -> None:
        self.monitor = monitor
        self._validate = validate
        self._apply = apply
        self._lock = threading.Lock()
        self._problems: dict[Path, tuple[Problem, ...]] = {}

    @property
    def problems(self) -> dict[Path, tuple[Problem, ...]]:
        with self._lock:
            return dict(self._problems)

    def poll(self, force: bool = False) -> ReloadResult:
        changed = self.monitor.poll(force=force)
        return self.process(changed) if changed else ReloadResult()

    def process(self, changed: Iterable[Path]) -> ReloadResult:
        good: set[Path] = set()
        rejected: dict[Path, tuple[Problem, ...]] = {}
        for path in sorted(changed):
            if not path.exists():
                good.add(path)
                continue
            try:
                found = self._validate(path)
                found = found if isinstance(found, (list, tuple)) else ()  # a loaded object: fine
                problems = tuple(e if isinstance(e, Problem) else Problem.from_error(e, path) for e in found)
            except Exception as exc:  # a validator that raises: the file is broken
                problems = (Problem.from_error(exc, path),)
            if problems:
                rejected[path] = problems
            else:
                good.add(path)
        with self._lock:
            for path in good:
                self._problems.pop(path, None)
            self._problems.update(rejected)
        for problems in rejected.values():
            for problem in problems:
                log.error("%s (keeping the last good version)", problem)
        applied = frozenset(good)
        if applied:
            try:
                self._apply(applied)
            except Exception:
                log.exception("applying the reloaded files failed; keeping the last good version")
                applied = frozenset()
            else:
                for path in sorted(applied):
                    log.info("reloaded %s", path)
        return ReloadResult(applied, rejected)


__all__: Sequence[str] = ("ReloadMonitor", "FileWatcher", "FileState", "Problem", "ReloadResult",
                          "HotReloader", "yaml_problems", "POLL_INTERVAL_S", "SETTLE_S")


class BackgroundBuild:
    """Slow work a reload needs (training taught poses: up to seconds) done off the
    daemon loop, one build at a time and in the order asked: ``submit(build, deliver)``
    returns at once; the worker thread runs ``build()`` and passes its result to
    ``deliver`` (which must be thread-safe: the daemon queues it for its loop). A build
    that raises is logged and delivers nothing, so the last good result stays."""

    def __init__(self, name: str = "handmap-reload-build") -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, build: Callable[[], Any], deliver: Callable[[Any], None], what: str = "reload") -> None:
        def run() -> None:
            try:
                result = build()
            except Exception:
                log.exception("building the %s failed; keeping the last good one", what)
                return
            deliver(result)

        try:
            self._pool.submit(run)
        except RuntimeError:  # shut down: the daemon is stopping
            log.debug("not building the %s: stopping", what)

    def close(self) -> None:
        """Drop builds not started; the one running finishes on its own (not waited for)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
