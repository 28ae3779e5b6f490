"""Test clips made at test time from the shared real frames by the project's scripts
(never stored in the project): ``make_clip`` runs one into a temporary folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def make_clip(script: str, out: Path, data: Path, *args: str) -> Path:
    """Run ``scripts/<script>`` to write ``out`` from the real data in ``data``."""
    subprocess.run([sys.executable, str(PROJECT / "scripts" / script), str(out), "--data", str(data), *args],
                   check=True, capture_output=True, text=True)
    return out


def read_clip(path: Path, frames: int | None = None) -> list:
    """A clip's frames as RGB arrays (up to ``frames``)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    out = []
    while frames is None or len(out) < frames:
        ok, image = capture.read()
        if not ok:
            break
        out.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    capture.release()
    return out
