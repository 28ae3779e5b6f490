"""Camera faults and frame errors: the daemon survives a camera that disappears, stalls,
delivers corrupt frames or ends early, drops frames it cannot process, and stops loudly
(non-zero exit, one clear line) when frames keep failing.

The camera is a scripted device (tests/faulty.py) playing real session35 frames through
the daemon's real ``CameraSource``; the tracker, gestures, mapping and the dry-run output
are the real ones. No camera exists on these machines, so the device is the one
scripted part.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli import SUPPORT, handmap, json_lines
from faulty import (
    CORRUPT_IMAGES,
    FIST_FRAMES,
    VIDEO_NAME,
    Device,
    Glitching,
    LineStream,
    Running,
    StatePoller,
    held_in_stream,
    make_home,
    use_opener,
    video_frames,
    wait_for,
)

from handmap.daemon.capture import CameraSource, VideoSource
from handmap.daemon.runtime import daemon as app
from handmap.daemon.runtime.assemble import RunOptions, build
from handmap.daemon.runtime.daemon import MAX_CONSECUTIVE_ERRORS, DaemonFailed
from handmap.daemon.runtime.idle import IDLE_AFTER_S

HELD = {("key", "shift"), ("button", "left")}
CAMERA_LOST = "camera lost"


@pytest.fixture(scope="module")
def fist_images(session35):
    return video_frames(session35 / VIDEO_NAME, FIST_FRAMES)


@pytest.fixture()
def fast_retry(monkeypatch):
    """Camera retry and stall detection in tenths of a second, not seconds."""
    monkeypatch.setattr(app, "RETRY_BACKOFF", (0.05, 0.2))
    monkeypatch.setattr(CameraSource, "STALL_S", 0.5)


def build_daemon(tmp_path: Path, session35: Path, **options):
    stream = LineStream()
    env = make_home(tmp_path)
    built = build(RunOptions(source=str(session35 / VIDEO_NAME), output="dry-run", stream=stream, profile="holdtest",
                             tray=False, control_socket=False, hotkey=False, window_switching=False,
                             report_frames=True, **options), env=env)
    return built, stream


def hand_frames(events) -> list[int]:
    return [e["frame"] for e in events if e["type"] == "hands" and e["hands"]]


def run_outage(tmp_path, session35, fist_images, start_fault, end_fault):
    """Fist held → fault → (checks during the outage) → fault over → tracking again."""
    device = Device(fist_images, fps=15)
    built, stream = build_daemon(tmp_path, session35)
    use_opener(built, device.open_camera)
    running = Running(built)
    poller = StatePoller(built.daemon)
    try:
        wait_for(lambda: held_in_stream(stream.events()) == HELD, 20, "the fist to hold shift and the left button")
        wait_for(lambda: running.daemon.status().fps > 0, 5, "a frame rate in the status")
        assert running.state() == "running"
        start_fault(device)
        faulted = time.monotonic()
        wait_for(lambda: running.state() == CAMERA_LOST, 5, "status to say camera lost")
        # Held input is let go at once, while the camera is still gone.
        wait_for(lambda: not held_in_stream(stream.events()), 1, "the held input to be released")
        released = time.monotonic() - faulted
        assert running.state() == CAMERA_LOST
        status = running.daemon.status()
        assert status.hands_seen == 0 and status.fps == 0.0  # nothing is seen through a lost camera
        opened = device.opened
        time.sleep(0.8)  # the outage goes on: the daemon keeps retrying, and stays lost
        assert running.state() == CAMERA_LOST and running.thread.is_alive()
        before = len(stream.events())
        end_fault(device)
        # Tracking resumes without a restart: hands again, the fist held again.
        wait_for(lambda: hand_frames(stream.events()[before:]), 20, "hands to be reported after the camera returned")
        wait_for(lambda: held_in_stream(stream.events()) == HELD, 10, "the fist to hold again")
        assert running.state() == "running"
        assert device.opened > opened
        assert running.thread.is_alive() and running.error is None
    finally:
        poller.stop()
        running.stop()
    assert running.error is None, running.error
    assert not held_in_stream(stream.events())  # and released at the end
    states = poller.states()
    lost = [i for i, s in enumerate(states) if s == CAMERA_LOST]
    assert lost and "running" in states[lost[-1]:], states
    return released


def test_camera_that_disappears_and_returns(tmp_path, session35, fist_images, fast_retry, caplog):
    caplog.set_level(logging.INFO, logger="handmap")
    released = run_outage(tmp_path, session35, fist_images, Device.unplug, Device.replug)
    assert released < 3.0
    messages = [r.getMessage() for r in caplog.records]
    assert any("stopped delivering frames; retrying" in m for m in messages), messages
    assert any("still no camera" in m for m in messages), messages  # it retried while unplugged
    assert any(m.endswith("is back") for m in messages), messages


def test_camera_whose_frames_stop_arriving(tmp_path, session35, fist_images, fast_retry, caplog):
    caplog.set_level(logging.INFO, logger="handmap")
    released = run_outage(tmp_path, session35, fist_images, Device.stall, Device.unstall)
    assert released < CameraSource.STALL_S + 1.5
    messages = [r.getMessage() for r in caplog.records]
    assert any("delivered no frame for" in m for m in messages), messages


def test_camera_missing_at_start_of_a_service_is_waited_for(tmp_path, session35, fist_images, fast_retry):
    """A service started before its camera: 'waiting for camera', then tracking."""
    device = Device(fist_images, fps=15)
    device.unplug()
    built, stream = build_daemon(tmp_path, session35)
    use_opener(built, device.open_camera)
    built.daemon._wait_for_camera = True  # what build() sets for a camera run as a service
    running = Running(built)
    try:
        wait_for(lambda: running.state() == "waiting for camera", 5, "status to say waiting for camera")
        time.sleep(0.3)
        assert running.state() == "waiting for camera"
        device.replug()
        wait_for(lambda: hand_frames(stream.events()), 20, "hands once the camera is there")
    finally:
        running.stop()
    assert running.error is None, running.error


def test_corrupt_frames_are_logged_and_dropped(tmp_path, session35, caplog):
    caplog.set_level(logging.INFO, logger="handmap")
    built, stream = build_daemon(tmp_path, session35)
    corrupt = dict(zip((10, 11, 12, 13), CORRUPT_IMAGES.values()))
    use_opener(built, lambda: Glitching(VideoSource(session35 / VIDEO_NAME), corrupt, end_after=30))
    try:
        summary = built.daemon.run()
    finally:
        built.close()
    assert summary.errors == len(corrupt)
    assert summary.frames == 30 - len(corrupt)
    failed = [r for r in caplog.records if "could not be processed (dropped)" in r.getMessage()]
    assert [r.getMessage() for r in failed] == [f"frame {n} could not be processed (dropped)" for n in corrupt]
    assert all(r.exc_info and r.exc_info[0] is not None for r in failed)  # with the traceback
    analysed = [e["frame"] for e in stream.events() if e["type"] == "hands"]
    assert not set(corrupt) & set(analysed)
    assert [n for n in hand_frames(stream.events()) if n > max(corrupt)], "tracking did not go on after the corrupt frames"


def test_errors_not_in_a_row_do_not_stop_the_daemon(tmp_path, session35):
    """Every other frame corrupt for 60 frames: 30 errors, never 25 in a row."""
    built, stream = build_daemon(tmp_path, session35)
    corrupt = {n: CORRUPT_IMAGES["grey"] for n in range(0, 60, 2)}
    use_opener(built, lambda: Glitching(VideoSource(session35 / VIDEO_NAME), corrupt, end_after=60))
    try:
        summary = built.daemon.run()
    finally:
        built.close()
    assert summary.errors == 30 > MAX_CONSECUTIVE_ERRORS
    assert summary.frames == 30


def test_many_failed_frames_in_a_row_stop_the_daemon_and_release(tmp_path, session35, fist_images):
    built, stream = build_daemon(tmp_path, session35)
    # The fist is tracked (shift and the left button go down), then every frame is corrupt.
    device = Device(fist_images, fps=30)
    use_opener(built, device.open_camera)
    running = Running(built)
    try:
        wait_for(lambda: held_in_stream(stream.events()) == HELD, 20, "the fist to hold")
        device.inject(*[CORRUPT_IMAGES["grey"]] * 200)
        running.join(20)
    finally:
        running.stop()
    assert isinstance(running.error, DaemonFailed)
    assert str(running.error) == f"{MAX_CONSECUTIVE_ERRORS} frames in a row failed; stopping (see the errors above)"
    assert not held_in_stream(stream.events())


FAILING_RUN = textwrap.dedent("""
    # Runs the real `handmap run`, with the source made to deliver corrupt frames from
    # frame 5 on (the injected fault: no real input makes every frame fail).
    import sys
    import handmap.daemon.runtime.assemble as assemble
    from faulty import CORRUPT_IMAGES, Glitching
    from handmap.daemon.cli import main

    real_open = assemble.open_source

    def faulty_open(spec, **kw):
        return Glitching(real_open(spec, **kw), {n: CORRUPT_IMAGES["grey"] for n in range(5, 1000)})

    assemble.open_source = faulty_open
    sys.exit(main(sys.argv[1:]))
""")


def test_handmap_run_exits_non_zero_with_one_clear_line_when_frames_keep_failing(tmp_path, session35):
    env = make_home(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")])
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", FAILING_RUN, "run", "--source", str(session35 / VIDEO_NAME),
                           "--output", "dry-run", "--profile", "holdtest"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"handmap: error: {MAX_CONSECUTIVE_ERRORS} frames in a row failed; stopping (see the errors above)"
    assert done.stderr.count("could not be processed (dropped)") == MAX_CONSECUTIVE_ERRORS
    assert "Traceback" in done.stderr
    assert time.monotonic() - started < 60  # stopped, not hung
    events = json_lines(done.stdout)
    assert not held_in_stream(events)


def test_a_video_that_ends_early_ends_cleanly(tmp_path, session35):
    import cv2

    source = VideoSource(session35 / VIDEO_NAME)
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10, (800, 600))
    try:
        while (frame := source.read()) is not None:
            writer.write(frame.image)
    finally:
        writer.release()
        source.close()
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 3 // 10 + 123])  # cut off mid-frame, index lost
    done = handmap("run", "--source", str(cut), "--output", "dry-run", "--report-frames", "--no-tray",
                   env=make_home(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    frames = [e["frame"] for e in json_lines(done.stdout) if e["type"] == "hands"]
    assert 20 < len(frames) < 190 and frames == list(range(len(frames)))
    assert f"handmap: {len(frames)} frames in" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr


FACES_CONFIG = "faces:\n  enabled: true\n  rate_hz: 10\npause_hotkey: null\ntray: false\n"


def test_face_checks_resume_with_the_camera(tmp_path, session35, fast_retry):
    """The new camera's clock starts again from zero: face checks must not wait for it
    to catch up with the lost camera's clock."""
    images = video_frames(session35 / VIDEO_NAME, range(0, 10))  # a face in view
    device = Device(images, fps=15)
    stream = LineStream()
    built = build(RunOptions(source=str(session35 / VIDEO_NAME), output="dry-run", stream=stream, profile="holdtest",
                             tray=False, control_socket=False, hotkey=False, window_switching=False,
                             report_frames=True, faces_async=True),
                  env=make_home(tmp_path, config=FACES_CONFIG))
    use_opener(built, device.open_camera)
    clock = built.pipeline.clock
    running = Running(built)
    try:
        wait_for(lambda: clock.samples("faces").size >= 3, 20, "face checks")
        time.sleep(4.0)  # the first camera's clock runs on
        device.unplug()
        wait_for(lambda: running.state() == CAMERA_LOST, 5, "camera lost")
        before = len(stream.events())
        device.replug()
        wait_for(lambda: hand_frames(stream.events()[before:]), 20, "tracking after the camera returned")
        checks = clock.samples("faces").size
        wait_for(lambda: clock.samples("faces").size > checks + 2, 2.0, "face checks after the camera returned")
    finally:
        running.stop()
    assert running.error is None, running.error


TRAY_CONFIG = "faces:\n  enabled: false\npause_hotkey: null\ntray: true\n"


def test_tray_says_camera_lost_and_running_again(desktop, monkeypatch, tmp_path, session35, fast_retry, fist_images):
    """The real tray icon (pystray, docked in trayer on Xvfb): its title follows the camera."""
    import gc

    desktop.start_tray()
    monkeypatch.setenv("DISPLAY", desktop.display)  # the icon connects to this process's DISPLAY
    env = make_home(tmp_path, base_env=desktop.env, config=TRAY_CONFIG)
    device = Device(fist_images, fps=15)
    built = build(RunOptions(source=str(session35 / VIDEO_NAME), output="dry-run", stream=LineStream(),
                             profile="holdtest", control_socket=False, hotkey=False, window_switching=False),
                  env=env)
    use_opener(built, device.open_camera)
    running = Running(built)
    try:
        tray = wait_for(lambda: built.daemon.services.tray, 10, "the tray icon")  # made by the loop
        wid = str(tray.icon._window.id)

        def title() -> str:
            return desktop.run("xprop", "-id", wid, "WM_NAME", check=False)

        wait_for(lambda: "handmap: running" in title(), 20, "the tray to say running")
        device.unplug()
        wait_for(lambda: "handmap: camera lost" in title(), 5, "the tray to say camera lost")
        device.replug()
        wait_for(lambda: "handmap: running" in title(), 20, "the tray to say running again")
    finally:
        running.stop()
        gc.collect()  # pystray's X11 icon is in reference cycles: close it while X runs
    assert running.error is None, running.error


LOST_CAMERA_RUN = textwrap.dedent("""
    # The real `handmap run`, its camera a scripted device (no camera exists here) that
    # delivers the session35 fist, then is unplugged for good.
    import sys, threading, time
    from pathlib import Path
    import handmap.daemon.runtime.assemble as assemble
    from faulty import FIST_FRAMES, Device, video_frames
    from handmap.daemon.cli import main

    video = Path(sys.argv[1])
    device = Device(video_frames(video, FIST_FRAMES), fps=15)
    assemble.open_source = lambda spec, **kw: device.open_camera()

    class Watched:  # the dry-run stream, watched: unplug once the fist's presses are out
        def __init__(self, out):
            self.out, self.pressed = out, set()

        def write(self, text):
            self.pressed |= {t for t in ('"key_down"', '"mouse_down"') if t in text}
            return self.out.write(text)

        def __getattr__(self, name):
            return getattr(self.out, name)

    stream = sys.stdout = Watched(sys.stdout)

    def unplug_later():
        # However slow the machine, the camera goes while the fist holds its inputs (a
        # minute of frames at most, so a broken daemon still ends the test).
        while len(stream.pressed) < 2 and device.delivered < 900:
            time.sleep(0.01)
        device.unplug()

    threading.Thread(target=unplug_later, daemon=True).start()
    sys.exit(main(sys.argv[2:]))
""")


def test_handmap_status_says_camera_lost_and_sigterm_ends_the_retries(tmp_path, session35):
    import signal

    env = make_home(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")])
    video = str(session35 / VIDEO_NAME)
    proc = subprocess.Popen([sys.executable, "-c", LOST_CAMERA_RUN, video, "run", "--source", video,
                             "--output", "dry-run", "--profile", "holdtest", "--no-tray"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def state() -> str:
            done = handmap("status", "--json", env=env, timeout=30)
            return json.loads(done.stdout)["state"] if done.returncode == 0 else ""

        wait_for(lambda: state() == CAMERA_LOST or proc.poll() is not None, 60, "handmap status to say camera lost",
                 step=0.2)
        assert proc.poll() is None, proc.communicate()[1]
        # Into the 4 s retry wait (0.5 + 1 + 2 s of waits done): without SIGTERM
        # cutting it short, the daemon would sleep on for 3 s or more.
        time.sleep(4.0)
        assert state() == CAMERA_LOST
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert took < 2.5, f"SIGTERM took {took:.1f} s to end the camera retries"
    assert "stopped delivering frames; retrying" in stderr
    events = json_lines(stdout)
    pressed = {("key", e["key"]) for e in events if e["type"] == "key_down"}
    pressed |= {("button", e["button"]) for e in events if e["type"] == "mouse_down"}
    assert HELD <= pressed
    assert not held_in_stream(events)


NO_HAND_PHOTO = "hands/ft/mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"  # labelled: no hand at all


def test_corrupt_frames_at_the_idle_rate_are_dropped_too(tmp_path, session35, data_dir, caplog):
    """With no hand in view the daemon looks at frames through its motion gate first:
    a corrupt frame there must be dropped like anywhere else, not end the daemon."""
    from handmap.daemon.capture import read_image

    caplog.set_level(logging.INFO, logger="handmap")
    device = Device([read_image(data_dir / NO_HAND_PHOTO)], fps=15)
    built, stream = build_daemon(tmp_path, session35)
    use_opener(built, device.open_camera)
    built.daemon.idle.enabled = True  # what build() sets for a camera
    running = Running(built)
    try:
        wait_for(lambda: running.state() == "no hand", 10, "the daemon to see no hand")
        time.sleep(IDLE_AFTER_S + 0.5)  # idle now
        device.inject(*[CORRUPT_IMAGES["grey"]] * 30)  # two seconds of them, some read at the idle rate
        wait_for(lambda: any("could not be processed" in r.getMessage() for r in caplog.records) or running.error,
                 10, "a corrupt frame to be looked at")
        time.sleep(2.5)
        assert running.error is None, running.error
        assert running.thread.is_alive()
        assert running.state() == "no hand"
    finally:
        running.stop()
    assert running.error is None, running.error


def test_a_broken_hand_model_stops_the_daemon_with_a_clear_error(tmp_path, session35, fist_images, caplog):
    """The hand model's graph shut down under the daemon (a real MediaPipe failure, not a
    stand-in): every frame fails, and the daemon stops with DaemonFailed."""
    device = Device(fist_images, fps=30)
    built, stream = build_daemon(tmp_path, session35)
    use_opener(built, device.open_camera)
    running = Running(built)
    try:
        wait_for(lambda: held_in_stream(stream.events()) == HELD, 20, "the fist to hold")
        built.daemon.pause()  # no frame is analysed while paused: the model can be shut safely
        wait_for(lambda: running.state() == "paused", 5, "paused")
        built.pipeline.tracker._hands.close()
        built.daemon.resume()
        running.join(20)
    finally:
        running.stop()
    assert isinstance(running.error, DaemonFailed), running.error
    failed = [r for r in caplog.records if "could not be processed (dropped)" in r.getMessage()]
    assert len(failed) == MAX_CONSECUTIVE_ERRORS
    assert not held_in_stream(stream.events())


def test_damaged_images_in_a_folder_lose_one_frame_each(tmp_path, session35):
    import shutil

    folder = tmp_path / "frames"
    folder.mkdir()
    originals = sorted((session35 / "frames").glob("*.jpg"))[:6]
    for n, path in enumerate(originals):
        shutil.copy(path, folder / f"{n:02d}.jpg")
    (folder / "02.jpg").write_bytes(originals[2].read_bytes()[:3000])  # cut short
    (folder / "03.jpg").write_text("not a picture")
    done = handmap("run", "--source", str(folder), "--output", "dry-run", "--report-frames", "--no-tray",
                   env=make_home(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert [e["frame"] for e in json_lines(done.stdout) if e["type"] == "hands"] == [0, 1, 4, 5]
    warnings = [line for line in done.stderr.splitlines() if "(skipped)" in line]
    assert len(warnings) == 2, warnings
    assert f"{folder / '02.jpg'} is not an image" in warnings[0] and f"{folder / '03.jpg'} is not an image" in warnings[1]
    assert "handmap: 4 frames in" in done.stderr.splitlines()[-1]

