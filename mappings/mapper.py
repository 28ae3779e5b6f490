"""The mapping engine: a pure state machine from gesture frames to input actions.

``MappingEngine.handle(frame)`` turns one :class:`GestureFrame` into a list of actions
(``mappings.actions``) and requests (:class:`RequestProfile`, :class:`RequestPause`,
:class:`RequestResume`) that the daemon carries out. No I/O, no clock: time comes from
the frames.

Invariant: every press is released. Each press has owners (the pose of a hand that
pressed it, a hand for sticky presses, the joystick, a face-touch binding); a press is
released when its last owner ends: pose exit (or a new pose entered without an exit),
hand lost (or a hand missing from a frame), and everything on ``release_all``,
``switch_profile``, ``reload``, ``pause`` and ``shutdown``. A button or key already
down is never pressed twice and never released while another owner still holds it.

Two hands: a profile's two-hand bindings (``zoom``, ``rotate``, ``hand: both``) work on
a *pair*, two visible hands holding the same pose. The pair forms when the second hand
enters the pose (that entry fires the pair's bindings, not the hand's own ``enter``;
neither hand fires its own ``held`` or ``exit`` bindings for that pose until it leaves
the pose) and ends when either hand leaves the pose or is lost. What a pair presses is
the pair's: a zoom's held keys (ctrl for ``scroll: ctrl``) are pressed at its first step
and released when the pair ends or one of its hands drops out of view; ``hand: both``
presses last while the pair does (sticky ones until either hand is lost). Each hand's
own presses stay its own: a hand joining, crossing or leaving a pair never releases the
other hand's. While a pair zooms or rotates, the pointer does not follow its hands and
their swipes are not swipes.

Per frame: the pointer hand moves the cursor first (so a drop or a click lands where
the hand is), then drag-scrolling, then the frame's events in order, then the sweep
of presses owned by hands no longer in the frame, then the two-hand pairs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from handmap.gestures import two_hands as th
from handmap.gestures.types import (
    FaceTouch,
    GestureFrame,
    Handedness,
    HandLost,
    PoseEntered,
    PoseExited,
    PoseHeld,
    Swipe,
    TrackedHand,
)
from handmap.mappings import actions as act
from handmap.mappings import schema as sc
from handmap.mappings.keys import parse_combo
from handmap.mappings.pointer_modes import PointerDriver, ScreenGeometry, make_driver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestProfile:
    """A binding asked to switch to profile ``name`` (the daemon loads it and calls
    :meth:`MappingEngine.switch_profile`)."""

    name: str


@dataclass(frozen=True)
class RequestPause:
    """A pause was asked for (the daemon calls :meth:`MappingEngine.pause`); ``reason``
    says by whom: a binding (:func:`binding_reason`), ``handmap pause``, the hotkey..."""

    reason: str = ""


@dataclass(frozen=True)
class RequestResume:
    """A binding asked to resume (the daemon calls :meth:`MappingEngine.resume`)."""


Request = RequestProfile | RequestPause | RequestResume


def describe_trigger(binding: sc.Binding) -> str:
    """What sets a binding off, in words: ``the left-hand closed pose held 2000 ms``."""
    hand = f"{binding.hand}-hand " if binding.hand not in ("any", "both") else ""
    if binding.hand == "both" and binding.trigger in ("enter", "exit", "held"):
        hand = "two-hand "
    match binding.trigger:
        case "enter" | "exit":
            return f"the {hand}{binding.pose} pose" + (" ending" if binding.trigger == "exit" else "")
        case "held":
            return f"the {hand}{binding.pose} pose held {binding.ms} ms"
        case "swipe":
            return f"a {hand}swipe {binding.swipe}"
        case "zoom" | "rotate":
            return f"a two-hand {binding.trigger} with both hands in the {binding.pose} pose"
        case _:
            return f"a face touch {binding.face_touch}"


def binding_reason(binding: sc.Binding) -> str:
    """A binding as a pause's reason: ``the left-hand closed pose (profile binding)``."""
    return f"{describe_trigger(binding)} (profile binding)"
#: What the engine returns for a frame or a mode change: input actions for the output,
#: requests for the daemon (not to be confused with ``daemon.outputs.base.Output``).
EngineResult = act.Action | Request

# Owners of a press: ("pose", hand_id, pose), ("hand", hand_id), ("joystick",), ("global",),
# and for two hands: ("pair", pose) while a pair lasts, ("zoom", pose) a zoom's held keys,
# ("hands", id_a, id_b) a pair's sticky presses (until either hand is lost).
Owner = tuple

#: At most this many zoom or rotate steps come out of one frame (a tracking jump, not a
#: move, can make more).
MAX_STEPS_PER_FRAME = 4


@dataclass
class _Measure:
    """A zoom's or rotate's measurement since it began (the pair formed, or came back
    into view, or the daemon resumed)."""

    anchor: float  # zoom: the distance at the last step; rotate: the turn at the last step
    start: float = 0.0  # zoom: the distance at the first measurement
    angle: float = 0.0  # rotate: the last angle seen
    turned: float = 0.0  # rotate: degrees turned since the first measurement


@dataclass
class _Pair:
    """Two hands holding the same two-hand pose."""

    pose: str
    first: int  # hand id, the hand further left when the pair formed
    second: int
    since: float
    fired: set[int] = field(default_factory=set)  # ``hand: both`` held bindings already fired
    measures: dict[int, _Measure] = field(default_factory=dict)  # per zoom/rotate binding index

    @property
    def ids(self) -> tuple[int, int]:
        return (self.first, self.second)


@dataclass
class _DragScroll:
    spec: sc.DragScrollSpec
    pose: str | None
    last: tuple[float, float] | None = None
    acc_x: float = 0.0
    acc_y: float = 0.0


def _steps(amount: float) -> int:
    """Whole wheel steps in ``amount`` (towards zero, forgiving float rounding)."""
    return int(amount + math.copysign(1e-6, amount))


def _hand_matches(selector: str, hand: Handedness | None) -> bool:
    return selector == "any" or (hand is not None and hand.value == selector)


class MappingEngine:
    """Gesture frames in, input actions and daemon requests out."""

    def __init__(self, profile: sc.Profile, screen: ScreenGeometry,
                 cursor: tuple[float, float] | None = None):
        self._screen = screen
        b = screen.bounds
        self._cursor: tuple[float, float] = cursor if cursor is not None else (
            b.x + b.width / 2.0, b.y + b.height / 2.0)
        self._emitted: tuple[int, int] | None = None
        self._buttons: dict[act.Button, set] = {}
        self._keys: dict[str, set] = {}
        self._poses: dict[int, str | None] = {}
        self._fired: set[tuple[int, int]] = set()
        self._scroll: dict[int, _DragScroll] = {}
        self._pointer_hand: int | None = None
        self._paused = False
        self._hands: dict[int, TrackedHand] = {}
        self._pairs: dict[str, _Pair] = {}
        self._muted: set[tuple[int, str]] = set()  # (hand id, pose): in a pair during this pose
        self._aspect = 1.0
        self._set_profile(profile)

    # -- public state ---------------------------------------------------------------------

    @property
    def profile(self) -> sc.Profile:
        return self._profile

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def cursor(self) -> tuple[int, int]:
        return (round(self._cursor[0]), round(self._cursor[1]))

    @property
    def held(self) -> frozenset:
        """What is down now, as the MouseDown / KeyDown values that pressed it."""
        return frozenset([act.MouseDown(b) for b in self._buttons] + [act.KeyDown(k) for k in self._keys])

    # -- commands from the daemon ---------------------------------------------------------

    def release_all(self) -> list[EngineResult]:
        """Release everything held (keys in reverse press order, then buttons)."""
        out: list[EngineResult] = []
        self._release_where(lambda o: True, out)
        self._scroll.clear()
        self._reset_pointer()
        for pair in self._pairs.values():
            pair.measures.clear()
        return out

    def switch_profile(self, profile: sc.Profile) -> list[EngineResult]:
        out = self.release_all()
        self._set_profile(profile)
        out.append(act.ReportProfile(profile.name or ""))
        return out

    def reload(self, profile: sc.Profile) -> list[EngineResult]:
        """The same profile, edited: release everything and carry on with the new one."""
        out = self.release_all()
        self._set_profile(profile)
        return out

    def pause(self, reason: str = "") -> list[EngineResult]:
        if self._paused:
            return []
        out = self.release_all()
        self._paused = True
        out.append(act.ReportPaused(reason))
        return out

    def resume(self) -> list[EngineResult]:
        if not self._paused:
            return []
        self._paused = False
        self._reset_pointer()
        return [act.ReportResumed()]

    def shutdown(self) -> list[EngineResult]:
        return self.release_all()

    # -- frames ---------------------------------------------------------------------------

    def handle(self, frame: GestureFrame) -> list[EngineResult]:
        out: list[EngineResult] = []
        hands = {h.hand_id: h for h in frame.hands}
        self._hands = hands
        self._aspect = frame.aspect if frame.aspect > 0 else 1.0
        if not self._paused:
            self._update_pointer(frame, hands, out)
            self._update_scroll(hands, out)
        for event in frame.events:
            self._event(event, out)
        self._sweep(hands, out)
        self._update_pairs(frame.t, hands, out)
        return out

    # -- internals: profile and pointer ---------------------------------------------------

    def _set_profile(self, profile: sc.Profile) -> None:
        self._profile = profile
        self._bindings = tuple(enumerate(profile.bindings))
        self._driver: PointerDriver | None = make_driver(profile.pointer, self._screen)
        self._pointer_hand = None
        self._fired.clear()
        self._two_hand_poses = frozenset(b.pose for b in profile.bindings if b.two_hands and b.pose is not None)
        self._measured_poses = frozenset(b.pose for b in profile.bindings
                                         if b.trigger in sc.TWO_HAND_TRIGGERS and b.pose is not None)
        # Pairs formed before the switch carry on with the new bindings, except that
        # their held times already ran (as one hand's PoseHeld reports do).
        self._pairs = {p: pair for p, pair in self._pairs.items() if p in self._two_hand_poses}
        for pair in self._pairs.values():
            pair.measures.clear()
            pair.fired = {i for i, b in self._bindings if b.hand == "both" and b.held == pair.pose}

    def _reset_pointer(self) -> None:
        self._pointer_hand = None
        if self._driver is not None:
            self._driver.reset()

    def _point(self, hand: TrackedHand) -> tuple[float, float]:
        x, y = hand.pointer
        return (1.0 - x if self._profile.pointer.mirror else x, y)

    def _move_to(self, pos: tuple[float, float], out: list) -> None:
        pos = self._screen.clamp(*pos)  # never into a gap between monitors
        self._cursor = pos
        px = (round(pos[0]), round(pos[1]))
        if px != self._emitted:
            self._emitted = px
            out.append(act.MouseMove(*px))

    def _drop_pointer_hand(self, out: list) -> None:
        self._release_where(lambda o: o == ("joystick",), out)
        self._reset_pointer()

    def _update_pointer(self, frame: GestureFrame, hands: dict, out: list) -> None:
        cfg = self._profile.pointer
        if self._driver is None:
            return
        hand = hands.get(self._pointer_hand) if self._pointer_hand is not None else None
        if hand is None:
            if self._pointer_hand is not None:
                self._drop_pointer_hand(out)
            hand = next((h for h in frame.hands if h.visible and _hand_matches(cfg.hand, h.handedness)), None)
            if hand is None:
                return
            self._pointer_hand = hand.hand_id
            self._driver.reset()
        pose = hand.pose
        active = ((cfg.poses is None or pose in cfg.poses) and (cfg.clutch is None or pose != cfg.clutch)
                  and hand.hand_id not in self._scroll and not self._measuring(hand.hand_id))
        result = self._driver.update(self._point(hand), active, hand.pointer_locked, frame.t, self._cursor)
        if result.cursor is not None:
            self._move_to(result.cursor, out)
        if cfg.mode == "joystick" and cfg.joystick.output == "keys":
            owner = ("joystick",)
            current = {k for k, owners in self._keys.items() if owner in owners}
            for k in sorted(current - result.keys):
                self._release_key(k, owner, out)
            for k in sorted(result.keys - current):
                self._press_key(k, owner, out)

    def _update_scroll(self, hands: dict, out: list) -> None:
        for hid, st in self._scroll.items():
            hand = hands.get(hid)
            if hand is None:
                continue
            p = self._point(hand)
            if st.last is not None:
                dx, dy = p[0] - st.last[0], p[1] - st.last[1]
                sign = 1.0 if st.spec.natural else -1.0
                st.acc_x += -dx * st.spec.speed * sign
                st.acc_y += dy * st.spec.speed * sign
                sx, sy = _steps(st.acc_x), _steps(st.acc_y)
                if sx or sy:
                    st.acc_x -= sx
                    st.acc_y -= sy
                    out.append(act.Scroll(sx, sy))
            st.last = p

    # -- internals: presses ---------------------------------------------------------------

    def _press_button(self, button: act.Button, owner: Owner, out: list) -> None:
        if button in self._buttons:
            self._buttons[button].add(owner)
            return
        self._buttons[button] = {owner}
        out.append(act.MouseDown(button))

    def _release_button(self, button: act.Button, out: list) -> None:
        if self._buttons.pop(button, None) is not None:
            out.append(act.MouseUp(button))

    def _press_key(self, key: str, owner: Owner, out: list) -> None:
        if key in self._keys:
            self._keys[key].add(owner)
            return
        self._keys[key] = {owner}
        out.append(act.KeyDown(key))

    def _release_key(self, key: str, owner: Owner | None, out: list) -> None:
        owners = self._keys.get(key)
        if owners is None:
            return
        if owner is not None:
            owners.discard(owner)
            if owners:
                return
        del self._keys[key]
        out.append(act.KeyUp(key))

    def _release_where(self, pred: Callable[[Owner], bool], out: list) -> None:
        for key in reversed(list(self._keys)):
            owners = self._keys[key]
            for o in [o for o in owners if pred(o)]:
                owners.discard(o)
            if not owners:
                del self._keys[key]
                out.append(act.KeyUp(key))
        for button in reversed(list(self._buttons)):
            owners = self._buttons[button]
            for o in [o for o in owners if pred(o)]:
                owners.discard(o)
            if not owners:
                del self._buttons[button]
                out.append(act.MouseUp(button))

    def _tap(self, keys: Iterable[str], out: list) -> None:
        pressed = []
        for k in keys:
            if k not in self._keys:
                out.append(act.KeyDown(k))
                pressed.append(k)
        for k in reversed(pressed):
            out.append(act.KeyUp(k))

    # -- internals: events and bindings ---------------------------------------------------

    def _end_pose(self, hid: int, pose: str | None, out: list) -> None:
        self._release_where(lambda o: o[0] == "pose" and o[1] == hid and (pose is None or o[2] == pose), out)
        st = self._scroll.get(hid)
        if st is not None and (pose is None or st.pose == pose):
            del self._scroll[hid]
        self._fired = {f for f in self._fired if f[0] != hid}

    def _lose_hand(self, hid: int, out: list) -> None:
        for pose in [p for p, pair in self._pairs.items() if hid in pair.ids]:
            self._end_pair(pose, out)
        self._end_pose(hid, None, out)
        self._release_where(lambda o: (o[0] == "hand" and o[1] == hid) or (o[0] == "hands" and hid in o[1:]), out)
        self._muted = {m for m in self._muted if m[0] != hid}
        self._scroll.pop(hid, None)
        self._poses.pop(hid, None)
        if hid == self._pointer_hand:
            self._drop_pointer_hand(out)

    def _sweep(self, hands: dict, out: list) -> None:
        """Hands that are gone from the frame lose what they hold (a missed HandLost)."""
        owners = [o for held in list(self._keys.values()) + list(self._buttons.values()) for o in held]
        owning = {o[1] for o in owners if o[0] in ("pose", "hand")}
        owning |= {hid for o in owners if o[0] == "hands" for hid in o[1:]}
        owning |= set(self._scroll) | set(self._poses)
        for hid in sorted(owning - set(hands)):
            self._lose_hand(hid, out)

    def _event(self, e, out: list) -> None:
        if isinstance(e, PoseEntered):
            prev = self._poses.get(e.hand_id)
            if prev is not None:
                self._end_pose(e.hand_id, prev, out)
            self._muted = {m for m in self._muted if m[0] != e.hand_id}
            self._poses[e.hand_id] = e.pose
            self._fired = {f for f in self._fired if f[0] != e.hand_id}
            out.append(act.ReportPose(e.hand.value, e.pose, e.score))
            partner = self._partner(e.hand_id, e.pose)
            if partner is not None:  # this entry makes a pair: the pair's bindings, not the hand's
                self._muted |= {(e.hand_id, e.pose), (partner, e.pose)}
                return
            self._fire(lambda b: b.enter == e.pose, e.hand, e.hand_id, ("pose", e.hand_id, e.pose), out)
        elif isinstance(e, PoseExited):
            self._end_pose(e.hand_id, e.pose, out)
            if self._poses.get(e.hand_id) == e.pose:
                self._poses[e.hand_id] = None
            self._fire(lambda b: b.exit == e.pose, e.hand, e.hand_id, ("hand", e.hand_id), out)
            self._muted.discard((e.hand_id, e.pose))
        elif isinstance(e, PoseHeld):
            current = self._poses.get(e.hand_id)
            if current is not None and current != e.pose:
                return  # a stale report for a pose that already ended
            if current is None:
                self._poses[e.hand_id] = e.pose
            hid = e.hand_id

            def due(b: sc.Binding, idx: int) -> bool:
                return b.held == e.pose and b.ms is not None and b.ms <= e.held_ms + 0.5 \
                    and (hid, idx) not in self._fired

            self._fire_indexed(due, e.hand, hid, ("pose", hid, e.pose), out, mark_fired=True)
        elif isinstance(e, Swipe):
            if self._measuring(e.hand_id):
                return  # moving the hands apart or round for a zoom or a rotate is no swipe
            d = e.direction.value
            self._fire(lambda b: b.swipe in (d, "any"), e.hand, e.hand_id, ("hand", e.hand_id), out)
        elif isinstance(e, HandLost):
            self._lose_hand(e.hand_id, out)
        elif isinstance(e, FaceTouch):
            out.append(act.ReportFaceTouch(e.state.value, e.hand.value if e.hand is not None else None,
                                            e.zone.value if e.zone is not None else None))
            self._fire(lambda b: b.face_touch == e.state.value, e.hand, None, ("global",), out)
        else:
            log.debug("ignoring unknown gesture event %r", e)

    def _fire(self, pred, hand, hid, owner, out) -> None:
        self._fire_indexed(lambda b, i: pred(b), hand, hid, owner, out)

    def _fire_indexed(self, pred, hand, hid, owner, out, mark_fired: bool = False) -> None:
        for idx, b in self._bindings:
            if not pred(b, idx) or not (_hand_matches(b.hand, hand)):
                continue
            if hid is not None and b.pose is not None and (hid, b.pose) in self._muted:
                continue  # the hand is in a pair for this pose: the pair's bindings fire
            if mark_fired and hid is not None:
                self._fired.add((hid, idx))
            for a in b.do:
                self._run(a, hid, owner, out, b)

    def _run(self, a, hid: int | None, owner: Owner, out: list, binding: sc.Binding | None = None,
             sticky: Owner | None = None) -> None:
        if isinstance(a, sc.Control):
            want = a.control if a.control != "toggle_pause" else ("resume" if self._paused else "pause")
            if want == "pause" and not self._paused:
                out.append(RequestPause(binding_reason(binding) if binding is not None else "a binding"))
            elif want == "resume" and self._paused:
                out.append(RequestResume())
            return
        if self._paused:
            return
        sticky_owner = sticky if sticky is not None else ("hand", hid) if hid is not None else ("global",)
        if isinstance(a, sc.Click):
            self._click(act.Button(a.click), 1, out)
        elif isinstance(a, sc.DoubleClick):
            self._click(act.Button(a.double_click), 2, out)
        elif isinstance(a, sc.MouseDown):
            self._press_button(act.Button(a.mouse_down), sticky_owner if a.sticky else owner, out)
        elif isinstance(a, sc.MouseUp):
            self._release_button(act.Button(a.mouse_up), out)
        elif isinstance(a, sc.KeyTap):
            self._tap(parse_combo(a.key).keys, out)
        elif isinstance(a, sc.KeyHold):
            for k in parse_combo(a.hold).keys:
                self._press_key(k, sticky_owner if a.sticky else owner, out)
        elif isinstance(a, sc.KeyRelease):
            for k in reversed(parse_combo(a.release).keys):
                self._release_key(k, None, out)
        elif isinstance(a, sc.ScrollAction):
            if a.scroll.dx or a.scroll.dy:
                out.append(act.Scroll(a.scroll.dx, a.scroll.dy))
        elif isinstance(a, sc.DragScroll):
            if hid is not None and owner[0] == "pose":
                h = self._hands.get(hid)
                self._scroll[hid] = _DragScroll(a.drag_scroll, owner[2], self._point(h) if h is not None else None)
        elif isinstance(a, sc.TypeText):
            out.append(act.TypeText(a.text))
        elif isinstance(a, sc.MoveTo):
            target = self._screen.target(self._profile.pointer.absolute.monitor
                                         if self._profile.pointer.mode == "absolute" else None)
            self._move_to(target.at(a.move.x, a.move.y), out)
            if self._driver is not None:
                self._driver.reset()
        elif isinstance(a, sc.SwitchProfile):
            out.append(RequestProfile(a.profile))

    def _click(self, button: act.Button, count: int, out: list) -> None:
        if button in self._buttons:
            log.debug("not clicking %s: it is held down", button.value)
            return
        for _ in range(count):
            out.append(act.MouseDown(button))
            out.append(act.MouseUp(button))

    # -- internals: two hands -------------------------------------------------------------

    def _partner(self, hid: int, pose: str) -> int | None:
        """Another visible hand holding ``pose``, if that pose is a two-hand pose."""
        if pose not in self._two_hand_poses or pose in self._pairs:
            return None
        return next((h.hand_id for h in sorted(self._hands.values(), key=lambda h: h.hand_id)
                     if h.hand_id != hid and h.visible and self._poses.get(h.hand_id) == pose), None)

    def _measuring(self, hid: int) -> bool:
        """Whether the hand is in a pair that zooms or rotates (the pointer stays put)."""
        return any(hid in pair.ids for pose, pair in self._pairs.items() if pose in self._measured_poses)

    def _update_pairs(self, t: float, hands: dict, out: list) -> None:
        for pose in sorted(self._two_hand_poses):
            pair = self._pairs.get(pose)
            if pair is not None and not all(h in hands and self._poses.get(h) == pose for h in pair.ids):
                self._end_pair(pose, out)
                pair = None
            if pair is None:
                pair = self._form_pair(pose, t, hands, out)
            if pair is not None:
                self._pair_held(pair, t, out)
                self._measure(pair, hands, out)

    def _form_pair(self, pose: str, t: float, hands: dict, out: list) -> _Pair | None:
        ready = [h for hid, h in sorted(hands.items()) if h.visible and self._poses.get(hid) == pose]
        if len(ready) < 2:
            return None
        a, b = sorted(ready[:2], key=lambda h: th.hand_point(h.landmarks)[0])
        pair = self._pairs[pose] = _Pair(pose, a.hand_id, b.hand_id, t)
        self._muted |= {(a.hand_id, pose), (b.hand_id, pose)}
        out.append(act.ReportTwoHands("both", "start", pose))
        self._fire_pair(pair, lambda bd: bd.enter == pose, ("pair", pose), out)
        return pair

    def _end_pair(self, pose: str, out: list) -> None:
        pair = self._pairs.pop(pose)
        self._release_where(lambda o: o in (("pair", pose), ("zoom", pose)), out)
        self._fire_pair(pair, lambda bd: bd.exit == pose, ("hands", *pair.ids), out)
        out.append(act.ReportTwoHands("both", "end", pose))

    def _fire_pair(self, pair: _Pair, pred, owner: Owner, out: list) -> None:
        for _, b in self._bindings:
            if b.hand == "both" and pred(b):
                for a in b.do:
                    self._run(a, None, owner, out, b, sticky=("hands", *pair.ids))

    def _pair_held(self, pair: _Pair, t: float, out: list) -> None:
        for idx, b in self._bindings:
            if b.hand == "both" and b.held == pair.pose and b.ms is not None and idx not in pair.fired \
                    and (t - pair.since) * 1000.0 >= b.ms - 0.5:
                pair.fired.add(idx)
                self._fire_pair(pair, lambda bd, b=b: bd is b, ("pair", pair.pose), out)

    def _measure(self, pair: _Pair, hands: dict, out: list) -> None:
        gestures = [(idx, b) for idx, b in self._bindings if b.trigger in sc.TWO_HAND_TRIGGERS and b.pose == pair.pose]
        if not gestures:
            return
        first, second = hands[pair.first], hands[pair.second]
        if self._paused or not (first.visible and second.visible):
            # Out of view (or paused): the zoom's keys go up now; measuring starts afresh.
            self._release_where(lambda o: o == ("zoom", pair.pose), out)
            pair.measures.clear()
            return
        now = th.span(th.hand_point(first.landmarks), th.hand_point(second.landmarks), self._aspect)
        if now.distance < th.MIN_SPAN:
            return
        for idx, b in gestures:
            m = pair.measures.get(idx)
            if m is None:
                pair.measures[idx] = _Measure(anchor=now.distance if b.zoom else 0.0, start=now.distance,
                                              angle=now.angle)
                continue
            if b.zoom is not None:
                self._zoom(b, pair, m, now.distance, out)
            else:
                self._rotate(b, pair, m, now.angle, out)

    def _zoom(self, b: sc.Binding, pair: _Pair, m: _Measure, distance: float, out: list) -> None:
        n, m.anchor = th.zoom_steps(m.anchor, distance, b.zoom_step)
        if not n:
            return
        n = max(-MAX_STEPS_PER_FRAME, min(MAX_STEPS_PER_FRAME, n))
        out.append(act.ReportTwoHands("zoom", "step", pair.pose, distance / m.start, n))
        if b.scroll is not None:
            if b.scroll != sc.NO_SCROLL_KEYS:
                for k in parse_combo(b.scroll).keys:
                    self._press_key(k, ("zoom", pair.pose), out)
            out.append(act.Scroll(0, n))
        else:
            combo = b.zoom_in if n > 0 else b.zoom_out
            if combo is not None:  # both are set when there is no scroll (the schema says so)
                for _ in range(abs(n)):
                    self._tap(parse_combo(combo).keys, out)

    def _rotate(self, b: sc.Binding, pair: _Pair, m: _Measure, angle: float, out: list) -> None:
        m.turned += th.angle_change(m.angle, angle)
        m.angle = angle
        n, m.anchor = th.rotate_steps(m.anchor, m.turned, b.rotate_degrees)
        if not n:
            return
        n = max(-MAX_STEPS_PER_FRAME, min(MAX_STEPS_PER_FRAME, n))
        out.append(act.ReportTwoHands("rotate", "step", pair.pose, m.turned, n))
        combo = b.clockwise if n > 0 else b.counterclockwise
        if combo is not None:
            for _ in range(abs(n)):
                self._tap(parse_combo(combo).keys, out)
