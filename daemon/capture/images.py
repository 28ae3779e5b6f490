"""Images as a source: a folder of frames played in name order, or a single image file;
and ``read_image``, one image file with a clear error (``handmap detect``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from handmap.daemon.capture.frames import Frame, Pacer, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_FOLDER_FPS = 30.0


def _decode(path: Path) -> np.ndarray:
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
    return _decode(path)


class ImageFolderSource:
    """A folder of images played in name order (or a single image, as one frame)."""

    live = False
    can_skip = True

    def __init__(self, files: list[Path], name: str, fps: float = DEFAULT_FOLDER_FPS, realtime: bool = False) -> None:
        self.name = name
        self.fps = fps
        self._files = files
        self._index = 0
        self.realtime = realtime
        self.idle = False  # a file decodes only what is read anyway
        self._pacer = Pacer(realtime)

    @classmethod
    def from_folder(cls, folder: Path, fps: float = DEFAULT_FOLDER_FPS, realtime: bool = False) -> ImageFolderSource:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"folder {folder} has no images ({', '.join(IMAGE_SUFFIXES)}); pass a folder of frames, a video file or a camera index")
        return cls(files, str(folder), fps, realtime)

    @classmethod
    def from_file(cls, path: Path, fps: float = DEFAULT_FOLDER_FPS, realtime: bool = False) -> ImageFolderSource:
        """A single image as a one-frame source; an unreadable image is refused here."""
        _decode(path)
        return cls([path], str(path), fps, realtime)

    @property
    def dropped(self) -> int:
        return 0

    def read(self) -> Frame | None:
        while self._index < len(self._files):
            index = self._index
            self._index += 1
            try:
                image = _decode(self._files[index])
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
