"""The daemon: runs the pipeline over a source until the source ends or it is told to
stop, and is the ``Controller`` the tray, the control socket and the hotkey talk to.

Every way out and every mode change (pause, profile switch, hot reload, hand loss,
camera loss, signals, an uncaught exception) releases held input first: the mapping
engine lets go of what it pressed, then the output backend of anything still down. Per
frame errors are logged with a traceback and the frame dropped; too many in a row stop
the daemon with a non-zero exit. Control requests from other threads are queued and
applied between frames, on the loop's thread.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from handmap.daemon.capture import Source, SourceError, SourceLost
from handmap.daemon.outputs import OutputUnavailable as OutputLost
from handmap.daemon.runtime.pipeline import Pipeline
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot
from handmap.gestures.types import FaceTouch, FaceTouchState
from handmap.mappings.engine import RequestPause, RequestProfile, RequestResume

log = logging.getLogger(__name__)

#: Consecutive failed frames that stop the daemon (a broken model, not a bad frame).
MAX_CONSECUTIVE_ERRORS = 25
#: Camera retry backoff, seconds: doubles from the first value up to the last.
RETRY_BACKOFF = (0.5, 10.0)
#: With no hand in view for this long, look for hands at the idle rate only.
IDLE_AFTER_S = 1.0
#: How often the view is checked while idle (frames in between pass undecoded); the hand
#: model runs on a check only when something moved, or at least IDLE_LOOK_S apart.
IDLE_RATE_HZ = 5.0
IDLE_LOOK_S = 1.0
#: How often a tray that could not be shown is tried again.
TRAY_RETRY_S = 10.0
#: How often the tray's picture of the daemon is refreshed.
TRAY_REFRESH_S = 1.0


class DaemonFailed(Exception):
    """The daemon stopped because something kept failing; the message says what."""


@dataclass(frozen=True)
class RunSummary:
    frames: int
    seconds: float
    dropped: int
    errors: int
    skipped_idle: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class FaceTouchLog:
    """Face-touch episodes to the history store and to alerts (both optional)."""

    def __init__(self, store=None, alerts=None, profile: Callable[[], str] = lambda: "",
                 alerts_wanted: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.alerts = alerts
        self._profile = profile
        self._alerts_wanted = alerts_wanted
        self._open: int | None = None
        self.episodes = 0

    def on_event(self, event: FaceTouch) -> None:
        now = time.time()
        hand = event.hand.value if event.hand is not None else ""
        if event.state is FaceTouchState.START:
            self.episodes += 1
            if self.store is not None:
                self._open = self.store.start_episode(hand, now, self._profile())
            if self.alerts is not None and self._alerts_wanted():
                today = self.store.count_today() if self.store is not None else None
                self.alerts.on_episode_start(event.hand, now, today)
        elif event.state is FaceTouchState.END and self._open is not None:
            if self.store is not None:
                self.store.end_episode(self._open, now)
            self._open = None

    def touches_today(self) -> int:
        try:
            return self.store.count_today() if self.store is not None else self.episodes
        except Exception:  # a locked or damaged database must not stop the status
            return self.episodes


@dataclass
class Services:
    """Optional parts around the pipeline; the entry point builds what it can."""

    switcher: object = None  # window.AutoSwitcher
    reloader: object = None  # reload.HotReloader
    face_touches: FaceTouchLog | None = None
    tray: object = None  # tray.Tray
    #: Makes the tray when there was none at start (a panel that starts after the
    #: daemon, as with a service): tried again every TRAY_RETRY_S.
    tray_factory: Callable[[], object] | None = None
    on_stop: list = field(default_factory=list)  # callables run after the loop


class Daemon:
    """Owns the run loop. Thread-safe control requests are applied between frames."""

    def __init__(self, pipeline: Pipeline, mapping, open_source: Callable[[], Source], *, output_name: str,
                 services: Services | None = None, wait_for_camera: bool = False, idle: bool = True,
                 profile_names: Callable[[], tuple[str, ...]] = tuple) -> None:
        self.pipeline = pipeline
        self.mapping = mapping
        self._open_source = open_source
        self._output_name = output_name
        self.services = services or Services()
        self._wait_for_camera = wait_for_camera
        self._idle_enabled = idle
        self._profile_names = profile_names
        self._requests: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._state = DaemonState.STARTING
        self._muted = bool(getattr(self.services.face_touches and self.services.face_touches.alerts, "muted", False))
        self._started = time.monotonic()
        self._fps = 0.0
        self._source_name = ""
        self._last_hand_t: float | None = None
        self._next_idle_check = 0.0
        self._next_idle_look = 0.0
        from handmap.daemon.runtime.pipeline import MotionGate

        self._motion = MotionGate()
        self.exit_reason = ""
        self._errors = 0
        self._consecutive = 0
        self._window_frames = 0

    # -- Controller (any thread) ------------------------------------------------------

    def status(self) -> StatusSnapshot:
        touches = self.services.face_touches
        return StatusSnapshot(
            state=self._state, profile=self.mapping.name, fps=self._fps, hands_seen=self.pipeline.hands_in_view,
            output=self._output_name, uptime_s=time.monotonic() - self._started, source=self._source_name,
            face_touches_today=touches.touches_today() if touches else 0, alerts_muted=self._muted,
            profiles=tuple(self._profile_names()),
        )

    def pause(self) -> None:
        self._requests.put(("pause", None))

    def resume(self) -> None:
        self._requests.put(("resume", None))

    def toggle_pause(self) -> None:
        self._requests.put(("toggle", None))

    def switch_profile(self, name: str) -> None:
        names = tuple(self._profile_names())
        if names and name not in names:
            raise KeyError(f"no profile named {name!r} (profiles: {', '.join(names)})")
        self._requests.put(("profile", name))

    def set_alerts_muted(self, muted: bool) -> None:
        self._muted = bool(muted)
        touches = self.services.face_touches
        if touches is not None and touches.alerts is not None:
            touches.alerts.set_muted(self._muted)

    def quit(self) -> None:
        self._stop.set()

    # -- mode changes (the loop's thread) ---------------------------------------------

    def _emit(self, actions: list) -> None:
        self.pipeline.emit(actions, self.pipeline.last_t, self.pipeline.last_frame)

    def _settle(self) -> None:
        """Let the frame in flight finish and take in its outcome: every mode change
        starts here, so the engines are only ever touched by one thread at a time."""
        if not self.pipeline.settle(timeout=10.0):
            log.error("a frame is still being processed after 10 s")
        self._collect()

    def _collect(self) -> None:
        """Outcomes of finished frames: face events, hand presence, error counts."""
        for outcome in self.pipeline.completed():
            if outcome.error is not None:
                self._frame_failed(outcome.index, outcome.error)
            else:
                self._frame_done(outcome.gframe)

    def _frame_failed(self, index: int, exc: BaseException) -> None:
        if isinstance(exc, OutputLost):
            raise DaemonFailed(str(exc)) from None
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit from the frame's thread
            raise exc
        self._errors += 1
        self._consecutive += 1
        log.error("frame %d could not be processed (dropped)", index, exc_info=exc)
        if self._consecutive >= MAX_CONSECUTIVE_ERRORS:
            raise DaemonFailed(f"{self._consecutive} frames in a row failed; stopping (see the errors above)")

    def _frame_done(self, gframe) -> None:
        self._consecutive = 0
        self._handle_face_events(gframe.events)
        if gframe.hands:
            self._last_hand_t = time.monotonic()
        if not self.mapping.paused:
            self._state = DaemonState.RUNNING if gframe.hands else DaemonState.NO_HAND
        self._window_frames += 1

    def _wants_frames(self) -> bool:
        return not self.mapping.paused or self.mapping.wants_frames_while_paused()

    def _forget_hands(self) -> None:
        """Every tracked hand reported lost (its poses exit, its presses release)."""
        self._settle()
        gframe = self.pipeline.gestures.lost_all(self.pipeline.last_t, self.pipeline.last_frame)
        self.pipeline.hands_in_view = 0  # what status and the tray show until a frame says otherwise
        self._emit(self.mapping.handle(gframe))
        self._handle_face_events(gframe.events)

    def _do_pause(self) -> None:
        if self.mapping.paused:
            return
        self._settle()
        self._emit(self.mapping.pause())
        self.pipeline.release_all("pause")
        self._forget_hands()
        self._state = DaemonState.PAUSED
        log.info("paused")

    def _do_resume(self) -> None:
        if not self.mapping.paused:
            return
        self._settle()
        self._emit(self.mapping.resume())
        self._state = DaemonState.RUNNING
        log.info("resumed")

    def _do_switch(self, name: str, why: str) -> None:
        if name == self.mapping.name:
            return
        self._settle()
        try:
            actions = self.mapping.switch(name)
        except Exception as exc:  # KeyError, a broken profile: keep the current one
            log.error("cannot switch to profile %s: %s (keeping %s)", name, exc, self.mapping.name)
            return
        self._emit(actions)
        self.pipeline.release_all("profile switch")
        log.info("profile %s (%s)", name, why)

    def apply_requests(self) -> None:
        """Carry out queued control requests, binding requests, window focus changes and
        file reloads (the loop calls this before each frame)."""
        self._collect()
        for request in self.mapping.take_requests():
            if isinstance(request, RequestPause):
                self._do_pause()
            elif isinstance(request, RequestResume):
                self._do_resume()
            elif isinstance(request, RequestProfile):
                self._do_switch(request.name, "binding")
        while not self._requests.empty():  # (no exception raised on every frame)
            try:
                kind, arg = self._requests.get_nowait()
            except queue.Empty:
                break
            if kind == "toggle":
                kind = "resume" if self.mapping.paused else "pause"
            if kind == "pause":
                self._do_pause()
            elif kind == "resume":
                self._do_resume()
            elif kind == "profile":
                self._do_switch(str(arg), "requested")
        switcher = self.services.switcher
        if switcher is not None:
            name = switcher.poll(self.mapping.name)
            if name is not None:
                self._do_switch(name, "active window")
        if self.services.reloader is not None:
            self.services.reloader.poll()

    def reload_profile(self) -> None:
        """The active profile's file changed (called by the hot reloader, loop thread)."""
        self._settle()
        actions = self.mapping.reload()  # raises on a broken file: the old one stays
        self._emit(actions)
        self.pipeline.release_all("profile reload")
        log.info("profile %s reloaded", self.mapping.name)

    def _handle_face_events(self, events) -> None:
        touches = self.services.face_touches
        if touches is None:
            return
        for event in events:
            if isinstance(event, FaceTouch):
                try:
                    touches.on_event(event)
                except Exception:
                    log.exception("could not record a face-touch episode")

    # -- the loop (the main thread) ---------------------------------------------------

    def _install_signals(self) -> list:
        previous = []
        if threading.current_thread() is not threading.main_thread():
            return previous

        def on_signal(signum, _frame):
            self.exit_reason = signal.Signals(signum).name
            self._stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous.append((sig, signal.signal(sig, on_signal)))
        return previous

    def _open_with_retry(self, first: bool) -> Source | None:
        """A source, retried with backoff while it cannot be opened (a camera that is
        not there yet, or was lost); None when told to stop meanwhile."""
        backoff = RETRY_BACKOFF[0]
        while not self._stop.is_set():
            try:
                source = self._open_source()
                if not first:
                    log.warning("%s is back", source.name)
                return source
            except SourceError as exc:
                if first and not self._wait_for_camera:
                    raise
                if first:
                    self._state = DaemonState.WAITING_FOR_CAMERA
                    log.warning("%s; waiting for it", exc)
                    first = False
                log.info("still no camera: %s", exc)
            self._publish_tray(force=True)
            self.apply_requests()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF[1])
        return None

    def _idle_now(self, now: float) -> bool:
        return self._last_hand_t is not None and now - self._last_hand_t >= IDLE_AFTER_S

    def _idle_skip(self, now: float) -> bool:
        """With no hand for a while, analyse only IDLE_RATE_HZ frames a second."""
        if not self._idle_enabled or not self._idle_now(now):
            return False
        if now >= self._next_idle_check:
            self._next_idle_check = now + 1.0 / IDLE_RATE_HZ
            return False
        return True

    def _publish_tray(self, force: bool = False) -> None:
        tray = self.services.tray
        now = time.monotonic()
        if tray is None:
            factory = self.services.tray_factory
            if factory is None or now < getattr(self, "_next_tray_try", 0.0):
                return
            self._next_tray_try = now + TRAY_RETRY_S
            tray = self.services.tray = factory()
            if tray is None:
                return
            force = True
        if force or now >= getattr(self, "_next_tray", 0.0):
            self._next_tray = now + TRAY_REFRESH_S
            try:
                tray.update(self.status())
            except Exception:
                log.exception("tray update failed")

    def _release_on_exit(self) -> None:
        """The last releases, each step tried whatever the one before did. Never raises:
        the output may be what failed (a display that went away), and the reason the loop
        ended (a signal, ``DaemonFailed``) must not be replaced by a release error."""
        steps = (self._settle, lambda: self._emit(self.mapping.shutdown()), self._forget_hands,
                 lambda: self.pipeline.release_all("exit"))
        for step in steps:
            try:
                step()
            except (OutputLost, DaemonFailed) as exc:  # nothing can be held on a display that is gone
                log.error("could not release held input at exit: %s", exc)
            except Exception:
                log.exception("error while releasing held input at exit")

    def run(self) -> RunSummary:
        previous = self._install_signals()
        start = time.perf_counter()
        skipped = 0
        source: Source | None = None
        window_start = start
        try:
            source = self._open_with_retry(first=True)
            if source is None:
                return RunSummary(0, time.perf_counter() - start, 0, 0)
            self._source_name = source.name
            self._state = DaemonState.RUNNING
            self._last_hand_t = time.monotonic()
            while not self._stop.is_set():
                self.apply_requests()
                self._publish_tray()
                idle_capable = (source.live or getattr(source, "realtime", False)) and hasattr(source, "skip")
                skip = idle_capable and self._idle_skip(time.monotonic())
                if hasattr(source, "idle"):
                    source.idle = self._idle_enabled and self._idle_now(time.monotonic())
                try:
                    try:
                        if skip:
                            frame = None if not source.skip() else True
                        else:
                            frame = source.read()
                    except SourceLost:
                        raise
                    except Exception as exc:
                        if not source.live:
                            raise
                        # A camera driver error (cv2.error...) is a lost camera too.
                        raise SourceLost(f"{source.name} failed: {exc}") from exc
                except SourceLost as exc:
                    log.warning("%s; retrying", exc)
                    self._settle()
                    self._emit(self.mapping.release_all())
                    self.pipeline.release_all("camera lost")
                    self._forget_hands()
                    self._state = DaemonState.CAMERA_LOST
                    self._fps = 0.0
                    self._publish_tray(force=True)
                    source.close()
                    source = self._open_with_retry(first=False)
                    if source is None:
                        break
                    self.pipeline.gestures.reset()
                    self._state = DaemonState.PAUSED if self.mapping.paused else DaemonState.RUNNING
                    continue
                if frame is None:
                    break
                if skip:
                    skipped += 1
                    continue
                if idle_capable and self._idle_enabled and self._idle_now(time.monotonic()) and frame.image is not None:
                    now = time.monotonic()
                    try:
                        moved = self._motion.moved(frame.image)
                    except Exception:  # a corrupt frame: the pipeline below drops it, with the reason
                        moved = True
                    if not moved and now < self._next_idle_look:
                        skipped += 1  # a still view with no hand: nothing new to look for
                        continue
                    self._next_idle_look = now + IDLE_LOOK_S
                if not self._wants_frames():
                    continue
                try:
                    begun = self.pipeline.begin(frame)
                    if self.pipeline.hands_observed:  # back to full rate now, not a frame later
                        self._last_hand_t = time.monotonic()
                except Exception as exc:
                    self._frame_failed(frame.index, exc)
                    begun = None
                if begun is not None:
                    # The frame before is finished and what its bindings asked for (a
                    # pause, a profile) carried out before this one is mapped: the same
                    # order whether or not frames overlap.
                    self._settle()
                    self.apply_requests()
                    if self._wants_frames():
                        try:
                            self.pipeline.finish(begun)
                        except Exception as exc:
                            self._frame_failed(frame.index, exc)
                self._collect()
                now = time.perf_counter()
                if now - window_start >= 1.0:
                    self._fps = self._window_frames / (now - window_start)
                    window_start, self._window_frames = now, 0
        finally:
            self._state = DaemonState.STOPPING
            self._release_on_exit()
            for sig, handler in previous:
                signal.signal(sig, handler)
            stops = ([source.close] if source is not None else []) + list(self.services.on_stop)
            for stop in stops:
                try:
                    stop()
                except Exception:
                    log.exception("error while stopping")
        seconds = time.perf_counter() - start
        return RunSummary(frames=self.pipeline.frames, seconds=seconds,
                          dropped=source.dropped if source is not None else 0, errors=self._errors,
                          skipped_idle=skipped)
