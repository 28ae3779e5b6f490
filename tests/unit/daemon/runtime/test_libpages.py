"""Library pages out of the page cache before the daemon loads them (daemon/libpages.py):
checked with util-linux's ``fincore``, which reads the kernel's own record of which pages
of a file are cached."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from handmap.daemon.runtime.libpages import release_cached_pages

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("fincore") is None,
                                reason="posix_fadvise and util-linux's fincore: Linux")


def cached_bytes(path) -> int:
    done = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def test_a_files_cached_pages_are_released(tmp_path):
    path = tmp_path / "libexample.so.1"
    path.write_bytes(os.urandom(8 << 20))
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass  # now in the page cache
    os.sync()  # written back: clean pages the kernel may drop
    assert cached_bytes(path) >= 6 << 20
    assert release_cached_pages([path, tmp_path / "missing.so"]) == 1  # a missing file is passed over
    assert cached_bytes(path) < 1 << 20


def test_the_daemons_libraries_are_found_without_loading_them():
    code = ("import json, sys; from handmap.daemon.runtime.libpages import library_files; files = library_files(); "
            "print(json.dumps({'names': [p.name for p in files], 'loaded': [m for m in ('cv2', 'mediapipe') if m in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["loaded"] == []
    names = found["names"]
    assert len(names) >= 10
    assert any(n.startswith("cv2") for n in names) and any(n.startswith("_framework_bindings") for n in names)
