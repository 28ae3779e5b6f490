"""Face checks run behind the pointer's path (daemon/priority.py): the threads that do a
face check's work run at a lower priority than those that run the hand model. Checked
on this process's real threads, through the kernel's own per-thread figures."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from handmap.daemon.runtime.priority import BACKGROUND_NICE, background, thread_ids, thread_nice

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")


def cpu_ticks() -> dict[int, int]:
    """CPU time (user + system, clock ticks) of each of this process's threads."""
    ticks = {}
    for tid in thread_ids():
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def busy_threads(work) -> set[int]:
    """The threads that did most of ``work``'s CPU time."""
    before = cpu_ticks()
    work()
    after = cpu_ticks()
    used = {tid: after[tid] - before.get(tid, 0) for tid in after}
    total = sum(used.values())
    assert total >= 5, f"too little work to tell the threads apart ({total} ticks)"
    return {tid for tid, ticks in used.items() if ticks >= 0.2 * total}


def test_threads_started_in_the_background_block_run_lower_and_others_do_not():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    release = threading.Event()
    ids = {}

    def park(name):
        ids[name] = threading.get_native_id()
        release.wait(10)

    inside = threading.Thread(target=park, args=("inside",))
    with background():
        inside.start()
    outside = threading.Thread(target=park, args=("outside",))
    outside.start()
    try:
        while len(ids) < 2:
            threading.Event().wait(0.01)
        assert thread_nice(ids["inside"]) == min(base + BACKGROUND_NICE, 19)
        assert thread_nice(ids["outside"]) == base
        assert thread_nice(threading.get_native_id()) == base  # the caller keeps its own
    finally:
        release.set()
        inside.join()
        outside.join()


def test_face_model_work_runs_at_background_priority_and_the_hand_model_does_not(data_dir):
    import cv2
    import mediapipe as mp

    from handmap.daemon.paths import cache_dir
    from handmap.daemon.perception.faces import FACE_MODEL_FULL_RANGE
    from handmap.daemon.perception.models import hand_bundle
    from handmap.daemon.perception.tracker import Tracker, TrackerSettings

    rgb = cv2.cvtColor(cv2.imread(str(data_dir / "hands" / "ft" / "kamal_eyes.jpg")), cv2.COLOR_BGR2RGB)
    tracker = Tracker(TrackerSettings(hand_model=hand_bundle("full", cache_dir()), faces=FACE_MODEL_FULL_RANGE,
                                      video=False, look_ahead=False))
    base = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        assert tracker.faces(rgb), "the photo's face was not found"
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        face_threads = busy_threads(lambda: [tracker.faces(rgb) for _ in range(40)])
        hand_threads = busy_threads(lambda: [tracker.hands(image, 0.0, False) for _ in range(15)])
        assert {thread_nice(tid) for tid in face_threads} == {min(base + BACKGROUND_NICE, 19)}, face_threads
        assert {thread_nice(tid) for tid in hand_threads} == {base}, hand_threads
    finally:
        tracker.close()
