"""Mapping engine: gesture event sequences in, exact input action sequences out."""

from __future__ import annotations

import pytest
from builders import Clock, entered, exited, hand, profile

from handmap.gestures.types import (
    FaceTouch,
    FaceTouchState,
    Handedness,
    HandLost,
    PoseHeld,
    Swipe,
    SwipeDirection,
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
    ReportProfile,
    ReportResumed,
    Scroll,
    TypeText,
)
from handmap.mappings.mapper import MappingEngine, RequestPause, RequestProfile, RequestResume
from handmap.mappings.pointer_modes import Rect, ScreenGeometry

R, L = Handedness.RIGHT, Handedness.LEFT
SCREEN = ScreenGeometry.single(1000, 500)
LEFT_BTN = Button.LEFT


def inputs(actions):
    """Only input actions (no reports, no pointer moves)."""
    return [a for a in actions if isinstance(a, (MouseDown, MouseUp, KeyDown, KeyUp, Scroll, TypeText))]


# -- clicks, keys, combos -------------------------------------------------------------


def test_pinch_click_reports_the_pose_then_clicks():
    eng = MappingEngine(profile(bindings=[{"enter": "pinch", "do": "click"}]), SCREEN)
    c = Clock()
    out = eng.handle(c.frame([hand(pose="pinch")], [entered("pinch")]))
    assert out == [ReportPose("right", "pinch", 0.9), MouseDown(LEFT_BTN), MouseUp(LEFT_BTN)]
    assert eng.held == frozenset()


def test_double_right_middle_click_and_text():
    eng = MappingEngine(profile(bindings=[
        {"enter": "pinch", "do": ["double_click", "right_click", {"click": "middle"}, {"type": "hi there"}]},
    ]), SCREEN)
    out = inputs(eng.handle(Clock().frame([hand(pose="pinch")], [entered("pinch")])))
    assert out == [MouseDown(Button.LEFT), MouseUp(Button.LEFT), MouseDown(Button.LEFT), MouseUp(Button.LEFT),
                   MouseDown(Button.RIGHT), MouseUp(Button.RIGHT), MouseDown(Button.MIDDLE),
                   MouseUp(Button.MIDDLE), TypeText("hi there")]


def test_combo_tap_presses_modifiers_in_order_and_releases_in_reverse():
    eng = MappingEngine(profile(bindings=[{"swipe": "left", "do": {"key": "Control+Shift+T"}}]), SCREEN)
    out = eng.handle(Clock().frame([hand()], [Swipe(0, 0, 1, R, SwipeDirection.LEFT, 3.0)]))
    assert out == [KeyDown("ctrl"), KeyDown("shift"), KeyDown("t"), KeyUp("t"), KeyUp("shift"), KeyUp("ctrl")]


def test_key_hold_lasts_while_the_pose_lasts():
    eng = MappingEngine(profile(bindings=[{"enter": "closed", "do": {"hold": "shift+w"}}]), SCREEN)
    c = Clock()
    assert inputs(eng.handle(c.frame([hand(pose="closed")], [entered("closed")]))) == [KeyDown("shift"), KeyDown("w")]
    assert inputs(eng.handle(c.frame([hand(pose="closed")]))) == []
    assert eng.held == {KeyDown("shift"), KeyDown("w")}
    out = eng.handle(c.frame([hand(pose="open")], [exited("closed"), entered("open", prev="closed")]))
    assert inputs(out) == [KeyUp("w"), KeyUp("shift")]
    assert eng.held == frozenset()


def test_hand_selector_picks_the_hand():
    eng = MappingEngine(profile(bindings=[
        {"enter": "pinch", "hand": "left", "do": {"key": "a"}},
        {"enter": "pinch", "hand": "right", "do": {"key": "b"}},
        {"enter": "pinch", "do": {"key": "c"}},
    ]), SCREEN)
    c = Clock()
    out = eng.handle(c.frame([hand(2, "pinch", side=L)], [entered("pinch", 2, L)]))
    assert inputs(out) == [KeyDown("a"), KeyUp("a"), KeyDown("c"), KeyUp("c")]
    out = eng.handle(c.frame([hand(1, "pinch")], [entered("pinch", 1, R)]))
    assert inputs(out) == [KeyDown("b"), KeyUp("b"), KeyDown("c"), KeyUp("c")]


def test_exit_binding_fires_on_exit():
    eng = MappingEngine(profile(bindings=[{"exit": "point", "do": {"key": "esc"}}]), SCREEN)
    c = Clock()
    assert inputs(eng.handle(c.frame([hand(pose="point")], [entered("point")]))) == []
    assert inputs(eng.handle(c.frame([hand(pose="hand")], [exited("point")]))) == [KeyDown("esc"), KeyUp("esc")]


def test_held_binding_fires_once_when_the_duration_is_reached():
    eng = MappingEngine(profile(bindings=[{"held": "point", "ms": 800, "do": "right_click"}]), SCREEN)
    assert eng.profile.hold_durations_ms() == (800,)
    c = Clock()
    eng.handle(c.frame([hand(pose="point")], [entered("point")]))
    assert inputs(eng.handle(c.frame([hand(pose="point")], [PoseHeld(0, 0, 1, R, "point", 500.0)]))) == []
    out = inputs(eng.handle(c.frame([hand(pose="point")], [PoseHeld(0, 0, 1, R, "point", 800.0)])))
    assert out == [MouseDown(Button.RIGHT), MouseUp(Button.RIGHT)]
    # A later report in the same episode does not fire again; a new episode does.
    assert inputs(eng.handle(c.frame([hand(pose="point")], [PoseHeld(0, 0, 1, R, "point", 1600.0)]))) == []
    eng.handle(c.frame([hand(pose="open")], [exited("point"), entered("open")]))
    eng.handle(c.frame([hand(pose="point")], [exited("open"), entered("point")]))
    out = inputs(eng.handle(c.frame([hand(pose="point")], [PoseHeld(0, 0, 1, R, "point", 801.0)])))
    assert out == [MouseDown(Button.RIGHT), MouseUp(Button.RIGHT)]


def test_held_pose_can_hold_a_key_until_the_pose_ends():
    eng = MappingEngine(profile(bindings=[{"held": "closed", "ms": 300, "do": {"hold": "space"}}]), SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(pose="closed")], [entered("closed")]))
    assert inputs(eng.handle(c.frame([hand(pose="closed")], [PoseHeld(0, 0, 1, R, "closed", 300.0)]))) == [KeyDown("space")]
    assert inputs(eng.handle(c.frame([hand(pose="open")], [exited("closed")]))) == [KeyUp("space")]


def test_face_touch_is_reported_and_bindable():
    eng = MappingEngine(profile(bindings=[{"face_touch": "start", "do": {"key": "f12"}}]), SCREEN)
    out = eng.handle(Clock().frame([], [FaceTouch(0, 0, FaceTouchState.START, R)]))
    assert out == [ReportFaceTouch("start", "right"), KeyDown("f12"), KeyUp("f12")]
    out = eng.handle(Clock().frame([], [FaceTouch(0, 0, FaceTouchState.END, None)]))
    assert out == [ReportFaceTouch("end", None)]


# -- drag and drop ----------------------------------------------------------------------


DRAG = [{"enter": "closed", "do": {"mouse_down": "left", "sticky": True}}, {"enter": "open", "do": "mouse_up"}]


def test_fist_grabs_moves_and_open_drops():
    eng = MappingEngine(profile(pointer={"mode": "absolute",
                                         "absolute": {"region": {"left": 0, "top": 0, "right": 1, "bottom": 1}}},
                                bindings=DRAG), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(pose="open", x=0.1, y=0.1)])) == [MouseMove(100, 50)]
    out = eng.handle(c.frame([hand(pose="closed", x=0.1, y=0.1)], [exited("open"), entered("closed")]))
    assert out == [ReportPose("right", "closed", 0.9), MouseDown(LEFT_BTN)]
    assert eng.handle(c.frame([hand(pose="closed", x=0.5, y=0.5)])) == [MouseMove(500, 250)]
    # through the "hand" pose: a sticky grab stays down
    eng.handle(c.frame([hand(pose="hand", x=0.6, y=0.5)], [exited("closed"), entered("hand")]))
    assert eng.held == {MouseDown(LEFT_BTN)}
    out = eng.handle(c.frame([hand(pose="open", x=0.7, y=0.5)], [exited("hand"), entered("open")]))
    assert out == [MouseMove(700, 250), ReportPose("right", "open", 0.9), MouseUp(LEFT_BTN)]


def test_non_sticky_mouse_down_is_released_on_pose_exit():
    eng = MappingEngine(profile(bindings=[{"enter": "pinch", "do": {"mouse_down": "left"}}]), SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(pose="pinch")], [entered("pinch")]))
    assert inputs(eng.handle(c.frame([hand(pose="open")], [exited("pinch")]))) == [MouseUp(LEFT_BTN)]


@pytest.mark.parametrize("how", ["hand_lost", "hand_missing", "pause", "switch", "reload", "shutdown"])
def test_a_grab_is_released_whatever_ends_it(how):
    prof = profile(bindings=DRAG + [{"enter": "closed", "do": {"hold": "ctrl"}}])
    eng = MappingEngine(prof, SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(pose="closed")], [entered("closed")]))
    assert eng.held == {MouseDown(LEFT_BTN), KeyDown("ctrl")}
    if how == "hand_lost":
        out = eng.handle(c.frame([], [HandLost(0, 0, 1, R, "closed")]))
    elif how == "hand_missing":  # the frame has no hand and no HandLost event
        out = eng.handle(c.frame([]))
    elif how == "pause":
        out = eng.pause()
        assert out[-1] == ReportPaused()
    elif how == "switch":
        out = eng.switch_profile(profile(name="other"))
        assert out[-1] == ReportProfile("other")
    elif how == "reload":
        out = eng.reload(prof)
    else:
        out = eng.shutdown()
    assert inputs(out) == [KeyUp("ctrl"), MouseUp(LEFT_BTN)]
    assert eng.held == frozenset()


def test_click_while_the_button_is_held_does_not_break_the_pairing():
    eng = MappingEngine(profile(bindings=DRAG + [{"swipe": "any", "do": "click"}]), SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(pose="closed")], [entered("closed")]))
    assert inputs(eng.handle(c.frame([hand(pose="closed")], [Swipe(0, 0, 1, R, SwipeDirection.UP, 2)]))) == []
    assert eng.held == {MouseDown(LEFT_BTN)}


def test_two_owners_of_one_key_release_it_when_the_last_lets_go():
    eng = MappingEngine(profile(bindings=[{"enter": "closed", "do": {"hold": "shift"}}]), SCREEN)
    c = Clock()
    both = [hand(1, "closed"), hand(2, "closed", side=L)]
    out = eng.handle(c.frame(both, [entered("closed", 1), entered("closed", 2, L)]))
    assert inputs(out) == [KeyDown("shift")]
    assert inputs(eng.handle(c.frame([hand(1, "open"), hand(2, "closed", side=L)], [exited("closed", 1)]))) == []
    assert inputs(eng.handle(c.frame([hand(1, "open")], [HandLost(0, 0, 2, L, "closed")]))) == [KeyUp("shift")]


# -- scrolling ---------------------------------------------------------------------------


def test_drag_scroll_follows_the_hand_and_freezes_the_pointer():
    eng = MappingEngine(profile(pointer={"mode": "absolute"},
                                bindings=[{"enter": "pinch", "do": {"drag_scroll": {"speed": 20}}},
                                          {"swipe": "down", "do": {"scroll": {"dy": -3}}}]), SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(pose="open", y=0.5)]))
    eng.handle(c.frame([hand(pose="pinch", y=0.5)], [entered("pinch")]))
    out = eng.handle(c.frame([hand(pose="pinch", y=0.4)]))  # hand up 0.1 view: the page follows
    assert out == [Scroll(0, -2)]
    out = eng.handle(c.frame([hand(pose="pinch", y=0.55)]))
    assert out == [Scroll(0, 3)]
    eng.handle(c.frame([hand(pose="open", y=0.55)], [exited("pinch")]))
    out = eng.handle(c.frame([hand(pose="open", y=0.3)], [Swipe(0, 0, 1, R, SwipeDirection.DOWN, 2)]))
    assert [a for a in out if isinstance(a, Scroll)] == [Scroll(0, -3)]
    assert any(isinstance(a, MouseMove) for a in out)  # the pointer moves again


# -- pointer modes ----------------------------------------------------------------------


def test_absolute_region_margins_map_to_the_screen_edges_mirrored():
    eng = MappingEngine(profile(pointer={"mode": "absolute", "mirror": True,
                                         "absolute": {"region": {"left": 0.2, "top": 0.1, "right": 0.8, "bottom": 0.6}}}),
                        SCREEN)
    c = Clock()
    # mirrored: the camera's x=0.8 is the user's left edge
    assert eng.handle(c.frame([hand(x=0.8, y=0.1)])) == [MouseMove(0, 0)]
    assert eng.handle(c.frame([hand(x=0.1, y=0.9)])) == [MouseMove(999, 499)]
    assert eng.handle(c.frame([hand(x=0.5, y=0.35)])) == [MouseMove(500, 250)]
    assert eng.handle(c.frame([hand(x=0.5, y=0.35)])) == []  # no move, no event


def test_absolute_onto_one_monitor_of_two():
    screen = ScreenGeometry((Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 1024)))
    base = {"mode": "absolute",
            "absolute": {"region": {"left": 0, "top": 0, "right": 1, "bottom": 1}, "monitor": 1}}
    eng = MappingEngine(profile(pointer=base), screen)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.0, y=0.0)])) == [MouseMove(1920, 0)]
    assert eng.handle(c.frame([hand(x=0.5, y=0.5)])) == [MouseMove(2560, 512)]
    eng = MappingEngine(profile(pointer={**base, "absolute": {**base["absolute"], "monitor": None}}), screen)
    assert eng.handle(c.frame([hand(x=0.5, y=0.5)])) == [MouseMove(1600, 540)]


def test_click_lock_freezes_the_absolute_pointer():
    eng = MappingEngine(profile(pointer={"mode": "absolute"}), SCREEN)
    c = Clock()
    eng.handle(c.frame([hand(x=0.5, y=0.5)]))
    assert eng.handle(c.frame([hand(x=0.6, y=0.6, locked=True)])) == []


def test_pointer_hand_selection():
    eng = MappingEngine(profile(pointer={"mode": "absolute", "hand": "left"}), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(1, x=0.3, side=R)])) == []
    assert eng.handle(c.frame([hand(1, x=0.3, side=R), hand(2, x=0.5, y=0.5, side=L)])) == [MouseMove(500, 250)]


def test_pointer_moves_only_in_its_poses():
    eng = MappingEngine(profile(pointer={"mode": "absolute", "poses": ["point"]}), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(pose="open", x=0.5)])) == []
    assert eng.handle(c.frame([hand(pose="point", x=0.5, y=0.5)])) == [MouseMove(500, 250)]


def test_relative_gain_acceleration_and_clutch():
    prof = profile(pointer={"mode": "relative", "clutch": "closed",
                            "relative": {"gain": 1.0, "acceleration": 0.0}})
    eng = MappingEngine(prof, SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.5, y=0.5)])) == []  # the first frame only sets the reference
    assert eng.handle(c.frame([hand(x=0.6, y=0.5)])) == [MouseMove(600, 250)]
    # clutch: the hand goes back, the cursor stays
    assert eng.handle(c.frame([hand(pose="closed", x=0.4, y=0.5)])) == []
    assert eng.handle(c.frame([hand(pose="closed", x=0.3, y=0.5)])) == []
    # released: moves relative to where the hand is now, no jump
    assert eng.handle(c.frame([hand(pose="open", x=0.3, y=0.5)])) == []
    assert eng.handle(c.frame([hand(pose="open", x=0.35, y=0.6)])) == [MouseMove(650, 300)]
    # the cursor stays on the screen
    assert eng.handle(c.frame([hand(pose="open", x=1.0, y=1.0)])) == [MouseMove(999, 499)]


def test_relative_acceleration_moves_fast_motion_further():
    slow = MappingEngine(profile(pointer={"mode": "relative",
                                          "relative": {"gain": 1.0, "acceleration": 1.0}}), SCREEN)
    c = Clock()
    slow.handle(c.frame([hand(x=0.5)]))
    # 0.01 view widths in 1/30 s = 0.3 widths/s: factor 1.3
    assert slow.handle(c.frame([hand(x=0.51)])) == [MouseMove(513, 250)]
    # 0.1 in 1/30 s = 3 widths/s: factor 4 (the cap)
    assert slow.handle(c.frame([hand(x=0.61)])) == [MouseMove(913, 250)]


def test_joystick_keys_follow_the_offset_with_a_dead_zone():
    eng = MappingEngine(profile(pointer={"mode": "joystick", "poses": ["open"],
                                         "joystick": {"output": "keys", "dead_zone": 0.1,
                                                      "keys": {"up": "up", "down": "down", "left": "left",
                                                               "right": "right"}}}), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.55, y=0.5)])) == []  # inside the dead zone
    assert eng.handle(c.frame([hand(x=0.7, y=0.5)])) == [KeyDown("right")]
    assert eng.handle(c.frame([hand(x=0.7, y=0.3)])) == [KeyDown("up")]  # diagonal: two keys
    assert eng.handle(c.frame([hand(x=0.5, y=0.3)])) == [KeyUp("right")]
    # leaving the stick's pose releases everything
    assert eng.handle(c.frame([hand(pose="closed", x=0.5, y=0.3)])) == [KeyUp("up")]
    assert eng.handle(c.frame([hand(x=0.2, y=0.5)])) == [KeyDown("left")]
    assert eng.handle(c.frame([])) == [KeyUp("left")]


def test_joystick_neutral_start_recentres_on_the_hand():
    eng = MappingEngine(profile(pointer={"mode": "joystick", "poses": ["open"],
                                         "joystick": {"output": "keys", "neutral": "start"}}), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.8, y=0.8)])) == []
    assert eng.handle(c.frame([hand(x=0.9, y=0.8)])) == [KeyDown("d")]


def test_joystick_cursor_speed():
    eng = MappingEngine(profile(pointer={"mode": "joystick",
                                         "joystick": {"dead_zone": 0.05, "full_offset": 0.25, "speed": 300}}),
                        SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.52, y=0.5)])) == []
    eng.handle(c.frame([hand(x=0.52, y=0.5)]))  # inside the dead zone: still
    assert eng.cursor == (500, 250)
    for _ in range(30):  # full right for one second at 300 px/s
        eng.handle(c.frame([hand(x=0.9, y=0.5)]))
    assert eng.cursor == (800, 250)


# -- pause, profiles, requests --------------------------------------------------------


def test_pause_ignores_input_but_a_resume_binding_still_works():
    eng = MappingEngine(profile(pointer={"mode": "absolute", "hand": "right"}, bindings=[
        {"enter": "pinch", "do": "click"},
        {"held": "closed", "ms": 1000, "hand": "left", "do": "toggle_pause"},
    ]), SCREEN)
    c = Clock()
    out = eng.handle(c.frame([hand(2, "closed", side=L)], [PoseHeld(0, 0, 2, L, "closed", 1000)]))
    assert out == [RequestPause("the left-hand closed pose held 1000 ms (profile binding)")]
    assert eng.pause() == [ReportPaused()]
    out = eng.handle(c.frame([hand(1, "pinch", x=0.2), hand(2, "closed", side=L)], [entered("pinch")]))
    assert out == [ReportPose("right", "pinch", 0.9)]  # reported, not clicked, no pointer move
    eng.handle(c.frame([hand(2, "open", side=L)], [exited("closed", 2, L), entered("open", 2, L)]))
    eng.handle(c.frame([hand(2, "closed", side=L)], [exited("open", 2, L), entered("closed", 2, L)]))
    out = eng.handle(c.frame([hand(2, "closed", side=L)], [PoseHeld(0, 0, 2, L, "closed", 1000)]))
    assert out == [RequestResume()]
    assert eng.resume() == [ReportResumed()]
    assert eng.resume() == []


def test_profile_binding_requests_a_switch():
    eng = MappingEngine(profile(bindings=[{"swipe": "up", "do": {"profile": "presenter"}}]), SCREEN)
    out = eng.handle(Clock().frame([hand()], [Swipe(0, 0, 1, R, SwipeDirection.UP, 2)]))
    assert out == [RequestProfile("presenter")]


def test_move_action_puts_the_cursor_on_a_screen_point():
    eng = MappingEngine(profile(bindings=[{"swipe": "down", "do": {"move": {"x": 0.25, "y": 0.5}}}]), SCREEN)
    out = eng.handle(Clock().frame([hand()], [Swipe(0, 0, 1, R, SwipeDirection.DOWN, 2)]))
    assert out == [MouseMove(250, 250)]


def test_no_pointer_profile_moves_nothing():
    eng = MappingEngine(profile(pointer={"mode": "none"}), SCREEN)
    c = Clock()
    assert eng.handle(c.frame([hand(x=0.1)])) == []
    assert eng.handle(c.frame([hand(x=0.9)])) == []
