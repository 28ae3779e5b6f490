"""Builds the pipeline's objects from the configuration (the entry point passes them in)."""

from __future__ import annotations

import logging

from handmap.daemon.config import Config
from handmap.daemon.paths import cache_dir
from handmap.daemon.perception.faces import FACE_MODEL_SHORT_RANGE
from handmap.daemon.perception.models import check_hand_task_file, face_model, hand_bundle
from handmap.daemon.perception.tracker import Tracker, TrackerSettings
from handmap.daemon.runtime.priority import background

log = logging.getLogger(__name__)


def make_tracker(config: Config, *, video: bool, max_hands: int | None = None, faces: bool | None = None,
                 body: bool | None = None, env: dict | None = None,
                 min_presence_confidence: float | None = None, near_face: bool | None = None,
                 settle: bool = False) -> Tracker:
    """A tracker for a stream (``video``) or for stills, with faces and body as configured;
    ``settle``: a file replayed as fast as it is read (``TrackerSettings.settle``)."""
    cache = cache_dir(env)
    model = check_hand_task_file(config.model.task_file) if config.model.task_file else hand_bundle(config.model.size, cache)
    want_faces = config.faces.enabled if faces is None else faces
    want_body = (config.faces.body_model and want_faces) if body is None else body
    body_model = finder = None
    with background():  # face checks' models run behind the pointer's path
        if want_body:
            from handmap.daemon.perception.body import BodyTracker, RunningMode

            body_model = BodyTracker(cache, RunningMode.VIDEO if video else RunningMode.IMAGE)
        if (config.faces.search_near_face if near_face is None else near_face) and want_faces:
            from handmap.daemon.perception.body import FaceRegionHandFinder

            finder = FaceRegionHandFinder(model)
    look_ahead_model = None
    if video and config.model.look_ahead:
        # "full": the model the tracker itself runs (your own task_file, when set).
        look_ahead_model = (model if config.model.look_ahead == "full" and config.model.task_file
                            else hand_bundle(config.model.look_ahead, cache))
    settings = TrackerSettings(
        hand_model=model,
        faces=config.faces.model if want_faces else None,
        face_model=face_model() if want_faces and config.faces.model == FACE_MODEL_SHORT_RANGE else None,
        max_hands=max_hands or config.model.max_hands,
        min_detection_confidence=config.model.min_detection_confidence,
        min_presence_confidence=config.model.min_presence_confidence if min_presence_confidence is None else min_presence_confidence,
        min_tracking_confidence=config.model.min_tracking_confidence,
        video=video,
        look_ahead=look_ahead_model is not None,
        look_ahead_model=look_ahead_model,
        hand_search_hz=config.model.hand_search_hz,
        face_mesh=want_faces and config.faces.mesh,
        settle=settle,
    )
    return Tracker(settings, body=body_model, near_face=finder)
