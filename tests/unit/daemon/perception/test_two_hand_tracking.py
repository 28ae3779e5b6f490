"""Two hands tracked by handmap (daemon/perception/hands.py ``GraphTracking``, over
``mediapipe_internals.HandGraphs``; association.py), on clips made at test time from
webcam_session35's real frames by scripts/two_hand_clip.py and scripts/pan_clip.py:
the same landmarks as ``HandLandmarker``'s VIDEO mode, palm detection only while a hand
is missing and at the search rate, the two landmark passes at once on two threads, and
a hand that keeps its id and side while a second one enters, crosses and leaves."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from clips import make_clip, read_clip

from handmap.daemon.perception.association import duplicates, new_regions, region_iou
from handmap.daemon.perception.detected import hand_observations
from handmap.daemon.perception.hands import GraphTracking
from handmap.daemon.perception.mediapipe_internals import HandGraphs
from handmap.daemon.perception.tracker import Tracker, TrackerSettings
from handmap.gestures.tracking import HandIdentities, palm_centre

FPS = 30
FRAME_MS = 1000 // FPS


@pytest.fixture(scope="module")
def clips(session35, tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    data = session35.parents[1]
    return {"two": read_clip(make_clip("two_hand_clip.py", folder / "two.mp4", data, "--seconds", "3"), 60),
            "one": read_clip(make_clip("pan_clip.py", folder / "one.mp4", data, "--seconds", "3"), 60),
            "crossing": read_clip(make_clip("two_hand_clip.py", folder / "crossing.mp4", data, "--kind", "crossing"))}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from handmap.daemon.perception.models import hand_bundle

    cache = tmp_path_factory.mktemp("models")
    return hand_bundle("full", cache), hand_bundle("lite", cache)


def _image(rgb):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)


def _video_mode(full, num_hands=2):
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    return vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=str(full)), running_mode=vision.RunningMode.VIDEO,
        num_hands=num_hands))


def _side_by_side(frames, full, search_hz=5.0):
    """Our tracking and VIDEO mode's on the same frames: per frame, (ours, theirs) as
    lists of landmark arrays."""
    graphs = HandGraphs.create(full, 0.5, 0.5, max_hands=2, passes=2)
    assert graphs is not None, "the pinned mediapipe's graphs were not found"
    ours = GraphTracking(graphs, search_hz)
    public = _video_mode(full)
    rows = []
    try:
        for i, rgb in enumerate(frames):
            image = _image(rgb)
            mine = ours.video(image, i * FRAME_MS)
            theirs = public.detect_for_video(image, i * FRAME_MS)
            rows.append(([hand.landmarks for hand in mine],
                         [np.array([(p.x, p.y, p.z) for p in marks]) for marks in theirs.hand_landmarks]))
        return rows, ours.palm_detections, ours.searches, graphs.built
    finally:
        ours.close()
        public.close()


def test_two_hands_in_view_give_video_modes_landmarks_with_one_palm_detection(clips, bundles):
    """Both hands in view from the first frame: found by one palm detection, then each
    tracked in its own region, exactly as VIDEO mode tracks them (same regions, same
    landmarks, same order), with no palm detection after the first frame."""
    rows, palms, searches, built = _side_by_side(clips["two"], bundles[0])
    assert all(len(mine) == len(theirs) == 2 for mine, theirs in rows), [len(m) for m, _ in rows]
    for i, (mine, theirs) in enumerate(rows):
        for a, b in zip(mine, theirs):
            assert np.array_equal(a, b), i
    # One hand on each side of the frame (the clip is a frame beside its mirror image).
    assert all(sorted(palm_centre(hand)[0] > 0.5 for hand in mine) == [False, True] for mine, _ in rows)
    assert palms == 1 and searches == 0
    assert built == 2  # a landmark graph for each hand


def test_one_hand_in_view_with_two_allowed_searches_at_the_search_rate(clips, bundles):
    """One hand in view, two allowed: VIDEO mode runs palm detection on every frame;
    handmap only at the search rate (5 Hz of the clip's 30 fps: every 6th frame), beside
    the tracking pass; the tracked hand's landmarks are VIDEO mode's exactly."""
    frames = clips["one"]
    rows, palms, searches, built = _side_by_side(frames, bundles[0])
    assert all(len(mine) == len(theirs) == 1 for mine, theirs in rows)
    assert all(np.array_equal(mine[0], theirs[0]) for mine, theirs in rows)
    every = FPS // 5
    assert searches == pytest.approx(len(frames) / every, abs=2), searches
    assert palms == 1 + searches  # the first frame's, and the searches'
    assert built == 1  # the second hand's landmark graph (about 35 MB) is not built until a second hand comes


def test_two_tracked_hands_landmark_passes_run_at_once_on_two_threads(clips, bundles):
    """The two hands' landmark passes run at the same time: one on the frame's thread,
    the other on a ``handmap-hands`` thread, each in its own landmark graph (the second
    one built on that thread when first needed)."""
    graphs = HandGraphs.create(bundles[0], 0.5, 0.5, max_hands=2, passes=2)
    assert graphs is not None and graphs.passes == 2
    calls: list[tuple[str, int, float, float]] = []
    landmarks = graphs.landmarks

    def timed(image, region, graph=0):
        import time

        start = time.perf_counter()
        try:
            return landmarks(image, region, graph)
        finally:
            calls.append((threading.current_thread().name, graph, start, time.perf_counter()))

    graphs.landmarks = timed  # type: ignore[method-assign]
    tracking = GraphTracking(graphs)
    try:
        for i, rgb in enumerate(clips["two"][:10]):
            assert len(tracking.video(_image(rgb), i * FRAME_MS)) == 2
    finally:
        tracking.close()
    on_pool = [c for c in calls if c[0].startswith("handmap-hands")]
    here = [c for c in calls if c[0] == threading.current_thread().name]
    assert len(on_pool) == len(here) == 10
    assert {c[1] for c in on_pool} == {1} and {c[1] for c in here} == {0}
    # Each frame's two passes overlap in time.
    overlapping = sum(1 for a, b in zip(here, on_pool) if a[2] < b[3] and b[2] < a[3])
    assert overlapping == 10


def test_a_hand_keeps_its_id_and_side_while_another_enters_crosses_and_leaves(clips, bundles):
    """The crossing clip: a held hand at the lower right; a second hand enters at the
    left edge, crosses the frame above it and leaves at the right. Through the tracker
    (two hands, the look-ahead on) and the identity stage, the held hand is seen on
    every frame with one id and one side, and no frame waits for palm detection; the second hand is found within the search
    interval of being fully in view, with an id of its own; and its landmarks are VIDEO
    mode's within 0.02 of the frame (exactly, once found by the same palm detection)."""
    full, lite = bundles
    frames = clips["crossing"]
    tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, max_hands=2, look_ahead=True,
                                      look_ahead_model=lite))
    identities = HandIdentities()
    held_ids, held_sides, other_ids, counts = set(), set(), set(), []
    try:
        for i, rgb in enumerate(frames):
            hands = hand_observations(tracker.find(_image(rgb), i / FPS), selfie=False)
            result = identities.update(i / FPS, hands, 640 / 480)
            counts.append(len(hands))
            for hand_id, j in result.matched:
                centre = palm_centre(hands[j].landmarks)
                if centre[0] > 0.7 and centre[1] > 0.6:
                    held_ids.add(hand_id)
                    held_sides.add(identities.handedness(hand_id))
                else:
                    other_ids.add(hand_id)
        tracker.wait_idle()
        looks = tracker.second_looks
    finally:
        tracker.close()
    # With the held hand tracked throughout, palm detection ran on the first frame and
    # otherwise only in searches beside the tracking pass (none delayed a frame), also
    # when the second hand left the view.
    assert looks["palm_detections"] <= 1 + looks["hand_searches"], looks
    assert held_ids == {1} and len(held_sides) == 1, (held_ids, held_sides)
    assert other_ids and 1 not in other_ids
    assert all(count >= 1 for count in counts)
    # Fully in view from about frame 66 to 144 (scripts/two_hand_clip.py); found within a
    # search interval (6 frames) of coming in.
    inside = counts[72:140]
    assert sum(count == 2 for count in inside) >= len(inside) - 2, inside
    assert counts[:40] == [1] * 40 and counts[-40:] == [1] * 40


def test_crossing_landmarks_are_video_modes_within_the_stated_tolerance(clips, bundles):
    rows, _, _, built = _side_by_side(clips["crossing"], bundles[0])
    assert built == 2
    gaps = []
    for mine, theirs in rows:
        for hand in mine:
            if theirs:
                gaps.append(min(float(np.max(np.abs(hand[:, :2] - other[:, :2]))) for other in theirs))
    assert len(gaps) >= len(rows)
    assert np.median(gaps) == 0.0 and max(gaps) < 0.02, (np.median(gaps), max(gaps))
    # VIDEO mode finds the entering hand at once (palm detection on every frame); handmap
    # within a search interval: a few frames with one hand fewer, never one more.
    fewer = sum(len(mine) < len(theirs) for mine, theirs in rows)
    assert all(len(mine) <= len(theirs) for mine, theirs in rows) and fewer <= 2 * (FPS // 5), fewer


def _rect(x, y, w, h):
    from mediapipe.framework.formats.rect_pb2 import NormalizedRect

    return NormalizedRect(x_center=x, y_center=y, width=w, height=h, rotation=0.0)


def test_a_palm_over_a_tracked_hand_is_that_hand():
    tracked = [_rect(0.3, 0.5, 0.2, 0.3)]
    same = _rect(0.31, 0.52, 0.2, 0.3)  # IoU about 0.8
    beside = _rect(0.7, 0.5, 0.2, 0.3)
    assert region_iou(tracked[0], same) > 0.5 and region_iou(tracked[0], beside) == 0.0
    assert new_regions([same, beside], tracked, 0.5) == (beside,)
    assert new_regions([beside, beside], [], 0.5) == (beside,)  # two palms on one hand: one new hand
    assert new_regions([same], tracked, 0.9) == (same,)  # below the threshold: another hand


def test_two_readings_of_one_hand_are_one_hand(clips, bundles):
    """MediaPipe's duplicate rule on real landmarks: the same hand read twice (a few
    pixels apart) is one hand; the two hands of the two-hand clip are two."""
    graphs = HandGraphs.create(bundles[0], 0.5, 0.5, max_hands=2)
    assert graphs is not None
    try:
        found, _ = graphs.detect(_image(clips["two"][0]))
    finally:
        graphs.close()
    assert len(found) == 2
    left, right = (hand.landmarks for hand in found)
    assert duplicates([left, right], 640, 480) == frozenset()
    nudged = left + np.array([0.004, -0.003, 0.0])
    assert duplicates([left, right, nudged], 640, 480) == frozenset({2})
    assert duplicates([nudged, left], 640, 480) == frozenset({1})  # the later reading goes


def test_the_search_rate_is_configured_and_a_bad_one_names_the_line(tmp_path):
    from handmap.daemon.config import ConfigError, load_config
    from handmap.daemon.perception.factory import make_tracker

    path = tmp_path / "config.yaml"
    path.write_text("model:\n  max_hands: 2\n  hand_search_hz: 2.5\n")
    config = load_config(path)
    assert load_config(None, env={"XDG_CONFIG_HOME": str(tmp_path / "none")}).model.hand_search_hz == 5
    tracker = make_tracker(config, video=True, faces=False, body=False, env={"XDG_CACHE_HOME": str(tmp_path)})
    try:
        assert isinstance(tracker._hands, GraphTracking)
        assert tracker._hands._search_every_ms == pytest.approx(400.0)
    finally:
        tracker.close()
    path.write_text("model:\n  hand_search_hz: 0\n")
    with pytest.raises(ConfigError, match=r"config.yaml:2:.*model.hand_search_hz"):
        load_config(path)


def _counts_and_first_two(frames, full, settle: bool, search_delay_s: float) -> tuple[list[int], int]:
    """Hands per frame, and the first frame with two, with the search for a second hand
    slowed by ``search_delay_s`` (as a busy machine slows it)."""
    import time

    graphs = HandGraphs.create(full, 0.5, 0.5, max_hands=2, passes=2)
    assert graphs is not None
    ours = GraphTracking(graphs, 5.0, settle=settle)
    look = ours._look_for_more

    def slow(image, base):
        time.sleep(search_delay_s)
        return look(image, base)

    ours._look_for_more = slow  # type: ignore[method-assign]
    try:
        counts = [len(ours.video(_image(rgb), i * FRAME_MS)) for i, rgb in enumerate(frames)]
    finally:
        ours.close()
    return counts, next(i for i, n in enumerate(counts) if n == 2)


def test_a_settled_replay_gives_the_same_hands_however_slow_the_search(clips, bundles):
    """A file replayed as fast as it is read (``settle``, what ``handmap run`` does for
    file sources without --realtime): the frame waits for the search it started, so a
    slow machine gives the same hands as a fast one. Live, a slow search's hand joins a
    frame later instead (the frame does not wait)."""
    frames = clips["crossing"][50:80]  # the second hand comes into view at about frame 61
    fast, first_fast = _counts_and_first_two(frames, bundles[0], settle=True, search_delay_s=0.0)
    slow, first_slow = _counts_and_first_two(frames, bundles[0], settle=True, search_delay_s=0.08)
    assert slow == fast and first_slow == first_fast
    _, first_live = _counts_and_first_two(frames, bundles[0], settle=False, search_delay_s=0.08)
    assert first_live > first_fast  # live, the slowed search's hand came a frame or more later
