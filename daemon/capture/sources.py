"""Source stage: where frames come from (camera, video file, image folder, landmark trace).

Every source hands over ``Frame`` values in order; a camera's capture thread always
keeps only the newest frame, so analysis never queues behind the camera (stale frames
are dropped and counted). File sources play as fast as they are consumed, or at their
own rate with ``realtime=True``.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from handmap.gestures.types import FrameObservation

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
TRACE_SUFFIXES = (".jsonl", ".trace")
DEFAULT_FOLDER_FPS = 30.0


class SourceError(Exception):
    """A source that cannot be opened or read; the message says which and what to do."""


class SourceLost(Exception):
    """A live source stopped delivering frames (the camera was unplugged...)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame: a BGR image as OpenCV decodes it, or (from a trace) an observation."""

    t: float  # the source's time, seconds
    index: int  # the source's frame number
    image: np.ndarray | None = None
    observation: FrameObservation | None = None
    available_at: float = 0.0  # time.perf_counter() when the frame became available


class Source(Protocol):
    name: str
    live: bool  # a camera (retry when lost) rather than a file (ends)

    def read(self) -> Frame | None:
        """The next frame, None at the end of a file; raises SourceLost for a camera."""

    @property
    def dropped(self) -> int: ...

    def close(self) -> None: ...


class _Pacer:
    """Plays file sources at their own rate when asked (``--realtime``)."""

    def __init__(self, realtime: bool) -> None:
        self.realtime = realtime
        self._start: float | None = None

    def wait(self, t: float) -> None:
        if not self.realtime:
            return
        now = time.perf_counter()
        if self._start is None:
            self._start = now - t
        delay = self._start + t - now
        if delay > 0:
            time.sleep(delay)


class VideoSource:
    live = False

    def __init__(self, path: Path, realtime: bool = False) -> None:
        import cv2

        self.name = str(path)
        self._cap = cv2.VideoCapture(str(path))
        ok = self._cap.isOpened()
        first = None
        if ok:
            ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"cannot read {path} as a video (OpenCV could not decode it); pass a video file, an image folder, a trace or a camera index")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 30.0
        self._pending: np.ndarray | None = first
        self._index = 0
        self.realtime = realtime
        self._pacer = _Pacer(realtime)

    @property
    def dropped(self) -> int:
        return 0

    def read(self) -> Frame | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            ok, image = self._cap.read()
            if not ok:
                return None
        t = self._index / self.fps
        self._pacer.wait(t)
        frame = Frame(t=t, index=self._index, image=image, available_at=time.perf_counter())
        self._index += 1
        return frame

    def skip(self) -> bool:
        """Pass over the next frame without converting it (idle rate); False at the end."""
        if self._pending is not None:
            self._pending = None
        elif not self._cap.grab():
            return False
        self._pacer.wait(self._index / self.fps)
        self._index += 1
        return True

    def close(self) -> None:
        self._cap.release()


def _read_image(path: Path) -> np.ndarray:
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SourceError(f"{path} is not an image handmap can read (JPEG, PNG, BMP, WebP, TIFF)")
    return image


def read_image(path: Path) -> np.ndarray:
    """One image file as a BGR array, with a clear error naming the file."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; pass image files (or use `handmap run --source {path}`)")
    return _read_image(path)


class ImageFolderSource:
    """A folder of images played in name order (or a single image, as one frame)."""

    live = False

    def __init__(self, files: list[Path], name: str, fps: float = DEFAULT_FOLDER_FPS, realtime: bool = False) -> None:
        self.name = name
        self.fps = fps
        self._files = files
        self._index = 0
        self.realtime = realtime
        self._pacer = _Pacer(realtime)

    @classmethod
    def from_folder(cls, folder: Path, fps: float = DEFAULT_FOLDER_FPS, realtime: bool = False) -> ImageFolderSource:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)}); pass a folder of frames, a video file or a camera index")
        return cls(files, str(folder), fps, realtime)

    @property
    def dropped(self) -> int:
        return 0

    def read(self) -> Frame | None:
        while self._index < len(self._files):
            index = self._index
            self._index += 1
            try:
                image = _read_image(self._files[index])
            except SourceError as exc:  # one damaged file loses one frame, not the rest of the folder
                log.warning("%s (skipped)", exc)
                continue
            t = index / self.fps
            self._pacer.wait(t)
            return Frame(t=t, index=index, image=image, available_at=time.perf_counter())
        return None

    def skip(self) -> bool:
        """Pass over the next image without decoding it (idle rate); False at the end."""
        if self._index >= len(self._files):
            return False
        self._pacer.wait(self._index / self.fps)
        self._index += 1
        return True

    def close(self) -> None:
        pass


def camera_indices() -> list[int]:
    """Camera indices this machine has (Linux: /dev/video*), for error messages."""
    found = []
    for dev in glob.glob("/dev/video*"):
        suffix = dev[len("/dev/video"):]
        if suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


class CameraSource:
    """A camera read by a capture thread that keeps only the newest frame."""

    live = True
    #: No frame for this long means the camera is lost.
    STALL_S = 2.0

    def __init__(self, index: int, width: int, height: int, fps: float, capture=None) -> None:
        """``capture``: an already made ``cv2.VideoCapture``-like object to read instead of
        opening device ``index`` (tests play a scripted device through this class)."""
        import cv2

        self.name = f"camera {index}"
        self.index = index
        cap = cv2.VideoCapture(index) if capture is None else capture
        if not cap.isOpened():
            cap.release()
            raise SourceError(_no_camera_message(index))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._consumed = -1
        self._dropped = 0
        self._failed = False
        self.idle = False  # set by the daemon: convert frames only when read
        self._want = threading.Event()
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._capture, name="handmap-camera", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        index = 0
        failures = 0
        while not self._stop.is_set():
            image = None
            ok = self._cap.grab()
            if ok and (not self.idle or self._want.is_set()):
                # Converted only when wanted: at the idle rate most frames are grabbed
                # (keeping the driver's queue fresh) and never decoded.
                self._want.clear()
                ok, image = self._cap.retrieve()
                ok = ok and image is not None
            if not ok:
                failures += 1
                if failures >= 30:
                    with self._cond:
                        self._failed = True
                        self._cond.notify_all()
                    return
                time.sleep(0.01)
                continue
            failures = 0
            frame = Frame(t=time.monotonic() - self._t0, index=index, image=image, available_at=time.perf_counter())
            with self._cond:
                if self._latest is not None and self._latest.index > self._consumed and self._latest.image is not None:
                    self._dropped += 1
                self._latest = frame
                self._cond.notify_all()
            index += 1

    @property
    def dropped(self) -> int:
        return self._dropped

    def _wait(self, want_image: bool) -> Frame:
        deadline = time.monotonic() + self.STALL_S
        if want_image and self.idle:
            self._want.set()
        with self._cond:
            while (self._latest is None or self._latest.index <= self._consumed
                   or (want_image and self._latest.image is None)):
                if self._failed:
                    raise SourceLost(f"{self.name} stopped delivering frames")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceLost(f"{self.name} delivered no frame for {self.STALL_S:.0f} s")
                self._cond.wait(remaining)
            frame = self._latest
            self._consumed = frame.index
            return frame

    def read(self) -> Frame | None:
        return self._wait(want_image=True)

    def skip(self) -> bool:
        """Let the newest frame go by unconverted (idle rate)."""
        self._wait(want_image=False)
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._cap.release()


def _no_camera_message(index: int) -> str:
    found = camera_indices()
    if found:
        listing = ", ".join(str(i) for i in found)
        return f"no camera at index {index} (cameras found: {listing}); pass one of those with --source, or --source FILE to play a video or image folder"
    return f"no camera at index {index} (this machine has no camera devices); use --source FILE to play a video, an image folder or a trace"


def open_source(spec: str, *, width: int = 640, height: int = 480, fps: float = 30.0,
                realtime: bool = False, folder_fps: float | None = None) -> Source:
    """A source from a ``--source`` value: a camera index, a video, a folder or a trace."""
    if spec.strip().isdigit():
        return CameraSource(int(spec), width, height, fps)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"{spec}: no such file or folder (and not a camera index)")
    if path.is_dir():
        return ImageFolderSource.from_folder(path, folder_fps or DEFAULT_FOLDER_FPS, realtime)
    if not os.access(path, os.R_OK):
        raise SourceError(f"{spec}: permission denied")
    if path.suffix.lower() in TRACE_SUFFIXES:
        from handmap.daemon.capture.trace import TraceSource

        return TraceSource(path, realtime=realtime)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        _read_image(path)
        return ImageFolderSource([path], str(path), folder_fps or DEFAULT_FOLDER_FPS, realtime)
    return VideoSource(path, realtime=realtime)


def iterate(source: Source) -> Iterator[Frame]:
    while True:
        frame = source.read()
        if frame is None:
            return
        yield frame
