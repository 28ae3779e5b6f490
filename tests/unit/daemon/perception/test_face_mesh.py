"""The face mesh in a detected face's region, on the shared photos: it must find the
same landmarks as MediaPipe's own face mesh (which runs its own face detector on the
whole image), upright and tilted; nothing where there is no face; and the tracker runs
it only on a face a hand is near."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from builders import read_rgb

from handmap.daemon.perception.face_mesh import FaceMesh
from handmap.daemon.perception.faces import FullRangeFaces
from handmap.daemon.perception.tracker import Tracker, TrackerSettings
from handmap.gestures.face_zones import NUM_FACE_MESH_LANDMARKS_NO_IRIS
from handmap.gestures.types import FaceObservation

PHOTOS = ("ft/parvathi_1.jpg", "ft/DhanushAyogya750.jpg", "ft/mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg")
#: Mean distance to MediaPipe's own mesh, as a share of the face box's width (measured:
#: at most 1.2%, 3.2 px on a 270 px face).
MAX_MEAN_OFF = 0.02


def _reference(rgb: np.ndarray) -> np.ndarray:
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as model:
        found = model.process(rgb).multi_face_landmarks
    assert found
    return np.array([(p.x, p.y, p.z) for p in found[0].landmark])


@pytest.mark.parametrize("tilt", [0, 25, -30])
def test_mesh_in_the_detected_region_matches_mediapipes_face_mesh(data_dir: Path, tilt: int) -> None:
    detector, mesh = FullRangeFaces(0.5), FaceMesh()
    try:
        for name in PHOTOS:
            image = read_rgb(data_dir / "hands" / name)
            h, w = image.shape[:2]
            rgb = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0), (w, h))
            face = max(detector.detect(rgb), key=lambda f: f.bbox[2] * f.bbox[3])
            points = mesh.landmarks(rgb, face)
            assert points is not None and points.shape == (NUM_FACE_MESH_LANDMARKS_NO_IRIS, 3)
            off = np.hypot(*((points[:, :2] - _reference(rgb)[:, :2]) * [w, h]).T).mean() / (face.bbox[2] * w)
            assert off <= MAX_MEAN_OFF, f"{name} at {tilt} degrees: {off:.1%} of the face's width from MediaPipe's mesh"
    finally:
        detector.close()
        mesh.close()


def test_no_mesh_where_there_is_no_face(data_dir: Path) -> None:
    """A region of the photo's background, shaped like a face's, has no mesh."""
    rgb = read_rgb(data_dir / "hands" / "ft" / "parvathi_1.jpg")
    blank = np.full_like(rgb, 128)
    nowhere = FaceObservation(bbox=(0.3, 0.3, 0.3, 0.2), score=0.9,
                              keypoints=((0.4, 0.38), (0.5, 0.38), (0.45, 0.42), (0.45, 0.46), (0.3, 0.4), (0.6, 0.4)))
    with_face = max(FullRangeFaces(0.5).detect(rgb), key=lambda f: f.bbox[2])
    mesh = FaceMesh()
    try:
        assert mesh.landmarks(blank, nowhere) is None
        assert mesh.landmarks(blank, with_face) is None
        assert mesh.landmarks(rgb, with_face) is not None  # the same region with the face in it
    finally:
        mesh.close()


def test_tracker_runs_the_mesh_only_on_a_face_a_hand_is_near(data_dir: Path, tmp_path: Path) -> None:
    from handmap.daemon.perception.models import hand_bundle

    photos = data_dir / "hands" / "ft"
    tracker = Tracker(TrackerSettings(hand_model=hand_bundle("lite", tmp_path), video=False, face_mesh=True))
    try:
        observed = tracker.observe(read_rgb(photos / "parvathi_1.jpg"), 0.0, 0)  # a hand over the mouth
        assert observed.hands and observed.faces
        assert all(face.mesh is not None for face in observed.faces), "a hand on the face, and no mesh"
        # Another photo's face (in the middle) and that hand, a quarter its size, in the
        # top left corner.
        small = read_rgb(photos / "mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg")
        hand = observed.hands[0]
        corner = hand.landmarks.copy()
        corner[:, :2] = (corner[:, :2] - corner[:, :2].min(axis=0)) * 0.25 + 0.02
        far = [replace(hand, landmarks=corner)]
        faces = tracker.faces(small, far)
        assert faces and all(face.mesh is None for face in faces)
        assert all(face.mesh is not None for face in tracker.faces(small, ()))  # no hand to go by: the mesh runs
    finally:
        tracker.close()


def test_a_graph_that_cannot_be_built_leaves_the_keypoint_zones(monkeypatch, caplog) -> None:
    """Where this mediapipe has no face landmark graph to run alone (another version),
    the mesh is off with one warning instead of the daemon failing to start."""
    import mediapipe as mp

    def refused(*args, **kwargs):
        raise RuntimeError("No registered object with name: FaceLandmarkCpu")

    monkeypatch.setattr(mp, "CalculatorGraph", refused)  # no other mediapipe can be installed here
    assert FaceMesh.create() is None
    assert "face zones come from the face detector's six keypoints" in caplog.text
