"""The body (pose) model built offline from the mediapipe wheel, and the second look for
hands around a face, on real photographs."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from builders import read_rgb

cv2 = pytest.importorskip("cv2")
mp = pytest.importorskip("mediapipe")

from handmap.daemon.perception import models  # noqa: E402
from handmap.daemon.perception.body import (  # noqa: E402
    POSE_DETECTOR_MEMBER,
    POSE_LANDMARKS_MEMBER,
    BodyTracker,
    FaceRegionHandFinder,
    ModelBuildError,
    RunningMode,
    build_pose_bundle,
)
from handmap.gestures.landmarks import BodyLandmark, HandLandmark  # noqa: E402
from handmap.gestures.types import FaceObservation  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("handmap-cache")


@pytest.fixture(scope="module")
def hand_bundle(cache) -> Path:
    return models.hand_bundle("full", cache)


@pytest.fixture(scope="module")
def face_detector():
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    det = vision.FaceDetector.create_from_options(
        vision.FaceDetectorOptions(base_options=mp_tasks.BaseOptions(model_asset_path=str(models.face_model())))
    )
    yield det
    det.close()


def _faces(detector, rgb: np.ndarray) -> list[FaceObservation]:
    h, w = rgb.shape[:2]
    out = []
    for d in detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).detections:
        b = d.bounding_box
        out.append(
            FaceObservation(
                bbox=(b.origin_x / w, b.origin_y / h, b.width / w, b.height / h),
                score=d.categories[0].score,
                keypoints=tuple((k.x, k.y) for k in d.keypoints),
            )
        )
    return out


def test_bundle_is_built_once_with_the_member_names_posetasks_expects(cache):
    first = build_pose_bundle(cache)
    with zipfile.ZipFile(first) as z:
        assert sorted(z.namelist()) == sorted([POSE_DETECTOR_MEMBER, POSE_LANDMARKS_MEMBER])
    stamp = first.stat().st_mtime_ns
    again = build_pose_bundle(cache)
    assert again == first and again.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not list(cache.glob("*.tmp*"))


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(ModelBuildError, match="cannot write the pose model to .*XDG_CACHE_HOME"):
        build_pose_bundle(blocker / "handmap")


def test_image_mode_finds_the_person_and_their_face(data_dir, cache, face_detector):
    rgb = read_rgb(data_dir / "hands" / "ht" / "7.jpg")
    with BodyTracker(cache, RunningMode.IMAGE) as body:
        obs = body.detect(rgb, None)
    assert obs is not None
    lm = obs.landmarks
    assert lm.shape == (33, 4)
    assert np.all((lm[:, 3] >= 0) & (lm[:, 3] <= 1))
    # The body model's nose lies inside the face detector's box for the same person.
    (face,) = [f for f in _faces(face_detector, rgb) if f.score > 0.9]
    fx, fy, fw, fh = face.bbox
    nx, ny = lm[BodyLandmark.NOSE, :2]
    assert fx < nx < fx + fw and fy < ny < fy + fh
    # The person's right hand (image left) is raised beside the head, fingers up, on
    # the image's left of the face; the left one rests on the desk, far below.
    assert lm[BodyLandmark.RIGHT_INDEX, 1] < lm[BodyLandmark.RIGHT_SHOULDER, 1]
    assert lm[BodyLandmark.RIGHT_INDEX, 1] < lm[BodyLandmark.RIGHT_WRIST, 1]
    assert lm[BodyLandmark.RIGHT_INDEX, 0] < fx
    assert lm[BodyLandmark.LEFT_WRIST, 1] > lm[BodyLandmark.LEFT_SHOULDER, 1] + 0.3


def test_image_with_no_person_gives_none(data_dir, cache):
    # ht/4.jpg: four hands, no body in view.
    with BodyTracker(cache, RunningMode.IMAGE) as body:
        assert body.detect(read_rgb(data_dir / "hands" / "ht" / "4.jpg"), None) is None


def test_video_mode_tracks_and_survives_a_repeated_timestamp(data_dir, cache):
    rgb = cv2.resize(read_rgb(data_dir / "hands" / "ht" / "7.jpg"), (640, 480))
    noses = []
    with BodyTracker(cache, RunningMode.VIDEO) as body:
        for i, ts in enumerate([0, 100, 200, 200, 150, 300]):  # a repeat and a step back
            obs = body.detect(np.roll(rgb, 2 * i, axis=1), ts)
            assert obs is not None
            noses.append(obs.landmarks[BodyLandmark.NOSE, :2].copy())
    # The image shifts 2 px per frame: the nose follows, smoothly.
    steps = np.diff(np.array(noses)[:, 0]) * 640
    assert np.all(np.abs(steps) < 8)


def test_second_look_around_the_face_finds_the_finger_on_the_chin(data_dir, hand_bundle, face_detector):
    """ht/8.jpg: a finger touches the man's chin from below; MediaPipe's hand model on
    the whole image does not find that hand (labels.csv), a crop around the face does."""
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    rgb = read_rgb(data_dir / "hands" / "ht" / "8.jpg")
    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
    full = vision.HandLandmarker.create_from_options(
        vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(hand_bundle)),
            running_mode=vision.RunningMode.IMAGE,
            num_hands=4,
        )
    )
    from handmap.gestures.types import Handedness, HandObservation

    known = [
        HandObservation(np.array([[p.x, p.y, p.z] for p in lms], dtype=np.float32), Handedness.RIGHT, 1.0)
        for lms in full.detect(image).hand_landmarks
    ]
    full.close()
    (face,) = [f for f in _faces(face_detector, rgb) if f.score > 0.9]
    fx, fy, fw, fh = face.bbox
    chin_x = fx + fw / 2

    def near_chin(hand) -> bool:
        tip = hand.landmarks[HandLandmark.INDEX_TIP]
        return abs(tip[0] - chin_x) < 0.25 * fw and fy + 0.8 * fh < tip[1] < fy + 1.3 * fh

    assert not any(near_chin(h) for h in known)
    finder = FaceRegionHandFinder(hand_bundle)
    try:
        new = finder.find(rgb, [face], known)
        # A doubtful face (below the finder's score) is not searched around.
        assert finder.find(rgb, [replace(face, score=0.5)], known) == ()
    finally:
        finder.close()
    assert any(near_chin(h) for h in new)
    # Hands the main tracker already had are not reported again.
    assert len(new) <= 2
