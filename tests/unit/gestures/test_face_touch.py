"""Face-touch detection on real photographs (ft/, ht/, hg_s/ with labels.csv) and on
sequences built from their real landmarks (hand in front of the face, waving beside
it, brushes and holds) through the episode tracker."""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from builders import read_rgb

cv2 = pytest.importorskip("cv2")
mp = pytest.importorskip("mediapipe")

from handmap.daemon.perception.body import BodyTracker, FaceRegionHandFinder, RunningMode  # noqa: E402
from handmap.daemon.perception.face_mesh import FaceMesh  # noqa: E402
from handmap.gestures.face_touch import (  # noqa: E402
    FaceTouchConfig,
    FaceTouchTracker,
    chin_on_hand,
    depth_ratio,
    touch_score,
)
from handmap.gestures.landmarks import HandLandmark  # noqa: E402
from handmap.gestures.types import (  # noqa: E402
    BodyObservation,
    FaceObservation,
    FaceTouchState,
    FrameObservation,
    Handedness,
    HandObservation,
)

log = logging.getLogger("handmap.test")

FT_TOUCHING = ("ft/DhanushAyogya750.jpg", "ft/kamal_eyes.jpg", "ft/parvathi_1.jpg")
FT_NO_HAND = "ft/mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"
FPS = 30.0


# ---------------------------------------------------------------------------------
# Real observations of still images: the hand, face and body models, as the tracker
# runs them in IMAGE mode, plus the second look for hands around each face.
# ---------------------------------------------------------------------------------


class StillObserver:
    """``faces``: "full" (the daemon's default, full-range detector) or "short"."""

    def __init__(self, cache: Path, faces: str) -> None:
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        from handmap.daemon.perception import models
        from handmap.daemon.perception.faces import FullRangeFaces, ShortRangeFaces

        bundle = models.hand_bundle("full", cache)
        self.hands = vision.HandLandmarker.create_from_options(
            vision.HandLandmarkerOptions(
                base_options=mp_tasks.BaseOptions(model_asset_path=str(bundle)),
                running_mode=vision.RunningMode.IMAGE,
                num_hands=4,
            )
        )
        if faces == "full":
            self.faces = FullRangeFaces(0.5)
        else:
            self.faces = ShortRangeFaces(models.face_model(), 0.5)
        self.body = BodyTracker(cache, RunningMode.IMAGE)
        self.finder = FaceRegionHandFinder(bundle)
        self.mesh = FaceMesh.create()
        self._cache: dict[tuple[str, bool], FrameObservation] = {}

    def observe(self, path: Path, second_look: bool = True) -> FrameObservation:
        key = (str(path), second_look)
        if key in self._cache:
            return self._cache[key]
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        r = self.hands.detect(image)
        hands = tuple(
            HandObservation(
                landmarks=np.array([[p.x, p.y, p.z] for p in lms], dtype=np.float32),
                handedness=Handedness(hd[0].category_name.lower()),
                score=hd[0].score,
                world=np.array([[p.x, p.y, p.z] for p in metric], dtype=np.float64),
            )
            for lms, hd, metric in zip(r.hand_landmarks, r.handedness, r.hand_world_landmarks)
        )
        faces = self.faces.detect(rgb)
        if self.mesh is not None:  # the mesh on each face (the daemon's runs on faces a hand is near)
            faces = tuple(replace(f, mesh=self.mesh.landmarks(rgb, f)) if f.score >= 0.6 else f for f in faces)
        near = self.finder.find(rgb, [f for f in faces if f.score >= 0.6], hands) if second_look else ()
        obs = FrameObservation(
            t=0.0,
            frame=0,
            width=w,
            height=h,
            hands=hands,
            faces=tuple(faces),
            body=self.body.detect(rgb, None),
            near_face_hands=near,
        )
        self._cache[key] = obs
        return obs

    def close(self) -> None:
        if self.mesh is not None:
            self.mesh.close()
        self.hands.close()
        self.faces.close()
        self.body.close()
        self.finder.close()


@pytest.fixture(scope="module", params=["full", "short"])
def observer(request, tmp_path_factory, data_dir):
    obs = StillObserver(tmp_path_factory.mktemp("handmap-cache"), request.param)
    yield obs
    obs.close()


@pytest.fixture(scope="module")
def labels(data_dir) -> list[dict]:
    with open(data_dir / "hands" / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def _centre(hand: HandObservation) -> np.ndarray:
    return hand.landmarks[:, :2].mean(axis=0)


def _labelled_hand(obs: FrameObservation, row: dict) -> HandObservation | None:
    """The detected hand whose landmark centre is the labelled one (labels.csv)."""
    if not row["hand_center_x"]:
        return None
    want = np.array([float(row["hand_center_x"]), float(row["hand_center_y"])])
    best = min(obs.hands, key=lambda hd: float(np.linalg.norm(_centre(hd) - want)), default=None)
    if best is None or np.linalg.norm(_centre(best) - want) > 0.08:
        return None
    return best


def _box_overlap(obs: FrameObservation, hand: HandObservation) -> bool:
    """The plain rule the issue warns about: the hand's box overlaps a face box."""
    (x0, y0), (x1, y1) = hand.landmarks[:, :2].min(axis=0), hand.landmarks[:, :2].max(axis=0)
    for face in obs.faces or ():
        if face.score < 0.6:
            continue
        fx, fy, fw, fh = face.bbox
        if min(x1, fx + fw) > max(x0, fx) and min(y1, fy + fh) > max(y0, fy):
            return True
    return False


# ---------------------------------------------------------------------------------
# Still images
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FT_TOUCHING)
def test_hand_touching_the_face_is_found(observer, data_dir, labels, name):
    obs = observer.observe(data_dir / "hands" / name)
    decision = touch_score(obs)
    assert decision.touching, decision.reason
    # ... and it is the labelled touching hand that does it, seen by the hand model.
    (row,) = [r for r in labels if r["file"] == name and r["face_touch"] == "yes"]
    hand = _labelled_hand(obs, row)
    assert hand is not None
    alone = touch_score(replace(obs, hands=(hand,), near_face_hands=()))
    assert alone.touching and alone.hand == hand.handedness, alone.reason


@pytest.mark.parametrize("name", FT_TOUCHING)
def test_hand_touching_the_face_is_at_the_faces_metric_depth(observer, data_dir, labels, name):
    """The hand's world landmarks against its pixels and the face mesh's eye distance
    against the face's put a hand on a face at the face's distance from the camera (these
    photos were not used to set ``depth_ratio_in_front``: the clips were)."""
    obs = observer.observe(data_dir / "hands" / name)
    (row,) = [r for r in labels if r["file"] == name and r["face_touch"] == "yes"]
    hand = _labelled_hand(obs, row)
    assert hand is not None and hand.world is not None
    face = max(obs.faces, key=lambda f: f.score)
    assert face.mesh is not None
    ratio = depth_ratio(hand, face.mesh, obs.width, obs.height)
    assert FaceTouchConfig().depth_ratio_in_front <= ratio <= 1.25, ratio
    # The same pixels from a hand 0.7 times the size in metres: that hand is 0.7 times as
    # far from the camera, in front of the face, not on it.
    alone = replace(obs, hands=(hand,), near_face_hands=(), body=None)
    assert touch_score(alone).touching
    nearer = replace(hand, world=hand.world * 0.7)
    assert depth_ratio(nearer, face.mesh, obs.width, obs.height) == pytest.approx(0.7 * ratio)
    decision = touch_score(replace(alone, hands=(nearer,)))
    assert not decision.touching and "in front of the face" in decision.reason, decision.reason
    # Without either model's answer there is no metric depth (and no verdict from it).
    assert np.isnan(depth_ratio(replace(hand, world=None), face.mesh, obs.width, obs.height))
    assert np.isnan(depth_ratio(hand, None, obs.width, obs.height))


def test_hand_beside_the_chin_is_no_chin_rest(observer, data_dir, labels):
    """hg_s r2c5: a hand held beside the chin at the face's depth, not touching (the
    nearest no-touch hand to a chin in the labelled photos): its bones pass 0.58 eye
    distances from the mesh's chin point, beyond ``chin_rest_gap``; a wider gap would
    take it for a chin resting on it."""
    name = "hg_s/hagrid_samples_r2c5.png"
    obs = observer.observe(data_dir / "hands" / name)
    # The frame's two hands (a "take a photo" frame): the hand model finds the one at the chin.
    found = [_labelled_hand(obs, r) for r in labels if r["file"] == name and r["face_touch"] == "no"]
    hands = tuple(hand for hand in found if hand is not None)
    assert hands
    face = max(obs.faces, key=lambda f: f.score)
    assert face.mesh is not None
    wider = FaceTouchConfig(chin_rest_gap=0.7)
    assert all(chin_on_hand(hand.landmarks, face.mesh, obs.width, obs.height) is None for hand in hands)
    assert any(chin_on_hand(hand.landmarks, face.mesh, obs.width, obs.height, wider) is not None for hand in hands)
    assert not touch_score(replace(obs, hands=hands, near_face_hands=())).touching
    assert touch_score(replace(obs, hands=hands, near_face_hands=()), wider).touching
    with pytest.raises(ValueError, match="chin_rest_gap"):
        FaceTouchConfig(chin_rest_gap=-0.1)


def test_image_without_a_hand_gives_no_touch(observer, data_dir):
    obs = observer.observe(data_dir / "hands" / FT_NO_HAND)
    assert obs.hands == () and obs.faces  # faces, no hand: a mother kissing her child
    decision = touch_score(obs)
    assert not decision.touching and decision.score == 0.0


def test_finger_on_the_chin_is_found_by_the_second_look(observer, data_dir):
    """ht/8.jpg: someone's finger touches the man's chin from below; the hand model on
    the whole image misses that hand, the pose model has only the man's own hands
    (elsewhere), the crop around the face finds it."""
    path = data_dir / "hands" / "ht" / "8.jpg"
    without = touch_score(observer.observe(path, second_look=False))
    assert not without.touching, without.reason
    obs = observer.observe(path)
    decision = touch_score(obs)
    assert decision.touching, decision.reason
    best = max(decision.cues, key=lambda c: c.score)
    assert best.source == "hand"
    face = obs.faces[best.face_index]
    assert not any(touch_score(replace(obs, hands=(h,), near_face_hands=())).touching for h in obs.hands)
    toucher = [h for h in obs.near_face_hands if touch_score(replace(obs, hands=(), near_face_hands=(h,))).touching]
    assert len(toucher) == 1
    tip = toucher[0].landmarks[HandLandmark.INDEX_TIP]
    fx, fy, fw, fh = face.bbox
    assert abs(tip[0] - (fx + fw / 2)) < 0.25 * fw and tip[1] > fy + 0.8 * fh  # at the chin


def test_labelled_no_touch_hands_near_faces(observer, data_dir, labels):
    """Every hand labelled face_touch=no that MediaPipe finds, judged alone with the
    image's faces and body: our decision against the plain box-overlap rule."""
    judged, ours, boxes, flagged = 0, 0, 0, []
    for row in labels:
        if row["face_touch"] != "no":
            continue
        obs = observer.observe(data_dir / "hands" / row["file"])
        hand = _labelled_hand(obs, row)
        if hand is None:
            continue
        single = replace(obs, hands=(hand,), near_face_hands=())
        judged += 1
        boxes += _box_overlap(obs, hand)
        if touch_score(single).touching:
            ours += 1
            flagged.append(row["file"])
    log.info("face_touch=no hands: %d judged, %d flagged by face_touch, %d by box overlap", judged, ours, boxes)
    assert judged >= 40
    # Known miss: hg_s r1c4, palms pressed together just under the chin (fingertips
    # over the chin in 2D, at the face's depth: no cue in one frame tells it apart).
    assert set(flagged) <= {"hg_s/hagrid_samples_r1c4.png"}, flagged
    assert boxes >= 4 and ours < boxes


@pytest.mark.parametrize(
    "name,centre",
    [
        ("ht/7.jpg", (0.2904, 0.3799)),  # raised waving hand beside the head
        ("hg_s/hagrid_samples_r1c1.png", (0.2835, 0.4321)),  # grip raised beside a masked face
        ("hg_s/hagrid_samples_r2c1.png", (0.1529, 0.4087)),  # fist raised beside the face
    ],
)
def test_hand_beside_the_face_is_not_a_touch(observer, data_dir, name, centre):
    obs = observer.observe(data_dir / "hands" / name)
    hand = _labelled_hand(obs, {"hand_center_x": centre[0], "hand_center_y": centre[1]})
    assert hand is not None
    decision = touch_score(obs)
    assert not decision.touching, decision.reason


def test_hand_seen_as_a_face_is_not_a_touch(observer, data_dir):
    # ht/6.jpg: a hand holding a cup; the face detector calls the hand/cup a face, and
    # the pose model "finds" a tiny person in it.
    # (The short-range detector fires on it; the full-range one does not.)
    obs = observer.observe(data_dir / "hands" / "ht" / "6.jpg")
    assert obs.hands
    decision = touch_score(obs)
    assert not decision.touching, decision.reason
    if any(f.score >= 0.6 for f in obs.faces):
        assert decision.rejected_faces
    # ht/5.jpg: the short-range face detector fires on a fist; no face, no touch.
    obs = observer.observe(data_dir / "hands" / "ht" / "5.jpg")
    assert not touch_score(obs).touching


@pytest.mark.parametrize("name", ["ft/DhanushAyogya750.jpg", "ft/parvathi_1.jpg"])
def test_pose_model_finds_the_touch_when_the_hand_model_misses_the_hand(observer, data_dir, name):
    """The same photos with the hand model's hands taken away (as when it misses a hand
    on the face): the pose model's own finger points at the mouth/chin still tell."""
    obs = observer.observe(data_dir / "hands" / name)
    decision = touch_score(replace(obs, hands=(), near_face_hands=()))
    assert decision.touching, decision.reason
    assert max(decision.cues, key=lambda c: c.score).source == "body"


def test_pose_model_hands_alone_flag_no_touch_in_the_no_touch_photos(observer, data_dir, labels):
    names = sorted({r["file"] for r in labels} - {r["file"] for r in labels if r["face_touch"] == "yes"})
    flagged = []
    for name in names:
        obs = observer.observe(data_dir / "hands" / name)
        if touch_score(replace(obs, hands=(), near_face_hands=())).touching:
            flagged.append(name)
    assert len(names) >= 35 and flagged == []


@pytest.mark.parametrize(
    "name,expect",
    [
        ("ft/parvathi_1.jpg", True),
        ("ft/DhanushAyogya750.jpg", True),
        ("ht/7.jpg", False),
        ("hg_s/hagrid_samples_r1c1.png", False),
        ("hg_s/hagrid_samples_r2c1.png", False),
    ],
)
def test_pose_model_head_stands_in_when_the_face_detector_sees_no_face(observer, data_dir, name, expect):
    """A hand over a face often hides it from the face detector (faces = ())."""
    obs = observer.observe(data_dir / "hands" / name)
    decision = touch_score(replace(obs, faces=()))
    assert decision.touching is expect, decision.reason


def _transformed(obs: FrameObservation, mirror: bool, dx: float, dy: float) -> FrameObservation:
    """The same scene mirrored left-right and/or shifted (normalised units)."""

    def px(x):
        return (1.0 - x if mirror else x) + dx

    def hand(hd: HandObservation) -> HandObservation:
        lm = hd.landmarks.copy()
        lm[:, 0] = px(lm[:, 0])
        lm[:, 1] += dy
        return HandObservation(lm, hd.handedness, hd.score)

    def face(f: FaceObservation) -> FaceObservation:
        x, y, w, h = f.bbox
        return FaceObservation(
            ((1.0 - x - w if mirror else x) + dx, y + dy, w, h),
            f.score,
            tuple((px(kx), ky + dy) for kx, ky in f.keypoints),
        )

    body = None
    if obs.body is not None:
        lm = obs.body.landmarks.copy()
        lm[:, 0] = px(lm[:, 0])
        lm[:, 1] += dy
        body = BodyObservation(lm)
    return replace(
        obs,
        hands=tuple(hand(h) for h in obs.hands),
        near_face_hands=tuple(hand(h) for h in obs.near_face_hands),
        faces=tuple(face(f) for f in obs.faces),
        body=body,
    )


@pytest.mark.parametrize("mirror,dx,dy", [(True, 0.0, 0.0), (False, 0.05, -0.04), (True, -0.03, 0.02)])
def test_decision_does_not_depend_on_where_the_scene_is(observer, data_dir, labels, mirror, dx, dy):
    """Mirrored (a selfie camera) or shifted, every labelled photo gets the same
    decision and score: nothing in the rules depends on image side or position."""
    for name in sorted({r["file"] for r in labels}):
        obs = observer.observe(data_dir / "hands" / name)
        a, b = touch_score(obs), touch_score(_transformed(obs, mirror, dx, dy))
        assert (a.touching, round(a.score, 4)) == (b.touching, round(b.score, 4)), name


# ---------------------------------------------------------------------------------
# Sequences from real landmarks, through the episode tracker
# ---------------------------------------------------------------------------------


def _run(tracker: FaceTouchTracker, frames: list[FrameObservation]):
    events, states = [], []
    for obs in frames:
        on, evs = tracker.update(obs)
        states.append(on)
        events.extend(evs)
    return events, states


def _timed(base: FrameObservation, n: int, start: int = 0, **changes) -> list[FrameObservation]:
    return [replace(base, t=(start + i) / FPS, frame=start + i, **changes) for i in range(n)]


def _moved(hand: HandObservation, centre: np.ndarray, scale: float) -> HandObservation:
    """The same real hand, scaled about its centre (x, y and z: nearer the camera looks
    bigger in every axis) and moved so its centre is at ``centre``."""
    lm = hand.landmarks.astype(np.float64)
    c = lm.mean(axis=0)
    out = (lm - c) * scale
    out[:, 0] += centre[0]
    out[:, 1] += centre[1]
    out[:, 2] += c[2]
    return HandObservation(out.astype(np.float32), hand.handedness, hand.score)


@pytest.fixture(scope="module")
def waving(observer, data_dir):
    """ht/7.jpg: the real face, and the real raised hand beside it (body model off:
    the synthetic hand moves, the pose model's arm would not, so only the image cues
    are left, the harder case)."""
    obs = observer.observe(data_dir / "hands" / "ht" / "7.jpg")
    hand = _labelled_hand(obs, {"hand_center_x": 0.2904, "hand_center_y": 0.3799})
    assert hand is not None
    face = max(obs.faces, key=lambda f: f.score)
    return replace(obs, hands=(hand,), faces=(face,), body=None, near_face_hands=()), hand, face


@pytest.fixture(scope="module")
def touching(observer, data_dir):
    obs = observer.observe(data_dir / "hands" / "ft" / "parvathi_1.jpg")
    assert touch_score(obs).touching
    return obs


def test_hand_passing_in_front_of_the_face_gives_no_episode(waving):
    base, hand, face = waving
    fx, fy, fw, fh = face.bbox
    cy = fy + 0.6 * fh
    # A slow pass (1.5 s) across the face, the hand twice as near the camera as the
    # face (so twice its size relative to the face).
    frames, overlaps = [], 0
    n = int(1.5 * FPS)
    for i in range(n):
        cx = fx - 0.5 * fw + (2.0 * fw) * i / (n - 1)
        h = _moved(hand, np.array([cx, cy]), 2.0)
        frame = replace(base, t=i / FPS, frame=i, hands=(h,))
        overlaps += _box_overlap(frame, h)
        frames.append(frame)
    assert overlaps >= n // 2  # the plain rule would fire for most of the pass
    events, states = _run(FaceTouchTracker(), frames)
    assert events == [] and not any(states)
    # Control: the same hand at the face's own size, held on the face, is a touch.
    held = replace(base, hands=(_moved(hand, np.array([fx + fw * 0.5, cy]), 1.0),))
    events, _ = _run(FaceTouchTracker(), _timed(held, int(FPS)))
    assert [e.state for e in events] == [FaceTouchState.START]


def test_quick_pass_across_the_face_at_its_depth_gives_no_episode(waving):
    """A hand at the face's size sweeping across it in 200 ms: under the dwell time."""
    base, hand, face = waving
    fx, fy, fw, fh = face.bbox
    away = [replace(base, t=i / FPS, frame=i) for i in range(15)]
    n = int(0.2 * FPS)
    sweep = [
        replace(
            base,
            t=(15 + i) / FPS,
            frame=15 + i,
            hands=(_moved(hand, np.array([fx + fw * (0.1 + 0.8 * i / (n - 1)), fy + 0.6 * fh]), 1.0),),
        )
        for i in range(n)
    ]
    assert sum(touch_score(f).touching for f in sweep) >= n - 2  # each frame alone looks like a touch
    after = [replace(base, t=(15 + n + i) / FPS, frame=15 + n + i) for i in range(30)]
    events, states = _run(FaceTouchTracker(), away + sweep + after)
    assert events == [] and not any(states)


def test_waving_beside_the_head_gives_no_episode(waving):
    base, hand, face = waving
    fx, fy, fw, fh = face.bbox
    c = _centre(hand)
    frames, overlaps = [], 0
    n = int(3 * FPS)
    for i in range(n):
        # Waving at 2 Hz, swinging from its place towards the face and back, so the
        # hand's box overlaps the face box at the inner end of each swing.
        dx = 0.18 * fw * (1 - np.cos(2 * np.pi * 2.0 * i / FPS)) / 2
        h = _moved(hand, np.array([c[0] + dx, c[1]]), 1.0)
        frame = replace(base, t=i / FPS, frame=i, hands=(h,))
        overlaps += _box_overlap(frame, h)
        frames.append(frame)
    assert overlaps >= 10
    events, states = _run(FaceTouchTracker(), frames)
    assert events == [] and not any(states)


def test_brush_of_100ms_gives_no_episode(touching):
    none = replace(touching, hands=(), body=None, near_face_hands=())  # hand away (pose model not run)
    frames = _timed(none, 15) + _timed(touching, 3, start=15) + _timed(none, 30, start=18)
    events, states = _run(FaceTouchTracker(), frames)
    assert events == [] and not any(states)


def test_one_second_touch_gives_one_start_and_one_end(touching):
    cfg = FaceTouchConfig()
    none = replace(touching, hands=(), body=None, near_face_hands=())  # hand away (pose model not run)
    frames = _timed(none, 15) + _timed(touching, 30, start=15) + _timed(none, 30, start=45)
    events, states = _run(FaceTouchTracker(cfg), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END]
    start, end = events
    assert start.hand == end.hand == Handedness.LEFT
    assert start.t == pytest.approx(0.5 + cfg.dwell_ms / 1000, abs=1.5 / FPS)
    assert end.t == pytest.approx(1.5 + cfg.release_ms / 1000, abs=1.5 / FPS)
    assert states.count(True) == pytest.approx((end.t - start.t) * FPS, abs=1)


def test_models_at_a_lower_rate_keep_the_last_decision(touching):
    """Faces/body run on every third frame (10 Hz in a 30 fps stream): the frames in
    between (faces None) keep the decision, giving the same single episode."""

    def thin(frames):
        return [f if f.frame % 3 == 0 else replace(f, faces=None, body=None) for f in frames]

    none = replace(touching, hands=(), body=None, near_face_hands=())  # hand away (pose model not run)
    frames = thin(_timed(none, 15) + _timed(touching, 30, start=15) + _timed(none, 30, start=45))
    events, _ = _run(FaceTouchTracker(), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END]


def test_stalled_models_end_the_episode(touching):
    cfg = FaceTouchConfig()
    frames = _timed(touching, 30) + _timed(touching, 150, start=30, faces=None, body=None)
    events, _ = _run(FaceTouchTracker(cfg), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END]
    lapse = 29 / FPS + cfg.stale_ms / 1000
    assert events[1].t == pytest.approx(lapse + cfg.release_ms / 1000, abs=2 / FPS)


def test_close_ends_an_open_episode_and_only_one(touching):
    tracker = FaceTouchTracker()
    events, states = _run(tracker, _timed(touching, 30))
    assert [e.state for e in events] == [FaceTouchState.START] and states[-1]
    assert [e.state for e in tracker.close(1.0, 30)] == [FaceTouchState.END]
    assert tracker.close(1.1, 31) == []


def test_frame_without_face_model_is_not_judged(touching):
    decision = touch_score(replace(touching, faces=None))
    assert not decision.touching and "not run" in decision.reason


@pytest.mark.slow
def test_webcam_session_without_touches_gives_no_episode(observer, session35):
    """webcam_session35: a real person showing poses to a webcam, hands often beside or
    in front of the face, never touching it (timeline.csv). Each still is shown 5 times
    at 10 fps, as in the session's mp4."""
    with open(session35 / "timeline.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["face_touch"] for r in rows} <= {"no", "na"}
    frames, box_frames, with_face = [], 0, 0
    for r in rows:
        obs = observer.observe(session35 / r["file"])
        with_face += any(f.score >= 0.6 for f in obs.faces or ())
        box_frames += any(_box_overlap(obs, h) for h in obs.hands)
        lo, _hi = (int(v) for v in r["video_frames"].split("-"))
        frames.extend(replace(obs, t=(lo + k) / 10.0, frame=lo + k) for k in range(5))
    log.info("session35: %d stills with a face, box-overlap rule fires on %d", with_face, box_frames)
    assert with_face >= 20 and box_frames >= 4  # the plain rule would raise alarms here
    events, states = _run(FaceTouchTracker(), frames)
    assert events == [] and not any(states)


def test_config_checks_its_ranges():
    """Read from config.yaml's ``face_touch:`` section (``daemon.config.FaceTouchSettings``,
    tested with the file:line errors in tests/unit/daemon/test_config.py)."""
    with pytest.raises(ValueError, match="contact_inner .* must be below contact_outer"):
        FaceTouchConfig(contact_inner=2.0)
    with pytest.raises(ValueError, match="dwell_ms must not be negative"):
        FaceTouchConfig(dwell_ms=-1)
    with pytest.raises(ValueError, match="hold_radius .* must not be below contact_outer"):
        FaceTouchConfig(hold_radius=1.0)


# ---------------------------------------------------------------------------------
# Recorded traces through the real daemon (`handmap run --source TRACE --output dry-run`)
# ---------------------------------------------------------------------------------


def _dry_run_face_touches(tmp_path: Path, frames: list[FrameObservation]) -> list[dict]:
    import json
    import subprocess
    import sys

    from handmap.gestures.trace import encode_header, encode_observation

    trace = tmp_path / "trace.jsonl"
    trace.write_text(encode_header() + "\n" + "".join(encode_observation(f) + "\n" for f in frames))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        (tmp_path / var).mkdir()
        env[var] = str(tmp_path / var)
    result = subprocess.run(
        [sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(trace), "--output", "dry-run",
         "--no-tray", "--no-alerts", "--no-history"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [e for e in events if e["type"] == "face_touch"]


def test_daemon_reports_one_touch_episode_from_a_trace(tmp_path, touching):
    none = replace(touching, hands=(), body=None, near_face_hands=())
    frames = _timed(none, 15) + _timed(touching, 30, start=15) + _timed(none, 30, start=45)
    touches = _dry_run_face_touches(tmp_path, frames)
    cfg = FaceTouchConfig()
    assert [(e["state"], e["hand"]) for e in touches] == [("start", "left"), ("end", "left")]
    assert touches[0]["t"] == pytest.approx(0.5 + cfg.dwell_ms / 1000, abs=1.5 / FPS)
    assert touches[1]["t"] == pytest.approx(1.5 + cfg.release_ms / 1000, abs=1.5 / FPS)


def test_daemon_reports_no_touch_for_a_hand_near_the_face_trace(tmp_path, waving):
    """The constructed near-face sequences above, recorded as one trace: waving beside
    the head, a slow pass in front of the face twice as near the camera, a quick sweep
    across it at its depth."""
    base, hand, face = waving
    fx, fy, fw, fh = face.bbox
    c = _centre(hand)
    frames: list[FrameObservation] = []

    def add(h: HandObservation | None) -> None:
        i = len(frames)
        frames.append(replace(base, t=i / FPS, frame=i, hands=(h,) if h is not None else ()))

    for i in range(int(2 * FPS)):  # waving beside the head
        add(_moved(hand, np.array([c[0] + 0.18 * fw * (1 - np.cos(2 * np.pi * 2.0 * i / FPS)) / 2, c[1]]), 1.0))
    n = int(1.5 * FPS)
    for i in range(n):  # slow pass in front, twice as near
        add(_moved(hand, np.array([fx - 0.5 * fw + 2.0 * fw * i / (n - 1), fy + 0.6 * fh]), 2.0))
    for _ in range(15):
        add(None)
    n = int(0.2 * FPS)
    for i in range(n):  # quick sweep at the face's depth
        add(_moved(hand, np.array([fx + fw * (0.1 + 0.8 * i / (n - 1)), fy + 0.6 * fh]), 1.0))
    for _ in range(30):
        add(None)
    assert _dry_run_face_touches(tmp_path, frames) == []


# ---------------------------------------------------------------------------------
# Episodes that match touches: prompt ends, gaps, zones
# ---------------------------------------------------------------------------------


def _away(touching: FrameObservation) -> FrameObservation:
    """The touching photo's hand moved to the frame's corner, well off the face: the
    hand is in view and clearly not touching."""
    hand = max(touching.hands, key=lambda hd: touch_score(replace(touching, hands=(hd,), near_face_hands=())).score)
    return replace(touching, hands=(_moved(hand, np.array([0.08, 0.9]), 1.0),), body=None, near_face_hands=())


def test_hand_seen_leaving_ends_the_episode_at_once(touching):
    cfg = FaceTouchConfig()
    away = _away(touching)
    decision = touch_score(away)
    assert not decision.touching and decision.clear
    frames = _timed(away, 15) + _timed(touching, 30, start=15) + _timed(away, 30, start=45)
    events, _ = _run(FaceTouchTracker(cfg), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END]
    assert events[1].t == pytest.approx(1.5 + cfg.clear_release_ms / 1000, abs=1.5 / FPS)
    assert events[1].t - 1.5 <= 0.25


@pytest.mark.parametrize("gap_s", [0.35, 0.5, 1.0, 2.0])
def test_touches_apart_more_than_300ms_are_separate_episodes(touching, gap_s):
    away = _away(touching)
    gap = round(gap_s * FPS)
    frames = (_timed(away, 15) + _timed(touching, 30, start=15) + _timed(away, gap, start=45)
              + _timed(touching, 30, start=45 + gap) + _timed(away, 30, start=75 + gap))
    events, _ = _run(FaceTouchTracker(), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END] * 2


def test_a_touch_the_models_lose_for_200ms_stays_one_episode(touching):
    """The hand model often loses a hand lying on a face for a few frames: no hand in
    view is no evidence the touch ended, so it takes the longer release."""
    lost = replace(touching, hands=(), body=None, near_face_hands=())
    assert not touch_score(lost).clear
    frames = _timed(touching, 30) + _timed(lost, 6, start=30) + _timed(touching, 30, start=36)
    events, states = _run(FaceTouchTracker(), frames)
    assert [e.state for e in events] == [FaceTouchState.START]
    assert all(states[10:])


def test_episode_events_name_the_zone_touched(touching):
    from handmap.gestures.face_zones import touch_zone

    decision = touch_score(touching)
    assert decision.face is not None and decision.contact is not None
    zone = touch_zone(decision.face, decision.contact, touching.width / touching.height)
    assert zone is not None
    events, _ = _run(FaceTouchTracker(), _timed(touching, 30) + _timed(_away(touching), 15, start=30))
    assert [(e.state, e.zone) for e in events] == [(FaceTouchState.START, zone), (FaceTouchState.END, zone)]


def _at_the_rim(touching: FrameObservation) -> FrameObservation:
    """The touching photo's hand slid straight down, away from the face's centre, until
    its nearest fingertip lies past the contact reach but within the hold radius (the
    chin rest seen from the side, whose fingers wobble across the face's rim)."""
    cfg = FaceTouchConfig()
    obs = replace(touching, body=None, near_face_hands=())
    hand = max(obs.hands, key=lambda hd: touch_score(replace(obs, hands=(hd,))).score)
    c = _centre(hand)
    for step in np.linspace(0.0, 0.5, 101):
        moved = replace(obs, hands=(_moved(hand, np.array([c[0], c[1] + step]), 1.0),))
        cue = max(touch_score(moved).cues, key=lambda x: x.score)
        if cfg.contact_outer < cue.tip_radius <= cfg.hold_radius - 0.1:
            return moved
    raise AssertionError("no placement at the face's rim")


def test_a_touch_whose_fingers_wobble_across_the_rim_stays_one_episode(touching):
    """Past the contact reach (no touch on its own) but within ``hold_radius``: an
    episode under way goes on; the same frames alone start nothing, and the hand seen
    leaving still ends it at once."""
    rim = _at_the_rim(touching)
    assert not touch_score(rim).touching
    away = _away(touching)
    frames = (_timed(touching, 30) + _timed(rim, 15, start=30) + _timed(touching, 15, start=45)
              + _timed(away, 15, start=60))
    events, states = _run(FaceTouchTracker(), frames)
    assert [e.state for e in events] == [FaceTouchState.START, FaceTouchState.END]
    assert all(states[10:60])
    assert events[1].t - 60 / FPS <= 0.25
    events, _ = _run(FaceTouchTracker(), _timed(rim, 60))
    assert events == []
