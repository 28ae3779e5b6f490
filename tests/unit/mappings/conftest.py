"""Fixtures of the mapping tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def user(tmp_path) -> Path:
    """The user's profiles folder (not created: the tests write into it)."""
    return tmp_path / "profiles"
