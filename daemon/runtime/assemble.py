"""Builds a daemon from the configuration and the command line: every object is made
here and passed in (no singletons, no module globals). Parts that cannot run here (no
display for the tray, no session bus for notifications, no window manager) are left
out with a logged reason; the daemon runs without them."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from handmap.daemon.capture import Source, SourceError, TraceRecorder, TraceSource, open_source
from handmap.daemon.config import Config, ConfigError, load_config, user_config_path
from handmap.daemon.desktop.session import has_display, window_display_problem, x_display
from handmap.daemon.log import NOTICE
from handmap.daemon.outputs import screen_size, select_output
from handmap.daemon.outputs.base import Output
from handmap.daemon.paths import user_poses_dir, user_profiles_dir
from handmap.daemon.perception.factory import make_tracker
from handmap.daemon.poses_store import PoseStore
from handmap.daemon.runtime.daemon import Daemon, FaceTouchLog, Services
from handmap.daemon.runtime.pipeline import Pipeline, PipelineSettings
from handmap.gestures.engine import GestureEngine
from handmap.gestures.face_touch import FaceTouchTracker
from handmap.mappings.loader import ProfileStore
from handmap.mappings.pointer_modes import Rect, ScreenGeometry

if TYPE_CHECKING:
    from handmap.daemon.control import InstanceLock
    from handmap.daemon.desktop.switching import AutoSwitcher
    from handmap.daemon.runtime.mapping_stage import MappingStage
    from handmap.daemon.runtime.reload import HotReloader
    from handmap.daemon.tools.preview import PreviewState

log = logging.getLogger(__name__)

DEFAULT_SCREEN = (1920, 1080)


class SetupError(Exception):
    """The daemon cannot be built as asked; the message says why and what to do."""


@dataclass(frozen=True)
class RunOptions:
    """What ``handmap run`` (or ``bench``) asks for beyond the configuration."""

    config_path: Path | None = None
    profile: str | None = None
    source: str | None = None
    output: str | None = None
    realtime: bool = False
    preview: bool = False
    #: The preview was not asked for by name (first-run mode): without a display the
    #: daemon runs without it, saying so, instead of refusing to start.
    preview_optional: bool = False
    #: First-run mode (start paused, with the preview, for a camera run); None: the
    #: configuration's ``first_run`` (what ``handmap run`` passes without a flag).
    first_run: bool | None = False
    record: Path | None = None
    tray: bool = True
    folder_fps: float | None = None
    mirror: bool | None = None
    report_frames: bool = False
    alerts: bool | None = None  # default: on for cameras, off for file replays
    history: bool | None = None  # likewise
    control_socket: bool = True
    #: Ask a daemon already running in this session to quit and take over from it
    #: (without it, a second daemon refuses to start).
    replace: bool = False
    window_switching: bool = True
    hotkey: bool = True
    idle: bool = True
    #: Faces on their own thread, and frames overlapped (``PipelineSettings``); default:
    #: for cameras and --realtime replays.
    faces_async: bool | None = None
    stream: TextIO | None = None  # where dry-run writes (stdout)


FIRST_RUN = "first-run mode"


@dataclass(frozen=True)
class StartFacts:
    """What a person starting the daemon is told (``handmap run``'s banner)."""

    camera: bool = False  # a live camera, not a file being replayed
    profile: str = ""
    output: str = ""
    first_run: bool = False  # starts paused (first-run mode)
    preview: bool = False  # the preview window is shown
    hotkey: str | None = None  # the pause hotkey, when it listens
    settings_window: bool = False  # the settings window is served (``handmap ui``)


@dataclass
class Built:
    daemon: Daemon
    pipeline: Pipeline
    output: Output
    first_source: Source | None  # None: a service waiting for its camera
    start: StartFacts = field(default_factory=StartFacts)
    closers: list = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.exception("error while closing")


def screen_geometry(env) -> ScreenGeometry:
    """The monitors (X RandR where available), else the screen, else 1920x1080."""
    monitors = _randr_monitors(env)
    if monitors:
        return ScreenGeometry(monitors=tuple(monitors))
    size = screen_size(env) or DEFAULT_SCREEN
    return ScreenGeometry.single(*size)


def _randr_monitors(env) -> list:
    display_name = x_display(env)
    if not display_name:
        return []
    try:
        from Xlib import display as xdisplay

        disp = xdisplay.Display(display_name)
        try:
            if not disp.has_extension("RANDR"):
                return []
            reply = disp.xrandr_get_monitors(disp.screen().root, is_active=True)
            return [Rect(m.x, m.y, m.width_in_pixels, m.height_in_pixels) for m in reply.monitors]
        finally:
            disp.close()
    except Exception:  # no RandR 1.5, no X: fall back to the screen size
        return []


def build(options: RunOptions, env: dict | None = None, config: Config | None = None) -> Built:
    env = dict(os.environ if env is None else env)
    config = config or load_config(options.config_path, env)
    from handmap.daemon.desktop.service import running_as_service

    as_service = running_as_service(env)
    closers: list = []
    lock = _instance_lock(options, env, closers) if options.control_socket else None
    try:
        return _build(options, env, config, as_service, lock, closers)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _instance_lock(options: RunOptions, env, closers: list) -> InstanceLock | None:
    """One daemon per user session: the lock taken before anything slow, so a second
    ``handmap run`` refuses at once (or, with ``--replace``, the first one quits)."""
    from handmap.daemon.control import AlreadyRunningError, ControlError, InstanceLock, default_socket_path

    lock = InstanceLock(default_socket_path(env))
    try:
        if options.replace:
            replaced = lock.take_over()
            if replaced is not None:
                log.warning("took over from the handmap that was running (pid %s)", replaced or "?")
        else:
            lock.acquire()
    except AlreadyRunningError as exc:
        raise SetupError(str(exc)) from None
    except (ControlError, OSError) as exc:  # no private runtime folder: run, but say so
        log.warning("no control socket: %s", exc)
        return None
    closers.append(lock.release)
    return lock


def _build(options: RunOptions, env: dict, config: Config, as_service: bool, lock: InstanceLock | None,
           closers: list) -> Built:
    source_spec = options.source if options.source is not None else str(config.camera.index)
    is_camera = source_spec.strip().isdigit()
    mirror = options.mirror if options.mirror is not None else (config.camera.mirror and is_camera)

    def opener() -> Source:
        return open_source(source_spec, width=config.camera.width, height=config.camera.height,
                           fps=config.camera.fps, realtime=options.realtime, folder_fps=options.folder_fps)

    first: Source | None
    try:
        first = opener()  # a clear error before any model loads
    except SourceError:
        if not (is_camera and as_service):
            raise
        first = None  # a service waits for its camera
    # After the source: a missing camera is the one thing to say, not the preview.
    first_run = is_camera and not as_service and (
        options.first_run if options.first_run is not None else config.first_run)
    if first_run and not options.preview:  # the preview is part of first-run mode, where it can open
        options = dataclasses.replace(options, preview=True, preview_optional=True)
    try:
        show_preview = options.preview and _preview_possible(options, env)
    except SetupError:
        if first is not None:
            first.close()
        raise
    pending = [first]

    def open_next() -> Source:
        if pending[0] is not None:
            source, pending[0] = pending[0], None
            return source
        return opener()

    is_trace = isinstance(first, TraceSource)
    gesture_config = config.gestures.engine_config()  # checked with the file's line when it was read
    face_config = config.face_touch.engine_config()
    # Cameras and paced replays run live: faces on their own thread, frames overlapped,
    # and nothing waited for that a frame starts beside its tracking. A file replayed as
    # fast as it is read gives the same result on every run instead.
    live = options.faces_async if options.faces_async is not None else (is_camera or options.realtime)
    tracker = None if is_trace else make_tracker(config, video=True, env=env, settle=not live)
    if tracker is not None:
        closers.append(tracker.close)
    gestures = GestureEngine(gesture_config, face_touch=FaceTouchTracker(face_config) if config.faces.enabled else None)

    poses = PoseStore(user_poses_dir(env))
    gestures.set_taught_poses(poses.taught_set())
    store = ProfileStore(user_profiles_dir(env), taught_poses=poses.names)
    output = select_output(options.output or config.output, env, stream=options.stream)
    closers.append(output.close)
    if output.injects:
        from handmap.daemon.outputs.held import recover_stale_held

        released = recover_stale_held(output)
        if released:
            log.warning("released %d input(s) a previous run left held", len(released))
    from handmap.daemon.runtime.mapping_stage import MappingStage, ProfileHealth

    try:
        mapping = MappingStage(store, options.profile or config.profile, screen_geometry(env), gestures,
                               max_hands=None if is_trace else config.model.max_hands)
    except KeyError as exc:
        raise SetupError(str(exc.args[0]) if exc.args else str(exc)) from None
    except Exception as exc:  # a broken profile file
        raise SetupError(f"profile {options.profile or config.profile}: {exc}") from None

    recorder = None
    if options.record:
        recorder = TraceRecorder(options.record, source=first.name if first else source_spec)
        closers.append(recorder.close)
    preview = None
    if show_preview:
        from handmap.daemon.tools.preview import Preview

        preview = Preview(lambda: _preview_state(mapping))
        closers.append(preview.close)
    pipeline = Pipeline(
        tracker, gestures, mapping, output,
        PipelineSettings(selfie=mirror, mirror=mirror, faces_rate_hz=config.faces.rate_hz,
                         report_frames=options.report_frames, faces_async=live, overlap=live and preview is None),
        recorder=recorder, preview=preview,
    )
    closers.append(pipeline.close)

    services = Services()
    history = options.history if options.history is not None else is_camera
    alerts_on = options.alerts if options.alerts is not None else is_camera
    from handmap.daemon.history.store import TouchStore, default_history_path

    history_path = default_history_path(env)
    face_log = FaceTouchLog(profile=lambda: mapping.name,  # the active profile can turn alerts off
                            alerts_wanted=lambda: mapping.profile.alerts.face_touch,
                            # without history, today's count still reads the history's
                            reader=lambda: TouchStore(history_path, create=False))
    closers.append(face_log.close)
    if history:
        try:
            face_log.store = TouchStore(history_path)
            closers.append(face_log.store.close)
        except Exception as exc:
            log.warning("face-touch history is off: %s", exc)
    if alerts_on and config.alerts.notify:
        face_log.alerts = _alerts(config, env, closers)
    services.face_touches = face_log

    daemon = Daemon(pipeline, mapping, open_next, output_name=output.name, services=services,
                    wait_for_camera=is_camera and as_service, idle=options.idle,
                    profile_names=store.names, profile_health=ProfileHealth(store))
    daemon.set_alerts_muted(config.alerts.muted)
    if first_run:
        daemon.pause(by=FIRST_RUN)  # before the first frame: nothing is injected until a resume

    switcher = _switcher(env, store, options.profile or config.profile, closers) if options.window_switching else None
    services.switcher = switcher
    services.reloader = _reloader(daemon, mapping, store, options, env, config, switcher, closers)
    settings_window = False
    if lock is not None:
        _control(daemon, env, lock, closers)
        if config.ui.enabled:
            settings_window = _ui(daemon, pipeline, mapping, store, poses, options, env, config, closers)
            if settings_window and first_run and has_display(env):
                _open_settings_window(env)
    hotkey = None
    if options.hotkey and config.pause_hotkey and has_display(env):
        hotkey = _hotkey(daemon, config.pause_hotkey, closers)
    if options.tray and config.tray:
        services.tray_factory = lambda: _tray(daemon, store, env, closers)  # noqa: E731
    start = StartFacts(camera=is_camera, profile=mapping.name, output=output.name, first_run=first_run,
                       preview=preview is not None, hotkey=hotkey, settings_window=settings_window)
    return Built(daemon=daemon, pipeline=pipeline, output=output, first_source=first, closers=closers, start=start)


def _preview_possible(options: RunOptions, env) -> bool:
    """Whether the preview window can open; asked for by name, SetupError when it cannot
    (OpenCV would abort the process), else a warning and no preview."""
    problem = window_display_problem(env)
    if problem is None:
        return True
    if not options.preview_optional:
        raise SetupError(f"--preview needs a display: {problem}; run without --preview "
                         "(with --output dry-run to watch the events instead)")
    log.warning("no preview window: %s; running without it", problem)
    return False


def _alerts(config: Config, env, closers: list):
    from handmap.daemon.desktop.notify import DesktopNotifications, FaceTouchAlerts, Notifier, NullNotifier

    notifier: Notifier = NullNotifier()
    if env.get("DBUS_SESSION_BUS_ADDRESS") or env.get("XDG_RUNTIME_DIR"):
        notifier = DesktopNotifications()
        closers.append(notifier.close)
    alerts = FaceTouchAlerts(notifier, cooldown_s=config.alerts.cooldown_s, sound=config.alerts.sound,
                             muted=config.alerts.muted)
    return alerts


def _preview_state(mapping: MappingStage) -> PreviewState:
    """What the preview shows of the daemon: the profile, whether it is paused, and the
    active profile's pointer region (absolute pointing)."""
    from handmap.daemon.tools.preview import PreviewState

    pointer = mapping.profile.pointer
    region = None
    if pointer.mode == "absolute":
        r = pointer.absolute.region
        region = (r.left, r.top, r.right - r.left, r.bottom - r.top)
    return PreviewState(profile=mapping.name, paused=mapping.paused, region=region)


def _switcher(env, store, default_profile: str, closers: list) -> AutoSwitcher:
    """Automatic switching; windows no profile matches get ``default_profile`` (the one
    ``--profile`` named, else the configured one), so ``--profile`` is not undone by the
    first window the watcher reports."""
    from handmap.daemon.desktop.switching import AutoSwitcher, ProfileMatcher
    from handmap.daemon.desktop.windows.base import NoneWatcher
    from handmap.daemon.desktop.windows.selector import select_window_watcher

    try:
        watcher = select_window_watcher(env=env)
        watcher.start()
    except (OSError, ValueError) as exc:
        log.warning("automatic profile switching is off: %s", exc)
        watcher = NoneWatcher(str(exc))
    closers.append(watcher.stop)
    return AutoSwitcher(watcher, ProfileMatcher.from_store(store, default=default_profile))


def _reloader(daemon: Daemon, mapping, store, options: RunOptions, env, config: Config,
              switcher: AutoSwitcher | None, closers: list) -> HotReloader:
    from handmap.daemon.desktop.switching import ProfileMatcher
    from handmap.daemon.poses_store import SUFFIX as POSE_SUFFIX
    from handmap.daemon.poses_store import read_file as read_pose_file
    from handmap.daemon.runtime.reload import DEFAULT_PATTERNS, BackgroundBuild, HotReloader, ReloadMonitor

    config_file = options.config_path or user_config_path(env)
    profiles_dir = user_profiles_dir(env)
    poses = PoseStore(user_poses_dir(env))
    builds = BackgroundBuild()
    closers.append(builds.close)

    def deliver_taught(taught) -> None:  # the worker thread: the loop applies it
        log.log(NOTICE, "taught poses: %s", ", ".join(taught.names) or "none")
        daemon.offer_taught_poses(taught)

    def validate(path: Path):
        if path.parent == poses.directory or path.suffix == POSE_SUFFIX:
            if path.parent == poses.directory and path.suffix == POSE_SUFFIX:
                read_pose_file(path)  # raises, naming the file: the poses in use stay
            return []
        if path == config_file:
            try:
                load_config(path, env)
            except ConfigError as exc:  # every problem, each with its line
                if not exc.errors:
                    raise
                return list(exc.errors)
            return []
        return store.validate_file(path)

    def apply(paths) -> None:  # one line at the default level: the edit was seen and is good
        if config_file in paths:
            log.log(NOTICE, "%s changed and is valid; camera, model and output settings apply after a restart",
                    config_file)
        if any(p.parent == poses.directory and p.suffix == POSE_SUFFIX for p in paths):
            # Training them takes up to seconds: off the loop, so frames keep flowing
            # (a corrupt file is skipped with a warning naming it).
            builds.submit(poses.taught_set, deliver_taught, "taught poses")
        profile_paths = [p for p in paths if p != config_file and p.parent != poses.directory
                         and p.suffix != POSE_SUFFIX]
        if profile_paths:
            log.log(NOTICE, "reloaded %s", ", ".join(str(p) for p in sorted(profile_paths)))
            try:
                # Reloading releases held input: only when the active profile (or one it
                # extends) changed, so saving another profile does not drop a drag.
                if store.load(mapping.name) != mapping.profile:
                    daemon.reload_profile()
            except Exception as exc:
                log.error("%s (keeping the last good version of profile %s)", exc, mapping.name)
            if switcher is not None:
                switcher.set_matcher(ProfileMatcher.from_store(store, default=options.profile or config.profile))

    return HotReloader(ReloadMonitor([profiles_dir, config_file, poses.directory],
                                     patterns=(*DEFAULT_PATTERNS, "*" + POSE_SUFFIX)), validate, apply)


def _control(daemon: Daemon, env, lock: InstanceLock, closers: list) -> None:
    from handmap.daemon.control import AlreadyRunningError, ControlError, ControlServer, default_socket_path

    server = ControlServer(daemon, default_socket_path(env), lock=lock)
    try:
        server.start()
    except AlreadyRunningError as exc:
        raise SetupError(str(exc)) from None
    except ControlError as exc:
        log.warning("no control socket: %s", exc)
        return
    closers.append(server.stop)


def _ui(daemon: Daemon, pipeline: Pipeline, mapping: MappingStage, store: ProfileStore, poses: PoseStore,
        options: RunOptions, env, config: Config, closers: list) -> bool:
    """The settings window's server (config ``ui``), for the daemon that holds the lock;
    whether it is served."""
    from handmap.daemon.history.store import default_history_path
    from handmap.daemon.ui.wiring import UiPaths, start_ui

    paths = UiPaths(profiles=user_profiles_dir(env), config=options.config_path or user_config_path(env),
                    history=default_history_path(env))
    server = start_ui(daemon, pipeline, lambda: _preview_state(mapping), store, poses, paths, config, env)
    if server is None:
        return False
    closers.append(server.stop)
    return True


def _open_settings_window(env) -> None:
    """First-run mode opens the settings window in the browser, where a newcomer sees the
    camera view and the profiles without YAML (``handmap ui`` opens it later)."""
    from handmap.daemon.ui.launch import open_settings

    if open_settings(env):
        log.info("first-run mode: the settings window is open in your browser (later: handmap ui)")


def _hotkey(daemon: Daemon, combo: str, closers: list) -> str | None:
    """The pause hotkey, listening; its combination, None when it cannot listen here."""
    from handmap.daemon.desktop.hotkey import HotkeyUnavailable, PauseHotkey

    try:
        hotkey = PauseHotkey(combo, daemon)
        hotkey.start()
    except HotkeyUnavailable as exc:
        log.info("no pause hotkey: %s", exc)
        return None
    closers.append(hotkey.stop)
    return combo


def _tray(daemon: Daemon, store, env, closers: list):
    from handmap.daemon.desktop.tray import start_tray

    tray, reason = start_tray(daemon, store.names(), env)
    if tray is None:
        log.info("no tray icon: %s", reason)
        return None
    closers.append(tray.stop)
    return tray
