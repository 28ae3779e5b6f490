"""Video files as a source: decoded with OpenCV, frame by frame, in order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from handmap.daemon.capture.frames import Frame, Pacer, SourceError

#: The rate assumed for a video whose file does not say.
DEFAULT_VIDEO_FPS = 30.0


class VideoSource:
    """A video file; plays as fast as it is read, or at its own rate with ``realtime``."""

    live = False
    can_skip = True

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
        self.fps = fps if fps and fps > 0 else DEFAULT_VIDEO_FPS
        self._pending: np.ndarray | None = first
        self._index = 0
        self.realtime = realtime
        self.idle = False  # a file decodes only what is read anyway
        self._pacer = Pacer(realtime)

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
