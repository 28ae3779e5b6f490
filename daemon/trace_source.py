"""Landmark traces as files: ``--record TRACE.jsonl`` writes one, and a trace is a valid
``--source`` (poses, pointer and face touch replay without video). The line format is
``handmap.gestures.trace``'s; this module only reads and writes files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, TextIO

from handmap.gestures.trace import TraceError, decode_header, decode_line, encode_header, encode_observation, is_header
from handmap.gestures.types import FrameObservation

from .sources import Frame, SourceError, _Pacer


class TraceSource:
    live = False

    def __init__(self, path: Path, realtime: bool = False) -> None:
        self.name = str(path)
        try:
            self._file: TextIO = open(path, encoding="utf-8")
        except OSError as exc:
            raise SourceError(f"cannot open trace {path}: {exc.strerror or exc}") from None
        self._line = 0
        self._pacer = _Pacer(realtime)
        self._skipped = 0
        first = self._next_line()
        try:
            if first is None or not is_header(first):
                raise TraceError("trace line 1: not a handmap trace header")
            decode_header(first, 1)
        except TraceError as exc:
            self._file.close()
            raise SourceError(f"{path} is not a handmap trace: {exc}") from None

    def _next_line(self) -> Optional[str]:
        try:
            line = self._file.readline()
        except UnicodeDecodeError:
            raise SourceError(f"{self.name}: trace line {self._line + 1} is not UTF-8 text") from None
        if not line:
            return None
        self._line += 1
        return line

    @property
    def dropped(self) -> int:
        return 0

    @property
    def skipped_lines(self) -> int:
        return self._skipped

    def read(self) -> Optional[Frame]:
        import logging

        while True:
            line = self._next_line()
            if line is None:
                return None
            if not line.strip():
                continue
            try:
                obs = decode_line(line, self._line)
            except TraceError as exc:
                # A damaged line loses one frame, not the replay.
                self._skipped += 1
                logging.getLogger("handmap.sources").warning("%s: %s (skipped)", self.name, exc)
                continue
            self._pacer.wait(obs.t)
            return Frame(t=obs.t, index=obs.frame, observation=obs, available_at=time.perf_counter())

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
