"""Named hand landmarks and fingers, in MediaPipe's order (no magic indices)."""

from __future__ import annotations

from enum import Enum, IntEnum

NUM_HAND_LANDMARKS = 21


class HandLandmark(IntEnum):
    WRIST = 0
    THUMB_CMC = 1
    THUMB_MCP = 2
    THUMB_IP = 3
    THUMB_TIP = 4
    INDEX_MCP = 5
    INDEX_PIP = 6
    INDEX_DIP = 7
    INDEX_TIP = 8
    MIDDLE_MCP = 9
    MIDDLE_PIP = 10
    MIDDLE_DIP = 11
    MIDDLE_TIP = 12
    RING_MCP = 13
    RING_PIP = 14
    RING_DIP = 15
    RING_TIP = 16
    PINKY_MCP = 17
    PINKY_PIP = 18
    PINKY_DIP = 19
    PINKY_TIP = 20


class Finger(str, Enum):
    THUMB = "thumb"
    INDEX = "index"
    MIDDLE = "middle"
    RING = "ring"
    PINKY = "pinky"


#: Each finger's joints from the palm outwards (base, two middle joints, tip).
FINGER_JOINTS: dict[Finger, tuple[HandLandmark, HandLandmark, HandLandmark, HandLandmark]] = {
    Finger.THUMB: (HandLandmark.THUMB_CMC, HandLandmark.THUMB_MCP, HandLandmark.THUMB_IP, HandLandmark.THUMB_TIP),
    Finger.INDEX: (HandLandmark.INDEX_MCP, HandLandmark.INDEX_PIP, HandLandmark.INDEX_DIP, HandLandmark.INDEX_TIP),
    Finger.MIDDLE: (HandLandmark.MIDDLE_MCP, HandLandmark.MIDDLE_PIP, HandLandmark.MIDDLE_DIP, HandLandmark.MIDDLE_TIP),
    Finger.RING: (HandLandmark.RING_MCP, HandLandmark.RING_PIP, HandLandmark.RING_DIP, HandLandmark.RING_TIP),
    Finger.PINKY: (HandLandmark.PINKY_MCP, HandLandmark.PINKY_PIP, HandLandmark.PINKY_DIP, HandLandmark.PINKY_TIP),
}

#: The knuckles across the palm, index to pinky.
PALM_KNUCKLES = (HandLandmark.INDEX_MCP, HandLandmark.MIDDLE_MCP, HandLandmark.RING_MCP, HandLandmark.PINKY_MCP)


class FaceKeypoint(IntEnum):
    """The six keypoints of MediaPipe's short-range face detector, in its order."""

    RIGHT_EYE = 0
    LEFT_EYE = 1
    NOSE_TIP = 2
    MOUTH = 3
    RIGHT_EAR = 4
    LEFT_EAR = 5


class BodyLandmark(IntEnum):
    """The MediaPipe pose model's landmarks that face-touch detection uses."""

    NOSE = 0
    LEFT_EYE = 2
    RIGHT_EYE = 5
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22


NUM_BODY_LANDMARKS = 33
