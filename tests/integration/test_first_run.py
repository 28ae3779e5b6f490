"""The first run, issue 18: ``handmap run`` as a newcomer meets it, the real CLI in a
subprocess. Asked for a preview where no window can open, it says so in one line and
exits 1 (OpenCV's window would abort the process); the first-run mode's banner says what
the hand controls and how to pause and quit; with no display the first-run preview is
left out with one line, never an abort.
"""

from __future__ import annotations

import pytest
from cli import handmap
from e2e_util import header_only_trace, private_env

NO_X = "no X display"


@pytest.mark.parametrize(("display_env", "said"), [
    ({}, "no display"),
    ({"WAYLAND_DISPLAY": "bogus"}, NO_X),
    ({"DISPLAY": ":97"}, "cannot open the X display :97"),
], ids=["nothing", "bogus-wayland", "unreachable-x"])
def test_preview_without_a_display_says_so_in_one_line(tmp_path, display_env, said):
    env = private_env(tmp_path / "home", **display_env)
    trace = header_only_trace(tmp_path / "empty.trace.jsonl")
    out = handmap("run", "--source", str(trace), "--preview", "--output", "dry-run", "--no-tray", env=env, timeout=120)
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("handmap: error: --preview needs a display") and said in lines[0], lines
