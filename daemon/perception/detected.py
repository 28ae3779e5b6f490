"""What the hand model found in one frame (``DetectedHand``), as the tracker hands it to
the pipeline, and how the pipeline turns it into ``HandObservation``s.

The hand model's own words, kept as they come (no copy, no relabelling) on the hand
model's thread; ``hand_observations`` builds the gesture stage's observations off it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handmap.gestures.types import Handedness, HandObservation, LandmarkQuality

#: MediaPipe's handedness label for a left hand (as if the image were a mirrored selfie view).
MEDIAPIPE_LEFT = "left"


@dataclass(frozen=True, slots=True)
class DetectedHand:
    """One hand as the hand model reports it."""

    landmarks: np.ndarray  # 21 normalised (x, y, z) points, float64, shape (21, 3)
    handedness: str  # MediaPipe's label ("Left"/"Right", as if the image were mirrored)
    score: float  # the handedness label's score
    #: DOUBTFUL: tracked across a jump with no fresh detection to confirm it (``Tracker.find``).
    quality: LandmarkQuality = LandmarkQuality.GOOD
    #: The model's world landmarks: 21 (x, y, z) points in metres around the hand's
    #: centre (face touch's metric depth); None where the model did not give them.
    world: np.ndarray | None = None


def _swap(label: str) -> Handedness:
    return Handedness.RIGHT if label.lower() == MEDIAPIPE_LEFT else Handedness.LEFT


def hand_observations(found: Sequence[DetectedHand], selfie: bool) -> tuple[HandObservation, ...]:
    """The hand model's hands as observations; handedness is the person's own hand.

    MediaPipe labels handedness as if the image were a mirrored selfie view; when
    ``selfie`` is False (a raw camera frame, a photo) the labels are swapped.
    """
    return tuple(
        HandObservation(landmarks=hand.landmarks,
                        handedness=Handedness(hand.handedness.lower()) if selfie else _swap(hand.handedness),
                        score=hand.score, quality=hand.quality, world=hand.world)
        for hand in found)
