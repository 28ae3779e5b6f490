"""Make the screenshots in docs/: the preview running and paused, and an annotated photo.

The real daemon runs on the shared webcam session (``--source`` a folder of its frames,
dry-run output) with ``--preview`` on a private Xvfb display; its window is captured
with python-xlib, once running and once after ``handmap pause``. ``handmap detect
--annotate`` draws the photo. The PNGs are reduced to 256 colours to stay small.

    .venv/bin/python scripts/screenshots.py [--data ../shared/data] [--out docs]

Needs Xvfb and the shared data (see tests/conftest.py for where it is looked for).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("HANDMAP_TEST_DATA", PROJECT.parent / "shared" / "data"))
#: The session's first frames (an open hand, then a point, beside the face): 15 s at 2 fps.
PREVIEW_FRAMES = 30
PREVIEW_FPS = "2"
#: How long the running preview is left to draw before it is captured (a few frames).
SETTLE_S = 3.0
#: Five hands around a face, one finger on the chin: crowded labels and a face touch.
PHOTO = Path("hands") / "ht" / "8.jpg"
SCREEN = "1280x800x24"
#: A row (or column) of the window belongs to the camera picture when this many of its
#: pixels differ from the window's background (the toolbar's icons are fewer).
PICTURE_RUN = 300
#: The screenshots' width: the README shows them about this wide.
PICTURE_WIDTH = 640
PALETTE = 256
MAX_BYTES = 200_000


def _handmap(*args: str, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "handmap.daemon.cli", *args], env=env, **kw)


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.terminate()
        raise SystemExit("screenshots: Xvfb did not start")
    return xvfb, f":{number}"


def _window(display: str, env: dict) -> int:
    found = subprocess.run(["xdotool", "search", "--sync", "--name", "handmap preview"], env=env,
                           capture_output=True, text=True, timeout=60)
    if found.returncode != 0:
        raise SystemExit(f"screenshots: the preview window did not appear ({found.stderr.strip()})")
    return int(found.stdout.split()[0])


def _grab(display: str, wid: int) -> np.ndarray:
    """The camera picture in the preview window (BGR), without the window's toolbar."""
    from Xlib import X
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        win = conn.create_resource_object("window", wid)
        geo = win.get_geometry()
        raw = win.get_image(0, 0, geo.width, geo.height, X.ZPixmap, 0xFFFFFFFF)
        shot = np.frombuffer(raw.data, dtype=np.uint8).reshape(geo.height, geo.width, 4)[:, :, :3].copy()
    finally:
        conn.close()
    differs = np.abs(shot.astype(int) - shot[-1, -1].astype(int)).sum(axis=2) > 30
    rows = np.flatnonzero(differs.sum(axis=1) >= PICTURE_RUN)
    cols = np.flatnonzero(differs.sum(axis=0) >= PICTURE_RUN)
    if not len(rows) or not len(cols):
        raise SystemExit("screenshots: the preview window shows no picture")
    return shot[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fit(display: str, wid: int, env: dict) -> None:
    """Resize the window so that the picture under its toolbar is ``PICTURE_WIDTH`` wide."""
    picture = _grab(display, wid)
    from Xlib import display as xdisplay

    conn = xdisplay.Display(display)
    try:
        geo = conn.create_resource_object("window", wid).get_geometry()
    finally:
        conn.close()
    toolbar = geo.height - picture.shape[0]
    height = round(PICTURE_WIDTH * picture.shape[0] / picture.shape[1]) + toolbar
    subprocess.run(["xdotool", "windowsize", str(wid), str(PICTURE_WIDTH), str(height)], env=env, check=True)


def _save(bgr: np.ndarray, path: Path) -> None:
    from PIL import Image

    image = Image.fromarray(bgr[:, :, ::-1].copy())
    image.quantize(PALETTE, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    size = path.stat().st_size
    print(f"{path} {image.width}x{image.height} {size // 1000} KB")
    if size > MAX_BYTES:
        raise SystemExit(f"screenshots: {path} is {size} bytes, over {MAX_BYTES}")


def preview_shots(data: Path, out: Path, work: Path) -> None:
    frames = sorted((data / "sequences" / "webcam_session35" / "frames").glob("*.jpg"))[:PREVIEW_FRAMES]
    if not frames:
        raise SystemExit(f"screenshots: no webcam_session35 frames under {data}")
    source = work / "frames"
    source.mkdir()
    for frame in frames:
        (source / frame.name).symlink_to(frame)
    xvfb, display = _start_xvfb()
    runtime = work / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(DISPLAY=display, XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(work / "config"),
               XDG_DATA_HOME=str(work / "data"), XDG_SESSION_TYPE="x11")
    daemon = _handmap("run", "--source", str(source), "--fps", PREVIEW_FPS, "--realtime", "--preview",
                      "--output", "dry-run", "--no-tray", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wid = _window(display, env)
        time.sleep(SETTLE_S / 2)  # the first frame has sized the window to the camera's
        _fit(display, wid, env)
        time.sleep(SETTLE_S)
        _save(_grab(display, wid), out / "preview-running.png")
        if _handmap("pause", env=env).wait(30) != 0:
            raise SystemExit("screenshots: handmap pause failed")
        time.sleep(SETTLE_S / 2)
        _save(_grab(display, wid), out / "preview-paused.png")
    finally:
        daemon.terminate()
        daemon.wait(30)
        xvfb.terminate()
        xvfb.wait(10)


def detect_shot(data: Path, out: Path, work: Path) -> None:
    import cv2

    annotated = work / "annotated"
    if _handmap("detect", "--annotate", str(annotated), str(data / PHOTO), env=dict(os.environ),
                stdout=subprocess.DEVNULL).wait(120) != 0:
        raise SystemExit("screenshots: handmap detect failed")
    _save(cv2.imread(str(annotated / PHOTO.name)), out / "detect-annotated.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared test data folder")
    parser.add_argument("--out", type=Path, default=PROJECT / "docs", help="where the PNGs go (default docs/)")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="handmap-screenshots-") as tmp:
        preview_shots(args.data, args.out, Path(tmp))
        detect_shot(args.data, args.out, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
