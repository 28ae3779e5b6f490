"""Shared fixtures: the real data in ../shared/data and a real test desktop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time (a fuzzer's new find must not decide whether a
# submission lands); local runs keep exploring new ones. HANDMAP_FUZZ_EXAMPLES deepens.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

from desktop import missing_programs, start_desktop  # noqa: E402  (after the hypothesis profile)

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
