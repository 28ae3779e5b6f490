"""Landmark traces as files: ``--record TRACE.jsonl`` writes one, and a trace is a valid
``--source`` (poses, pointer and face touch replay without video). The line format is
``handmap.gestures.trace``'s; this module only reads and writes files."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import BinaryIO

from handmap.daemon.capture.frames import Frame, Pacer, SourceError
from handmap.gestures.trace import (
    MAX_LINE_CHARS,
    TraceError,
    decode_header,
    decode_line,
    encode_header,
    encode_observation,
    is_header,
)
from handmap.gestures.types import FrameObservation

log = logging.getLogger(__name__)

#: File names read as traces by ``--source``.
TRACE_SUFFIXES = (".jsonl", ".trace")
#: A line longer than this (bytes) is skipped unread: at most this much is held in memory.
MAX_LINE_BYTES = 4 * MAX_LINE_CHARS
#: Damaged lines logged one by one; after that they are only counted (a summary at the end).
MAX_WARNINGS = 10
#: With ``--realtime``, a jump in the trace's clock larger than this (or backwards) is
#: not waited out: playback continues at once from the new time.
MAX_PACED_GAP_S = 5.0


class TraceSource:
    """Plays a trace file; damaged lines are skipped with a warning (one frame lost,
    not the replay); a file that does not start with a trace header is refused."""

    live = False
    #: A trace has no cheaper way past a line than reading it: it does not idle.
    can_skip = False

    def __init__(self, path: Path, realtime: bool = False) -> None:
        self.name = str(path)
        self.realtime = realtime
        self.idle = False  # nothing to convert: observations are read as they are
        try:
            self._file: BinaryIO = open(path, "rb")
        except OSError as exc:
            raise SourceError(f"cannot open trace {path}: {exc.strerror or exc}") from None
        self._line = 0
        self._pacer = Pacer(realtime)
        self._skipped = 0
        self._summarised = False
        self._last_t: float | None = None
        self._shift = 0.0  # clock jumps taken out of pacing
        try:
            first = self._next_line()
            if first is None or not is_header(first):
                raise TraceError("trace line 1: not a handmap trace header")
            decode_header(first, 1)
        except (TraceError, OSError) as exc:
            self._file.close()
            raise SourceError(f"{path} is not a handmap trace: {exc}") from None

    def _next_line(self) -> str | None:
        """The next line as text; raises :class:`TraceError` for an unreadable one
        (too long, not UTF-8), which has then been consumed."""
        raw = self._file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return None
        self._line += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while True:  # skip the rest of the line without holding it
                rest = self._file.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            raise TraceError(f"trace line {self._line}: longer than {MAX_LINE_BYTES} bytes")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceError(f"trace line {self._line}: not UTF-8 text (byte {exc.start + 1})") from None

    def _skip(self, exc: Exception) -> None:
        self._skipped += 1
        if self._skipped <= MAX_WARNINGS:
            log.warning("%s: %s (skipped)", self.name, exc)
        if self._skipped == MAX_WARNINGS:
            log.warning("%s: further damaged lines are skipped without a warning each", self.name)

    @property
    def dropped(self) -> int:
        return 0

    @property
    def skipped_lines(self) -> int:
        return self._skipped

    def read(self) -> Frame | None:
        while True:
            try:
                line = self._next_line()
                if line is None:
                    if self._skipped > MAX_WARNINGS and not self._summarised:
                        self._summarised = True
                        log.warning("%s: %d damaged lines skipped in all", self.name, self._skipped)
                    return None
                if not line.strip():
                    continue
                obs = decode_line(line, self._line)
            except TraceError as exc:
                # A damaged line loses one frame, not the replay.
                self._skip(exc)
                continue
            except OSError as exc:
                raise SourceError(f"{self.name}: cannot read trace line {self._line + 1}: {exc.strerror or exc}") from None
            if self._last_t is not None:
                gap = obs.t - self._last_t
                if gap < 0 or gap > MAX_PACED_GAP_S:
                    self._shift += gap
            self._last_t = obs.t
            self._pacer.wait(obs.t - self._shift)
            return Frame(t=obs.t, index=obs.frame, observation=obs, available_at=time.perf_counter())

    def skip(self) -> bool:
        """Read the next observation and let it go (no cheaper way: ``can_skip``)."""
        return self.read() is not None

    def close(self) -> None:
        self._file.close()


class TraceRecorder:
    """Writes the observation stream as a trace (only when the user asks: ``--record``)."""

    def __init__(self, path: Path, **header) -> None:
        try:
            self._file = open(path, "w", encoding="utf-8")
        except OSError as exc:
            raise SourceError(f"cannot write the trace {path}: {exc.strerror or exc}") from None
        self._file.write(encode_header(**header) + "\n")

    def write(self, obs: FrameObservation) -> None:
        self._file.write(encode_observation(obs) + "\n")

    def close(self) -> None:
        self._file.close()
