"""The bundled profiles: all valid, commented as templates, and each does its job."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from builders import hand

from handmap.gestures.types import (
    FaceTouch,
    FaceTouchState,
    GestureFrame,
    Handedness,
    HandLost,
    PoseEntered,
    PoseExited,
    PoseHeld,
    PoseResult,
    Swipe,
    SwipeDirection,
    TrackedHand,
)
from handmap.mappings.actions import (
    Button,
    KeyDown,
    KeyUp,
    MouseDown,
    MouseMove,
    MouseUp,
    ReportFaceTouch,
    ReportPaused,
    ReportPose,
    ReportTwoHands,
    Scroll,
)
from handmap.mappings.loader import ProfileStore
from handmap.mappings.mapper import MappingEngine, RequestPause, RequestProfile
from handmap.mappings.pointer_modes import ScreenGeometry

R, L = Handedness.RIGHT, Handedness.LEFT
SCREEN = ScreenGeometry.single(1920, 1080)
BUNDLED = resources.files("handmap.mappings").joinpath("profiles")


def bundled_files() -> list[Path]:
    return sorted(Path(str(p)) for p in BUNDLED.iterdir() if p.name.endswith(".yaml"))


class Driver:
    """Feeds one hand through an engine at 30 fps, emitting enter/exit on pose changes."""

    def __init__(self, name: str, hid=1, side=R):
        self.engine = MappingEngine(ProfileStore(None).load(name), SCREEN)
        self.n = 0
        self.pose = None
        self.hid, self.side = hid, side
        self.out: list = []

    def step(self, pose, x=0.5, y=0.5, events=()):
        self.n += 1
        evs = []
        if pose != self.pose:
            if self.pose is not None:
                evs.append(PoseExited(self.n / 30, self.n, self.hid, self.side, self.pose))
            evs.append(PoseEntered(self.n / 30, self.n, self.hid, self.side, pose, 0.9, self.pose))
            self.pose = pose
        out = self.engine.handle(GestureFrame(self.n / 30, self.n, (hand(self.hid, pose, x, y, self.side),),
                                              tuple(evs) + tuple(events)))
        self.out.extend(out)
        return out


def test_the_bundled_set():
    names = ProfileStore(None).names()
    assert {"desktop", "presenter", "face-touch-only"} <= set(names)
    games = [n for n in names if n.startswith("game-")]
    assert len(games) >= 2
    modes = {ProfileStore(None).load(g).pointer.mode for g in games}
    assert {"joystick", "relative"} <= modes  # they feel different


@pytest.mark.parametrize("path", bundled_files(), ids=lambda p: p.name)
def test_bundled_profile_validates_and_is_commented(path):
    assert ProfileStore(None).validate_file(path) == []
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# {path.stem}:"), "starts by saying what it is"
    assert sum(1 for line in lines if line.strip().startswith("#")) >= 4, "commented as a template"
    assert "copy" in path.read_text().lower(), "tells the user it can be copied"


def test_desktop_is_the_pointer_with_click_drag_scroll_and_swipes():
    d = Driver("desktop")
    assert d.step("open", 0.5, 0.45) == [MouseMove(960, 540), ReportPose("right", "open", 0.9)]
    # pinch clicks
    assert d.step("pinch", 0.5, 0.45)[1:] == [MouseDown(Button.LEFT), MouseUp(Button.LEFT)]
    # fist grabs, moves drag, open drops
    d.step("closed", 0.5, 0.45)
    assert d.engine.held == {MouseDown(Button.LEFT)}
    assert d.step("closed", 0.65, 0.3) == [MouseMove(1440, 270)]
    assert d.step("open", 0.65, 0.3)[1:] == [MouseUp(Button.LEFT)]
    # two fingers up scroll
    d.step("two", 0.65, 0.3)
    assert d.step("two", 0.65, 0.5) == [Scroll(0, 5)]
    # swipes: back, workspace
    out = d.step("open", 0.65, 0.5, [Swipe(0, 0, 1, R, SwipeDirection.LEFT, 3)])
    assert [a for a in out if isinstance(a, (KeyDown, KeyUp))] == [KeyDown("alt"), KeyDown("left"), KeyUp("left"), KeyUp("alt")]
    out = d.step("open", 0.65, 0.5, [Swipe(0, 0, 1, R, SwipeDirection.UP, 3)])
    assert [a for a in out if isinstance(a, KeyDown)] == [KeyDown("ctrl"), KeyDown("alt"), KeyDown("up")]
    # pointing for a second: context menu
    d.step("point", 0.65, 0.5)
    out = d.step("point", 0.65, 0.5, [PoseHeld(0, 0, 1, R, "point", 1000)])
    assert out == [MouseDown(Button.RIGHT), MouseUp(Button.RIGHT)]
    assert d.engine.profile.hold_durations_ms() == (1000, 2000)


def test_desktop_left_fist_pauses():
    d = Driver("desktop", hid=2, side=L)
    d.step("closed")
    reason = "the left-hand closed pose held 2000 ms (profile binding)"
    assert d.step("closed", events=[PoseHeld(0, 0, 2, L, "closed", 2000)]) == [RequestPause(reason)]
    # The pause it leads to says so: dry-run writes it as the paused event's reason.
    assert d.engine.pause(reason)[-1] == ReportPaused(reason)


def test_presenter_swipes_slides():
    d = Driver("presenter")
    assert d.step("open", 0.1, 0.1) == [ReportPose("right", "open", 0.9)]  # no pointer
    out = d.step("open", events=[Swipe(0, 0, 1, R, SwipeDirection.LEFT, 3)])
    assert out == [KeyDown("page_down"), KeyUp("page_down")]
    out = d.step("open", events=[Swipe(0, 0, 1, R, SwipeDirection.RIGHT, 3)])
    assert out == [KeyDown("page_up"), KeyUp("page_up")]
    out = d.step("open", events=[PoseHeld(0, 0, 1, R, "open", 3000)])
    assert out == [RequestProfile("desktop")]
    assert ProfileStore(None).load("presenter").matches(window_class="libreoffice-impress")


def test_game_wasd_drives_keys_from_hand_position():
    d = Driver("game-wasd")
    d.step("open", 0.5, 0.5)  # neutral where the hand opens
    assert d.step("open", 0.65, 0.5) == [KeyDown("d")]
    assert d.step("open", 0.65, 0.3) == [KeyDown("w")]
    assert d.step("closed", 0.65, 0.3) == [KeyUp("d"), KeyUp("w"), ReportPose("right", "closed", 0.9), KeyDown("space")]
    assert d.step("open", 0.5, 0.5) == [KeyUp("space"), ReportPose("right", "open", 0.9)]
    assert d.step("open", 0.4, 0.5) == [KeyDown("a")]
    out = d.engine.handle(GestureFrame(9.0, 999, (), (HandLost(9.0, 999, 1, R, "open"),)))
    assert out == [KeyUp("a")]


def test_game_aim_aims_relatively_and_fires_while_pinching():
    d = Driver("game-aim")
    d.step("open", 0.5, 0.5)
    out = d.step("open", 0.51, 0.5)
    assert len(out) == 1 and isinstance(out[0], MouseMove) and out[0].x > 960 and out[0].y == 540
    # clutch: the fist moves the hand, not the aim
    d.step("closed", 0.51, 0.5)
    assert d.step("closed", 0.3, 0.5) == []
    assert d.step("pinch", 0.3, 0.5)[1:] == [MouseDown(Button.LEFT)]
    assert d.step("open", 0.3, 0.5) == [MouseUp(Button.LEFT), ReportPose("right", "open", 0.9)]


def test_face_touch_only_sends_no_input():
    d = Driver("face-touch-only")
    outs = []
    for pose, x in (("open", 0.2), ("pinch", 0.5), ("closed", 0.8), ("point", 0.4)):
        outs += d.step(pose, x, 0.5, [Swipe(0, 0, 1, R, SwipeDirection.LEFT, 3)])
    outs += d.step("point", events=[FaceTouch(0, 0, FaceTouchState.START, R)])
    assert all(isinstance(a, (ReportPose, ReportFaceTouch)) for a in outs)
    assert outs[-1] == ReportFaceTouch("start", "right")
    assert d.engine.profile.alerts.face_touch


def test_session35_timeline_through_desktop_pairs_every_press(session35):
    """The real session's pose timeline (5 video frames per still, MediaPipe's hand
    centres) through ``desktop``: drags happen and every press is released."""
    rows = list(csv.DictReader(open(session35 / "timeline.csv", newline="")))
    d = Driver("desktop")
    for row in rows:
        first, last = (int(v) for v in row["video_frames"].split("-"))
        for _ in range(first, last + 1):
            if row["mp_hands_detected"] == "1":
                pose = row["expected_pose"] if row["expected_pose"] != "other" else "hand"
                d.step(pose, float(row["mp_hand_center_x"]), float(row["mp_hand_center_y"]))
            elif d.pose is not None:
                d.n += 1
                d.out += d.engine.handle(GestureFrame(d.n / 30, d.n, (), (HandLost(d.n / 30, d.n, 1, R, d.pose),)))
                d.pose = None
    d.out += d.engine.shutdown()
    down: set = set()
    for a in d.out:
        if isinstance(a, (MouseDown, KeyDown)):
            assert a not in down
            down.add(a)
        elif isinstance(a, MouseUp):
            down.remove(MouseDown(a.button))
        elif isinstance(a, KeyUp):
            down.remove(KeyDown(a.key))
        elif isinstance(a, MouseMove):
            assert 0 <= a.x < 1920 and 0 <= a.y < 1080
    assert down == set()
    assert sum(isinstance(a, MouseDown) for a in d.out) >= 2  # the session's fists grabbed
    assert {a.pose for a in d.out if isinstance(a, ReportPose)} == {"open", "closed", "point", "hand"}


def test_desktop_zooms_with_both_hands_pointing_without_a_stray_click():
    """Both hands pointing, moved apart then together: ctrl+wheel up then down, the
    pointer still, no right click from the pointing hand, ctrl released at the end."""
    engine = MappingEngine(ProfileStore(None).load("desktop"), SCREEN)

    def hands(gap, *, right="point"):
        return tuple(TrackedHand(hid, side, pose, PoseResult(pose, 0.9), (x, 0.45), False, np.tile([x, 0.45, 0], (21, 1)))
                     for hid, side, pose, x in ((1, L, "point", 0.5 - gap / 2), (2, R, right, 0.5 + gap / 2)))

    out = engine.handle(GestureFrame(0.0, 0, hands(0.2)[:1], (PoseEntered(0, 0, 1, L, "point", 0.9),)))
    out += engine.handle(GestureFrame(0.03, 1, hands(0.2), (PoseEntered(0, 1, 2, R, "point", 0.9),)))
    n = 1
    for gap in (0.25, 0.3, 0.35, 0.3, 0.2, 0.15):
        n += 1
        out += engine.handle(GestureFrame(n / 30, n, hands(gap), (PoseHeld(n / 30, n, 2, R, "point", 1000),) if n == 3 else ()))
    out += engine.handle(GestureFrame(1.0, 30, hands(0.15, right="open"),
                                      (PoseExited(1, 30, 2, R, "point"), PoseEntered(1, 30, 2, R, "open", 0.9))))
    inputs = [a for a in out if not isinstance(a, (ReportPose, ReportTwoHands))]
    assert inputs[0] == MouseMove(1280, 540)  # where the right hand came in; then it stays put
    # A step per factor of 1.2: 0.2 to 0.35 is three steps up; 0.35 back to 0.3 is not a
    # whole step down (hysteresis), to 0.2 three more, to 0.15 one more.
    assert inputs[1:] == [KeyDown("ctrl"), Scroll(0, 1), Scroll(0, 1), Scroll(0, 1), Scroll(0, -3), Scroll(0, -1),
                          KeyUp("ctrl")]
    assert engine.held == frozenset()
