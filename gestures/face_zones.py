"""Face zones: which part of a face (``FaceZone``) a hand's contact point is on.

``touch_zone`` works in the face's own frame (origin between the eyes, x along the eye
line, y down the face), so a tilted head gives the same zones as an upright one. With
the face mesh (``FaceObservation.mesh``, 478 points) the zones are the mesh's outlines
of the eyes, nose, lips and face oval; without it, a coarser geometry around the face
detector's six keypoints (``FaceKeypoint``), so zones work when the mesh is off.
Pure functions, no MediaPipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmap.gestures.landmarks import FaceKeypoint
from handmap.gestures.types import FaceObservation, FaceZone

# ---------------------------------------------------------------------------------
# MediaPipe face-mesh landmark indices: the one table of them (the outlines of
# mediapipe.solutions.face_mesh_connections, as ordered index lists).
# ---------------------------------------------------------------------------------

#: Number of face-mesh landmarks with the iris points (FaceLandmarker, refine_landmarks).
NUM_FACE_MESH_LANDMARKS = 478
#: The face-mesh points the mesh has without the iris refinement.
NUM_FACE_MESH_LANDMARKS_NO_IRIS = 468

MESH_FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148,
                  152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)
#: The eyes as the image shows them: the subject's right eye is on the image's left.
MESH_RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
MESH_LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
MESH_RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
MESH_LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
#: Each eye with its upper lid up to the brow's lower edge: the outline (convex hull) of
#: the eye's and the lower brow's points, in order (the same on every face measured).
MESH_RIGHT_EYE_REGION = (7, 33, 46, 53, 52, 65, 55, 133, 155, 153, 145, 144, 163)
MESH_LEFT_EYE_REGION = (249, 390, 373, 374, 380, 382, 362, 285, 295, 282, 283, 276, 263)
#: The nose from the bridge between the eyes to the nostrils: the outline (convex hull)
#: of the mesh's nose points, in order.
MESH_NOSE_OUTLINE = (2, 97, 98, 64, 48, 168, 278, 294, 327, 326)
MESH_LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40,
                   185)
MESH_FOREHEAD_TOP = 10
#: The mouth's corners (the subject's right, left).
MESH_MOUTH_CORNERS = (61, 291)
#: The chin on the face oval: from below one mouth corner to below the other. Seen from
#: the side, this arc is how far the chin reaches along the jaw (the eye distance, which
#: sets the other margins, shrinks as the head turns; the jaw's depth does not).
MESH_CHIN_ARC = (150, 149, 176, 148, 152, 377, 400, 378, 379)
MESH_CHIN_BOTTOM = 152
MESH_NOSE_TIP = 1
MESH_LOWER_LIP_BOTTOM = 17

#: The outlines and points ``touch_zone`` reads, in one index list (one transform a call).
_GROUPS = (MESH_NOSE_OUTLINE, MESH_RIGHT_EYE_REGION, MESH_LEFT_EYE_REGION, MESH_LIPS_OUTER,
           MESH_RIGHT_BROW_UPPER + MESH_LEFT_BROW_UPPER, (MESH_LOWER_LIP_BOTTOM, MESH_FOREHEAD_TOP),
           MESH_MOUTH_CORNERS, MESH_FACE_OVAL)
_READ = [i for group in _GROUPS for i in group]
_ENDS = np.cumsum([len(group) for group in _GROUPS])[:-1]
#: Where the chin arc's points are in ``MESH_FACE_OVAL``.
_CHIN_ARC_IN_OVAL = frozenset(MESH_FACE_OVAL.index(i) for i in MESH_CHIN_ARC)

# ---------------------------------------------------------------------------------
# Margins, in eye distances (the distance between the two eye centres).
# ---------------------------------------------------------------------------------

#: How far around an eye (eye and lower brow outline) a contact still counts as the eye.
EYE_MARGIN = 0.12
#: Around the lips.
MOUTH_MARGIN = 0.15
#: Around the face oval: a contact this close outside it is still on the face.
OVAL_MARGIN = 0.08
#: Below the lower lip, a contact within this of the mouth's midline is the chin.
CHIN_HALF_WIDTH = 0.8
#: Beside the eyes and beyond the face oval: the temple, up to this far out.
TEMPLE_REACH = 0.6
#: Above the brows and beyond the oval (or above its top): hair, up to this far out.
HAIR_REACH = 1.5
#: How far below the eye line the temple reaches.
TEMPLE_BELOW_EYES = 0.3
#: Below the lower lip and beyond the oval: the chin, up to this far out (a hand that
#: holds the chin from below touches it with its top edge, outside the face's outline).
CHIN_REACH = 0.6
#: Beside the lower face and beyond the oval: the cheek (the jaw's edge), up to this far.
JAW_REACH = 0.3


@dataclass(frozen=True)
class _Frame:
    """The face's frame: origin, unit x (along the eye line), unit y (down the face),
    and the scale (one eye distance), in aspect-corrected image units."""

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    scale: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """Points (n, 2, aspect-corrected) as face-frame coordinates in eye distances."""
        rel = np.asarray(points, dtype=float) - self.origin
        return np.stack([rel @ self.x_axis, rel @ self.y_axis], axis=-1) / self.scale


def _frame(right_eye: np.ndarray, left_eye: np.ndarray, below: np.ndarray) -> _Frame | None:
    """The frame from the two eye centres and a point below them (nose or mouth)."""
    origin = (right_eye + left_eye) / 2.0
    span = left_eye - right_eye
    scale = float(np.hypot(*span))
    if not np.isfinite(scale) or scale <= 1e-6:
        return None
    x_axis = span / scale
    y_axis = np.array([-x_axis[1], x_axis[0]])
    if float((below - origin) @ y_axis) < 0:
        y_axis = -y_axis
    return _Frame(origin, x_axis, y_axis, scale)


def _edges(polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each edge's start and end points of a closed polygon."""
    return polygon, np.concatenate([polygon[1:], polygon[:1]])


def _inside(point: np.ndarray, polygon: np.ndarray) -> bool:
    """Whether ``point`` is inside the closed polygon (even-odd rule)."""
    x, y = float(point[0]), float(point[1])
    a, b = _edges(polygon)
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    return bool(np.count_nonzero(crosses & (x < at)) % 2)


def _distance(point: np.ndarray, polygon: np.ndarray) -> float:
    """The distance from ``point`` to the closed polygon: 0 inside, else to its edges."""
    if _inside(point, polygon):
        return 0.0
    a, b = _edges(polygon)
    ab = b - a
    length2 = np.maximum((ab * ab).sum(axis=1), 1e-12)
    t = np.clip(((point - a) * ab).sum(axis=1) / length2, 0.0, 1.0)
    nearest = a + t[:, None] * ab
    return float(np.min(np.hypot(*(nearest - point).T)))


def touch_zone(face: FaceObservation, contact: tuple[float, float], aspect: float = 1.0) -> FaceZone | None:
    """The zone of ``face`` that the normalised image point ``contact`` is on, or None
    when it is off the face and its surroundings (or the face has too little to go by).

    ``aspect`` is the image's width over height (``FrameObservation.aspect``), so that a
    tilted face is measured in true proportions. The mesh is used when the face has one.
    """
    point = np.array([contact[0] * aspect, contact[1]], dtype=float)
    if not np.all(np.isfinite(point)):
        return None
    mesh = face.mesh
    if mesh is not None and len(mesh) >= NUM_FACE_MESH_LANDMARKS_NO_IRIS:
        xy = np.asarray(mesh, dtype=float)[:, :2] * np.array([aspect, 1.0])
        return _mesh_zone(xy, point)
    if len(face.keypoints) >= len(FaceKeypoint):
        kp = np.asarray(face.keypoints, dtype=float)[:, :2] * np.array([aspect, 1.0])
        return _keypoint_zone(kp, point)
    return None


def _mesh_zone(xy: np.ndarray, point: np.ndarray) -> FaceZone | None:
    right_eye = xy[list(MESH_RIGHT_EYE)].mean(axis=0)
    left_eye = xy[list(MESH_LEFT_EYE)].mean(axis=0)
    frame = _frame(right_eye, left_eye, xy[MESH_CHIN_BOTTOM])
    if frame is None:
        return None
    p = frame.local(point[None, :])[0]
    nose, right_region, left_region, lips, brows, (lip_bottom, top), corners, oval = np.split(
        frame.local(xy[_READ]), _ENDS)
    if _inside(p, nose):
        return FaceZone.NOSE
    if min(_distance(p, right_region), _distance(p, left_region)) <= EYE_MARGIN:
        return FaceZone.EYES
    if _distance(p, lips) <= MOUTH_MARGIN:
        return FaceZone.MOUTH

    brow_line = float(brows[:, 1].mean())
    off_oval = _distance(p, oval)
    # The chin: below the lower lip near the face's midline, or below the mouth nearest the
    # oval's chin arc (how far the chin reaches along the jaw, however the head is turned).
    chin = (p[1] > lip_bottom[1] and abs(p[0] - lip_bottom[0]) <= CHIN_HALF_WIDTH
            or p[1] > float(corners[:, 1].max()) and int(np.argmin(np.hypot(*(oval - p).T))) in _CHIN_ARC_IN_OVAL)
    if off_oval <= OVAL_MARGIN:
        if chin:
            return FaceZone.CHIN
        if p[1] < brow_line:
            return FaceZone.FOREHEAD
        return FaceZone.CHEEK
    # Beyond the face's outline.
    if p[1] < top[1]:
        return FaceZone.HAIR if off_oval <= HAIR_REACH else None
    if p[1] <= TEMPLE_BELOW_EYES and off_oval <= TEMPLE_REACH:
        return FaceZone.TEMPLE
    if p[1] < brow_line and off_oval <= HAIR_REACH:
        return FaceZone.HAIR
    if chin and off_oval <= CHIN_REACH:
        return FaceZone.CHIN
    if off_oval <= JAW_REACH:
        return FaceZone.CHEEK
    return None


# Keypoint geometry: x in eye distances from the eye line's midpoint, y in eye-to-mouth
# distances (which turning the head changes less than the eye distance).

#: Half-width and half-height of the ellipse around each eye keypoint.
KP_EYE_RADII = (0.42, 0.32)
#: Half-width of the nose, from the eyes' midline to the nose tip (and a bit below it).
KP_NOSE_HALF_WIDTH = 0.28
KP_NOSE_BELOW_TIP = 0.15
#: The ellipse around the mouth keypoint.
KP_MOUTH_RADII = (0.5, 0.2)
#: The chin: below the mouth ellipse down to this (in eye-to-mouth distances).
KP_CHIN_BOTTOM = 1.9
KP_CHIN_HALF_WIDTH = 0.65
#: The brows and the hairline, above the eye line.
KP_BROW = -0.3
KP_HAIRLINE = -1.05
KP_HEAD_TOP = -2.0
#: The face's half-width (cheeks, forehead) and how far beyond it the temple reaches.
KP_FACE_HALF_WIDTH = 0.95
KP_TEMPLE_OUTER = 1.4
KP_TEMPLE_TOP = -0.7
KP_TEMPLE_BOTTOM = 0.35
KP_CHEEK_BOTTOM = 1.3
#: The smallest eye distance, in eye-to-mouth distances (a face seen from the side).
KP_MIN_EYE_DISTANCE = 0.6


def _keypoint_zone(kp: np.ndarray, point: np.ndarray) -> FaceZone | None:
    right_eye, left_eye = kp[FaceKeypoint.RIGHT_EYE], kp[FaceKeypoint.LEFT_EYE]
    mouth = kp[FaceKeypoint.MOUTH]
    frame = _frame(right_eye, left_eye, mouth)
    if frame is None:
        return None
    local = frame.local(np.stack([point, right_eye, left_eye, kp[FaceKeypoint.NOSE_TIP], mouth]))
    mouth_down = float(local[4][1])
    if mouth_down <= 1e-6:
        return None
    # x in eye distances (at least KP_MIN_EYE_DISTANCE eye-to-mouth), y in eye-to-mouth.
    x_unit = max(1.0, KP_MIN_EYE_DISTANCE * mouth_down)
    scaled = local / np.array([x_unit, mouth_down])
    p, reye, leye, nose, mth = scaled
    x, y = float(p[0]), float(p[1])
    for eye in (reye, leye):
        if ((x - eye[0]) / KP_EYE_RADII[0]) ** 2 + ((y - eye[1]) / KP_EYE_RADII[1]) ** 2 <= 1.0:
            return FaceZone.EYES
    if 0.0 < y <= nose[1] + KP_NOSE_BELOW_TIP:
        midline = nose[0] * min(1.0, y / max(nose[1], 1e-6))
        if abs(x - midline) <= KP_NOSE_HALF_WIDTH:
            return FaceZone.NOSE
    if ((x - mth[0]) / KP_MOUTH_RADII[0]) ** 2 + ((y - mth[1]) / KP_MOUTH_RADII[1]) ** 2 <= 1.0:
        return FaceZone.MOUTH
    centre = float(mth[0])
    if mth[1] < y <= KP_CHIN_BOTTOM and abs(x - centre) <= KP_CHIN_HALF_WIDTH:
        return FaceZone.CHIN
    if KP_HAIRLINE <= y < KP_BROW and abs(x) <= KP_FACE_HALF_WIDTH:
        return FaceZone.FOREHEAD
    if KP_TEMPLE_TOP <= y <= KP_TEMPLE_BOTTOM and KP_FACE_HALF_WIDTH < abs(x) <= KP_TEMPLE_OUTER:
        return FaceZone.TEMPLE
    if KP_BROW <= y <= KP_CHEEK_BOTTOM and abs(x - centre * max(0.0, y)) <= KP_FACE_HALF_WIDTH:
        return FaceZone.CHEEK
    if KP_HEAD_TOP <= y < KP_HAIRLINE and abs(x) <= KP_TEMPLE_OUTER:
        return FaceZone.HAIR
    if KP_HEAD_TOP <= y < KP_TEMPLE_TOP and abs(x) <= KP_TEMPLE_OUTER:
        return FaceZone.HAIR
    return None
