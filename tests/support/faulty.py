"""Misbehaving sources for the robustness tests: real frames, faults on purpose.

A :class:`Device` is a pretend camera played from real frames (decoded from the
session35 video, or observations from a recorded trace) in a loop at a camera's pace.
The test switches its faults on and off while the daemon runs: unplug (reads fail,
opening fails), replug, stall (frames stop arriving), inject corrupt images, make the
next read raise. It is read in one of two ways:

- :meth:`Device.open_camera`: the daemon's real :class:`CameraSource` (capture thread,
  stall timeout, failure count) over a ``cv2.VideoCapture``-like :class:`DeviceCapture`;
- :meth:`Device.open_source`: a live ``Source`` of trace observations that raises
  ``SourceLost`` itself (for daemons built on a trace, which have no tracker).

No /dev/video* exists on these machines (see ../shared/notes/desktop-testing.md), so the
device is the one part that is scripted; everything downstream of it is the real code.

:class:`Glitching` wraps any real source and replaces chosen frames with corrupt ones.
:func:`use_opener` makes a built daemon take its frames from such a source.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from handmap.daemon.capture import CameraSource, Frame, SourceError, SourceLost, VideoSource
from handmap.gestures.trace import decode_line, encode_header, encode_observation, is_header
from handmap.gestures.types import FrameObservation

VIDEO_NAME = "subhih_session35_10fps_x5.mp4"
#: session35 video frames of a closed fist held still (stills 10-12, the left hand).
FIST_FRAMES = range(50, 65)
#: Corrupt images a broken driver might hand over: wrong shape, empty, wrong dtype.
CORRUPT_IMAGES = {
    "grey": np.zeros((600, 800), np.uint8),
    "empty": np.zeros((0, 0, 3), np.uint8),
    "float": np.random.default_rng(7).random((600, 800, 3)),
    "one-row": np.zeros((1, 800, 3), np.uint8)[:, :, :2],
}


def video_frames(video: Path, frames: Iterable[int]) -> list[np.ndarray]:
    """Decoded images of the given frame numbers of a real video."""
    wanted = set(frames)
    source = VideoSource(video)
    images = []
    try:
        while True:
            frame = source.read()
            if frame is None:
                break
            if frame.index in wanted:
                images.append(frame.image)
    finally:
        source.close()
    return images


class Device:
    """A pretend camera over real frames (images or trace observations), looped at ``fps``."""

    def __init__(self, frames: Sequence, fps: float = 15.0) -> None:
        assert frames, "a device needs frames to play"
        self.frames = list(frames)
        self.fps = fps
        self._lock = threading.Lock()
        self._plugged = True
        self._stalled = threading.Event()
        self._injected: list[np.ndarray] = []
        self._fail: BaseException | None = None
        self.opened = 0  # successful opens
        self.delivered = 0  # frames handed out

    # -- faults (the test's thread) -------------------------------------------------

    def unplug(self) -> None:
        with self._lock:
            self._plugged = False

    def replug(self) -> None:
        with self._lock:
            self._plugged = True

    def stall(self) -> None:
        self._stalled.set()

    def unstall(self) -> None:
        self._stalled.clear()

    def inject(self, *images: np.ndarray) -> None:
        """Deliver these (corrupt) images next, one per frame."""
        with self._lock:
            self._injected.extend(images)

    def fail_next_read(self, exc: BaseException) -> None:
        """The next read raises ``exc`` (a driver error nobody planned for)."""
        with self._lock:
            self._fail = exc

    @property
    def plugged(self) -> bool:
        with self._lock:
            return self._plugged

    # -- the device's side ----------------------------------------------------------

    def _next(self, n: int):
        with self._lock:
            if self._injected:
                return self._injected.pop(0)
        return self.frames[n % len(self.frames)]

    def _take_failure(self) -> BaseException | None:
        with self._lock:
            exc, self._fail = self._fail, None
            return exc

    def capture(self) -> DeviceCapture:
        return DeviceCapture(self)

    def open_camera(self, index: int = 0) -> CameraSource:
        """The daemon's real camera source over this device (SourceError while unplugged)."""
        source = CameraSource(index, 640, 480, self.fps, capture=self.capture())
        with self._lock:
            self.opened += 1
        return source

    def open_source(self, stall_s: float = 0.3) -> LiveTrace:
        """A live source of this device's observations (SourceError while unplugged)."""
        if not self.plugged:
            raise SourceError("no camera at index 0 (unplugged by the test)")
        with self._lock:
            self.opened += 1
        return LiveTrace(self, stall_s)


class DeviceCapture:
    """What ``cv2.VideoCapture(index)`` gives for a :class:`Device`: paced reads, failing
    reads while unplugged, blocking reads while stalled."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._opened = device.plugged
        self._released = threading.Event()
        self._n = 0
        self._next_t = time.monotonic()
        self._grabbed: np.ndarray | None = None

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self._opened

    def set(self, prop: int, value: float) -> bool:
        return True

    def grab(self) -> bool:
        device = self.device
        self._grabbed = None
        while device._stalled.is_set() and not self._released.is_set():
            time.sleep(0.01)  # a stalled driver: the read just does not return
        if self._released.is_set() or not device.plugged:
            return False  # a device that is gone fails at once
        delay = self._next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_t = max(self._next_t + 1.0 / device.fps, time.monotonic())
        self._grabbed = device._next(self._n)
        self._n += 1
        with device._lock:
            device.delivered += 1
        return True

    def retrieve(self):
        image, self._grabbed = self._grabbed, None
        return (True, image.copy()) if image is not None else (False, None)

    def read(self):
        return self.retrieve() if self.grab() else (False, None)

    def release(self) -> None:
        self._released.set()


class LiveTrace:
    """A live source of trace observations from a :class:`Device`: paced like a camera,
    ``SourceLost`` when unplugged or when no frame came for ``stall_s``."""

    live = True
    realtime = True
    can_skip = False  # no cheaper way past a frame than reading it: no idle rate

    def __init__(self, device: Device, stall_s: float) -> None:
        self.device = device
        self.name = "camera 0 (scripted)"
        self.idle = False
        self._stall_s = stall_s
        self._n = 0
        self._t0 = time.monotonic()
        self._next_t = self._t0

    @property
    def dropped(self) -> int:
        return 0

    def read(self) -> Frame | None:
        device = self.device
        exc = device._take_failure()
        if exc is not None:
            raise exc
        deadline = time.monotonic() + self._stall_s
        while device._stalled.is_set():
            if time.monotonic() >= deadline:
                raise SourceLost(f"{self.name} delivered no frame for {self._stall_s} s")
            time.sleep(0.01)
        if not device.plugged:
            raise SourceLost(f"{self.name} stopped delivering frames")
        delay = self._next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next_t = max(self._next_t + 1.0 / device.fps, time.monotonic())
        obs = device._next(self._n)
        t = time.monotonic() - self._t0
        frame = Frame(t=t, index=self._n, observation=dataclasses.replace(obs, t=t, frame=self._n),
                      available_at=time.perf_counter())
        self._n += 1
        with device._lock:
            device.delivered += 1
        return frame

    def skip(self) -> bool:
        return self.read() is not None

    def close(self) -> None:
        pass


class Glitching:
    """A real source with chosen frames replaced: ``glitches`` maps a frame number to a
    corrupt image (delivered in its place) or to an exception (raised by ``read``)."""

    def __init__(self, inner, glitches: dict, end_after: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = inner.live
        self.realtime = inner.realtime
        self.can_skip = False  # every frame is read, so that each glitch is delivered
        self.idle = False
        self.glitches = dict(glitches)
        self.end_after = end_after
        self.read_count = 0

    @property
    def dropped(self) -> int:
        return self.inner.dropped

    def read(self) -> Frame | None:
        if self.end_after is not None and self.read_count >= self.end_after:
            return None
        frame = self.inner.read()
        if frame is None:
            return None
        self.read_count += 1
        glitch = self.glitches.get(frame.index)
        if isinstance(glitch, BaseException):
            raise glitch
        if glitch is not None:
            return dataclasses.replace(frame, image=glitch)
        return frame

    def skip(self) -> bool:
        return self.read() is not None

    def close(self) -> None:
        self.inner.close()


def use_opener(built, opener: Callable[[], object]) -> None:
    """Make a built daemon open its frames with ``opener`` (a faulty source factory)
    instead of the source named in its options, which is closed unused."""
    if built.first_source is not None:
        built.first_source.close()
    built.daemon._open_source = opener


# -- traces ---------------------------------------------------------------------------


def read_trace(path: Path) -> list[FrameObservation]:
    lines = Path(path).read_text().splitlines()
    return [decode_line(line, n + 1) for n, line in enumerate(lines) if line.strip() and not is_header(line)]


def write_trace(path: Path, observations: Sequence[FrameObservation], fps: float = 30.0) -> Path:
    """A trace of ``observations`` in order, renumbered and re-timed at ``fps``."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(encode_header(source="test") + "\n")
        for n, obs in enumerate(observations):
            f.write(encode_observation(dataclasses.replace(obs, t=n / fps, frame=n)) + "\n")
    return Path(path)


def record_session35(video: Path, out: Path, env: dict) -> Path:
    """Record the session35 video's landmark stream once with ``handmap run --record``
    (faces off: only the hands are needed); reused when already there."""
    if out.exists():
        return out
    config = out.with_suffix(".config.yaml")
    config.write_text("faces:\n  enabled: false\n")
    partial = out.with_suffix(".partial")
    done = subprocess.run(
        [sys.executable, "-m", "handmap.daemon.cli", "run", "--config", str(config), "--source", str(video),
         "--output", "dry-run", "--no-tray", "--record", str(partial)],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    partial.rename(out)
    return out


class LineStream:
    """A thread-safe text stream for the dry-run output, read as JSON events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._text.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def events(self) -> list[dict]:
        with self._lock:
            text = "".join(self._text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def held_in_stream(events: Sequence[dict]) -> set[tuple[str, str]]:
    """What the dry-run stream says is down after these events."""
    held: set[tuple[str, str]] = set()
    for e in events:
        if e["type"] == "mouse_down":
            held.add(("button", e["button"]))
        elif e["type"] == "mouse_up":
            held.discard(("button", e["button"]))
        elif e["type"] == "key_down":
            held.add(("key", e["key"]))
        elif e["type"] == "key_up":
            held.discard(("key", e["key"]))
    return held


def wait_for(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Running:
    """A built daemon running on a background thread (the test thread drives faults)."""

    def __init__(self, built) -> None:
        self.built = built
        self.daemon = built.daemon
        self.summary = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="daemon-under-test", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.summary = self.daemon.run()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def state(self) -> str:
        return self.daemon.status().state.value

    def join(self, timeout: float = 20.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the daemon did not stop"

    def stop(self, timeout: float = 20.0) -> None:
        self.daemon.quit()
        try:
            self.join(timeout)
        finally:
            self.built.close()


class StatePoller:
    """Polls ``status()`` from its own thread, as the tray and ``handmap status`` do."""

    def __init__(self, daemon, every: float = 0.01) -> None:
        self.daemon = daemon
        self.seen: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._every = every
        self.thread = threading.Thread(target=self._poll, name="status-poller", daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen.append((time.monotonic(), self.daemon.status().state.value))
            self._stop.wait(self._every)

    def states(self) -> list[str]:
        return [s for _, s in self.seen]

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)


HOLD_PROFILE = """\
version: 1
name: holdtest
description: Hold shift and the left button while a closed fist lasts (robustness tests).
pointer:
  mode: none
bindings:
  - enter: closed
    do: [{hold: shift}, {mouse_down: left}]
"""

CALM_PROFILE = """\
version: 1
name: calm
description: No input at all.
pointer:
  mode: none
bindings: []
"""

TEST_CONFIG = """\
faces:
  enabled: false
pause_hotkey: null
tray: false
"""


def make_home(root: Path, base_env: dict | None = None, config: str = TEST_CONFIG) -> dict:
    """A user configuration folder with the test profiles; the environment that uses it."""
    import os

    env = dict(os.environ if base_env is None else base_env)
    config_home = root / "config"
    profiles = config_home / "handmap" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "holdtest.yaml").write_text(HOLD_PROFILE)
    (profiles / "calm.yaml").write_text(CALM_PROFILE)
    (config_home / "handmap" / "config.yaml").write_text(config)
    env["XDG_CONFIG_HOME"] = str(config_home)
    env["XDG_DATA_HOME"] = str(root / "data")
    if base_env is None:
        runtime = root / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        for name in ("DISPLAY", "WAYLAND_DISPLAY"):
            env.pop(name, None)
    return env
