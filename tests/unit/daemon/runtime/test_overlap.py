"""Overlapped frames, as the daemon runs live sources: gestures, mapping and output of
one frame on a second thread while the hand model looks at the next (pipeline.py).

The frames here come from the landmark trace recorded from webcam_session35 (no model
runs, so the tests are about ordering and threads, not MediaPipe)."""

from __future__ import annotations

import random
import threading
import time

import pytest
from e2e_util import looped_trace
from faulty import LineStream, held_in_stream, make_home, read_trace

from handmap.daemon.capture import Frame
from handmap.daemon.outputs import OutputUnavailable
from handmap.daemon.runtime.assemble import RunOptions, build
from handmap.daemon.runtime.daemon import DaemonFailed

pytest_plugins = ["e2e_util"]


def built_for(trace, tmp_path, overlap: bool, stream=None, profile: str = "desktop"):
    # ``faces_async`` is the switch for the live-source threads: the face worker and
    # the overlapped second half of each frame.
    return build(RunOptions(source=str(trace), output="dry-run", stream=stream if stream is not None else LineStream(),
                            profile=profile, tray=False, control_socket=False, hotkey=False, window_switching=False,
                            history=False, alerts=False, report_frames=True, faces_async=overlap),
                 env=make_home(tmp_path))


def replay(trace, tmp_path, overlap: bool) -> list[dict]:
    stream = LineStream()
    built = built_for(trace, tmp_path, overlap, stream)
    try:
        assert built.pipeline.overlapping is overlap
        built.daemon.run()
    finally:
        built.close()
    return stream.events()


def test_overlapped_frames_give_the_same_input_in_the_same_order(session35_replay, tmp_path):
    in_line = replay(session35_replay.trace, tmp_path / "a", overlap=False)
    overlapped = replay(session35_replay.trace, tmp_path / "b", overlap=True)
    kinds = {e["type"] for e in in_line}
    assert {"mouse_move", "mouse_down", "mouse_up", "hands"} <= kinds, kinds
    assert overlapped == in_line
    assert held_in_stream(overlapped) == set()


class Gate:
    """A mapper stand-in's ``handle`` that waits for the test to let each frame through."""

    def __init__(self, real) -> None:
        self.real = real
        self.entered = threading.Event()
        self.go = threading.Event()
        self.threads: list[str] = []

    def __call__(self, gframe):
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.go.wait(10), "the test never let the frame through"
        return self.real(gframe)


def test_submit_returns_while_the_frame_is_still_being_mapped(session35_replay, tmp_path):
    observations = [o for o in read_trace(session35_replay.trace) if o.hands][:3]
    built = built_for(session35_replay.trace, tmp_path, overlap=True)
    pipeline = built.pipeline
    gate = Gate(pipeline.mapper.handle)
    pipeline.mapper.handle = gate
    try:
        pipeline.submit(Frame(t=observations[0].t, index=0, image=None, observation=observations[0]))
        assert gate.entered.wait(5), "the frame never reached the mapping stage"
        assert pipeline.completed() == []  # still in flight, and the caller is free
        gate.go.set()
        assert pipeline.settle(5)
        done = pipeline.completed()
        assert [o.index for o in done] == [0] and done[0].error is None and done[0].gframe.hands
        assert gate.threads == ["handmap-after"]
    finally:
        gate.go.set()
        built.close()


def test_an_error_after_the_hand_model_comes_back_with_its_frame(session35_replay, tmp_path):
    observations = [o for o in read_trace(session35_replay.trace) if o.hands][:4]
    built = built_for(session35_replay.trace, tmp_path, overlap=True)
    pipeline = built.pipeline
    real = pipeline.mapper.handle

    def handle(gframe):
        if gframe.frame == observations[1].frame:
            raise ValueError("a broken binding")
        return real(gframe)

    pipeline.mapper.handle = handle
    try:
        for i, obs in enumerate(observations):
            pipeline.submit(Frame(t=obs.t, index=i, image=None, observation=obs))
        pipeline.settle(5)
        done = pipeline.completed()
        assert [o.index for o in done] == [0, 1, 2, 3]
        assert isinstance(done[1].error, ValueError) and done[1].gframe is None
        assert all(o.error is None and o.gframe is not None for o in (done[0], done[2], done[3]))
    finally:
        built.close()


def test_a_frame_whose_input_is_late_already_is_finished_on_the_callers_thread(session35_replay, tmp_path):
    """A hard frame (palm detection, a second look) is not handed to the second thread,
    which a busy machine would wake late; it still comes out in order."""
    from handmap.daemon.runtime.pipeline import Begun

    observations = [o for o in read_trace(session35_replay.trace) if o.hands][:5]
    built = built_for(session35_replay.trace, tmp_path, overlap=True)
    pipeline = built.pipeline
    real = pipeline.mapper.handle
    threads: dict[int, str] = {}

    def handle(gframe):
        time.sleep(0.02)  # the frame before is still in flight when a hard one comes
        threads[gframe.frame] = threading.current_thread().name
        return real(gframe)

    pipeline.mapper.handle = handle
    try:
        for i, obs in enumerate(observations):
            pipeline.finish(Begun(Frame(t=obs.t, index=i, image=None, observation=obs), recorded=obs, hard=i in (2, 3)))
        pipeline.settle(5)
        done = pipeline.completed()
        assert [o.index for o in done] == [0, 1, 2, 3, 4]
        assert all(o.error is None and o.gframe.hands for o in done)
        names = [threads[o.frame] for o in observations]
        assert names == ["handmap-after", "handmap-after", "MainThread", "MainThread", "handmap-after"], names
    finally:
        built.close()


class OneAtATime:
    """Wraps the mapping stage: records any call that starts while another is running."""

    METHODS = ("handle", "release_all", "switch", "reload", "pause", "resume", "shutdown")

    def __init__(self, mapping) -> None:
        self.lock = threading.Lock()
        self.clashes: list[tuple[str, str]] = []
        self.calls = 0
        self.callers: set[tuple[str, str]] = set()
        for name in self.METHODS:
            setattr(mapping, name, self._guard(name, getattr(mapping, name)))

    def _guard(self, name, method):
        def guarded(*args, **kwargs):
            if not self.lock.acquire(blocking=False):
                self.clashes.append((name, threading.current_thread().name))
                return method(*args, **kwargs)
            try:
                self.calls += 1
                self.callers.add((name, threading.current_thread().name))
                time.sleep(0.0005)  # widen the window a clash would need
                return method(*args, **kwargs)
            finally:
                self.lock.release()

        return guarded


def test_mode_changes_wait_for_the_frame_in_flight(session35_replay, tmp_path):
    """Pause, resume and profile switches from another thread (the tray, the control
    socket) while frames overlap: the mapping engine is never entered twice at once,
    and nothing is left held."""
    stream = LineStream()
    trace = looped_trace(session35_replay.trace, tmp_path / "looped.jsonl", 6)
    built = built_for(trace, tmp_path, overlap=True, stream=stream)
    guard = OneAtATime(built.daemon.mapping)
    daemon = built.daemon
    stop = threading.Event()

    def meddle() -> None:
        # A burst of requests every 100 frames, quiet spells between (long enough for a
        # drag): paced by the daemon's progress, not the clock, so a slow machine sees
        # the same pattern.
        rng = random.Random(35)
        step = 0
        next_burst = 50
        while not stop.is_set():
            if daemon.pipeline.frames < next_burst:
                time.sleep(0.0005)
                continue
            next_burst += 100
            for _ in range(rng.randint(3, 8)):
                (daemon.pause, daemon.resume, lambda step=step: daemon.switch_profile("presenter" if step % 2 else "desktop"))[step % 3]()
                step += 1
                time.sleep(rng.choice((0.0, 0.0005, 0.002)))
            daemon.resume()

    meddler = threading.Thread(target=meddle, daemon=True)
    meddler.start()
    try:
        daemon.run()
    finally:
        stop.set()
        meddler.join(5)
        built.close()
    assert guard.calls > 100
    assert guard.clashes == []
    # Both threads really drove the engine: frames on the second thread, mode changes
    # on the daemon's.
    assert ("handle", "handmap-after") in guard.callers and ("pause", "MainThread") in guard.callers
    events = stream.events()
    assert sum(e["type"] in ("mouse_down", "key_down") for e in events) >= 2
    assert held_in_stream(events) == set()


def test_a_lost_display_found_on_the_second_thread_stops_the_daemon(session35_replay, tmp_path):
    stream = LineStream()
    built = built_for(session35_replay.trace, tmp_path, overlap=True, stream=stream)
    output = built.pipeline.output
    real = output.emit
    emitted = []

    def emit(item):
        if len(emitted) >= 20:
            raise OutputUnavailable("the X display went away")
        emitted.append(threading.current_thread().name)
        return real(item)

    output.emit = emit
    try:
        with pytest.raises(DaemonFailed, match="the X display went away"):
            built.daemon.run()
    finally:
        built.close()
    assert "handmap-after" in emitted
