"""Slow reload work (training taught poses) runs off the daemon loop: ``submit`` returns
while the build runs, results arrive in the order asked, a failed build keeps the last
good result, and the daemon applies a delivered result on its own loop."""

from __future__ import annotations

import logging
import queue
import threading

from handmap.daemon.runtime.reload import BackgroundBuild


def test_submit_returns_while_the_build_runs_and_results_arrive_in_order():
    builds = BackgroundBuild()
    release = threading.Event()
    delivered: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        builds.submit(lambda: release.wait(10) and "first", delivered.put)
        builds.submit(lambda: "second", delivered.put)
        assert delivered.empty()  # the caller (the loop) was not held up by the build
        release.set()
        assert delivered.get(timeout=10) == "first"
        assert delivered.get(timeout=10) == "second"
    finally:
        builds.close()


def test_a_build_that_fails_is_logged_and_delivers_nothing(caplog):
    builds = BackgroundBuild()
    delivered: queue.SimpleQueue[str] = queue.SimpleQueue()

    def broken() -> str:
        raise ValueError("a corrupt pose file")

    try:
        with caplog.at_level(logging.ERROR):
            builds.submit(broken, delivered.put, "taught poses")
            builds.submit(lambda: "good", delivered.put)
            assert delivered.get(timeout=10) == "good"
        assert delivered.empty()
        assert "building the taught poses failed; keeping the last good one" in caplog.text
    finally:
        builds.close()


def test_after_close_nothing_more_is_built():
    builds = BackgroundBuild()
    builds.close()
    ran = threading.Event()
    builds.submit(ran.set, lambda _result: None)
    assert not ran.wait(0.2)
