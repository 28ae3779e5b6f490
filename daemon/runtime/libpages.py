"""Library pages: the big native libraries (OpenCV, MediaPipe, numpy) out of the page
cache before a long-running command loads them.

Right after an install, those files sit in the page cache as they were written, in large
blocks, and the kernel then maps whole blocks of them into a process that touches a few
pages: on this machine the daemon's peak RSS read 391 MB instead of 330 (``cv2.abi3.so``
alone 43 MB instead of 12), all of it clean, file-backed and shared. Dropping the files'
cached pages first (``posix_fadvise(DONTNEED)``, which leaves pages some process has
mapped alone) makes the kernel read what the process needs afresh, in small blocks. It
takes a few tens of ms; the libraries then load from disk instead of from memory, which cost
no measurable time here. Where ``posix_fadvise`` is missing (macOS) nothing is done.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: The packages whose native libraries the daemon loads (and the ``*.libs`` folders
#: beside them, where their wheels keep the libraries they bundle).
LIBRARY_PACKAGES = ("cv2", "mediapipe", "numpy")


def _is_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def library_files(packages: Iterable[str] = LIBRARY_PACKAGES) -> list[Path]:
    """The shared libraries of ``packages``, found without importing them."""
    folders: set[Path] = set()
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            folder = Path(location)
            folders.add(folder)
            folders.update(p for p in folder.parent.glob("*.libs") if p.is_dir())
    files: list[Path] = []
    for folder in sorted(folders):
        for root, _, names in os.walk(folder):
            files.extend(Path(root) / n for n in names if _is_library(n))
    return files


def release_cached_pages(files: Iterable[Path]) -> int:
    """Drop the files' pages from the page cache (those no process has mapped); the
    number of files done. Never fails: a file it cannot open is left as it is."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return 0
    done = 0
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            done += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    log.debug("released the cached pages of %d library files", done)
    return done


def release_library_pages() -> int:
    """``release_cached_pages`` for the daemon's libraries: call before they are loaded."""
    return release_cached_pages(library_files())
