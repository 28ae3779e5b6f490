"""Shared fixtures: the real data in ../shared/data and a real test desktop."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time (a fuzzer's new find must not decide whether a
# submission lands); local runs keep exploring new ones. HANDMAP_FUZZ_EXAMPLES deepens.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

from desktop import missing_programs, start_desktop  # noqa: E402  (after the hypothesis profile)

# Every daemon a test starts without a runtime dir of its own gets this process's private
# one, not the machine's: a handmap the user runs, or another test process's (the suite
# runs on two workers), is then not "already running" for it.
os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="handmap-test-run-")

PROJECT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HANDMAP_TEST_DATA", PROJECT.parent / "shared" / "data"))
HANDS = DATA / "hands"
SESSION35 = DATA / "sequences" / "webcam_session35"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (HANDS / "labels.csv").exists():
        pytest.skip(f"real test data not found at {DATA} (set HANDMAP_TEST_DATA to the shared data folder)")
    return DATA


@pytest.fixture(scope="session")
def session35(data_dir) -> Path:
    if not (SESSION35 / "timeline.csv").exists():
        pytest.skip(f"webcam_session35 not found under {DATA}")
    return SESSION35


@pytest.fixture()
def desktop():
    """A fresh Xvfb + window manager + session D-Bus + dunst for one test."""
    missing = missing_programs()
    if missing:
        pytest.skip("real-desktop test needs " + ", ".join(missing) + " (run scripts/setup.sh as root)")
    d = start_desktop()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture()
def short_tmp():
    """A fresh folder with a short path, for Unix sockets (at most 107 bytes) that
    ``tmp_path`` can be too deep for."""
    path = Path(tempfile.mkdtemp(prefix="hm-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


#: Test files that start a real Wayland compositor: on several workers, they all run on
#: one worker, one at a time (each already loads both cores while it starts).
COMPOSITOR_FILES = re.compile(r"tests/desktop/test_(compositor_\w+|sni_gnome)\.py")


#: The files that take a minute or more (``--durations``), slowest first: on several
#: workers they are handed out first, so that no worker ends the run alone on one of them.
SLOW_FILES = (
    "tests/desktop/test_ui_browser.py",
    "tests/unit/daemon/perception/test_look_ahead.py",
    "tests/integration/test_face_touch_clips.py",
    "tests/unit/daemon/tools/test_bench.py",
    "tests/desktop/test_stuck_input.py",
    "tests/integration/test_two_hand_gestures.py",
    "tests/unit/daemon/perception/test_two_hand_tracking.py",
)


def pytest_collection_modifyitems(config, items):
    """On a worker (scripts/test.sh), the slow files first; otherwise the usual order."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    rank = {path: i for i, path in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FILES)))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: pytest without xdist must not reject it
def pytest_xdist_make_scheduler(config, log):
    """``-n 2 --dist loadfile`` (scripts/test.sh): each test file stays on one worker, so
    its module fixtures (MediaPipe over a clip, often) are computed once, the compositor
    files share one worker, and files go out in the workers' collection order (the slow
    ones first; xdist would otherwise put the files with the most tests first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False
    from xdist.scheduler import LoadFileScheduling

    class FilesAndCompositors(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "compositors" if COMPOSITOR_FILES.fullmatch(path) else path

    return FilesAndCompositors(config, log)
