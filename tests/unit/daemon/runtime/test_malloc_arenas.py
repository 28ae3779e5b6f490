"""The daemon's threads share two malloc arenas (daemon/runtime/memory.py), which keeps
the peak RSS of a 720p replay under the 350 MB budget; a user's MALLOC_ARENA_MAX wins."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handmap.daemon.runtime.memory import limit_malloc_arenas

#: Six threads each allocate from C; glibc's malloc_stats() then lists one "Arena N:"
#: block per arena on stderr.
PROBE = """
import ctypes, sys, threading
from handmap.daemon.runtime.memory import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas(env={})
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
def work():
    for _ in range(200):
        libc.malloc(4096)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.malloc_stats()
"""


def _arenas(mode: str) -> int:
    stderr = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                            timeout=60, env={"PATH": ""}).stderr
    return sum(1 for line in stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas are a Linux thing")
def test_threads_share_two_arenas_once_limited():
    assert _arenas("default") > 2  # what glibc does on its own: an arena per thread
    assert _arenas("limited") <= 2


def test_the_users_setting_wins():
    assert not limit_malloc_arenas(env={"MALLOC_ARENA_MAX": "4"})
    assert not limit_malloc_arenas(env={}, platform="darwin")
