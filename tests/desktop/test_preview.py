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


def _start_preview(desktop, session35, tmp_path):
    """``handmap run --preview`` over session35's frames at 2 fps in real time; its
    environment, process and the preview window's id once the window is there."""
    env = dict(desktop.env, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(session35 / "frames"), "--fps", "2",
         "--realtime", "--preview", "--output", "dry-run", "--no-tray"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = subprocess.run(["xdotool", "search", "--sync", "--name", "handmap preview"], env=env,
                           capture_output=True, text=True, timeout=60)
    if found.returncode != 0:
        proc.kill()
        proc.wait()
    assert found.returncode == 0, found.stderr
    return env, proc, int(found.stdout.split()[0])


@pytest.mark.desktop
def test_preview_window_shows_the_annotated_camera_view(desktop, session35, tmp_path):
    env, proc, wid = _start_preview(desktop, session35, tmp_path)
    try:
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


def _observed(session35, name: str = "35_pic00000.jpg"):
    """A real frame with what the real tracker and gesture engine see in it."""
    import cv2

    from handmap.daemon.config import load_config
    from handmap.daemon.perception.factory import make_tracker
    from handmap.gestures.engine import GestureEngine
    from handmap.gestures.types import FaceObservation, FrameObservation

    image = cv2.imread(str(session35 / "frames" / name))
    tracker = make_tracker(load_config(), video=False, faces=False)
    try:
        obs = tracker.observe(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 0.0, 0)
    finally:
        tracker.close()
    obs = FrameObservation(t=0.0, frame=0, width=obs.width, height=obs.height, hands=obs.hands,
                           faces=(FaceObservation((0.4, 0.1, 0.2, 0.25), 0.9),))
    gframe = GestureEngine().update(obs)
    assert gframe.hands
    return image, obs, gframe


def _drawing_only(state):
    """A Preview without its window: only the drawing."""
    import cv2

    from handmap.daemon.tools.preview import Preview

    preview = Preview.__new__(Preview)
    preview._cv2 = cv2
    preview._state = state
    preview._faces = ()
    preview._last = time.perf_counter()
    preview._fps = 0.0
    return preview


def _share(picture: np.ndarray, colour, rows=slice(None), cols=slice(None), tolerance: int = 30) -> float:
    """The share of pixels in ``picture[rows, cols]`` within ``tolerance`` of ``colour`` (BGR)."""
    patch = picture[rows, cols].astype(int)
    return float((np.abs(patch - np.array(colour)).sum(axis=2) < tolerance).mean())


def test_render_draws_hands_faces_region_and_pointer(session35):
    """The preview's picture, without a window: landmarks, labels, region, pointer."""
    from handmap.daemon.tools.preview import PreviewState

    image, obs, gframe = _observed(session35)
    preview = _drawing_only(lambda: PreviewState("desktop", False, (0.2, 0.15, 0.6, 0.6)))
    picture = preview.render(image, obs, gframe, mirror=False)
    changed = np.abs(picture.astype(int) - image.astype(int)).sum(axis=2) > 60
    assert changed.mean() > 0.01
    # The active region's outline is drawn at its left edge.
    x = int(0.2 * image.shape[1])
    assert changed[int(0.3 * image.shape[0]):int(0.7 * image.shape[0]), x - 1:x + 2].mean() > 0.5


def test_render_shows_the_profile_the_labelled_region_and_paused_unlike_running(session35):
    """Running: a green bar naming the profile over the live picture, the active region
    labelled. Paused: the same frame dimmed to grey under an amber PAUSED banner, the
    bar amber; nothing about hands drawn for a frame the paused daemon did not analyse."""
    from handmap.daemon.tools.preview import PAUSED_COLOUR, REGION_COLOUR, RUNNING_COLOUR, PreviewState

    image, obs, gframe = _observed(session35)
    height, width = image.shape[:2]
    region = (0.2, 0.15, 0.6, 0.6)
    running = _drawing_only(lambda: PreviewState("game-aim", False, region)).render(image, obs, gframe, mirror=False)
    paused = _drawing_only(lambda: PreviewState("game-aim", True, region)).render(image, None, None, mirror=False)
    bar = (slice(0, 12), slice(0, 120))
    assert _share(running, RUNNING_COLOUR, *bar) > 0.4 and _share(paused, RUNNING_COLOUR, *bar) < 0.05
    assert _share(paused, PAUSED_COLOUR, *bar) > 0.4
    # The region's label, in the region's colour, inside its top-left corner.
    rx, ry = int(region[0] * width), int(region[1] * height)
    assert _share(running, REGION_COLOUR, slice(ry + 2, ry + 12), slice(rx + 2, rx + 60)) > 0.4
    # Paused: a banner across the middle; running: the camera picture there.
    middle = (slice(height // 2 - 5, height // 2 + 5), slice(width // 2 - 40, width // 2 + 40))
    assert _share(paused, PAUSED_COLOUR, *middle) > 0.4
    assert _share(running, PAUSED_COLOUR, *middle) < 0.1
    # Dimmed and grey away from the banner and the bars.
    lower = (slice(int(height * 0.8), height), slice(None))
    assert paused[lower].mean() < 0.6 * image[lower].mean()
    assert np.abs(paused[lower].astype(int) - paused[lower][:, :, :1].astype(int)).max() <= 1  # B = G = R
    assert running[lower].mean() > 0.9 * image[lower].mean()
    # The profile's name is written in the bar: the text differs with the name.
    other = _drawing_only(lambda: PreviewState("desktop", False, region)).render(image, obs, gframe, mirror=False)
    whole_bar = (slice(0, 12), slice(None))
    assert (np.abs(other[whole_bar].astype(int) - running[whole_bar].astype(int)).sum(axis=2) > 60).mean() > 0.01


@pytest.mark.desktop
def test_preview_window_shows_pause_and_resume(desktop, session35, tmp_path):
    """The real daemon with its preview window; ``handmap pause`` over the control
    socket: the window turns to the dimmed PAUSED view, and back after ``resume``."""
    from cli import handmap
    from Xlib.error import XError

    from handmap.daemon.tools.preview import PAUSED_COLOUR, RUNNING_COLOUR

    env, proc, wid = _start_preview(desktop, session35, tmp_path)
    try:

        seen: list[str] = []  # what the last look found, for the failure message

        def shows(colour, least: int, other, most: int) -> bool:
            """Whether the window shows at least ``least`` pixels of ``colour`` and at most
            ``most`` of ``other`` (the picture sits in a bigger window, under a toolbar)."""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    shot = _window_image(desktop, wid)
                except XError as exc:  # not viewable yet (being mapped)
                    seen[:] = [f"no image of the window ({exc}); daemon running: {proc.poll() is None}"]
                    time.sleep(0.2)
                    continue
                count = _share(shot, colour) * shot.shape[0] * shot.shape[1]
                others = _share(shot, other) * shot.shape[0] * shot.shape[1]
                seen[:] = [f"{count:.0f} px of {colour}, {others:.0f} px of {other} in a {shot.shape[1]}x{shot.shape[0]} window"]
                if count >= least and others <= most:
                    return True
                time.sleep(0.2)
            return False

        # Running: the green state bar (about 190 x 12 pixels), no amber.
        assert shows(RUNNING_COLOUR, 1500, PAUSED_COLOUR, 200), seen
        paused = handmap("pause", env=env, timeout=30)
        assert paused.returncode == 0, paused.stderr
        # Paused: the amber bar, banner and hint (far more than a bar), no green.
        assert shows(PAUSED_COLOUR, 15000, RUNNING_COLOUR, 200), seen
        resumed = handmap("resume", env=env, timeout=30)
        assert resumed.returncode == 0, resumed.stderr
        assert shows(RUNNING_COLOUR, 1500, PAUSED_COLOUR, 200), seen
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
