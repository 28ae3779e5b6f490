"""The per-frame pipeline: frame preparation → hands → gestures → mapping → output,
with faces and the body model at their own lower rate, after the input is emitted.

Frames go in one at a time; the camera's capture thread (``sources``) keeps only the
newest frame, so analysis never queues behind the camera. Every stage is timed
(``StageClock``) for ``handmap bench`` and ``handmap status``.

Threads, for two-core machines: the hand model runs on the caller's thread. For live
sources (``PipelineSettings.overlap``) gestures, mapping and output of frame N run on a
second thread while the hand model looks at frame N+1 (MediaPipe's inference releases
the GIL), and faces run on a third, at their own rate, while a hand is in view, at a
lower priority than the pointer's path (``priority``). File replays run everything in
line, so they repeat exactly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handmap.daemon.capture.frames import Frame
from handmap.daemon.outputs.base import Output
from handmap.daemon.perception.tracker import hand_observations
from handmap.daemon.runtime.priority import background
from handmap.gestures.face_touch import nearest_face_radius
from handmap.gestures.types import BodyObservation, FrameObservation, GestureFrame
from handmap.mappings import actions as act

log = logging.getLogger(__name__)

#: Hands all farther than this from the faces of the last check (in face radii, as face
#: touch measures contact, which starts at 1.3) cannot be touching one: faces are then
#: checked only every ``FACES_FAR_INTERVAL_S``, and at full rate again as soon as a hand
#: comes nearer. A hand seen on no face, or no face seen, keeps the full rate.
FACES_FAR_RADIUS = 2.0
FACES_FAR_INTERVAL_S = 0.5

#: A face check may run up to this share of its interval early, so neither live frames'
#: jitter nor float steps in source times (3 / 30 is a hair under 0.1) push it a whole
#: frame late: at most 1 / (1 - FACES_EARLY) times the configured rate.
FACES_EARLY = 0.2

STAGES = ("decode", "prep", "hands", "faces", "body", "gestures", "mapping", "output")
INPUT_ACTIONS = (act.MouseMove, act.MouseDown, act.MouseUp, act.Scroll, act.KeyDown, act.KeyUp, act.TypeText)


class Mapper(Protocol):
    """The mapping stage: gesture frames to actions (``handmap.mappings.engine``)."""

    def handle(self, frame: GestureFrame) -> list: ...

    def release_all(self) -> list: ...


class StageClock:
    """Per-stage durations in a fixed ring buffer (no per-frame allocation)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self._samples = {name: np.zeros(capacity) for name in STAGES + ("end_to_end",)}
        self._counts = {name: 0 for name in self._samples}

    def add(self, stage: str, ms: float) -> None:
        n = self._counts[stage]
        self._samples[stage][n % self.capacity] = ms
        self._counts[stage] = n + 1

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - start) * 1000.0)

    def samples(self, stage: str) -> np.ndarray:
        n = min(self._counts[stage], self.capacity)
        return self._samples[stage][:n]

    def recent(self, stage: str, n: int) -> np.ndarray:
        """The last ``n`` durations of ``stage`` (fewer if there are fewer)."""
        count = self._counts[stage]
        n = min(n, count, self.capacity)
        idx = np.arange(count - n, count) % self.capacity
        return self._samples[stage][idx]

    def percentiles(self, stage: str) -> dict | None:
        data = self.samples(stage)
        if data.size == 0:
            return None
        p50, p95, p99 = np.percentile(data, [50, 95, 99])
        return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3), "n": int(data.size)}


@dataclass(frozen=True)
class PipelineSettings:
    selfie: bool = False  # frames are mirrored (selfie view) before analysis
    mirror: bool = False  # flip each frame left-right
    faces_rate_hz: float = 10.0
    report_frames: bool = False  # a `hands` event per analysed frame in the stream
    #: Faces and body on a worker thread (the other core) instead of after the frame on
    #: this one: live sources. Fast file replays keep them in line, so they repeat exactly.
    faces_async: bool = False
    #: Gestures, mapping and output on a second thread, overlapping the next frame's hand
    #: model (live sources; not with a preview window, which belongs to the caller).
    overlap: bool = False


@dataclass(frozen=True)
class Begun:
    """A frame the hand model has seen, waiting for the rest of the pipeline. Its
    observation is built there (``observation``), off the hand model's thread."""

    frame: Frame
    found: tuple = ()  # the hand model's hands (``tracker.RawHand``)
    faces: tuple | None = None  # from the last face check that answered (None: none did)
    body: BodyObservation | None = None
    near: tuple = ()
    width: int = 0
    height: int = 0
    #: The frame's pixels as the hand model saw them (RGB): the ``mp.Image``'s own, which
    #: later frames leave unchanged, so the face thread reads them without a copy.
    rgb: np.ndarray | None = None
    recorded: FrameObservation | None = None  # a trace's observation, as it was recorded
    #: The hand model ran palm detection or a second look on this frame, on top of its
    #: tracking pass (``Tracker.last_hard``): the slowest frames; or a look-ahead still
    #: runs on the other core (``Tracker.looking_hard``), which the second thread would
    #: wait for. Such a frame is finished at once on the hand model's thread.
    hard: bool = False

    def observation(self, selfie: bool) -> FrameObservation:
        if self.recorded is not None:
            return self.recorded
        frame = self.frame
        return FrameObservation(t=frame.t, frame=frame.index, width=self.width, height=self.height,
                                hands=hand_observations(self.found, selfie), faces=self.faces, body=self.body,
                                near_face_hands=self.near)


@dataclass(frozen=True)
class Outcome:
    """One frame through the pipeline: its gesture frame, or the error that dropped it."""

    index: int
    gframe: GestureFrame | None = None
    error: BaseException | None = None


def faces_and_body(tracker, clock: StageClock, rgb: np.ndarray, t: float, hands=()):
    """Faces; then, only where there is a face to touch, the body model and the second
    look for hands around faces (when configured)."""
    with clock.time("faces"):
        faces = tracker.faces(rgb)
    body = None
    near = ()
    if faces:
        with clock.time("body"):
            body = tracker.body(rgb, t)
            near = tracker.near_face_hands(rgb, faces, hands)
    return faces, body, near


class FaceWorker:
    """Runs faces and the body model on its own thread, one frame at a time.

    ``submit`` hands over a frame only when the worker is idle (the frame's own pixels,
    not a copy: they must stay as they are), so face work never queues up and never
    delays the pointer; the newest result is picked up with ``take``. MediaPipe's
    inference runs outside the GIL, so on two cores the hand model and the face models
    run side by side.
    """

    def __init__(self, tracker, clock: StageClock) -> None:
        self._tracker = tracker
        self._clock = clock
        self._pixels: np.ndarray | None = None
        self._cond = threading.Condition()
        self._job: float | None = None  # the submitted frame's time
        self._busy = False
        self._result = None
        self._closed = False
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="handmap-faces", daemon=True)
        with background():
            self._thread.start()

    def submit(self, rgb: np.ndarray, t: float, hands=()) -> bool:
        with self._cond:
            if self._busy or self._closed:
                return False
            self._pixels = rgb
            self._job = (t, hands)
            self._busy = True
            self._cond.notify_all()
            return True

    def take(self):
        with self._cond:
            result, self._result = self._result, None
            return result

    def drain(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                (t, hands), self._job = self._job, None
                rgb, self._pixels = self._pixels, None
            try:
                result = faces_and_body(self._tracker, self._clock, rgb, t, hands)
            except Exception:
                self.failures += 1
                log.exception("face detection failed on one frame (skipped)")
                result = None
            with self._cond:
                if result is not None:
                    self._result = result
                self._busy = False
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)


class AfterStage:
    """Runs the second half of a frame (``finish``) on its own thread, one frame at a
    time: ``put`` waits until the frame before is done, so frames are finished in order
    and never queue up; ``take`` returns what is done, in order."""

    def __init__(self, finish: Callable[[Begun], GestureFrame]) -> None:
        self._finish = finish
        self._cond = threading.Condition()
        self._job: Begun | None = None
        self._busy = False
        self._closed = False
        self._done: list[Outcome] = []
        self._thread = threading.Thread(target=self._run, name="handmap-after", daemon=True)
        self._thread.start()

    def put(self, begun: Begun) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._busy or self._closed)
            if self._closed:
                raise RuntimeError("the pipeline is closed")
            self._job = begun
            self._busy = True
            self._cond.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the frame in flight is done; False on a timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def take(self) -> list[Outcome]:
        with self._cond:
            done, self._done = self._done, []
            return done

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._job is None:
                    return
                begun, self._job = self._job, None
            try:
                outcome = Outcome(begun.frame.index, gframe=self._finish(begun))
            except BaseException as exc:  # handed to the caller's thread, which decides
                outcome = Outcome(begun.frame.index, error=exc)
            with self._cond:
                self._done.append(outcome)
                self._busy = False
                self._cond.notify_all()

    def close(self) -> None:
        self.settle(timeout=5.0)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)


class MotionGate:
    """For the idle rate: has anything moved since the last look? A hand coming into
    view changes a visible share of a small grey thumbnail; sensor noise does not."""

    SIZE = (64, 48)
    PIXEL_DELTA = 24  # grey levels
    CHANGED_SHARE = 0.004  # of the thumbnail's pixels

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def moved(self, bgr: np.ndarray) -> bool:
        import cv2

        small = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), self.SIZE, interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, small
        if previous is None:
            return True
        changed = np.count_nonzero(cv2.absdiff(small, previous) > self.PIXEL_DELTA)
        return changed > self.CHANGED_SHARE * small.size

    def reset(self) -> None:
        self._previous = None


class FramePrep:
    """Mirror and colour-convert into reused buffers (one conversion per frame)."""

    def __init__(self, mirror: bool) -> None:
        self.mirror = mirror
        self._flipped: np.ndarray | None = None
        self._rgb: np.ndarray | None = None

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        import cv2

        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8 or not bgr.size:
            # OpenCV converts some of these into nothing without a word, and MediaPipe
            # would then read a 3-channel image past the end of the buffer.
            raise ValueError(f"not a BGR image (height x width x 3, uint8): shape {bgr.shape}, dtype {bgr.dtype}")
        if self._rgb is None or self._rgb.shape != bgr.shape:
            self._rgb = np.empty_like(bgr)
            self._flipped = np.empty_like(bgr)
        src = bgr
        if self.mirror:
            cv2.flip(bgr, 1, dst=self._flipped)
            src = self._flipped
        cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=self._rgb)
        return self._rgb


class Pipeline:
    """Processes frames one at a time; owns no source. ``begin`` (the hand model, on the
    caller's thread) and ``finish`` (the rest) are the way in, ``completed`` the way out;
    frames overlap when ``settings.overlap`` is on."""

    def __init__(self, tracker, gestures, mapper: Mapper, output: Output, settings: PipelineSettings,
                 clock: StageClock | None = None, recorder=None, preview=None) -> None:
        self.tracker = tracker
        self.gestures = gestures
        self.mapper = mapper
        self.output = output
        self.settings = settings
        self.clock = clock or StageClock()
        self.recorder = recorder
        self.preview = preview
        self._prep = FramePrep(settings.mirror)
        self._faces_interval = 1.0 / settings.faces_rate_hz if settings.faces_rate_hz > 0 else float("inf")
        self._next_faces = float("-inf")  # when the next face check is due (``_faces_clock``)
        self._seen_faces: tuple | None = None  # from the last face check that answered
        self._checked_t = float("-inf")  # source time of the last face check started
        self._gate_t = float("-inf")  # source time of the last frame the face gate saw
        self._pending_faces = None
        self._pending_body = None
        self._pending_near: tuple = ()
        self._worker = FaceWorker(tracker, self.clock) if (settings.faces_async and tracker is not None
                                                          and tracker.has_faces) else None
        self._after = (AfterStage(lambda begun: self._second_half(begun)[1])
                       if settings.overlap and preview is None else None)
        self._completed: list[Outcome] = []
        self.frames = 0
        self.hands_observed = 0  # in the newest frame the hand model has seen
        self.last_t = 0.0
        self.last_frame = 0
        self.hands_in_view = 0

    # -- stages ---------------------------------------------------------------------

    def begin(self, frame: Frame) -> Begun:
        """The hand model on ``frame`` (this thread); ``finish`` does the rest. Only what
        the next frame needs is done here (the tracker stage, or a trace's recorded
        observation); the frame's observation is built by ``finish``."""
        if frame.observation is not None:
            return Begun(frame, recorded=frame.observation)
        import mediapipe as mp

        with self.clock.time("prep"):
            rgb = self._prep(frame.image)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        with self.clock.time("hands"):
            found = self.tracker.find(image, frame.t)
        if self._worker is not None:
            done = self._worker.take()
            if done is not None:
                self._pending_faces, self._pending_body, self._pending_near = done
                self._seen_faces = self._pending_faces
        faces, body, near = self._pending_faces, self._pending_body, self._pending_near
        self._pending_faces = self._pending_body = None
        self._pending_near = ()
        self.hands_observed = len(found)
        height, width = rgb.shape[:2]
        return Begun(frame, found, faces, body, near, width, height, image.numpy_view(),
                     hard=self.tracker.last_hard or self.tracker.looking_hard)

    def _faces_after(self, begun: Begun, hands: tuple) -> None:
        """Faces and body at their own rate, after this frame's input went out; a later
        frame's observation carries them (face touch needs ~10 Hz, not the pointer's rate).
        ``hands``: the frame's observed hands. With overlap this runs on the second
        thread, once the frame's input is out."""
        frame, rgb = begun.frame, begun.rgb
        if frame.t < self._gate_t:  # a new source's clock (a camera that came back): start over
            self._next_faces = self._checked_t = float("-inf")
            self._seen_faces = None
        self._gate_t = frame.t
        now = self._faces_clock(frame)
        if rgb is None or not self.tracker.has_faces or now < self._next_faces - self._faces_interval * FACES_EARLY:
            return
        if not begun.found and not self.tracker.has_body:
            return  # no hand to touch a face with (only the body model could find one)
        if self._worker is not None and self.tracker.looking_hard:
            return  # the cores are busy finding a hand: faces can wait a frame
        if self._far_from_faces(frame.t, rgb, hands):
            return
        if self._worker is not None:
            if self._worker.submit(rgb, frame.t, hands):
                self._checked_t = frame.t
                self._next_faces = now + self._faces_interval
            return
        self._next_faces = now + self._faces_interval
        self._checked_t = frame.t
        self._pending_faces, self._pending_body, self._pending_near = faces_and_body(
            self.tracker, self.clock, rgb, frame.t, hands)
        self._seen_faces = self._pending_faces

    def _faces_clock(self, frame: Frame) -> float:
        """The clock face checks keep their rate by. With the face worker (live sources,
        the benchmark) the wall clock: live it is the source's clock, and a replay faster
        than real time would otherwise check faces at the pointer's rate. In line (file
        replays, which repeat exactly) the source's time."""
        return time.perf_counter() if self._worker is not None else frame.t

    def _far_from_faces(self, t: float, rgb: np.ndarray, hands) -> bool:
        """Whether this frame's hands are well away from every face a recent check found,
        so its face check can wait. Not with the body model or the search near faces,
        which find hands the hand model misses."""
        if (not hands or not self._seen_faces or t - self._checked_t >= FACES_FAR_INTERVAL_S
                or self.tracker.has_body or self.tracker.has_near_face):
            return False
        height, width = rgb.shape[:2]
        return nearest_face_radius(hands, self._seen_faces, width, height) > FACES_FAR_RADIUS

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the frame in flight is finished: mode changes (pause, profile
        switch, releases) touch the gesture and mapping engines only when none is."""
        return self._after.settle(timeout) if self._after is not None else True

    def drain(self) -> None:
        """Wait for every frame, face check and look-ahead in flight (benchmarks and tests)."""
        self.settle()
        if self._worker is not None:
            self._worker.drain()
        if self.tracker is not None:
            self.tracker.wait_idle()

    def close(self) -> None:
        if self._after is not None:
            self._after.close()
            self._after = None
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    @property
    def overlapping(self) -> bool:
        return self._after is not None

    def finish(self, begun: Begun) -> None:
        """Gestures, mapping and output of a begun frame: before this returns, or with
        overlap on, on the second thread once the frame before is done. Its outcome
        comes from ``completed``; errors raised here are the caller's frame's."""
        if self._after is None:
            obs, gframe = self._second_half(begun)
            if self.preview is not None:
                self.preview.show(begun.frame.image, obs, gframe, self.settings.mirror)
            self._completed.append(Outcome(begun.frame.index, gframe=gframe))
            return
        if begun.hard:
            # Its input is late already (palm detection, a second look), or the other
            # core is busy with a look-ahead: finished here, at once, rather than handed
            # to the second thread, which a busy machine wakes only once this thread is
            # back in the hand model (2-4 ms later). The frame before is done by now (its
            # second half ran during this frame's model).
            self._after.settle()
            self._completed.extend(self._after.take())
            self._completed.append(Outcome(begun.frame.index, gframe=self._second_half(begun)[1]))
            return
        self._after.put(begun)

    def submit(self, frame: Frame) -> None:
        """``begin`` and ``finish`` in one (the benchmark)."""
        self.finish(self.begin(frame))

    def completed(self) -> list[Outcome]:
        """Frames finished since the last call, in order."""
        done, self._completed = self._completed, []
        if self._after is not None:
            done.extend(self._after.take())
        return done

    def _observation(self, begun: Begun) -> FrameObservation:
        obs = begun.observation(self.settings.selfie)
        if self.recorder is not None:
            self.recorder.write(obs)
        return obs

    def _second_half(self, begun: Begun) -> tuple[FrameObservation, GestureFrame]:
        """A frame's part after the hand model (on the second thread with overlap): its
        input first, then its face check (handed to the face thread), so the face models'
        Python does not contend for the GIL with this frame's gestures, and the frame's
        hands are built once."""
        obs = self._observation(begun)
        gframe = self._finish(begun.frame, obs)
        self._faces_after(begun, obs.hands)
        return obs, gframe

    def _finish(self, frame: Frame, obs: FrameObservation) -> GestureFrame:
        """Gestures, mapping and output for one observed frame."""
        with self.clock.time("gestures"):
            gframe = self.gestures.update(obs)
        with self.clock.time("mapping"):
            actions = self.mapper.handle(gframe)
        if self.settings.report_frames:
            actions.append(act.ReportHands(tuple(
                act.HandReport(hand=h.handedness.value, pose=h.pose, score=round(h.raw.score, 3),
                               x=round(h.pointer[0], 4), y=round(h.pointer[1], 4))
                for h in gframe.hands)))
        self.emit(actions, obs.t, obs.frame)
        if frame.available_at and any(isinstance(a, INPUT_ACTIONS) for a in actions):
            self.clock.add("end_to_end", (time.perf_counter() - frame.available_at) * 1000.0)
        self.frames += 1
        self.last_t, self.last_frame = obs.t, obs.frame
        self.hands_in_view = len(gframe.hands)
        return gframe

    def emit(self, actions: Sequence, t: float, frame: int) -> None:
        if not actions:
            return
        with self.clock.time("output"):
            for action in actions:
                self.output.emit(act.Stamped(t, frame, action))

    def release_all(self, reason: str) -> None:
        """Let go of every held key and button: the mapper's presses, then the output's
        (the caller has settled the frame in flight first)."""
        log.debug("releasing held input (%s)", reason)
        try:
            self.emit(self.mapper.release_all(), self.last_t, self.last_frame)
        finally:
            self.output.release_all(self.last_t, self.last_frame)
