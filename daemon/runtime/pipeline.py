"""The per-frame pipeline: frame preparation → hands → gestures → mapping → output,
with face checks (``face_checks``) at their own lower rate, after the input is emitted.

Frames go in one at a time; a camera's capture thread (``handmap.daemon.capture``) keeps
only the newest frame, so analysis never queues behind the camera. Every stage is timed
(``StageClock``) for ``handmap bench`` and ``handmap status``.

Threads, for two-core machines: the hand model runs on the caller's thread (``begin``).
For live sources (``PipelineSettings.overlap``) gestures, mapping and output of frame N
run on the ``handmap-after`` thread (a ``worker.SingleSlotWorker``) while the hand model
looks at frame N+1 (MediaPipe's inference releases the GIL), and face checks run on a
third, at their own rate, while a hand is in view, at a lower priority than the
pointer's path (``priority``). Whoever changes the gesture engine, the mapping stage or
the output between frames waits for the frame in flight first (``settle``; the daemon's
``_settle``). File replays run everything in line, so they repeat exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from handmap.daemon.capture.frames import Frame
from handmap.daemon.outputs.base import Output
from handmap.daemon.perception.detected import DetectedHand, hand_observations
from handmap.daemon.runtime.face_checks import FaceCheck, FaceChecks
from handmap.daemon.runtime.worker import SingleSlotWorker
from handmap.gestures.types import FrameObservation, GestureFrame
from handmap.mappings import actions as act

if TYPE_CHECKING:
    from handmap.daemon.perception.tracker import Tracker
    from handmap.gestures.engine import GestureEngine

log = logging.getLogger(__name__)

STAGES = ("decode", "prep", "hands", "faces", "body", "gestures", "mapping", "output")
INPUT_ACTIONS = (act.MouseMove, act.MouseDown, act.MouseUp, act.Scroll, act.KeyDown, act.KeyUp, act.TypeText)


class Mapper(Protocol):
    """The mapping stage: gesture frames to actions (``handmap.mappings.mapper``)."""

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
    found: tuple[DetectedHand, ...] = ()  # the hand model's hands
    faces: FaceCheck | None = None  # what a face check found, if one answered since the frame before
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
        frame, check = self.frame, self.faces
        hands = hand_observations(self.found, selfie)
        if check is None:
            return FrameObservation(t=frame.t, frame=frame.index, width=self.width, height=self.height, hands=hands)
        return FrameObservation(t=frame.t, frame=frame.index, width=self.width, height=self.height, hands=hands,
                                faces=check.faces, body=check.body, near_face_hands=check.near)


@dataclass(frozen=True)
class Outcome:
    """One frame through the pipeline: its gesture frame, or the error that dropped it."""

    index: int
    gframe: GestureFrame | None = None
    error: BaseException | None = None


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
        rgb, flipped = self._rgb, self._flipped
        if rgb is None or flipped is None or rgb.shape != bgr.shape:
            rgb = self._rgb = np.empty_like(bgr)
            flipped = self._flipped = np.empty_like(bgr)
        src = bgr
        if self.mirror:
            cv2.flip(bgr, 1, dst=flipped)
            src = flipped
        cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=rgb)
        return rgb


class Recorder(Protocol):
    """Where ``--record`` writes each frame's observation (``capture.trace.TraceRecorder``)."""

    def write(self, obs: FrameObservation) -> None: ...


class Preview(Protocol):
    """The preview window (``tools.preview``): each frame with what was seen in it."""

    def show(self, image: np.ndarray | None, obs: FrameObservation | None, gframe: GestureFrame | None,
             mirror: bool) -> None: ...


class FrameTap(Protocol):
    """The settings window's live view (``ui.tap``): takes frames only while a page is open."""

    @property
    def wanted(self) -> bool: ...

    def offer(self, image: np.ndarray | None, obs: FrameObservation | None, gframe: GestureFrame | None,
              mirror: bool) -> None: ...


class Pipeline:
    """Processes frames one at a time; owns no source. ``begin`` (the hand model, on the
    caller's thread) and ``finish`` (the rest) are the way in, ``completed`` the way out;
    frames overlap when ``settings.overlap`` is on."""

    def __init__(self, tracker: Tracker | None, gestures: GestureEngine, mapper: Mapper, output: Output,
                 settings: PipelineSettings, clock: StageClock | None = None, recorder: Recorder | None = None,
                 preview: Preview | None = None) -> None:
        self.tracker = tracker  # None for a trace, whose frames carry their observations
        self.gestures = gestures
        self.mapper = mapper
        self.output = output
        self.settings = settings
        self.clock = clock or StageClock()
        self.recorder = recorder
        self.preview = preview
        self.tap: FrameTap | None = None  # the settings window's live view, when it is on
        self._prep = FramePrep(settings.mirror)
        self._faces = (FaceChecks(tracker, self.clock, settings.faces_rate_hz,
                                  on_thread=settings.faces_async and tracker.has_faces)
                       if tracker is not None else None)
        self._after: SingleSlotWorker[Begun, Outcome] | None = (
            SingleSlotWorker(self._after_job, "handmap-after") if settings.overlap and preview is None else None)
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
        tracker = self.tracker
        if tracker is None or frame.image is None:
            raise ValueError(f"frame {frame.index} has no image to look for hands in")
        import mediapipe as mp

        with self.clock.time("prep"):
            rgb = self._prep(frame.image)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        with self.clock.time("hands"):
            found = tracker.find(image, frame.t)
        check = self._faces.take() if self._faces is not None else None
        self.hands_observed = len(found)
        height, width = rgb.shape[:2]
        return Begun(frame, found, check, width, height, image.numpy_view(),
                     hard=tracker.last_hard or tracker.looking_hard)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the frame in flight is finished: mode changes (pause, profile
        switch, releases) touch the gesture and mapping engines only when none is."""
        return self._after.settle(timeout) if self._after is not None else True

    def drain(self) -> None:
        """Wait for every frame, face check and look-ahead in flight (benchmarks and tests)."""
        self.settle()
        if self._faces is not None:
            self._faces.drain()
        if self.tracker is not None:
            self.tracker.wait_idle()

    def close(self) -> None:
        if self._after is not None:
            self._after.close()
            self._after = None
        if self._faces is not None:
            self._faces.close()

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

    def show_unanalysed(self, frame: Frame) -> None:
        """A frame the paused daemon does not analyse: the preview still shows it (as
        paused), so its window stays live and says what the daemon is doing."""
        if self.preview is not None:
            self.preview.show(frame.image, None, None, self.settings.mirror)
        if self.tap is not None and self.tap.wanted:
            self.tap.offer(frame.image, None, None, self.settings.mirror)

    def submit(self, frame: Frame) -> None:
        """``begin`` and ``finish`` in one (the benchmark)."""
        self.finish(self.begin(frame))

    def completed(self) -> list[Outcome]:
        """Frames finished since the last call, in order."""
        done, self._completed = self._completed, []
        if self._after is not None:
            done.extend(self._after.take())
        return done

    def _after_job(self, begun: Begun) -> Outcome:
        """A frame's second half on the ``handmap-after`` thread; its error, if any,
        goes back to the caller's thread, which decides."""
        try:
            return Outcome(begun.frame.index, gframe=self._second_half(begun)[1])
        except BaseException as exc:  # KeyboardInterrupt, SystemExit too: the caller re-raises them
            return Outcome(begun.frame.index, error=exc)

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
        if self.tap is not None and self.tap.wanted:
            self.tap.offer(begun.frame.image, obs, gframe, self.settings.mirror)
        if self._faces is not None:
            self._faces.after(begun.frame.t, begun.rgb, bool(begun.found), obs.hands)
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
