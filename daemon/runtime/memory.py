"""Process memory: fewer glibc malloc arenas.

glibc gives each thread that allocates its own malloc arena (up to eight per core), and
each arena keeps the memory it freed. handmap's threads (the hand model's, the second
hand's pass, the search, the face checks, MediaPipe's workers) each grew one, and on a
720p clip the daemon's peak RSS was 350-356 MB; with two arenas it was 342 MB, at the
same frame rate (``handmap bench`` on thumbs_up_in_front_of_face.mp4, docs/performance.md).
Must run before the threads start: the command line calls it first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter for the most arenas (``M_ARENA_MAX`` in malloc.h).
M_ARENA_MAX = -8
#: Arenas for the whole process: the hand model's thread and the others share them.
MALLOC_ARENAS = 2
#: The variable with which a user sets the arenas for glibc themselves (it wins).
ARENA_VAR = "MALLOC_ARENA_MAX"


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS, env: Mapping[str, str] | None = None,
                        platform: str = sys.platform) -> bool:
    """At most ``arenas`` malloc arenas from now on (glibc on Linux; True when set). Left
    alone when the user set ``MALLOC_ARENA_MAX`` or the C library has no such setting."""
    env = os.environ if env is None else env
    if ARENA_VAR in env or not platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("malloc arenas: at most %d (%s)", arenas, "set" if done else "not supported")
    return done
