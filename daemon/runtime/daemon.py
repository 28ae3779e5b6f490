"""The daemon: the run loop over a source, until the source ends or it is told to stop;
and the ``Controller`` the tray, the control socket and the hotkey talk to.

One turn of the loop (``Daemon.run``): carry out queued requests, refresh the tray, read
a frame or skip it (``idle.IdlePolicy``), let a still view go while idle, then one
frame through the pipeline (``pipeline.Pipeline``: ``begin`` here, ``finish`` here or on
the ``handmap-after`` thread), and count frames per second (``FpsCounter``). A camera
that is lost is released from, closed and retried with backoff.

The frame-in-flight rule: with overlap on, a frame's gestures, mapping and output may
still be running on the ``handmap-after`` thread while this loop goes on. Every mode
change (pause, resume, profile switch, hot reload, hand loss, camera loss, exit) and
every release therefore starts with ``Daemon._settle()``, which waits for that frame
and takes in its outcome: the gesture engine, the mapping stage and the output are only
ever touched by one thread at a time (``tests/unit/daemon/runtime/test_overlap.py``).

Every way out and every mode change releases held input first: the mapping engine lets
go of what it pressed, then the output backend of anything still down. Per frame errors
are logged with a traceback and the frame dropped; too many in a row stop the daemon
with a non-zero exit. Control requests from other threads are queued as typed requests
and applied between frames, on the loop's thread.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from handmap.daemon.capture import Frame, Source, SourceError, SourceLost
from handmap.daemon.outputs import OutputUnavailable as OutputLost
from handmap.daemon.runtime.idle import IdlePolicy
from handmap.daemon.runtime.pipeline import Pipeline
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot, SwitchRefused
from handmap.gestures.types import FaceTouch, FaceTouchState, FaceZone, GestureFrame, Handedness
from handmap.mappings.mapper import Request, RequestPause, RequestProfile, RequestResume

if TYPE_CHECKING:
    from handmap.daemon.runtime.mapping_stage import MappingStage, ProfileHealth
    from handmap.gestures.taught import TaughtSet

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A signal's handler as ``signal.signal`` takes and returns it.
SignalHandler = Callable[[int, FrameType | None], Any] | int | None

#: Consecutive failed frames that stop the daemon (a broken model, not a bad frame).
MAX_CONSECUTIVE_ERRORS = 25
#: Camera retry backoff, seconds: doubles from the first value up to the last.
RETRY_BACKOFF = (0.5, 10.0)
#: How often a tray that could not be shown is tried again.
TRAY_RETRY_S = 10.0
#: How often the tray's picture of the daemon is refreshed.
TRAY_REFRESH_S = 1.0
#: How long a mode change waits for the frame in flight before saying so.
SETTLE_TIMEOUT_S = 10.0
#: The window the status's frames per second are counted over.
FPS_WINDOW_S = 1.0
#: A run that writes no history looks for the history file to read again this often
#: while there is none (the count of today's touches).
HISTORY_RETRY_S = 30.0


class DaemonFailed(Exception):
    """The daemon stopped because something kept failing; the message says what."""


@dataclass(frozen=True)
class RequestTogglePause:
    """Pause when running, resume when paused (the tray's and the hotkey's request)."""

    reason: str = ""  # who asks, as a pause's reason


@dataclass(frozen=True)
class RequestTaughtPoses:
    """Use these taught poses (built off the loop after a pose file changed)."""

    taught: TaughtSet


#: What the control side (socket, tray, hotkey) and background builds queue for the
#: loop; bindings make the same ``Request``s through the mapping stage.
ControlRequest = Request | RequestTogglePause | RequestTaughtPoses


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


# -- what the daemon needs from the parts around it ---------------------------------------


class EpisodeStore(Protocol):
    """Where face-touch episodes are kept (``history.store.TouchStore``)."""

    def start_episode(self, hand: str, start_wall: float | None = None, profile: str = "",
                      zone: FaceZone | None = None) -> int: ...

    def end_episode(self, episode_id: int, end_wall: float | None = None, zone: FaceZone | None = None) -> None: ...

    def count_today(self, now: float | None = None) -> int: ...

    def close(self) -> None: ...


class EpisodeAlerts(Protocol):
    """Who is told when a face touch starts (``desktop.notify.FaceTouchAlerts``)."""

    @property
    def muted(self) -> bool: ...

    def set_muted(self, muted: bool) -> None: ...

    def on_episode_start(self, hand: Handedness | None, t_wall: float, touches_today: int | None = None,
                         zone: FaceZone | None = None) -> bool: ...


class WindowSwitcher(Protocol):
    """Automatic profile switching (``desktop.switching.AutoSwitcher``)."""

    def poll(self, current_profile: str) -> str | None:
        """The profile the active window wants, when it is not ``current_profile``."""
        ...


class Reloader(Protocol):
    """Hot reload of edited files (``runtime.reload.HotReloader``); polled each turn."""

    def poll(self, force: bool = False) -> object: ...


class TrayView(Protocol):
    """The tray icon's picture of the daemon (``desktop.tray.Tray``)."""

    def update(self, snapshot: StatusSnapshot) -> None: ...


#: Makes the tray, or None when there is none to be had (yet).
TrayFactory = Callable[[], "TrayView | None"]


class FaceTouchLog:
    """Face-touch episodes to the history store and to alerts (both optional), and the
    one count of today's touches that the status, the tray and the notification give.

    The count: today's episodes in the history (whichever run recorded them), plus this
    run's own episodes of today when it does not write them there (``unrecorded_today``).
    A run without history still reads the history file (``reader``; opened when it
    exists, tried again while it does not), so ``handmap stats``, which adds a running
    daemon's unrecorded touches to today, says the same number.
    """

    def __init__(self, store: EpisodeStore | None = None, alerts: EpisodeAlerts | None = None,
                 profile: Callable[[], str] = lambda: "", alerts_wanted: Callable[[], bool] = lambda: True,
                 reader: Callable[[], EpisodeStore | None] | None = None) -> None:
        self.store = store
        self.alerts = alerts
        self._profile = profile
        self._alerts_wanted = alerts_wanted
        self._reader_factory = reader
        self._reader: EpisodeStore | None = None
        self._next_reader_try = 0.0
        self._lock = threading.Lock()  # the frame loop writes, the tray and the socket read
        self._open: int | None = None
        self._unrecorded: list[float] = []  # wall times of this run's episodes not in the history
        self.episodes = 0

    def on_event(self, event: FaceTouch) -> None:
        now = time.time()
        hand = event.hand.value if event.hand is not None else ""
        if event.state is FaceTouchState.START:
            self.episodes += 1
            if self.store is not None:
                self._open = self.store.start_episode(hand, now, self._profile(), event.zone)
            else:
                with self._lock:
                    self._unrecorded.append(now)
            if self.alerts is not None and self._alerts_wanted():
                self.alerts.on_episode_start(event.hand, now, self.touches_today(now), event.zone)
        elif event.state is FaceTouchState.END and self._open is not None:
            if self.store is not None:
                self.store.end_episode(self._open, now, event.zone)
            self._open = None

    def unrecorded_today(self, now: float | None = None) -> int:
        """This run's episodes of today that are in no history (it does not write one)."""
        since = _local_midnight(time.time() if now is None else now)
        with self._lock:
            return sum(1 for t in self._unrecorded if t >= since)

    def touches_today(self, now: float | None = None) -> int:
        """Today's face touches: the history's, plus this run's unrecorded ones."""
        mine = self.unrecorded_today(now)
        history = self.store if self.store is not None else self._read()
        if history is None:
            return mine
        try:
            return history.count_today(now) + mine
        except Exception as exc:  # a locked or damaged database must not stop the status
            log.debug("face-touch history unreadable: %s", exc)
            return self.episodes if self.store is not None else mine

    def _read(self) -> EpisodeStore | None:
        """The history to read when this run writes none (opened once it exists)."""
        if self._reader is not None or self._reader_factory is None:
            return self._reader
        now = time.monotonic()
        with self._lock:
            if now < self._next_reader_try:
                return None
            self._next_reader_try = now + HISTORY_RETRY_S
        try:
            self._reader = self._reader_factory()
        except Exception as exc:  # absent or unreadable: this run's own count until it is there
            log.debug("face-touch history not read: %s", exc)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _local_midnight(t_wall: float) -> float:
    """The start of ``t_wall``'s local day."""
    day = datetime.fromtimestamp(t_wall).date()
    return datetime(day.year, day.month, day.day).timestamp()


@dataclass
class Services:
    """Optional parts around the pipeline; the entry point builds what it can."""

    switcher: WindowSwitcher | None = None
    reloader: Reloader | None = None
    face_touches: FaceTouchLog | None = None
    tray: TrayView | None = None
    #: Makes the tray when there was none at start (a panel that starts after the
    #: daemon, as with a service): tried again every TRAY_RETRY_S.
    tray_factory: TrayFactory | None = None
    on_stop: list[Callable[[], object]] = field(default_factory=list)  # run after the loop


class FpsCounter:
    """Frames finished per second, counted over windows of FPS_WINDOW_S (the status)."""

    def __init__(self) -> None:
        self.fps = 0.0
        self._frames = 0
        self._start = time.perf_counter()

    def restart(self, now: float) -> None:
        self._frames = 0
        self._start = now

    def count(self) -> None:
        self._frames += 1

    def tick(self, now: float) -> None:
        """Once a turn (``now``: ``time.perf_counter()``): a new figure each window."""
        if now - self._start >= FPS_WINDOW_S:
            self.fps = self._frames / (now - self._start)
            self._start, self._frames = now, 0

    def stalled(self) -> None:
        """No frames come (a lost camera): 0 until the next window says otherwise."""
        self.fps = 0.0


class Daemon:
    """Owns the run loop. Thread-safe control requests are applied between frames."""

    def __init__(self, pipeline: Pipeline, mapping: MappingStage, open_source: Callable[[], Source], *,
                 output_name: str, services: Services | None = None, wait_for_camera: bool = False,
                 idle: bool = True, profile_names: Callable[[], Iterable[str]] = tuple,
                 profile_health: ProfileHealth | None = None) -> None:
        self.pipeline = pipeline
        self.mapping = mapping
        self._open_source = open_source
        self._output_name = output_name
        self.services = services or Services()
        self._wait_for_camera = wait_for_camera
        self.idle = IdlePolicy(idle)
        self._profile_names = profile_names
        self._health = profile_health
        self._requests: queue.SimpleQueue[ControlRequest] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._state = DaemonState.STARTING
        touches = self.services.face_touches
        self._muted = bool(touches is not None and touches.alerts is not None and touches.alerts.muted)
        self._started = time.monotonic()
        self._paused_by = ""  # who paused (the status), while paused
        self._fps = FpsCounter()
        self._source_name = ""
        self._source: Source | None = None  # the one open now (the loop replaces a lost camera)
        self._next_tray_try = 0.0  # when a tray that could not be made is tried again
        self._next_tray = 0.0  # when the tray is refreshed next
        self.exit_reason = ""
        self._errors = 0
        self._consecutive = 0

    # -- Controller (any thread) ------------------------------------------------------

    def status(self) -> StatusSnapshot:
        touches = self.services.face_touches
        return StatusSnapshot(
            state=self._state, profile=self.mapping.name, fps=self._fps.fps, hands_seen=self.pipeline.hands_in_view,
            output=self._output_name, uptime_s=time.monotonic() - self._started, source=self._source_name,
            face_touches_today=touches.touches_today() if touches else 0, alerts_muted=self._muted,
            face_touches_unrecorded=touches.unrecorded_today() if touches else 0,
            profiles=tuple(self._profile_names()),
            broken_profiles=self._broken_profiles(),
            paused_by=self._paused_by if self.mapping.paused else "",
        )

    def _broken_profiles(self) -> Mapping[str, str]:
        if self._health is None:
            return {}
        try:
            return {name: problem.split("\n", 1)[0] for name, problem in self._health.broken().items()}
        except Exception:  # an unreadable profiles folder must not stop the status
            log.debug("could not check the profiles", exc_info=True)
            return {}

    def pause(self, by: str = "") -> None:
        self._requests.put(RequestPause(by))

    def resume(self) -> None:
        self._requests.put(RequestResume())

    def toggle_pause(self, by: str = "") -> None:
        self._requests.put(RequestTogglePause(by))

    def switch_profile(self, name: str) -> None:
        names = tuple(self._profile_names())
        if names and name not in names:
            raise KeyError(f"no profile named {name!r} (profiles: {', '.join(names)})")
        problem = self._health.problem(name) if self._health is not None else None
        if problem is not None:
            raise SwitchRefused(f"profile {name} is broken, keeping {self.mapping.name}:\n{problem}")
        self._requests.put(RequestProfile(name))

    def set_alerts_muted(self, muted: bool) -> None:
        self._muted = bool(muted)
        touches = self.services.face_touches
        if touches is not None and touches.alerts is not None:
            touches.alerts.set_muted(self._muted)

    def quit(self) -> None:
        self._stop.set()

    # -- mode changes (the loop's thread) ---------------------------------------------

    def _emit(self, actions: Sequence | None) -> None:
        self.pipeline.emit(actions or (), self.pipeline.last_t, self.pipeline.last_frame)

    def _settle(self) -> None:
        """Let the frame in flight finish and take in its outcome: every mode change
        starts here, so the engines are only ever touched by one thread at a time."""
        if not self.pipeline.settle(timeout=SETTLE_TIMEOUT_S):
            log.error("a frame is still being processed after %.0f s", SETTLE_TIMEOUT_S)
        self._collect()

    def _collect(self) -> None:
        """Outcomes of finished frames: face events, hand presence, error counts."""
        for outcome in self.pipeline.completed():
            if outcome.error is not None:
                self._frame_failed(outcome.index, outcome.error)
            elif outcome.gframe is not None:
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

    def _frame_done(self, gframe: GestureFrame) -> None:
        self._consecutive = 0
        self._handle_face_events(gframe.events)
        if gframe.hands:
            self.idle.hand_seen(time.monotonic())
        if not self.mapping.paused:
            self._state = DaemonState.RUNNING if gframe.hands else DaemonState.NO_HAND
        self._fps.count()

    def _wants_frames(self) -> bool:
        return not self.mapping.paused or self.mapping.wants_frames_while_paused()

    def _forget_hands(self) -> None:
        """Every tracked hand reported lost (its poses exit, its presses release)."""
        self._settle()
        gframe = self.pipeline.gestures.lost_all(self.pipeline.last_t, self.pipeline.last_frame)
        self.pipeline.hands_in_view = 0  # what status and the tray show until a frame says otherwise
        self._emit(self.mapping.handle(gframe))
        self._handle_face_events(gframe.events)

    def _do_pause(self, reason: str = "") -> None:
        if self.mapping.paused:
            return
        self._settle()
        self._emit(self.mapping.pause(reason))
        self.pipeline.release_all("pause")
        self._forget_hands()
        self._state = DaemonState.PAUSED
        self._paused_by = reason
        log.info("paused%s", f" by {reason}" if reason else "")

    def _do_resume(self) -> None:
        if not self.mapping.paused:
            return
        self._settle()
        self._emit(self.mapping.resume())
        self._state = DaemonState.RUNNING
        self._paused_by = ""
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

    def _carry_out(self, request: ControlRequest, why: str) -> None:
        if isinstance(request, RequestTaughtPoses):
            self.set_taught_poses(request.taught)
            return
        if isinstance(request, RequestTogglePause):
            request = RequestResume() if self.mapping.paused else RequestPause(request.reason)
        if isinstance(request, RequestPause):
            self._do_pause(request.reason)
        elif isinstance(request, RequestResume):
            self._do_resume()
        elif isinstance(request, RequestProfile):
            self._do_switch(request.name, why)

    def apply_requests(self) -> None:
        """Carry out binding requests, queued control requests, window focus changes and
        file reloads (the loop calls this before each frame)."""
        self._collect()
        for request in self.mapping.take_requests():
            self._carry_out(request, "binding")
        while not self._requests.empty():  # (no exception raised on every frame)
            try:
                queued = self._requests.get_nowait()
            except queue.Empty:
                break
            self._carry_out(queued, "requested")
        switcher = self.services.switcher
        if switcher is not None:
            name = switcher.poll(self.mapping.name)
            if name is not None:
                self._do_switch(name, "active window")
        if self.services.reloader is not None:
            self.services.reloader.poll()

    def offer_taught_poses(self, taught: TaughtSet) -> None:
        """Use these taught poses from the next frame on (any thread)."""
        self._requests.put(RequestTaughtPoses(taught))

    def set_taught_poses(self, taught: TaughtSet) -> None:
        """The taught poses changed (loop thread)."""
        self._settle()
        self.pipeline.gestures.set_taught_poses(taught)

    def reload_profile(self) -> None:
        """The active profile's file changed (called by the hot reloader, loop thread)."""
        self._settle()
        actions = self.mapping.reload()  # raises on a broken file: the old one stays
        self._emit(actions)
        self.pipeline.release_all("profile reload")
        log.info("profile %s reloaded", self.mapping.name)

    def _handle_face_events(self, events: Iterable[object]) -> None:
        touches = self.services.face_touches
        if touches is None:
            return
        for event in events:
            if isinstance(event, FaceTouch):
                try:
                    touches.on_event(event)
                except Exception:
                    log.exception("could not record a face-touch episode")

    def _publish_tray(self, force: bool = False) -> None:
        tray = self.services.tray
        now = time.monotonic()
        if tray is None:
            factory = self.services.tray_factory
            if factory is None or now < self._next_tray_try:
                return
            self._next_tray_try = now + TRAY_RETRY_S
            tray = self.services.tray = factory()
            if tray is None:
                return
            force = True
        if force or now >= self._next_tray:
            self._next_tray = now + TRAY_REFRESH_S
            try:
                tray.update(self.status())
            except Exception:
                log.exception("tray update failed")

    # -- the loop (the main thread) ---------------------------------------------------

    def _install_signals(self) -> list[tuple[signal.Signals, SignalHandler]]:
        previous: list[tuple[signal.Signals, SignalHandler]] = []
        if threading.current_thread() is not threading.main_thread():
            return previous

        def on_signal(signum: int, _frame: FrameType | None) -> None:
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

    @staticmethod
    def _from_source(source: Source, call: Callable[[], T]) -> T:
        """``call`` (a read or a skip); a live source's unexpected error (a camera
        driver's ``cv2.error``...) is a lost camera too."""
        try:
            return call()
        except SourceLost:
            raise
        except Exception as exc:
            if not source.live:
                raise
            raise SourceLost(f"{source.name} failed: {exc}") from exc

    def _camera_lost(self, source: Source, exc: SourceLost) -> Source | None:
        """Release everything, close the source and open it again (with backoff); None
        when told to stop meanwhile. ``self._source`` is the reopened one."""
        log.warning("%s; retrying", exc)
        self._settle()
        self._emit(self.mapping.release_all())
        self.pipeline.release_all("camera lost")
        self._forget_hands()
        self._state = DaemonState.CAMERA_LOST
        self._fps.stalled()
        self._publish_tray(force=True)
        source.close()
        self._source = None
        reopened = self._source = self._open_with_retry(first=False)
        if reopened is None:
            return None
        self.pipeline.gestures.reset()
        self._state = DaemonState.PAUSED if self.mapping.paused else DaemonState.RUNNING
        return reopened

    def _one_frame(self, frame: Frame) -> None:
        """The hand model on ``frame`` here, then, once the frame before is finished and
        what its bindings asked for (a pause, a profile) is carried out, the rest of it:
        the same order whether or not frames overlap."""
        try:
            begun = self.pipeline.begin(frame)
            if self.pipeline.hands_observed:  # back to full rate now, not a frame later
                self.idle.hand_seen(time.monotonic())
        except Exception as exc:
            self._frame_failed(frame.index, exc)
            return
        self._settle()
        self.apply_requests()
        if self._wants_frames():
            try:
                self.pipeline.finish(begun)
            except Exception as exc:
                self._frame_failed(frame.index, exc)

    def _loop(self, source: Source) -> None:
        """Turns until told to stop or the source ends."""
        idle = self.idle
        while not self._stop.is_set():
            self.apply_requests()
            self._publish_tray()
            try:
                if idle.skip_next(source, time.monotonic()):
                    if not self._from_source(source, source.skip):
                        break  # the end of a file
                    idle.skipped += 1
                    continue
                frame = self._from_source(source, source.read)
            except SourceLost as exc:
                reopened = self._camera_lost(source, exc)
                if reopened is None:
                    return
                source = reopened
                continue
            if frame is None:
                break  # the end of a file
            if idle.still(source, frame, time.monotonic()):
                continue  # a still view with no hand: nothing new to look for
            if not self._wants_frames():
                self.pipeline.show_unanalysed(frame)
                continue
            self._one_frame(frame)
            self._collect()
            self._fps.tick(time.perf_counter())

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
        try:
            source = self._source = self._open_with_retry(first=True)
            if source is None:
                return RunSummary(0, time.perf_counter() - start, 0, 0)
            self._source_name = source.name
            self._state = DaemonState.RUNNING
            self.idle.hand_seen(time.monotonic())
            self._fps.restart(start)
            self._loop(source)
        finally:
            source = self._source
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
                          skipped_idle=self.idle.skipped)
