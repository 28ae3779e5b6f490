"""Capture stage: where frames come from.

- ``frames``: ``Frame``, the ``Source`` contract the run loop reads through, errors, ``Pacer``;
- ``camera``: a camera, read by a capture thread that keeps only the newest frame;
- ``video``: a video file; ``images``: an image folder or a single image (``read_image``);
- ``trace``: landmark traces, played as a source and written by ``--record``.

``open_source`` turns a ``--source`` value into the right one. File sources play as
fast as they are consumed, or at their own rate with ``realtime=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

from handmap.daemon.capture.camera import CameraSource, camera_indices
from handmap.daemon.capture.frames import Frame, Pacer, Source, SourceError, SourceLost
from handmap.daemon.capture.images import DEFAULT_FOLDER_FPS, IMAGE_SUFFIXES, ImageFolderSource, read_image
from handmap.daemon.capture.trace import TRACE_SUFFIXES, TraceRecorder, TraceSource
from handmap.daemon.capture.video import VideoSource

__all__ = [
    "CameraSource", "DEFAULT_FOLDER_FPS", "Frame", "IMAGE_SUFFIXES", "ImageFolderSource", "Pacer", "Source",
    "SourceError", "SourceLost", "TRACE_SUFFIXES", "TraceRecorder", "TraceSource", "VideoSource", "camera_indices",
    "open_source", "read_image",
]


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
        return TraceSource(path, realtime=realtime)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource.from_file(path, folder_fps or DEFAULT_FOLDER_FPS, realtime)
    return VideoSource(path, realtime=realtime)
