"""The daemon: runs the pipeline over a source until the source ends or it is told to
stop, and is the ``Controller`` the tray, the control socket and the hotkey talk to.

Ways out and mode changes (pause, profile switch, hand loss, camera loss, signals,
an uncaught exception) all go through ``Pipeline.release_all`` first: no key or button
stays down. Per-frame errors are logged with a traceback and the frame dropped; too
many in a row stop the daemon with a non-zero exit.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from handmap.mappings import actions as act

from .pipeline import Pipeline
from .sources import Source, SourceError, SourceLost
from .state import DaemonState, StatusSnapshot

log = logging.getLogger("handmap")

#: Consecutive failed frames that stop the daemon (a broken model, not a bad frame).
MAX_CONSECUTIVE_ERRORS = 25
#: Camera retry backoff, seconds: doubles from the first to the last value.
RETRY_BACKOFF = (0.5, 10.0)


class DaemonFailed(Exception):
    """The daemon stopped because something kept failing; the message says what."""


@dataclass(frozen=True)
class RunSummary:
    frames: int
    seconds: float
    dropped: int
    errors: int

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Daemon:
    """Owns the run loop; thread-safe control requests are applied between frames."""

    def __init__(self, pipeline: Pipeline, open_source: Callable[[], Source], *, output_name: str,
                 profile_name: str = "", profile_names: tuple[str, ...] = (),
                 switch_profile: Optional[Callable[[str], list]] = None) -> None:
        self.pipeline = pipeline
        self._open_source = open_source
        self._output_name = output_name
        self._profile = profile_name
        self._profile_names = profile_names
        self._switch_profile = switch_profile
        self._requests: "queue.SimpleQueue[tuple[str, object]]" = queue.SimpleQueue()
        self._stop = threading.Event()
        self._state = DaemonState.STARTING
        self._paused = False
        self._muted = False
        self._started = time.monotonic()
        self._fps = 0.0
        self._source_name = ""
        self.exit_reason = ""

    # -- Controller (any thread) ------------------------------------------------------

    def status(self) -> StatusSnapshot:
        return StatusSnapshot(
            state=self._state, profile=self._profile, fps=self._fps, hands_seen=self.pipeline.hands_in_view,
            output=self._output_name, uptime_s=time.monotonic() - self._started, source=self._source_name,
            alerts_muted=self._muted, profiles=self._profile_names,
        )

    def pause(self) -> None:
        self._requests.put(("pause", None))

    def resume(self) -> None:
        self._requests.put(("resume", None))

    def toggle_pause(self) -> None:
        self._requests.put(("toggle", None))

    def switch_profile(self, name: str) -> None:
        if self._profile_names and name not in self._profile_names:
            raise KeyError(f"no profile named {name!r} (profiles: {', '.join(self._profile_names)})")
        self._requests.put(("profile", name))

    def set_alerts_muted(self, muted: bool) -> None:
        self._muted = bool(muted)

    def quit(self) -> None:
        self._stop.set()

    # -- the loop (the main thread) ---------------------------------------------------

    def _apply_requests(self) -> None:
        while True:
            try:
                kind, arg = self._requests.get_nowait()
            except queue.Empty:
                return
            if kind == "toggle":
                kind = "resume" if self._paused else "pause"
            if kind == "pause" and not self._paused:
                self.pipeline.release_all("pause")
                self.pipeline.emit(self._forget_hands(), self.pipeline.last_t, self.pipeline.last_frame)
                self._paused = True
                self._state = DaemonState.PAUSED
                self.pipeline.emit([act.ReportPaused()], self.pipeline.last_t, self.pipeline.last_frame)
            elif kind == "resume" and self._paused:
                self._paused = False
                self._state = DaemonState.RUNNING
                self.pipeline.emit([act.ReportResumed()], self.pipeline.last_t, self.pipeline.last_frame)
            elif kind == "profile" and self._switch_profile is not None and arg != self._profile:
                self.pipeline.release_all("profile switch")
                self.pipeline.emit(self._switch_profile(str(arg)), self.pipeline.last_t, self.pipeline.last_frame)
                self._profile = str(arg)

    def _forget_hands(self) -> list:
        frame = self.pipeline.gestures.lost_all(self.pipeline.last_t, self.pipeline.last_frame)
        return self.pipeline.mapper.handle(frame)

    def _install_signals(self) -> list:
        previous = []
        if threading.current_thread() is not threading.main_thread():
            return previous

        def on_signal(signum, _frame):
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.exit_reason = signal.Signals(signum).name
            self._stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous.append((sig, signal.signal(sig, on_signal)))
        return previous

    def run(self) -> RunSummary:
        previous = self._install_signals()
        start = time.perf_counter()
        errors = consecutive = 0
        source: Optional[Source] = None
        backoff = RETRY_BACKOFF[0]
        window_start, window_frames = start, 0
        try:
            source = self._open_source()
            self._source_name = source.name
            self._state = DaemonState.RUNNING
            while not self._stop.is_set():
                self._apply_requests()
                try:
                    frame = source.read()
                except SourceLost as exc:
                    log.warning("%s; retrying", exc)
                    self.pipeline.release_all("camera lost")
                    self.pipeline.emit(self._forget_hands(), self.pipeline.last_t, self.pipeline.last_frame)
                    self._state = DaemonState.CAMERA_LOST
                    source.close()
                    source = None
                    while source is None and not self._stop.wait(backoff):
                        try:
                            source = self._open_source()
                            log.warning("%s is back", source.name)
                            backoff = RETRY_BACKOFF[0]
                            self._state = DaemonState.PAUSED if self._paused else DaemonState.RUNNING
                        except SourceError as again:
                            log.info("camera still unavailable: %s", again)
                            backoff = min(backoff * 2, RETRY_BACKOFF[1])
                    if source is None:
                        break
                    continue
                if frame is None:
                    break
                if self._paused:
                    continue
                try:
                    gframe = self.pipeline.process(frame)
                    consecutive = 0
                except Exception:
                    errors += 1
                    consecutive += 1
                    log.exception("frame %d could not be processed (dropped)", frame.index)
                    if consecutive >= MAX_CONSECUTIVE_ERRORS:
                        raise DaemonFailed(f"{consecutive} frames in a row failed; stopping (see the errors above)")
                    continue
                self._state = DaemonState.RUNNING if gframe.hands else DaemonState.NO_HAND
                window_frames += 1
                now = time.perf_counter()
                if now - window_start >= 1.0:
                    self._fps = window_frames / (now - window_start)
                    window_start, window_frames = now, 0
        finally:
            self._state = DaemonState.STOPPING
            try:
                self.pipeline.release_all("exit")
                self.pipeline.emit(self._forget_hands(), self.pipeline.last_t, self.pipeline.last_frame)
                self.pipeline.release_all("exit")
            finally:
                for sig, handler in previous:
                    signal.signal(sig, handler)
                if source is not None:
                    source.close()
        seconds = time.perf_counter() - start
        return RunSummary(frames=self.pipeline.frames, seconds=seconds,
                          dropped=source.dropped if source is not None else 0, errors=errors)
