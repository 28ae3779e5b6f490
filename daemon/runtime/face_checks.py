"""Face checks: faces, the body model and the search for hands near faces, scheduled at
their own rate after a frame's input went out (face touch needs ~10 Hz, not the
pointer's rate), on the ``handmap-faces`` thread for live sources, in line for file
replays (which then repeat exactly). A later frame's observation carries what a check
found.

Checks are skipped while no hand is in view (unless the body model or the closer look
can find one), while the look-ahead keeps the cores busy finding a hand, and, at a lower
rate, while every hand is well away from the faces of the last check (``FACES_FAR_*``).
A frame with no hand in view, or whose hands are all clearly off the faces of the last
check (``FACES_OFF_RADIUS``), is answered at once and without a model (the last check's
faces): face touch then judges that frame's own hands, so a touch ends when the hand is
seen leaving instead of at the next real check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from handmap.daemon.runtime.worker import SingleSlotWorker
from handmap.gestures.face_touch import nearest_face_radius
from handmap.gestures.types import BodyObservation, FaceObservation, HandObservation

if TYPE_CHECKING:
    from handmap.daemon.perception.tracker import Tracker
    from handmap.daemon.runtime.pipeline import StageClock

log = logging.getLogger(__name__)

#: Hands all farther than this from the faces of the last check (in face radii, as face
#: touch measures contact, which starts at 1.3) cannot be touching one: faces are then
#: checked only every ``FACES_FAR_INTERVAL_S``, and at full rate again as soon as a hand
#: comes nearer. A hand seen on no face, or no face seen, keeps the full rate.
FACES_FAR_RADIUS = 2.0
FACES_FAR_INTERVAL_S = 0.5

#: Hands all farther than this from the faces of the last check touch none (face touch's
#: contact ends at ``contact_outer``, 1.4): such a frame is answered at once, without a
#: model, so an episode ends as soon as the hand is seen off the face.
FACES_OFF_RADIUS = 1.5

#: A face check may run up to this share of its interval early, so neither live frames'
#: jitter nor float steps in source times (3 / 30 is a hair under 0.1) push it a whole
#: frame late: at most 1 / (1 - FACES_EARLY) times the configured rate.
FACES_EARLY = 0.2


@dataclass(frozen=True)
class FaceCheck:
    """What one face check found: the faces and, where there was one, the body and the
    hands a closer look around the faces found."""

    faces: tuple[FaceObservation, ...]
    body: BodyObservation | None = None
    near: tuple[HandObservation, ...] = ()


@dataclass(frozen=True)
class _Job:
    rgb: np.ndarray  # the frame's own pixels, not a copy: they must stay as they are
    t: float
    hands: Sequence[HandObservation]


def check_faces(tracker: Tracker, clock: StageClock, rgb: np.ndarray, t: float,
                hands: Sequence[HandObservation] = ()) -> FaceCheck:
    """Faces; then, only where there is a face to touch, the body model and the second
    look for hands around faces (when configured)."""
    with clock.time("faces"):
        faces = tracker.faces(rgb)
    if not faces:
        return FaceCheck(faces)
    with clock.time("body"):
        body = tracker.body(rgb, t)
        near = tracker.near_face_hands(rgb, faces, hands)
    return FaceCheck(faces, body, near)


class FaceChecks:
    """When to check faces, and the checks' results for the frames that carry them.

    ``after`` (the frame's second half, once its input is out) starts a check when one is
    due; ``take`` (the next frame's hand-model half) picks up what the last one found. With
    ``on_thread`` a check runs on the face thread, handed over only when that thread is
    free, so face work never queues up and never delays the pointer (MediaPipe's
    inference runs outside the GIL: on two cores the hand model and the face models run
    side by side).
    """

    def __init__(self, tracker: Tracker, clock: StageClock, rate_hz: float, on_thread: bool) -> None:
        self._tracker = tracker
        self._clock = clock
        self._interval = 1.0 / rate_hz if rate_hz > 0 else float("inf")
        self._next = float("-inf")  # when the next check is due (``_now``)
        self._seen: tuple[FaceObservation, ...] | None = None  # from the last check that answered
        self._checked_t = float("-inf")  # source time of the last check started
        self._gate_t = float("-inf")  # source time of the last frame ``after`` saw
        self._pending: FaceCheck | None = None  # found, not carried by a frame yet
        self.failures = 0
        self._worker: SingleSlotWorker[_Job, FaceCheck] | None = (
            SingleSlotWorker(self._check_on_thread, "handmap-faces", low_priority=True) if on_thread else None)

    def take(self) -> FaceCheck | None:
        """What the last check that answered found, once (None: nothing new)."""
        if self._worker is not None:
            done = self._worker.take()
            if done:
                self._pending = done[-1]
                self._seen = self._pending.faces
        pending, self._pending = self._pending, None
        return pending

    def after(self, t: float, rgb: np.ndarray | None, found_hands: bool, hands: Sequence[HandObservation]) -> None:
        """A frame's face check, if one is due: ``t`` its source time, ``rgb`` its pixels
        (None: a trace's frame), ``found_hands`` whether the hand model saw any, ``hands``
        the frame's observed hands."""
        if t < self._gate_t:  # a new source's clock (a camera that came back): start over
            self._next = self._checked_t = float("-inf")
            self._seen = None
        self._gate_t = t
        tracker = self._tracker
        if rgb is None or not tracker.has_faces:
            return
        if not found_hands and not tracker.has_body and not tracker.has_near_face:
            # No hand to touch a face with (only the body model or the closer look could
            # find one): said at once, without a model, so a touch ends when the hand goes.
            self._answer_without_models()
            return
        if self._off_faces(rgb, hands):
            # Every hand in view clearly off the faces of the last check: said at once,
            # so a touch ends when the hand is seen leaving, not at the next check.
            self._answer_without_models()
        now = self._now(t)
        if now < self._next - self._interval * FACES_EARLY:
            return
        if self._worker is not None and tracker.looking_hard:
            return  # the cores are busy finding a hand: faces can wait a frame
        if self._far_from_faces(t, rgb, hands):
            return  # answered above: every hand is off the faces
        if self._worker is not None:
            if self._worker.offer(_Job(rgb, t, hands)):
                self._checked_t = t
                self._next = now + self._interval
            return
        self._next = now + self._interval
        self._checked_t = t
        self._pending = check_faces(tracker, self._clock, rgb, t, hands)
        self._seen = self._pending.faces

    def _answer_without_models(self) -> None:
        """A check that needs no model: the faces of the last check, with no body and no
        closer look, for a frame whose hands (if any) cannot touch them. The frame after
        carries it, so face touch judges that frame's own hands (none, or far) instead
        of keeping the last decision until the next real check."""
        self._pending = FaceCheck(self._seen or ())

    def _now(self, t: float) -> float:
        """The clock checks keep their rate by. On the face thread (live sources, the
        benchmark) the wall clock: live it is the source's clock, and a replay faster
        than real time would otherwise check faces at the pointer's rate. In line (file
        replays, which repeat exactly) the source's time."""
        return time.perf_counter() if self._worker is not None else t

    def _off_faces(self, rgb: np.ndarray, hands: Sequence[HandObservation]) -> bool:
        """Whether this frame's hands all lie beyond any contact with the faces of the
        last check (``FACES_OFF_RADIUS``), with nothing else to find a hand (no body
        model, no closer look)."""
        if not hands or not self._seen or self._tracker.has_body or self._tracker.has_near_face:
            return False
        height, width = rgb.shape[:2]
        return nearest_face_radius(hands, self._seen, width, height) > FACES_OFF_RADIUS

    def _far_from_faces(self, t: float, rgb: np.ndarray, hands: Sequence[HandObservation]) -> bool:
        """Whether this frame's hands are well away from every face a recent check found,
        so its check can wait. Not with the body model or the search near faces, which
        find hands the hand model misses."""
        if (not hands or not self._seen or t - self._checked_t >= FACES_FAR_INTERVAL_S
                or self._tracker.has_body or self._tracker.has_near_face):
            return False
        height, width = rgb.shape[:2]
        return nearest_face_radius(hands, self._seen, width, height) > FACES_FAR_RADIUS

    def _check_on_thread(self, job: _Job) -> FaceCheck | None:
        try:
            return check_faces(self._tracker, self._clock, job.rgb, job.t, job.hands)
        except Exception:
            self.failures += 1
            log.exception("face detection failed on one frame (skipped)")
            return None

    def drain(self, timeout: float = 5.0) -> None:
        """Wait for the check in flight (benchmarks and tests)."""
        if self._worker is not None:
            self._worker.settle(timeout)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
