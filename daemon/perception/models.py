"""Model files: MediaPipe Tasks bundles assembled offline from the models inside the
mediapipe wheel (no download, ever), or a ``.task`` file the user points at."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from pathlib import Path

from handmap.daemon.files import atomic_file

log = logging.getLogger(__name__)

#: Members a HandLandmarker ``.task`` bundle must hold.
HAND_BUNDLE_MEMBERS = ("hand_detector.tflite", "hand_landmarks_detector.tflite")

#: The wheel's models for each hand model size: palm detector, landmark model.
HAND_WHEEL_MODELS: Mapping[str, tuple[str, str]] = {
    "full": ("palm_detection/palm_detection_full.tflite", "hand_landmark/hand_landmark_full.tflite"),
    "lite": ("palm_detection/palm_detection_lite.tflite", "hand_landmark/hand_landmark_lite.tflite"),
}
FACE_WHEEL_MODEL = "face_detection/face_detection_short_range.tflite"
#: The legacy graphs feed these models an RGB image scaled to [0, 1]; the Tasks API
#: reads that from a model's metadata, which some of the wheel's models lack.
IMAGE_NORM_MEAN = 0.0
IMAGE_NORM_STD = 255.0


class ModelError(Exception):
    """A model that cannot be found or used; the message says what to do."""


def wheel_models_dir() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent / "modules"


def _wheel_model(relative: str) -> Path:
    path = wheel_models_dir() / relative
    if not path.is_file():
        import mediapipe

        raise ModelError(
            f"the mediapipe wheel has no {relative} (mediapipe {mediapipe.__version__}); "
            "handmap needs mediapipe 0.10.21, whose wheel carries the models: "
            "reinstall with `bash scripts/setup.sh`, or set model.task_file to your own hand_landmarker.task"
        )
    return path


def has_metadata(model: bytes) -> bool:
    from mediapipe.tasks.python.metadata import metadata

    try:
        metadata.MetadataDisplayer.with_model_buffer(model)
    except ValueError:
        return False
    return True


def with_image_metadata(model: bytes, name: str, description: str) -> bytes:
    """The model with the input-normalisation metadata the Tasks API requires (added
    with mediapipe's own metadata writer when missing; the weights are untouched)."""
    if has_metadata(model):
        return model
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    try:
        writer = metadata_writer.MetadataWriter.create(bytearray(model))
        writer.add_general_info(name, description)
        writer.add_image_input(norm_mean=[IMAGE_NORM_MEAN], norm_std=[IMAGE_NORM_STD])
        for _ in writer_utils.get_output_tensor_types(model):
            writer.add_feature_output()
        content, _ = writer.populate()
    except Exception as exc:  # the writer's errors are of many kinds
        raise ModelError(f"could not add input metadata to the bundled model {name}: {exc}") from exc
    return bytes(content)


def build_bundle(members: Mapping[str, Path], dest: Path) -> Path:
    """Write a Tasks bundle (a zip of tflite files) atomically; reuse it when present.

    Models without metadata get the input normalisation their legacy graph used.
    """
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(dest) as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, source in members.items():
            data = with_image_metadata(source.read_bytes(), source.stem, f"{source.name} from the mediapipe wheel")
            bundle.writestr(name, data)
    log.info("built model bundle %s", dest)
    return dest


def check_hand_task_file(path: Path) -> Path:
    """A user-supplied HandLandmarker bundle, checked before MediaPipe sees it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"model.task_file {path} does not exist; point it at a hand_landmarker.task file or remove it")
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
    except zipfile.BadZipFile:
        raise ModelError(f"model.task_file {path} is not a MediaPipe .task bundle (not a zip file)") from None
    missing = [m for m in HAND_BUNDLE_MEMBERS if m not in names]
    if missing:
        raise ModelError(f"model.task_file {path} is not a HandLandmarker bundle: it lacks {', '.join(missing)}")
    return path


def hand_bundle(size: str, cache: Path) -> Path:
    """The HandLandmarker bundle for ``size`` ("full" or "lite"), built on first use."""
    import mediapipe

    if size not in HAND_WHEEL_MODELS:
        raise ModelError(f"unknown hand model size {size!r}; use 'full' or 'lite'")
    detector, landmarks = HAND_WHEEL_MODELS[size]
    dest = cache / "models" / f"hand_landmarker_{size}-mediapipe{mediapipe.__version__}.task"
    return build_bundle(
        {HAND_BUNDLE_MEMBERS[0]: _wheel_model(detector), HAND_BUNDLE_MEMBERS[1]: _wheel_model(landmarks)}, dest
    )


def face_model() -> Path:
    """The wheel's short-range face detector (loads directly in the Tasks FaceDetector)."""
    return _wheel_model(FACE_WHEEL_MODEL)
