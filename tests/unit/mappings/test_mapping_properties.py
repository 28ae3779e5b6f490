"""The release invariant under randomly interleaved events (hypothesis).

Whatever the order of frames, events, pauses, profile switches, reloads and hands
appearing and vanishing: the action stream never presses what is down nor releases
what is up, ``engine.held`` is exactly what the stream left down, a press made for a
pose never outlives the pose, and nothing is down after pause, switch, reload or
shutdown.
"""

from __future__ import annotations

from builders import entered, exited, hand
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handmap.gestures.types import (
    FaceTouch,
    FaceTouchState,
    GestureFrame,
    Handedness,
    HandLost,
    PoseEntered,
    PoseExited,
    PoseHeld,
    Swipe,
    SwipeDirection,
)
from handmap.mappings.actions import Button, KeyDown, KeyUp, MouseDown, MouseMove, MouseUp
from handmap.mappings.loader import ProfileStore
from handmap.mappings.mapper import MappingEngine
from handmap.mappings.pointer_modes import Rect, ScreenGeometry
from handmap.mappings.schema import Profile

SIDES = {1: Handedness.RIGHT, 2: Handedness.LEFT}
POSES = ["open", "closed", "pinch", "point", "hand", "two"]
SCREEN = ScreenGeometry((Rect(0, 0, 800, 600), Rect(800, 100, 640, 480)))

#: Every kind of press and release, sticky and not, on every trigger.
SINK = Profile.model_validate({
    "version": 1, "name": "sink",
    "poses": {"two": {"fingers": {"index": "extended", "middle": "extended", "ring": "curled"}}},
    "pointer": {"mode": "joystick", "hand": "any", "poses": ["open"],
                "joystick": {"output": "keys", "keys": {"up": "up", "down": "down", "left": "left", "right": "right"}}},
    "bindings": [
        {"enter": "closed", "do": {"hold": "ctrl+x"}},
        {"enter": "pinch", "do": {"mouse_down": "left"}},
        {"enter": "point", "do": [{"mouse_down": "right", "sticky": True}, {"hold": "shift+p", "sticky": True}]},
        {"enter": "open", "do": [{"mouse_up": "right"}, {"release": "p"}]},
        {"held": "two", "ms": 300, "do": {"hold": "t"}},
        {"enter": "two", "do": "drag_scroll"},
        {"exit": "hand", "do": {"key": "ctrl+z"}},
        {"swipe": "any", "do": ["click", {"key": "alt+tab"}]},
        {"swipe": "up", "hand": "left", "do": {"hold": "u", "sticky": True}},
        {"face_touch": "start", "do": {"hold": "f", "sticky": True}},
        {"face_touch": "end", "do": {"release": "f"}},
        {"held": "open", "ms": 500, "do": "toggle_pause"},
        {"swipe": "down", "do": {"profile": "desktop"}},
    ],
})
#: Presses that belong to a pose (not sticky) in SINK.
POSE_PRESSES = {KeyDown("ctrl"): "closed", KeyDown("x"): "closed", KeyDown("t"): "two",
                MouseDown(Button.LEFT): "pinch"}
FACE_PRESSES = {KeyDown("f")}

STORE = ProfileStore(None)
PROFILES = [SINK] + [STORE.load(n) for n in ("desktop", "game-wasd", "game-aim", "presenter", "face-touch-only")]

hand_ids = st.sampled_from([1, 2])
poses = st.sampled_from(POSES)
events = st.one_of(
    st.builds(lambda h, p: entered(p, h, SIDES[h]), hand_ids, poses),
    st.builds(lambda h, p: exited(p, h, SIDES[h]), hand_ids, poses),
    st.builds(lambda h, p, ms: PoseHeld(0, 0, h, SIDES[h], p, ms), hand_ids, poses,
              st.sampled_from([300.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0])),
    st.builds(lambda h, d: Swipe(0, 0, h, SIDES[h], d, 2.0), hand_ids, st.sampled_from(list(SwipeDirection))),
    st.builds(lambda h: HandLost(0, 0, h, SIDES[h], None), hand_ids),
    st.builds(lambda s, h: FaceTouch(0, 0, s, h), st.sampled_from(list(FaceTouchState)),
              st.sampled_from([None, Handedness.LEFT, Handedness.RIGHT])),
)
tracked = st.builds(
    lambda h, p, x, y, locked: hand(h, p, x, y, SIDES[h], locked, score=0.8),
    hand_ids, st.one_of(st.none(), poses), st.floats(0, 1), st.floats(0, 1), st.booleans())
frames = st.tuples(st.just("frame"), st.lists(tracked, max_size=2, unique_by=lambda h: h.hand_id),
                   st.lists(events, max_size=4))
commands = st.one_of(
    st.tuples(st.sampled_from(["pause", "resume", "reload", "release_all", "shutdown"])),
    st.tuples(st.just("switch"), st.integers(0, len(PROFILES) - 1)),
)
steps = st.lists(st.one_of(frames, frames, frames, commands), max_size=40)


class Stream:
    """Replays the action stream: what is down, and that it is well formed."""

    def __init__(self):
        self.down: set = set()

    def feed(self, actions) -> None:
        for a in actions:
            if isinstance(a, (MouseDown, KeyDown)):
                assert a not in self.down, f"{a} pressed while down"
                self.down.add(a)
            elif isinstance(a, MouseUp):
                assert MouseDown(a.button) in self.down, f"{a} without a press"
                self.down.remove(MouseDown(a.button))
            elif isinstance(a, KeyUp):
                assert KeyDown(a.key) in self.down, f"{a} without a press"
                self.down.remove(KeyDown(a.key))
            elif isinstance(a, MouseMove):
                assert any(m.contains(a.x, a.y) for m in SCREEN.monitors), a


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(0, len(PROFILES) - 1), script=steps)
def test_every_press_is_released_whatever_the_order(start, script):
    engine = MappingEngine(PROFILES[start], SCREEN)
    stream = Stream()
    pose_of: dict[int, str] = {}
    t = 0.0
    for step in script:
        kind = step[0]
        if kind == "frame":
            t += 1 / 30
            hands, evs = step[1], step[2]
            stream.feed(engine.handle(GestureFrame(t, int(t * 30), tuple(hands), tuple(evs))))
            for e in evs:  # what the engine should believe each hand's pose is
                if isinstance(e, PoseEntered):
                    pose_of[e.hand_id] = e.pose
                elif isinstance(e, PoseExited) and pose_of.get(e.hand_id) == e.pose:
                    pose_of.pop(e.hand_id)
                elif isinstance(e, PoseHeld) and e.hand_id not in pose_of:
                    pose_of[e.hand_id] = e.pose
                elif isinstance(e, HandLost):
                    pose_of.pop(e.hand_id, None)
            present = {h.hand_id for h in hands}
            pose_of = {h: p for h, p in pose_of.items() if h in present}
            if not hands:
                assert stream.down <= FACE_PRESSES, "a press outlived every hand"
            if engine.profile is SINK:
                for press in stream.down:
                    if press in POSE_PRESSES:
                        assert POSE_PRESSES[press] in pose_of.values(), f"{press} outlived its pose"
        elif kind == "switch":
            stream.feed(engine.switch_profile(PROFILES[step[1]]))
            assert stream.down == set()
        else:
            stream.feed(getattr(engine, kind)() if kind != "reload" else engine.reload(engine.profile))
            if kind != "resume":
                assert stream.down == set(), kind
        assert engine.held == stream.down
    stream.feed(engine.shutdown())
    assert stream.down == set()
    assert engine.held == frozenset()
