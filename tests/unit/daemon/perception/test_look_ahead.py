"""The tracker's second look on a lost track, and the look-ahead that starts it early
on the other core (daemon/perception/tracker.py, hands.py), on webcam_session35's video: its frames jump every
fifth frame (10 fps stills, each shown five times), so tracks are lost for real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handmap.daemon.config import ConfigError, load_config
from handmap.daemon.perception.hands import RegionChange
from handmap.daemon.perception.tracker import Tracker, TrackerSettings

VIDEO = "subhih_session35_10fps_x5.mp4"


@pytest.fixture(scope="module")
def frames(session35):
    import cv2

    capture = cv2.VideoCapture(str(session35 / VIDEO))
    out = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        out.append(cv2.cvtColor(cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    capture.release()
    assert len(out) > 100
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from handmap.daemon.perception.models import hand_bundle

    cache = tmp_path_factory.mktemp("models")
    return hand_bundle("full", cache), hand_bundle("lite", cache)


def track(frames, full, ahead_model):
    import mediapipe as mp

    tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, look_ahead=ahead_model is not None,
                                      look_ahead_model=ahead_model))
    try:
        hands, hard = [], []
        for i, rgb in enumerate(frames):
            hands.append(tracker.hands(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i / 50.0, False))
            hard.append(tracker.looking_hard)
        return hands, dict(tracker.second_looks, looking_hard=sum(hard))
    finally:
        tracker.close()


@pytest.mark.parametrize("ahead", ["lite", "full"])
def test_look_ahead_finds_the_hands_the_second_look_finds(frames, bundles, ahead):
    full, lite = bundles
    plain, plain_looks = track(frames, full, None)
    early, looks = track(frames, full, full if ahead == "full" else lite)
    assert plain_looks["lost_tracks"] >= 3 and plain_looks["look_ahead_started"] == 0
    # On this clip the look-ahead is what answers most lost tracks.
    assert looks["look_ahead_used"] >= 3
    assert looks["look_ahead_used"] >= looks["lost_tracks"] // 2
    # The hand the look-ahead found is tracked from the next frame on: the tracker's own
    # palm detection ran on the first frame and for the lost tracks the look-ahead did
    # not answer, and on no frame after one it did.
    assert plain_looks["palm_detections"] == 1 + plain_looks["lost_tracks"]
    assert looks["palm_detections"] == 1 + looks["lost_tracks"] - looks["look_ahead_used"]
    # Every look-ahead is answered on its own frame: a lost track takes its hand, a track
    # that held across the jump is checked against it (and replaced where it lost the
    # hand's shape). None runs on beside the next frame, so face checks never wait for one.
    assert looks["look_ahead_used"] + looks["redetected"] + looks["doubtful"] >= looks["look_ahead_started"] - 1
    assert looks["redetected"] >= 3 and looks["doubtful"] == 0
    assert looks["looking_hard"] == 0 and plain_looks["looking_hard"] == 0
    # Without the look-ahead, a track that held across a jump has nothing to be checked
    # against: it is marked doubtful instead.
    assert plain_looks["doubtful"] >= 3 and plain_looks["redetected"] == 0
    # A hand in the same frames, mostly of the same side (a few frames of a hand seen
    # edge-on are a coin toss for MediaPipe either way), at nearly the same place (apart
    # from the frames where a track that held lost the hand's shape).
    assert [len(f) for f in early] == [len(f) for f in plain]
    pairs = [(a, b) for fa, fb in zip(early, plain) for a, b in zip(fa, fb)]
    same_side = [(a, b) for a, b in pairs if a.handedness == b.handedness]
    assert len(same_side) >= 0.97 * len(pairs), f"{len(pairs) - len(same_side)} of {len(pairs)} hands changed side"
    gaps = [float(np.max(np.abs(a.landmarks[:, :2] - b.landmarks[:, :2]))) for a, b in same_side]
    assert np.median(gaps) < 0.005 and np.percentile(gaps, 95) < 0.05, (np.median(gaps), np.percentile(gaps, 95))


def test_with_two_hands_allowed_the_look_ahead_looks_in_the_tracking_graphs(frames, bundles):
    """Two hands allowed: the look-ahead has no copy of the model of its own (the lite
    one configured is not built); the hands it answers lost tracks with are the
    tracking model's own fresh detection of that frame, landmark for landmark, and its
    palm detections are not counted as the tracking's."""
    import mediapipe as mp

    from handmap.daemon.perception.mediapipe_internals import HandGraphs

    full, lite = bundles
    tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, max_hands=2, look_ahead=True,
                                      look_ahead_model=lite))
    fresh = HandGraphs(full, 0.5, 0.5, max_hands=2)
    answered = []
    try:
        for i, rgb in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            used = tracker.second_looks["look_ahead_used"]
            found = tracker.find(image, i / 50.0)
            if tracker.second_looks["look_ahead_used"] > used:
                answered.append((found, fresh.detect(image)[0]))
        tracker.wait_idle()
        looks = tracker.second_looks
    finally:
        tracker.close()
        fresh.close()
    assert len(answered) >= 3 and len(answered) >= looks["lost_tracks"] // 2, looks
    for found, expected in answered:
        assert len(found) == len(expected) >= 1
        for hand, same in zip(found, expected):
            np.testing.assert_allclose(hand.landmarks, same.landmarks, atol=1e-6)
    assert looks["palm_detections"] <= 1 + looks["hand_searches"] + looks["lost_tracks"] - len(answered)


def test_a_track_that_held_across_a_jump_reads_like_a_fresh_detection(frames, bundles):
    """On the frame after a jump a held track can lose the hand's shape (session35's fists
    read as a pinch, a point or a plain hand there). Measured against a fresh detection of
    each frame (palm detection and the full landmark model): with the look-ahead, no
    frame's hand is half a hand size off; without it, the frames that are were tracked
    across a jump and are marked doubtful."""
    import mediapipe as mp

    from handmap.daemon.perception.mediapipe_internals import HandGraphs
    from handmap.gestures.quality import disagreement
    from handmap.gestures.types import LandmarkQuality

    full, lite = bundles
    fresh = HandGraphs.create(full, 0.5, 0.5)
    assert fresh is not None
    off = {}
    try:
        for ahead in (None, lite):
            tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, look_ahead=ahead is not None,
                                              look_ahead_model=ahead))
            try:
                rows = []
                for i, rgb in enumerate(frames):
                    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
                    tracked, (seen, _) = tracker.find(image, i / 10.0), fresh.detect(image)
                    if tracked and seen:
                        rows.append((disagreement(tracked[0].landmarks, seen[0].landmarks, 4 / 3), i,
                                     tracked[0].quality))
            finally:
                tracker.close()
            off[ahead is not None] = [(i, quality) for gap, i, quality in rows if gap >= 0.5]
    finally:
        fresh.close()
    assert off[True] == [], off[True]
    assert len(off[False]) >= 4, off[False]
    doubtful = [i for i, quality in off[False] if quality is LandmarkQuality.DOUBTFUL]
    assert len(doubtful) >= 0.75 * len(off[False]), off[False]


def test_frames_that_took_more_than_the_tracking_pass_are_marked(frames, bundles):
    """``Tracker.last_hard``: palm detection (nothing tracked) or a lost track, on top of
    the tracking pass. The pipeline finishes such a frame at once on its own thread."""
    import mediapipe as mp

    full, lite = bundles
    tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, look_ahead=True, look_ahead_model=lite))
    try:
        hands, hard, answered = [], [], []
        for i, rgb in enumerate(frames):
            used = tracker.second_looks["look_ahead_used"]
            hands.append(tracker.hands(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i / 50.0, False))
            hard.append(tracker.last_hard)
            answered.append(tracker.second_looks["look_ahead_used"] > used)
        looks = tracker.second_looks
    finally:
        tracker.close()
    assert hard[0], "the first frame runs palm detection"
    # An ordinary frame: a hand tracked from the frame before and still found.
    assert all(hands[i - 1] and hands[i] for i in range(1, len(frames)) if not hard[i])
    # Every lost track.
    assert sum(hard) >= looks["lost_tracks"] + 1 >= 6, (sum(hard), looks)
    assert sum(hard) <= len(frames) // 4, (sum(hard), len(frames))
    # A frame after one the look-ahead answered tracks the hand it found: no palm
    # detection there (HandLandmarker's own tracking would have run it).
    after = [i + 1 for i in range(len(frames) - 1) if answered[i]]
    assert len(after) >= 5
    assert sum(hard[i] for i in after) <= len(after) // 5, [i for i in after if hard[i]]


def test_the_tracking_kept_by_handmap_gives_handlandmarkers_own_landmarks(frames, bundles):
    """For one hand the tracker keeps MediaPipe's tracking itself (``GraphTracking``, over
    the model's palm and landmark graphs), so that a second look's hand can be tracked
    on: frame for frame, lost tracks included, it gives exactly what ``HandLandmarker``
    gives in VIDEO mode."""
    import os

    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    from handmap.daemon.perception.hands import GraphTracking
    from handmap.daemon.perception.mediapipe_internals import HandGraphs

    full = bundles[0]

    graphs = HandGraphs.create(full, 0.5, 0.5)
    assert graphs is not None, "the pinned mediapipe's graphs were not found"
    ours = GraphTracking(graphs)
    mapped_from = f"/proc/self/fd/{graphs._fd}"
    assert os.path.realpath(mapped_from) == os.path.realpath(full)  # the models are mapped from the bundle
    public = vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=str(full)), running_mode=vision.RunningMode.VIDEO,
        num_hands=1))
    try:
        seen = lost = 0
        for i, rgb in enumerate(frames):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            tracked = ours.tracked
            mine = ours.video(image, i * 20)
            theirs = public.detect_for_video(image, i * 20)
            lost += len(mine) < tracked
            assert len(mine) == len(theirs.hand_landmarks), i
            for hand, marks, world, classes in zip(mine, theirs.hand_landmarks, theirs.hand_world_landmarks,
                                                   theirs.handedness):
                assert np.array_equal(hand.landmarks, np.array([(p.x, p.y, p.z) for p in marks])), i
                # The world landmarks (metres; face touch's metric depth) as the task gives them.
                assert hand.world is not None
                assert np.allclose(hand.world, np.array([(p.x, p.y, p.z) for p in world]), atol=1e-6), i
                assert hand.handedness == classes[0].category_name and hand.score == pytest.approx(classes[0].score)
                seen += 1
        assert seen >= 100 and lost >= 3, (seen, lost)
        assert ours.palm_detections == 1 + lost  # the first frame, and the frame after each loss
    finally:
        ours.close()
        public.close()
    assert not os.path.exists(mapped_from)  # and the bundle is closed with them


def test_two_hands_allowed_are_tracked_by_handmap(frames, bundles):
    """More than one hand allowed: handmap keeps the tracking too (``GraphTracking``
    for two hands, with MediaPipe's hand association and deduplication); with the one
    hand of session35 in view, palm detection looks for a second one at the search
    rate (and after each lost track), not on every frame as VIDEO mode would."""
    import mediapipe as mp

    from handmap.daemon.perception.hands import GraphTracking

    full, lite = bundles
    tracker = Tracker(TrackerSettings(hand_model=full, faces=None, video=True, max_hands=2, look_ahead=True,
                                      look_ahead_model=lite))
    try:
        assert isinstance(tracker._hands, GraphTracking)
        found = [tracker.find(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i / 50.0)
                 for i, rgb in enumerate(frames)]
        tracker.wait_idle()
        looks = tracker.second_looks
    finally:
        tracker.close()
    assert sum(1 for f in found if f) >= 0.9 * len(frames)
    assert all(len(f) <= 1 for f in found)  # session35 holds one hand: never a second reading of it
    # 5 searches a second of the clip's clock (50 frames a second here), and a few more
    # after lost tracks and jumps: far fewer than one a frame.
    seconds = len(frames) / 50.0
    assert looks["lost_tracks"] >= 1 and 1 <= looks["hand_searches"] <= 5 * seconds + looks["lost_tracks"] * 3 + 5
    assert looks["palm_detections"] <= 1 + looks["hand_searches"] + looks["lost_tracks"]


def test_region_change_sees_a_hand_leave_its_region_but_not_noise():
    rng = np.random.default_rng(3)
    scene = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    hand = [np.array([(0.45 + 0.005 * i, 0.5 + 0.004 * i, 0.0) for i in range(21)])]
    region = RegionChange()
    assert region.changed(scene) == 0.0  # nothing to compare with yet
    region.remember(scene, hand)
    noisy = np.clip(scene.astype(np.int16) + rng.normal(0, 3, scene.shape), 0, 255).astype(np.uint8)
    assert region.changed(noisy) < RegionChange.LIKELY_LOST / 4
    moved = scene.copy()
    moved[200:330, 250:400] = rng.integers(0, 255, (130, 150, 3), dtype=np.uint8)  # something else there now
    assert region.changed(moved) > RegionChange.LIKELY_LOST
    region.remember(scene, [])  # no hand: nothing to compare
    assert region.changed(moved) == 0.0


@pytest.mark.parametrize("text, value", [("", "lite"), ("  look_ahead: off\n", False), ("  look_ahead: full\n", "full")])
def test_look_ahead_setting(tmp_path, text, value):
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  size: full\n" + text)
    assert load_config(path).model.look_ahead == value


def test_a_bad_look_ahead_setting_names_the_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  look_ahead: always\n")
    with pytest.raises(ConfigError, match=r"config.yaml:2:.*model.look_ahead.*'lite' or 'full'"):
        load_config(path)


@pytest.mark.parametrize("setting", ["full", "lite", "off"])
def test_look_ahead_model_follows_the_setting(tmp_path, bundles, setting):
    """``full`` is the model the tracker runs (the user's own task_file here); ``lite``
    the wheel's lite bundle; ``off`` none."""
    import shutil

    from handmap.daemon.perception.factory import make_tracker

    own = tmp_path / "my_hand_landmarker.task"
    shutil.copy(bundles[0], own)
    path = tmp_path / "config.yaml"
    path.write_text(f"model:\n  task_file: {own}\n  look_ahead: {setting}\n")
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    tracker = make_tracker(load_config(path), video=True, faces=False, env=env)
    try:
        settings = tracker.settings
        if setting == "off":
            assert not settings.look_ahead and settings.look_ahead_model is None
        elif setting == "full":
            assert settings.look_ahead and settings.look_ahead_model == own
        else:
            assert settings.look_ahead and settings.look_ahead_model.parent == tmp_path / "cache" / "handmap" / "models"
            assert "lite" in settings.look_ahead_model.name
    finally:
        tracker.close()


@pytest.mark.parametrize("mode", ["video", "image"])
def test_hand_model_reads_what_mediapipe_reports(frames, bundles, mode):
    """The hand model read straight from MediaPipe's output packets (no per-landmark
    Python objects) gives exactly the landmarks, handedness and score of its public API."""
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    from handmap.daemon.perception.hands import HandModel

    running = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE

    def landmarker():
        return vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(bundles[0])), running_mode=running, num_hands=1))

    lean, public = HandModel(landmarker()), landmarker()
    assert lean.lean, "the pinned mediapipe's internals were not found: the public (slower) way is in use"
    try:
        seen = 0
        for i, rgb in enumerate(frames[:120:1 if mode == "video" else 6]):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            ours = lean.video(image, i * 20) if mode == "video" else lean.still(image)
            theirs = public.detect_for_video(image, i * 20) if mode == "video" else public.detect(image)
            assert len(ours) == len(theirs.hand_landmarks), i
            for hand, marks, classes in zip(ours, theirs.hand_landmarks, theirs.handedness):
                assert hand.landmarks.shape == (21, 3) and hand.landmarks.dtype == np.float64
                assert np.array_equal(hand.landmarks, np.array([(p.x, p.y, p.z) for p in marks]))
                assert hand.handedness == classes[0].category_name and hand.score == pytest.approx(classes[0].score)
                seen += 1
        assert seen >= (100 if mode == "video" else 15), seen
    finally:
        lean.close()
        public.close()


def test_frames_beside_a_running_look_ahead_are_finished_on_the_hand_models_thread(session35, tmp_path):
    """With frames overlapped, a frame that waited for its look-ahead (which answered a
    lost track, or checked a track that held) is finished at once on the hand model's
    thread (``Begun.hard``): its input is late already. One hand allowed: the look-ahead
    with its own lite model (with two, the search after a lost hand also runs on the
    critical path, and more frames are hard)."""
    import cv2
    from faulty import TEST_CONFIG, LineStream, make_home

    from handmap.daemon.capture import Frame
    from handmap.daemon.runtime.assemble import RunOptions, build

    video = session35 / VIDEO
    built = build(RunOptions(source=str(video), output="dry-run", stream=LineStream(), tray=False,
                             control_socket=False, hotkey=False, window_switching=False, history=False,
                             alerts=False, faces_async=True),
                  env=make_home(tmp_path, config=TEST_CONFIG + "model:\n  max_hands: 1\n"))
    pipeline, tracker = built.pipeline, built.pipeline.tracker
    capture = cv2.VideoCapture(str(video))
    rows = []
    try:
        assert pipeline.overlapping
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            image = cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
            started = tracker.second_looks["look_ahead_started"]
            begun = pipeline.begin(Frame(t=index / 50.0, index=index, image=image))
            rows.append((tracker.second_looks["look_ahead_started"] > started, tracker.last_hard, begun.hard))
            pipeline.finish(begun)
            assert all(o.error is None for o in pipeline.completed())
            index += 1
        pipeline.drain()
    finally:
        capture.release()
        built.close()
    ahead = [(waited, hard) for started, waited, hard in rows if started]
    assert len(ahead) >= 10, len(ahead)
    # Every frame that started the look-ahead waits for it (a lost track takes its hand,
    # a track that held is checked against it), and is finished on this thread.
    assert all(waited and hard for waited, hard in ahead), ahead
    ordinary = [hard for started, waited, hard in rows if not started and not waited]
    assert sum(ordinary) <= 0.1 * len(ordinary), (sum(ordinary), len(ordinary))


def test_on_another_mediapipe_handlandmarker_tracks_the_same_hands(frames, bundles, monkeypatch):
    """On another mediapipe than the pinned one (which cannot be installed here beside
    it: simulated by the version check answering no, as it does then) none of its
    internals are used, and ``HandLandmarker``'s public API finds and tracks the same
    hands."""
    import mediapipe as mp

    from handmap.daemon.perception import hands, mediapipe_internals
    from handmap.gestures.landmarks import HandLandmark

    results, kinds = [], []
    for other in (False, True):
        if other:
            monkeypatch.setattr(mediapipe_internals, "pinned", lambda: False)
        tracker = Tracker(TrackerSettings(hand_model=bundles[0], faces=None, video=True, look_ahead=True,
                                          look_ahead_model=bundles[1]))
        try:
            kinds.append(type(tracker._hands))
            results.append([tracker.find(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i / 50.0)
                            for i, rgb in enumerate(frames[:60])])
        finally:
            tracker.close()
    assert kinds == [hands.GraphTracking, hands.LandmarkerTracking]
    assert [len(f) for f in results[0]] == [len(f) for f in results[1]] and sum(map(len, results[0])) >= 50
    # Both read the world landmarks (metres, face touch's metric depth): a hand's size.
    for hand in (hand for frame in results[0] + results[1] for hand in frame):
        assert hand.world is not None and hand.world.shape == (21, 3)
        palm = float(np.linalg.norm(hand.world[HandLandmark.WRIST] - hand.world[HandLandmark.MIDDLE_MCP]))
        assert 0.04 <= palm <= 0.16, palm  # metres, not image units


def test_another_mediapipe_version_is_warned_about_once(monkeypatch, caplog):
    """The internals are read only on the pinned mediapipe; another version is named in
    one warning that says what it costs, and its internals are not touched."""
    import mediapipe

    from handmap.daemon.perception import hands, mediapipe_internals

    class Landmarker:  # would fail on any use: nothing may reach into it
        pass

    monkeypatch.setattr(mediapipe, "__version__", "0.10.99")
    mediapipe_internals.pinned.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="handmap.daemon.perception.mediapipe_internals"):
            assert not mediapipe_internals.pinned()
            assert not hands.HandModel(Landmarker()).lean
            assert mediapipe_internals.HandGraphs.create(Path("/nonexistent.task"), 0.5, 0.5) is None
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1, warnings
        assert "mediapipe 0.10.99 is installed, not 0.10.21" in warnings[0]
        assert "public API" in warnings[0]
    finally:
        mediapipe_internals.pinned.cache_clear()
