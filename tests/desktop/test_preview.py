"""``handmap run --preview``: a real window on a real X server showing the annotated view."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest


def _window_image(desktop, wid: int) -> np.ndarray:
    from Xlib import X, display

    disp = display.Display(desktop.display)
    try:
        win = disp.create_resource_object("window", wid)
        geo = win.get_geometry()
        raw = win.get_image(0, 0, geo.width, geo.height, X.ZPixmap, 0xFFFFFFFF)
        return np.frombuffer(raw.data, dtype=np.uint8).reshape(geo.height, geo.width, 4)[:, :, :3]
    finally:
        disp.close()


@pytest.mark.desktop
def test_preview_window_shows_the_annotated_camera_view(desktop, session35, tmp_path):
    env = dict(desktop.env, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(session35 / "frames"), "--fps", "2",
         "--realtime", "--preview", "--output", "dry-run", "--no-tray"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        found = subprocess.run(["xdotool", "search", "--sync", "--name", "handmap preview"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert found.returncode == 0, found.stderr
        wid = int(found.stdout.split()[0])
        time.sleep(2.0)  # a few frames drawn
        shot = _window_image(desktop, wid)
        assert shot.shape[0] > 100 and shot.shape[1] > 100
        assert shot.std() > 20  # a picture, not an empty window
        # The hand's landmarks are drawn in white dots and its box in a pose colour:
        white = np.all(shot > 245, axis=2).mean()
        assert white > 0.0005
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_render_draws_hands_faces_region_and_pointer(session35):
    """The preview's picture, without a window: landmarks, labels, region, pointer."""
    import cv2

    from handmap.daemon.config import load_config
    from handmap.daemon.perception.factory import make_tracker
    from handmap.daemon.tools.preview import Preview
    from handmap.gestures.engine import GestureEngine
    from handmap.gestures.types import FaceObservation, FrameObservation

    image = cv2.imread(str(session35 / "frames" / "35_pic00000.jpg"))
    tracker = make_tracker(load_config(), video=False, faces=False)
    try:
        obs = tracker.observe(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 0.0, 0)
    finally:
        tracker.close()
    obs = FrameObservation(t=0.0, frame=0, width=obs.width, height=obs.height, hands=obs.hands,
                           faces=(FaceObservation((0.4, 0.1, 0.2, 0.25), 0.9),))
    gframe = GestureEngine().update(obs)
    assert gframe.hands
    preview = Preview.__new__(Preview)  # no window: only the drawing
    preview._cv2 = cv2
    preview._region = lambda: (0.2, 0.15, 0.6, 0.6)
    preview._faces = ()
    preview._last = time.perf_counter()
    preview._fps = 0.0
    picture = preview.render(image, obs, gframe, mirror=False)
    changed = np.abs(picture.astype(int) - image.astype(int)).sum(axis=2) > 60
    assert changed.mean() > 0.01
    # The active region's outline is drawn at its left edge.
    x = int(0.2 * image.shape[1])
    assert changed[int(0.3 * image.shape[0]):int(0.7 * image.shape[0]), x - 1:x + 2].mean() > 0.5
