"""``handmap detect`` over the real photos in ../shared/data/hands."""

from __future__ import annotations

import csv
from collections import defaultdict

import jsonschema
import pytest
from cli import handmap, json_lines

# CONTRACTS.md, `handmap detect --json`, as a JSON schema.
HAND_CLASSES = {0: "hand", 1: "open", 2: "closed", 3: "pinch", 4: "point"}
DETECT_SCHEMA = {
    "type": "object",
    "required": ["image", "width", "height", "face_touch", "predictions"],
    "properties": {
        "image": {"type": "string"},
        "width": {"type": "integer", "minimum": 1},
        "height": {"type": "integer", "minimum": 1},
        "face_touch": {"type": "boolean"},
        "predictions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["class", "label", "score", "bbox"],
                "properties": {
                    "class": {"type": "integer", "minimum": 0, "maximum": 7},
                    "label": {"enum": ["hand", "open", "closed", "pinch", "point", "face", "tip", "pinchtip"]},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                    "handedness": {"enum": ["left", "right"]},
                    "landmarks": {
                        "type": "array", "minItems": 21, "maxItems": 21,
                        "items": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
                    },
                },
                "allOf": [
                    {"if": {"properties": {"class": {"maximum": 4}}},
                     "then": {"required": ["handedness", "landmarks"]},
                     "else": {"not": {"anyOf": [{"required": ["handedness"]}, {"required": ["landmarks"]}]}}},
                ],
            },
        },
    },
}
CLASS_LABELS = {**HAND_CLASSES, 5: "face", 6: "tip", 7: "pinchtip"}


@pytest.fixture(scope="module")
def labels(data_dir):
    with open(data_dir / "hands" / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def detected(data_dir, labels):
    """`handmap detect --json` over every labelled image, in one run."""
    files = sorted({row["file"] for row in labels})
    done = handmap("detect", "--json", *[str(data_dir / "hands" / f) for f in files])
    assert done.returncode == 0, done.stderr
    results = json_lines(done.stdout)
    assert len(results) == len(files)
    return {f: r for f, r in zip(files, results)}


def test_json_follows_the_contract(detected):
    for result in detected.values():
        jsonschema.validate(result, DETECT_SCHEMA)
        for p in result["predictions"]:
            assert p["label"] == CLASS_LABELS[p["class"]]
            x, y, w, h = p["bbox"]
            assert w > 0 and h > 0


def test_every_hand_mediapipe_finds_is_found_with_its_centre_in_the_box(detected, labels):
    missing = []
    for row in labels:
        if row["detected_by_mediapipe"] != "yes":
            continue
        result = detected[row["file"]]
        cx = float(row["hand_center_x"]) * result["width"]
        cy = float(row["hand_center_y"]) * result["height"]
        hands = [p for p in result["predictions"] if p["class"] in HAND_CLASSES]
        inside = [p for p in hands if p["bbox"][0] <= cx <= p["bbox"][0] + p["bbox"][2]
                  and p["bbox"][1] <= cy <= p["bbox"][1] + p["bbox"][3]]
        if not inside:
            missing.append(f"{row['file']} ({row['pose']} at {cx:.0f},{cy:.0f})")
    assert not missing, "hands not found: " + ", ".join(missing)


def test_faces_are_found_where_labelled(detected, labels):
    with_face = defaultdict(bool)
    for row in labels:
        with_face[row["file"]] |= row["face_touch"] in ("yes", "no")
    missing = [f for f, has in with_face.items() if has and not any(p["class"] == 5 for p in detected[f]["predictions"])]
    assert not missing, "faces not found in: " + ", ".join(missing)


def test_tips_belong_to_hands(detected):
    for result in detected.values():
        hands = [p for p in result["predictions"] if p["class"] in HAND_CLASSES]
        for p in result["predictions"]:
            if p["class"] == 6:  # an index fingertip: inside its hand's box
                hand = hands[p["hand"]]
                cx, cy = p["bbox"][0] + p["bbox"][2] / 2, p["bbox"][1] + p["bbox"][3] / 2
                assert hand["bbox"][0] <= cx <= hand["bbox"][0] + hand["bbox"][2]
                assert hand["bbox"][1] <= cy <= hand["bbox"][1] + hand["bbox"][3]
            if p["class"] == 7:
                assert hands[p["hand"]]["label"] == "pinch"


def test_table_and_annotated_images(data_dir, tmp_path):
    import cv2

    image = data_dir / "hands" / "ht" / "5.jpg"
    done = handmap("detect", str(image), "--annotate", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "5.jpg" in done.stdout and "point" in done.stdout and "face" in done.stdout
    drawn = cv2.imread(str(tmp_path / "out" / "5.jpg"))
    original = cv2.imread(str(image))
    assert drawn is not None and drawn.shape == original.shape
    # Boxes, labels and landmarks change a visible share of the pixels.
    changed = (abs(drawn.astype(int) - original.astype(int)).sum(axis=2) > 60).mean()
    assert changed > 0.01


def test_face_touch_in_the_contract_json(detected, labels):
    """`face_touch` is true where a labelled hand touches the face (ht/8.jpg's finger on
    the chin is found only by the second look around the face), false with no hand."""
    touching = {row["file"] for row in labels if row["face_touch"] == "yes"}
    assert "ht/8.jpg" in touching
    for name in touching:
        assert detected[name]["face_touch"] is True, name
    no_hand = "ft/mother-and-son-mom-kid-woman-royalty-free-thumbnail.jpg"
    assert detected[no_hand]["face_touch"] is False
    assert not any(p["class"] in HAND_CLASSES for p in detected[no_hand]["predictions"])


SMALL_CROWDED_PHOTOS = ("hg_s/hagrid_samples_r3c3.png", "hg_s/hagrid_samples_r0c5.png", "ht/3.jpg", "ft/parvathi_1.jpg")


def test_annotated_labels_never_overlap_or_leave_the_image(data_dir, tmp_path):
    """On small photos with hands, tips and faces close together (two hands by a face
    216 px wide, a label at the right edge), every label is whole inside the image and
    none covers another; the face-touch verdict is drawn in the corner."""
    import cv2
    import numpy as np

    from handmap.daemon.tools.annotate import NO_TOUCH_COLOUR, TOUCH_COLOUR, annotate
    from handmap.daemon.tools.predictions import Prediction

    photos = [data_dir / "hands" / name for name in SMALL_CROWDED_PHOTOS]
    done = handmap("detect", "--json", "--annotate", str(tmp_path / "out"), *map(str, photos))
    assert done.returncode == 0, done.stderr
    results = json_lines(done.stdout)
    verdicts = set()
    for photo, result in zip(photos, results):
        drawn = cv2.imread(str(tmp_path / "out" / photo.name))
        height, width = drawn.shape[:2]
        preds = [Prediction(p["class"], p["label"], p["score"], tuple(p["bbox"]), p.get("handedness"),
                            np.array(p["landmarks"]) if "landmarks" in p else None) for p in result["predictions"]]
        assert len(preds) >= 3, photo  # hands, tips and faces: enough to collide
        labels = annotate(cv2.imread(str(photo)), preds, result["face_touch"]).labels
        assert labels[0].text == f"face touch: {'yes' if result['face_touch'] else 'no'}"
        verdicts.add(result["face_touch"])
        for i, label in enumerate(labels):
            x, y, w, h = label.rect
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, (photo.name, label)
            for other in labels[i + 1:]:
                ox, oy, ow, oh = other.rect
                assert x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y, (photo.name, label, other)
            # What the CLI wrote shows each label there: its colour fills the space between the letters.
            patch = drawn[y + 1:y + h - 1, x + 1:x + w - 1].astype(int)  # inside its edge
            filled = (np.abs(patch - np.array(label.colour)).sum(axis=2) < 40).mean()
            assert filled > 0.2, (photo.name, label, filled)
        # The verdict is in the top-left corner, red for a touch (its fill checked above).
        assert labels[0].rect[:2] == (0, 0)
        assert labels[0].colour == (TOUCH_COLOUR if result["face_touch"] else NO_TOUCH_COLOUR)
    assert verdicts == {True, False}  # both verdicts seen drawn
