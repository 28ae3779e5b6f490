"""Two-hand bindings in the mapping engine: zoom, rotate and ``hand: both`` poses, and
that a second hand never takes away what the first one holds."""

from __future__ import annotations

import numpy as np
from builders import SCORE, Clock, profile

from handmap.gestures.types import Handedness, HandLost, PoseEntered, PoseExited, PoseResult, TrackedHand
from handmap.mappings.actions import (
    Button,
    KeyDown,
    KeyUp,
    MouseDown,
    MouseMove,
    MouseUp,
    ReportPose,
    ReportTwoHands,
    Scroll,
)
from handmap.mappings.mapper import MappingEngine, describe_trigger
from handmap.mappings.pointer_modes import ScreenGeometry

R, L = Handedness.RIGHT, Handedness.LEFT
SCREEN = ScreenGeometry.single(1920, 1080)
LEFT_ID, RIGHT_ID = 1, 2


def at(hid: int, pose: str | None, x: float, y: float = 0.5, visible: bool = True) -> TrackedHand:
    """A hand whose landmarks (hence its pinch point) and pointer are all at (x, y)."""
    side = L if hid == LEFT_ID else R
    landmarks = np.tile([x, y, 0.0], (21, 1))
    return TrackedHand(hid, side, pose, PoseResult(pose or "hand", SCORE), (x, y), False, landmarks, visible)


def enter(hid: int, pose: str, prev: str | None = None) -> PoseEntered:
    return PoseEntered(0.0, 0, hid, L if hid == LEFT_ID else R, pose, SCORE, prev)


def leave(hid: int, pose: str) -> PoseExited:
    return PoseExited(0.0, 0, hid, L if hid == LEFT_ID else R, pose)


def keys_and_scrolls(out: list) -> list:
    return [a for a in out if isinstance(a, (KeyDown, KeyUp, Scroll, MouseDown, MouseUp))]


ZOOM = profile(pointer={"mode": "absolute", "hand": "right"}, bindings=[
    {"enter": "pinch", "hand": "right", "do": "click"},
    {"held": "pinch", "ms": 500, "hand": "right", "do": "right_click"},
    {"zoom": "pinch", "step": 0.2, "scroll": "ctrl"},
])


def pinching_pair(engine: MappingEngine, clock: Clock, gap: float = 0.2) -> list:
    """The left hand pinches, then the right: returns what the right hand's entry gave."""
    engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.5 - gap / 2)], [enter(LEFT_ID, "pinch")]))
    return engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.5 - gap / 2), at(RIGHT_ID, "pinch", 0.5 + gap / 2)],
                                     [enter(RIGHT_ID, "pinch")]))


def test_zoom_scrolls_with_ctrl_held_one_step_per_factor_and_releases_when_a_hand_stops_pinching():
    engine, clock = MappingEngine(ZOOM, SCREEN), Clock()
    out = pinching_pair(engine, clock)
    # The right hand's pinch made the pair: no click, a start report.
    assert keys_and_scrolls(out) == []
    assert ReportTwoHands("both", "start", "pinch") in out
    frames = []
    for gap in (0.2, 0.22, 0.241, 0.2881, 0.3, 0.239):  # x1.2 each step: 0.24, 0.288; back under 0.24
        frames.append(engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.5 - gap / 2),
                                                 at(RIGHT_ID, "pinch", 0.5 + gap / 2)])))
    assert [keys_and_scrolls(f) for f in frames] == [
        [], [], [KeyDown("ctrl"), Scroll(0, 1)], [Scroll(0, 1)], [], [Scroll(0, -1)]]
    steps = [a for f in frames for a in f if isinstance(a, ReportTwoHands)]
    assert [(r.gesture, r.steps) for r in steps] == [("zoom", 1), ("zoom", 1), ("zoom", -1)]
    assert abs(steps[0].value - 1.205) < 0.01
    # The pointer (the right hand) stays put while the pair zooms.
    assert not any(isinstance(a, MouseMove) for f in frames for a in f)
    assert engine.held == {KeyDown("ctrl")}
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.38), at(RIGHT_ID, "open", 0.62)],
                                    [leave(RIGHT_ID, "pinch"), enter(RIGHT_ID, "open", "pinch")]))
    assert keys_and_scrolls(out) == [KeyUp("ctrl")]
    assert out[-1] == ReportTwoHands("both", "end", "pinch")
    assert engine.held == frozenset()


def test_zoom_with_a_key_pair_taps_in_and_out():
    p = profile(bindings=[{"zoom": "pinch", "step": 0.25, "in": "ctrl+plus", "out": "ctrl+minus"}])
    engine, clock = MappingEngine(p, SCREEN), Clock()
    pinching_pair(engine, clock, gap=0.4)
    engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.3), at(RIGHT_ID, "pinch", 0.7)]))
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.2), at(RIGHT_ID, "pinch", 0.8)]))  # x1.5: one step
    assert keys_and_scrolls(out) == [KeyDown("ctrl"), KeyDown("+"), KeyUp("+"), KeyUp("ctrl")]
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.4), at(RIGHT_ID, "pinch", 0.6)]))  # 0.6 to 0.2: down 4+
    assert keys_and_scrolls(out).count(KeyDown("-")) == 4
    assert engine.held == frozenset()


def test_rotate_taps_clockwise_and_counterclockwise_per_step_of_degrees():
    p = profile(bindings=[{"rotate": "pinch", "degrees": 15, "clockwise": "ctrl+r", "counterclockwise": "ctrl+shift+r"}])
    engine, clock = MappingEngine(p, SCREEN), Clock()
    pinching_pair(engine, clock, gap=0.4)
    taps = []
    for deg in (0, 10, 16, 31, 5, -1):  # the right hand goes down (clockwise), then up
        r = np.radians(deg)
        taps.append(keys_and_scrolls(engine.handle(clock.frame(
            [at(LEFT_ID, "pinch", 0.5 - 0.2 * np.cos(r), 0.5 - 0.2 * np.sin(r)),
             at(RIGHT_ID, "pinch", 0.5 + 0.2 * np.cos(r), 0.5 + 0.2 * np.sin(r))]))))
    cw = [KeyDown("ctrl"), KeyDown("r"), KeyUp("r"), KeyUp("ctrl")]
    ccw = [KeyDown("ctrl"), KeyDown("shift"), KeyDown("r"), KeyUp("r"), KeyUp("shift"), KeyUp("ctrl")]
    assert taps == [[], [], cw, cw, ccw, ccw]


def test_rotate_measures_in_true_proportions():
    """On a 4:3 image, a 45 degree turn is 45 degrees, not what the normalised
    coordinates say."""
    p = profile(bindings=[{"rotate": "pinch", "degrees": 44, "clockwise": "r"}])
    engine, clock = MappingEngine(p, SCREEN), Clock()
    pinching_pair(engine, clock, gap=0.3)
    frame = clock.frame([at(LEFT_ID, "pinch", 0.35), at(RIGHT_ID, "pinch", 0.65)])
    engine.handle(type(frame)(frame.t, frame.frame, frame.hands, aspect=4 / 3))
    # 45 degrees on the image: dy = dx * 4/3 in normalised units.
    frame = clock.frame([at(LEFT_ID, "pinch", 0.4, 0.4), at(RIGHT_ID, "pinch", 0.6, 0.4 + 0.2 * 4 / 3)])
    out = engine.handle(type(frame)(frame.t, frame.frame, frame.hands, aspect=4 / 3))
    assert keys_and_scrolls(out) == [KeyDown("r"), KeyUp("r")]
    assert [round(a.value, 6) for a in out if isinstance(a, ReportTwoHands)] == [45.0]


def test_the_pair_mutes_its_hands_own_bindings_for_the_pose_until_they_leave_it():
    engine, clock = MappingEngine(ZOOM, SCREEN), Clock()
    # Right pinches first: its own click fires (the pair does not exist yet).
    engine.handle(clock.frame([at(RIGHT_ID, "pinch", 0.6)], [enter(RIGHT_ID, "pinch")]))
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.4), at(RIGHT_ID, "pinch", 0.6)], [enter(LEFT_ID, "pinch")]))
    assert ReportTwoHands("both", "start", "pinch") in out
    # Its 500 ms hold comes while it is in the pair: no right click.
    from handmap.gestures.types import PoseHeld
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.4), at(RIGHT_ID, "pinch", 0.6)],
                                    [PoseHeld(0, 0, RIGHT_ID, R, "pinch", 500)]))
    assert keys_and_scrolls(out) == []
    # The left hand goes; the right hand pinches on, still muted until it leaves the pose.
    out = engine.handle(clock.frame([at(RIGHT_ID, "pinch", 0.6)], [HandLost(0, 0, LEFT_ID, L, "pinch")]))
    assert ReportTwoHands("both", "end", "pinch") in out and keys_and_scrolls(out) == []
    engine.handle(clock.frame([at(RIGHT_ID, "open", 0.6)], [leave(RIGHT_ID, "pinch"), enter(RIGHT_ID, "open", "pinch")]))
    out = engine.handle(clock.frame([at(RIGHT_ID, "pinch", 0.6)], [leave(RIGHT_ID, "open"), enter(RIGHT_ID, "pinch", "open")]))
    assert keys_and_scrolls(out) == [MouseDown(Button.LEFT), MouseUp(Button.LEFT)]


BOTH = profile(bindings=[
    {"enter": "open", "hand": "both", "do": {"hold": "shift"}},
    {"held": "closed", "ms": 1000, "hand": "both", "do": {"key": "f"}},
    {"exit": "closed", "hand": "both", "do": {"key": "g"}},
    {"enter": "closed", "hand": "right", "do": {"mouse_down": "left", "sticky": True}},
    {"enter": "open", "hand": "right", "do": {"mouse_up": "left"}},
])


def test_both_hands_open_holds_while_both_are_open():
    engine, clock = MappingEngine(BOTH, SCREEN), Clock()
    engine.handle(clock.frame([at(LEFT_ID, "open", 0.3)], [enter(LEFT_ID, "open")]))
    out = engine.handle(clock.frame([at(LEFT_ID, "open", 0.3), at(RIGHT_ID, "open", 0.7)], [enter(RIGHT_ID, "open")]))
    assert keys_and_scrolls(out) == [KeyDown("shift")]
    out = engine.handle(clock.frame([at(LEFT_ID, "closed", 0.3), at(RIGHT_ID, "open", 0.7)],
                                    [leave(LEFT_ID, "open"), enter(LEFT_ID, "closed", "open")]))
    assert keys_and_scrolls(out) == [KeyUp("shift")]


def test_both_hands_held_fires_once_after_the_time_and_exit_when_one_lets_go():
    engine, clock = MappingEngine(BOTH, SCREEN), Clock()
    engine.handle(clock.frame([at(LEFT_ID, "closed", 0.3)], [enter(LEFT_ID, "closed")]))
    out = engine.handle(clock.frame([at(LEFT_ID, "closed", 0.3), at(RIGHT_ID, "closed", 0.7)],
                                    [enter(RIGHT_ID, "closed")]))
    assert keys_and_scrolls(out) == []  # the right fist's own grab is the pair's now: muted
    taps = []
    for _ in range(45):  # 1.5 s at 30 fps
        taps += keys_and_scrolls(engine.handle(clock.frame([at(LEFT_ID, "closed", 0.3), at(RIGHT_ID, "closed", 0.7)])))
    assert taps == [KeyDown("f"), KeyUp("f")]
    out = engine.handle(clock.frame([at(LEFT_ID, "closed", 0.3)], [HandLost(0, 0, RIGHT_ID, R, "closed")]))
    assert keys_and_scrolls(out) == [KeyDown("g"), KeyUp("g")]


def test_second_hand_entering_crossing_and_leaving_keeps_the_first_hands_drag():
    engine, clock = MappingEngine(BOTH, SCREEN), Clock()
    out = engine.handle(clock.frame([at(RIGHT_ID, "closed", 0.6)], [enter(RIGHT_ID, "closed")]))
    assert keys_and_scrolls(out) == [MouseDown(Button.LEFT)]
    out = []
    # The left hand comes in open, crosses to the right of the dragging hand, drops out
    # of view for a frame, and leaves.
    for x in (0.1, 0.4, 0.6, 0.8):
        out += engine.handle(clock.frame([at(LEFT_ID, "open", x), at(RIGHT_ID, "closed", 0.6)],
                                         [enter(LEFT_ID, "open")] if x == 0.1 else []))
    out += engine.handle(clock.frame([at(LEFT_ID, "open", 0.8, visible=False), at(RIGHT_ID, "closed", 0.6)]))
    out += engine.handle(clock.frame([at(RIGHT_ID, "closed", 0.6)], [leave(LEFT_ID, "open"), HandLost(0, 0, LEFT_ID, L, "open")]))
    out += engine.handle(clock.frame([at(RIGHT_ID, "closed", 0.7)]))
    assert keys_and_scrolls(out) == []
    assert engine.held == {MouseDown(Button.LEFT)}
    out = engine.handle(clock.frame([at(RIGHT_ID, "open", 0.7)], [leave(RIGHT_ID, "closed"), enter(RIGHT_ID, "open", "closed")]))
    assert keys_and_scrolls(out) == [MouseUp(Button.LEFT)]


def test_a_zoom_lets_go_of_ctrl_when_a_hand_drops_out_of_view_and_the_other_keeps_its_own():
    p = profile(bindings=[
        {"zoom": "pinch", "step": 0.2, "scroll": "ctrl"},
        {"enter": "pinch", "hand": "left", "do": {"hold": "alt"}},
    ])
    engine, clock = MappingEngine(p, SCREEN), Clock()
    out = pinching_pair(engine, clock, gap=0.2)
    assert engine.held == {KeyDown("alt")}  # the left hand pinched first: its own hold
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.35), at(RIGHT_ID, "pinch", 0.65)]))
    assert keys_and_scrolls(out) == [KeyDown("ctrl"), Scroll(0, 2)]
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.35), at(RIGHT_ID, "pinch", 0.65, visible=False)]))
    assert keys_and_scrolls(out) == [KeyUp("ctrl")]
    # Back in view: measuring starts afresh (no jump), ctrl goes down again at the next step.
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.3), at(RIGHT_ID, "pinch", 0.7)]))
    assert keys_and_scrolls(out) == []
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.25), at(RIGHT_ID, "pinch", 0.75)]))
    assert keys_and_scrolls(out) == [KeyDown("ctrl"), Scroll(0, 1)]
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.25)], [HandLost(0, 0, RIGHT_ID, R, "pinch")]))
    assert keys_and_scrolls(out) == [KeyUp("ctrl")]
    assert engine.held == {KeyDown("alt")}


def test_pause_and_switch_release_the_pair_and_resume_does_not_fire_it_again():
    engine, clock = MappingEngine(BOTH, SCREEN), Clock()
    engine.handle(clock.frame([at(LEFT_ID, "open", 0.3)], [enter(LEFT_ID, "open")]))
    engine.handle(clock.frame([at(LEFT_ID, "open", 0.3), at(RIGHT_ID, "open", 0.7)], [enter(RIGHT_ID, "open")]))
    assert engine.held == {KeyDown("shift")}
    assert KeyUp("shift") in engine.pause("test")
    engine.resume()
    out = engine.handle(clock.frame([at(LEFT_ID, "open", 0.3), at(RIGHT_ID, "open", 0.7)]))
    assert keys_and_scrolls(out) == [] and engine.held == frozenset()
    pinching = profile(bindings=[{"zoom": "pinch", "scroll": "ctrl"}])
    engine2, clock2 = MappingEngine(pinching, SCREEN), Clock()
    pinching_pair(engine2, clock2, gap=0.2)
    engine2.handle(clock2.frame([at(LEFT_ID, "pinch", 0.3), at(RIGHT_ID, "pinch", 0.7)]))
    assert engine2.held == {KeyDown("ctrl")}
    assert engine2.switch_profile(BOTH)[:1] == [KeyUp("ctrl")]
    assert engine2.held == frozenset()


def test_pose_reports_still_come_for_both_hands():
    engine, clock = MappingEngine(ZOOM, SCREEN), Clock()
    out = pinching_pair(engine, clock)
    assert ReportPose("right", "pinch", SCORE) in out


def test_describe_two_hand_triggers():
    assert describe_trigger(BOTH.bindings[1]) == "the two-hand closed pose held 1000 ms"
    assert describe_trigger(ZOOM.bindings[2]) == "a two-hand zoom with both hands in the pinch pose"


def test_one_hand_daemon_warning():
    assert ZOOM.two_hand_warning(2) is None
    assert "model.max_hands is 1" in (ZOOM.two_hand_warning(1) or "")
    assert profile(bindings=[{"enter": "open", "do": "click"}]).two_hand_warning(1) is None
    assert BOTH.hold_durations_ms() == ()  # the engine times 'hand: both' itself


def test_a_zooming_pairs_hands_do_not_swipe():
    from handmap.gestures.types import Swipe, SwipeDirection

    p = profile(bindings=[{"zoom": "pinch", "scroll": "ctrl"}, {"swipe": "left", "do": {"key": "alt+left"}}])
    engine, clock = MappingEngine(p, SCREEN), Clock()
    pinching_pair(engine, clock)
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.3), at(RIGHT_ID, "pinch", 0.6)],
                                    [Swipe(0, 0, LEFT_ID, L, SwipeDirection.LEFT, 6.0)]))
    assert KeyDown("alt") not in out
    # Alone again, the left hand swipes as before.
    engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.3)], [HandLost(0, 0, RIGHT_ID, R, "pinch")]))
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.2)], [Swipe(0, 0, LEFT_ID, L, SwipeDirection.LEFT, 6.0)]))
    assert keys_and_scrolls(out)[:2] == [KeyDown("alt"), KeyDown("left")]


# -- the release invariants with two hands, under random interleavings (hypothesis) -------

TWO_SINK = profile(name="twosink", pointer={"mode": "absolute", "hand": "right"}, bindings=[
    {"zoom": "pinch", "step": 0.1, "scroll": "ctrl"},
    {"rotate": "pinch", "degrees": 10, "clockwise": "r", "counterclockwise": "shift+r"},
    {"zoom": "point", "step": 0.1, "in": "ctrl+plus", "out": "ctrl+minus"},
    {"enter": "open", "hand": "both", "do": {"hold": "shift"}},
    {"held": "closed", "ms": 100, "hand": "both", "do": [{"hold": "b"}, {"mouse_down": "middle", "sticky": True}]},
    {"exit": "closed", "hand": "both", "do": {"key": "e"}},
    {"enter": "closed", "hand": "right", "do": {"mouse_down": "left", "sticky": True}},
    {"enter": "open", "hand": "right", "do": {"mouse_up": "left"}},
    {"enter": "pinch", "hand": "left", "do": {"hold": "alt"}},
])


def test_every_press_is_released_and_each_hand_keeps_its_own_with_two_hands():
    """Random scripts of two hands changing pose, moving, dropping out of view, being
    lost and coming back, with pauses and switches: the stream is well formed, a pair's
    presses never outlive the pair, and the right hand's drag ends only by the right hand."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    sides = {LEFT_ID: L, RIGHT_ID: R}
    ids = st.sampled_from([LEFT_ID, RIGHT_ID])
    action = st.one_of(
        st.tuples(st.just("pose"), ids, st.sampled_from(["open", "closed", "pinch", "pinch", "point"])),
        st.tuples(st.just("move"), ids, st.floats(0, 1), st.floats(0, 1)),
        st.tuples(st.just("move"), ids, st.floats(0, 1), st.floats(0, 1)),
        st.tuples(st.just("hide"), ids), st.tuples(st.just("show"), ids), st.tuples(st.just("lose"), ids),
        st.tuples(st.just("wait")),
        st.tuples(st.just("command"), st.sampled_from(["pause", "resume", "release_all", "switch"])),
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(action, min_size=10, max_size=80))
    def check(script):
        engine, clock = MappingEngine(TWO_SINK, SCREEN), Clock()
        down: set = set()
        hands: dict[int, list] = {}  # id -> [pose, x, y, visible]
        for step in script:
            evs: list = []
            kind = step[0]
            if kind == "command":
                out = engine.switch_profile(TWO_SINK) if step[1] == "switch" else getattr(engine, step[1])()
            else:
                if kind == "pose":
                    _, hid, pose = step
                    state = hands.setdefault(hid, [None, 0.3 if hid == LEFT_ID else 0.7, 0.5, True])
                    if state[0] is not None:
                        evs.append(PoseExited(0, 0, hid, sides[hid], state[0]))
                    evs.append(PoseEntered(0, 0, hid, sides[hid], pose, SCORE, state[0]))
                    state[0], state[3] = pose, True
                elif kind == "move" and step[1] in hands:
                    hands[step[1]][1:3] = step[2:4]
                elif kind in ("hide", "show") and step[1] in hands:
                    hands[step[1]][3] = kind == "show"
                elif kind == "lose" and step[1] in hands:
                    state = hands.pop(step[1])
                    if state[0] is not None:
                        evs.append(PoseExited(0, 0, step[1], sides[step[1]], state[0]))
                    evs.append(HandLost(0, 0, step[1], sides[step[1]], state[0]))
                out = engine.handle(clock.frame([at(h, *v) for h, v in sorted(hands.items())], evs))
            for a in out:
                if isinstance(a, (MouseDown, KeyDown)):
                    assert a not in down, f"{a} pressed while down"
                    down.add(a)
                elif isinstance(a, MouseUp):
                    assert MouseDown(a.button) in down, f"{a} without a press"
                    down.remove(MouseDown(a.button))
                    if a.button is Button.LEFT and kind != "command":
                        assert step[1] == RIGHT_ID, f"{kind} of the left hand dropped the right hand's drag"
                elif isinstance(a, KeyUp):
                    assert KeyDown(a.key) in down, f"{a} without a press"
                    down.remove(KeyDown(a.key))
            assert engine.held == down
            if kind == "command":
                if step[1] != "resume":
                    assert down == set()
                continue
            if not hands:
                assert down == set(), "a press outlived every hand"
            poses = [v[0] for v in hands.values()]
            if KeyDown("shift") in down:
                assert poses == ["open", "open"], "shift outlived both hands open"
            if KeyDown("ctrl") in down:
                assert poses == ["pinch", "pinch"] and all(v[3] for v in hands.values()), \
                    "the zoom's ctrl outlived the pinching pair in view"
            if KeyDown("b") in down:
                assert poses == ["closed", "closed"], "a both-fists hold outlived both fists"
            if KeyDown("alt") in down:
                assert hands.get(LEFT_ID, [None])[0] == "pinch", "the left hand's own hold outlived its pinch"
        stream_end = engine.shutdown()
        assert engine.held == frozenset() and len(stream_end) == len(down)

    check()


def test_a_zoom_with_scroll_none_turns_the_wheel_alone():
    engine, clock = MappingEngine(profile(bindings=[{"zoom": "pinch", "step": 0.2, "scroll": "none"}]), SCREEN), Clock()
    pinching_pair(engine, clock, gap=0.2)
    out = engine.handle(clock.frame([at(LEFT_ID, "pinch", 0.35), at(RIGHT_ID, "pinch", 0.65)]))  # x1.5
    assert keys_and_scrolls(out) == [Scroll(0, 2)] and engine.held == frozenset()
