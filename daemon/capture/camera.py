"""Cameras as a source: a capture thread keeps only the newest frame, so analysis never
queues behind the camera (stale frames are dropped and counted); a camera that stops
delivering raises ``SourceLost`` and the run loop retries it."""

from __future__ import annotations

import glob
import threading
import time
from typing import Any, Protocol

from handmap.daemon.capture.frames import Frame, SourceError, SourceLost

#: Failed grabs in a row after which the camera counts as lost.
MAX_FAILED_GRABS = 30
#: Wait between failed grabs, seconds.
FAILED_GRAB_WAIT_S = 0.01


class CaptureDevice(Protocol):
    """The part of ``cv2.VideoCapture`` a camera source uses (tests play a scripted one)."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def set(self, prop: int, value: float) -> bool: ...

    def grab(self) -> bool: ...

    def retrieve(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


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
    realtime = True
    can_skip = True
    #: No frame for this long means the camera is lost.
    STALL_S = 2.0

    def __init__(self, index: int, width: int, height: int, fps: float, capture: CaptureDevice | None = None) -> None:
        """``capture``: an already made ``cv2.VideoCapture``-like object to read instead of
        opening device ``index`` (tests play a scripted device through this class)."""
        import cv2

        self.name = f"camera {index}"
        self.index = index
        cap: CaptureDevice = cv2.VideoCapture(index) if capture is None else capture
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
                if failures >= MAX_FAILED_GRABS:
                    with self._cond:
                        self._failed = True
                        self._cond.notify_all()
                    return
                time.sleep(FAILED_GRAB_WAIT_S)
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
