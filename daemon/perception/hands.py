"""Hands: MediaPipe's hand model over frames, and how a stream's hands are tracked.

For stills, ``HandModel`` (a ``HandLandmarker`` in IMAGE mode). For streams, one of two
``HandTracking`` strategies: handmap keeps the tracking itself over the model's two
graphs (``GraphTracking`` over ``mediapipe_internals.HandGraphs``), step for step as
``HandLandmarker``'s VIDEO mode keeps it (the same landmarks), so that a hand found by a
second look is tracked from the next frame on, two hands' landmark passes run at once,
and the search for a hand not tracked runs at its own rate beside the tracking; on a
mediapipe without those graphs, ``HandLandmarker``'s VIDEO mode tracks
(``LandmarkerTracking``). ``RegionChange``
tells when a frame's hand region changed so much that the track will probably be lost;
``LookAhead`` then starts the second look at once on the other core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from handmap.daemon.perception.association import duplicates, new_regions, region_iou
from handmap.daemon.perception.detected import DetectedHand
from handmap.daemon.perception.mediapipe_internals import Found, HandGraphs, LandmarkerPackets, Region

if TYPE_CHECKING:
    from mediapipe import Image


class RegionChange:
    """How much the region around the tracked hands changed since the frame before:
    the mean difference of small thumbnails of the same region in both frames."""

    THUMB = (16, 16)
    #: The region is the hands' bounding box grown to this many times its size (about
    #: the region MediaPipe looks for the hand in on the next frame).
    GROW = 2.0
    #: Mean change per colour value (0-255) above which a track is likely to be lost. On
    #: webcam_session35 the frames that lost their track changed by 23-47; 95% of the
    #: others by under 11.
    LIKELY_LOST = 20.0
    #: A region narrower or shorter than this (pixels) is not compared.
    MIN_SIDE = 4

    def __init__(self) -> None:
        self._before: np.ndarray | None = None
        self._landmarks: Sequence[np.ndarray] = ()

    def _thumb(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        import cv2

        x0, y0, x1, y1 = box
        # A nearest-pixel thumbnail of the region (a view into the frame, no copy).
        return cv2.resize(rgb[y0:y1, x0:x1], self.THUMB, interpolation=cv2.INTER_NEAREST)

    def _box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        # Plain floats, not numpy reductions: this runs on the pointer's path.
        xs = [x for points in self._landmarks for x in points[:, 0].tolist()]
        ys = [y for points in self._landmarks for y in points[:, 1].tolist()]
        x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
        half = max(x_hi - x_lo, y_hi - y_lo) * self.GROW / 2.0
        cx, cy = (x_hi + x_lo) / 2.0, (y_hi + y_lo) / 2.0
        box = (int(max(0.0, cx - half) * width), int(max(0.0, cy - half) * height),
               int(min(1.0, cx + half) * width), int(min(1.0, cy + half) * height))
        return box if box[2] - box[0] >= self.MIN_SIDE and box[3] - box[1] >= self.MIN_SIDE else None

    def changed(self, rgb: np.ndarray) -> float:
        """The change in the region around the remembered hands since the remembered
        frame (0 when there is nothing to compare)."""
        import cv2

        before = self._before
        if before is None or before.shape != rgb.shape:
            return 0.0
        box = self._box(rgb.shape[1], rgb.shape[0])
        if box is None:
            return 0.0
        now = self._thumb(rgb, box)
        return cv2.norm(now, self._thumb(before, box), cv2.NORM_L1) / now.size

    def remember(self, rgb: np.ndarray, landmarks: Sequence[np.ndarray]) -> None:
        """This frame and its hands (arrays of normalised points), for the next frame to
        compare with. ``rgb`` must stay as it is until then (an ``mp.Image``'s view does);
        nothing is measured here, right after the hand model, on the pointer's path."""
        self._before = rgb if len(landmarks) else None
        self._landmarks = landmarks


class HandModel:
    """One ``HandLandmarker``, read straight from its output packets where the pinned
    mediapipe allows (``mediapipe_internals.LandmarkerPackets``: about 0.07 ms less a
    frame), through its public ``detect`` methods elsewhere."""

    def __init__(self, landmarker: Any) -> None:
        self._landmarker = landmarker
        self._packets = LandmarkerPackets.create(landmarker)

    @property
    def lean(self) -> bool:
        """Whether the output packets are read straight (the pinned mediapipe)."""
        return self._packets is not None

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        """A frame of a stream (VIDEO mode)."""
        packets = self._packets
        if packets is None:
            return self._public(self._landmarker.detect_for_video(image, timestamp_ms))
        return packets.video(image, timestamp_ms)

    def still(self, image: Image) -> tuple[DetectedHand, ...]:
        """An independent image (IMAGE mode: the task numbers the images itself)."""
        packets = self._packets
        if packets is None:
            return self._public(self._landmarker.detect(image))
        return packets.still(image)

    def look(self, image: Image) -> Found:
        """A still's hands as a second look gives them (no regions: nothing to seed)."""
        return self.still(image), ()

    @staticmethod
    def _public(result: Any) -> tuple[DetectedHand, ...]:
        worlds = list(result.hand_world_landmarks or ())
        worlds += [None] * (len(result.hand_landmarks) - len(worlds))
        return tuple(
            DetectedHand(np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64), classes[0].category_name,
                         float(classes[0].score),
                         world=np.array([(p.x, p.y, p.z) for p in metric], dtype=np.float64) if metric else None)
            for points, classes, metric in zip(result.hand_landmarks, result.handedness, worlds))

    def close(self) -> None:
        self._landmarker.close()


class HandTracking(Protocol):
    """How a stream's hands are tracked from frame to frame (``GraphTracking``,
    ``LandmarkerTracking``)."""

    @property
    def seeds(self) -> bool: ...  # whether a hand found by a second look is tracked on the next frame (``adopt``)

    @property
    def tracked(self) -> int: ...  # hands tracked into the next frame

    @property
    def palm_detections(self) -> int: ...

    @property
    def searching(self) -> bool: ...  # a search for another hand runs on the other core

    @property
    def searches_beside(self) -> bool: ...  # a lost hand is searched for beside the next frame's tracking

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]: ...

    def again(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]: ...  # a second look, a hand lost

    def hurry(self) -> None: ...  # the view jumped: look for a hand not tracked on the next frame

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]: ...  # a second look's answer, as this frame's hands

    def wait(self) -> None: ...  # until nothing started for an earlier frame runs

    def close(self) -> None: ...


@dataclass
class _Track:
    """A hand ``GraphTracking`` tracks: its region on the next frame, and the
    handedness its frames voted for (the scores summed per label)."""

    region: Region
    votes: dict[str, float] = field(default_factory=dict)

    def vote(self, hand: DetectedHand) -> DetectedHand:
        """This frame's hand with the handedness the track's frames voted for so far."""
        other = _OTHER_SIDE.get(hand.handedness)
        self.votes[hand.handedness] = self.votes.get(hand.handedness, 0.0) + hand.score
        if other is not None:
            self.votes[other] = self.votes.get(other, 0.0) + 1.0 - hand.score
        voted = max(self.votes, key=lambda label: self.votes[label])
        return hand if voted == hand.handedness else replace(hand, handedness=voted)


#: MediaPipe's two handedness labels, each to the other (its classifier is binary: a
#: hand's score for one is one minus its score for the other).
_OTHER_SIDE = {"Left": "Right", "Right": "Left"}
#: A track that a second look's hand overlaps by more than this (regions' IoU) hands
#: it its handedness votes: the same hand, found again.
SAME_HAND_IOU = 0.3
#: How often, by default, palm detection looks for a hand that is not tracked while
#: another one is (per second of the stream's clock).
HAND_SEARCH_HZ = 5.0

_Read: TypeAlias = "tuple[DetectedHand, Region]"


class GraphTracking:
    """Tracking over ``HandGraphs``, as ``HandLandmarker``'s VIDEO mode does it, for up
    to the graphs' ``max_hands`` hands: each tracked hand's landmark model runs in the
    region the frame before predicted, with no palm detection; palm detection runs on
    the frame when no hand is tracked. With fewer hands tracked than ``max_hands``, the
    search for another (palm detection, and the landmark model on a new palm) runs
    ``search_hz`` times a second, or on the next frame after a hand was lost or the
    view jumped (``hurry``), on a thread of its own beside the tracking passes; the
    hands it finds join the frame if it is done by the frame's end, else the tracking
    from the next frame on (with ``settle``, the frame waits for it: a file replayed as
    fast as it is read gives the same hands every time). Two tracked hands' landmark passes run at once, on two
    threads, each in its own landmark graph. A new palm over a tracked hand is that
    hand (``association.new_regions``), and two regions that converged onto one hand
    become one (``association.duplicates``), as in MediaPipe. With more than one hand
    allowed, each hand's handedness is the one its frames voted for. A second look's hands are tracked from the next frame
    on (``adopt``), with no palm detection there."""

    seeds = True  # a second look's hand is tracked on the next frame

    def __init__(self, graphs: HandGraphs, search_hz: float = HAND_SEARCH_HZ, min_similarity: float = 0.5,
                 settle: bool = False) -> None:
        self._graphs = graphs
        self._settle = settle
        self._tracks: list[_Track] = []
        self._search_every_ms = 1000.0 / search_hz
        self._min_similarity = min_similarity
        # Threads for a second landmark pass and for the search (none for one hand).
        self._pool = (ThreadPoolExecutor(max_workers=2, thread_name_prefix="handmap-hands")
                      if graphs.max_hands > 1 else None)
        self._search: Future[tuple[_Read, ...]] | None = None
        self._searched_ms = -math.inf  # when the last search started (the stream's clock)
        self._hurry = False  # the next frame searches whatever the rate
        self._frame: tuple[_Read, ...] = ()  # the last frame's hands and their next regions
        self._size = (1, 1)  # the last frame's width and height
        self.searches = 0  # searches started beside the tracking passes
        # One hand: MediaPipe's own label frame by frame, as its VIDEO mode gives it (the
        # identity stage holds a hand's side across a flip); more: the votes decide.
        self._vote = graphs.max_hands > 1

    @property
    def tracked(self) -> int:
        return len(self._tracks)

    @property
    def palm_detections(self) -> int:
        return self._graphs.palm_detections

    @property
    def searches_beside(self) -> bool:
        """Whether a hand lost while another is tracked is searched for beside the next
        frame's tracking pass (more than one hand allowed), not by a second look at once."""
        return self._pool is not None

    @property
    def searching(self) -> bool:
        """Whether a search for another hand runs on the other core right now."""
        return self._search is not None and not self._search.done()

    def hurry(self) -> None:
        """Search for a hand that is not tracked on the next frame, whatever the rate (the
        view jumped)."""
        self._hurry = True

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        graphs = self._graphs
        self._size = image.width, image.height
        if self._search is not None and (self._search.done() or not self._tracks
                                         or len(self._tracks) >= graphs.passes):
            self._join_search()  # done, or its graphs are needed now
        if not self._tracks:
            # Nothing to track: palm detection on this frame, on the critical path.
            read = self._passes(image, graphs.palms(image))
            self._searched_ms = timestamp_ms
            return self._keep(read)
        started = None
        if (self._pool is not None and self._search is None and len(self._tracks) < graphs.max_hands
                and (self._hurry or timestamp_ms - self._searched_ms >= self._search_every_ms)):
            base = tuple(track.region for track in self._tracks)
            started = self._search = self._pool.submit(self._look_for_more, image, base)
            self._searched_ms = timestamp_ms
            self._hurry = False
            self.searches += 1
        read = self._passes(image, [track.region for track in self._tracks])
        if started is not None and (self._settle or started.done()):
            self._search = None
            read += started.result()  # found beside this frame's tracking: in this frame
        return self._keep(read)

    def _voted(self, track: _Track, hand: DetectedHand) -> DetectedHand:
        return track.vote(hand) if self._vote else hand

    def _look_for_more(self, image: Image, base: tuple[Region, ...]) -> tuple[_Read, ...]:
        """The search beside the tracking passes: palm detection, and the landmark model
        (in the last landmark graph, which no tracked hand uses) on each new palm."""
        graphs = self._graphs
        new = new_regions(graphs.palms(image), base, self._min_similarity)[:graphs.max_hands - len(base)]
        found = (graphs.landmarks(image, region, graphs.passes - 1) for region in new)
        return tuple(hand for hand in found if hand is not None)

    def _join_search(self) -> None:
        """The last search's hands (found on an earlier frame), tracked from this frame on
        where they are no hand tracked already."""
        search, self._search = self._search, None
        if search is not None:
            self._add_new(self._frame + search.result())

    def _passes(self, image: Image, regions: Sequence[Region]) -> list[_Read | None]:
        """The landmark model in each region: the first here, the others at once on the
        pool's threads (each in its own landmark graph); None where the hand was lost."""
        graphs = self._graphs
        if len(regions) < 2 or self._pool is None or graphs.passes < 2:
            return [graphs.landmarks(image, region) for region in regions]
        others = [self._pool.submit(graphs.landmarks, image, region, graph)
                  for graph, region in enumerate(regions[1:graphs.passes], start=1)]
        read = [graphs.landmarks(image, regions[0]), *(other.result() for other in others)]
        # More hands than landmark graphs: the rest one after another.
        return read + [graphs.landmarks(image, region) for region in regions[graphs.passes:]]

    def _keep(self, read: Sequence[_Read | None]) -> tuple[DetectedHand, ...]:
        """This frame's hands: the tracked ones in order (``read`` starts with one entry per
        track), then new ones; duplicates dropped, at most ``max_hands``. They are tracked
        into the next frame, each with its handedness votes."""
        tracked = len(self._tracks)
        kept = [(track, pair) for track, pair in zip(self._tracks, read) if pair is not None]
        if len(kept) < tracked:
            self._hurry = True  # a hand lost: the search for it runs on the next frame
        kept += [(_Track(pair[1]), pair) for pair in read[tracked:] if pair is not None]
        if len(kept) > 1:
            dropped = duplicates([hand.landmarks for _, (hand, _) in kept], *self._size)
            kept = [item for i, item in enumerate(kept) if i not in dropped]
        kept = kept[:self._graphs.max_hands]
        hands = []
        for track, (hand, region) in kept:
            track.region = region
            hands.append(self._voted(track, hand))
        self._tracks = [track for track, _ in kept]
        self._frame = tuple(zip(hands, (track.region for track in self._tracks)))
        return tuple(hands)

    def again(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        """A second look at the frame just tracked, after a hand was lost on it: palm
        detection at once; the hands still tracked stay as they were read."""
        if self._search is not None:
            self._join_search()
        graphs = self._graphs
        base = tuple(track.region for track in self._tracks)
        new = new_regions(graphs.palms(image), base, self._min_similarity)[:graphs.max_hands - len(base)]
        self._searched_ms = timestamp_ms
        self._hurry = False
        frame = self._frame + tuple(pair for pair in (graphs.landmarks(image, region) for region in new)
                                    if pair is not None)
        self._add_new(frame)
        return tuple(hand for hand, _ in self._frame)

    def _add_new(self, frame: tuple[_Read, ...]) -> None:
        """The hands in ``frame`` after the tracked ones (``self._frame``), tracked from
        the next frame on where they are no tracked hand again (as many as fit)."""
        tracked = len(self._frame)
        dropped = duplicates([hand.landmarks for hand, _ in frame], *self._size) if len(frame) > 1 else frozenset()
        hands = [hand for hand, _ in self._frame]
        for i in range(tracked, len(frame)):
            if i not in dropped and len(self._tracks) < self._graphs.max_hands:
                track = _Track(frame[i][1])
                self._tracks.append(track)
                hands.append(self._voted(track, frame[i][0]))
        self._frame = tuple(zip(hands, (track.region for track in self._tracks)))

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]:
        """A second look's hands as this frame's, tracked from the next frame on; each
        keeps the votes of the track its region overlaps most, if any does enough."""
        found, regions = looked
        old = self._tracks
        self._tracks = []
        hands = []
        for hand, region in zip(found, regions):
            best = max(old, key=lambda track: region_iou(track.region, region), default=None)
            votes = dict(best.votes) if best is not None and region_iou(best.region, region) > SAME_HAND_IOU else {}
            track = _Track(region, votes)
            self._tracks.append(track)
            hands.append(self._voted(track, hand))
        self._frame = tuple(zip(hands, regions))
        return tuple(hands)

    def wait(self) -> None:
        """Until the search in flight (if any) is done (benchmark turns)."""
        if self._search is not None:
            self._search.exception()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._graphs.close()


class LandmarkerTracking:
    """``HandLandmarker``'s own VIDEO-mode tracking (two hands or more, or a mediapipe
    without the graphs ``HandGraphs`` needs). A second look's hand cannot be handed to
    it: it runs palm detection on the next frame."""

    seeds = False

    def __init__(self, model: HandModel) -> None:
        self._model = model
        self.tracked = 0
        self.palm_detections = 0  # not counted: the landmarker decides inside
        self.searching = False  # it searches on its own thread, inside each frame
        self.searches_beside = False

    def video(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        found = self._model.video(image, timestamp_ms)
        self.tracked = len(found)
        return found

    def again(self, image: Image, timestamp_ms: int) -> tuple[DetectedHand, ...]:
        return self.video(image, timestamp_ms)  # it runs palm detection: fewer hands than it tracked

    def hurry(self) -> None:
        pass  # it searches on every frame with fewer hands than num_hands

    def adopt(self, looked: Found) -> tuple[DetectedHand, ...]:
        self.tracked = 0  # the landmarker has nothing tracked: palm detection on the next frame
        return looked[0]

    def wait(self) -> None:
        pass

    def close(self) -> None:
        self._model.close()


class _Closes(Protocol):
    def close(self) -> None: ...


class LookAhead:
    """The second look, started before it is known to be needed: a copy of the hand
    model (palm detection and landmarks on the whole frame) on its own thread, run
    alongside the tracking pass on frames whose hand region changed a lot. If the
    tracking pass loses the hand, its result is ready about when the tracking pass is
    done (instead of a second pass after it); if not, it is thrown away. One at a time:
    while one runs, the ordinary second look is used."""

    def __init__(self, look: Callable[[Image], Found], model: _Closes) -> None:
        self._look = look  # image -> what ``HandTracking.adopt`` takes
        self._model = model
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handmap-look-ahead")
        self._running: Future[Found] | None = None
        self.started = 0
        self.used = 0

    @property
    def busy(self) -> bool:
        return self._running is not None and not self._running.done()

    def start(self, image: Image) -> Future[Found] | None:
        if self.busy:
            return None
        self.started += 1
        self._running = self._pool.submit(self._look, image)
        return self._running

    def wait(self) -> None:
        """Until the look in flight (used or not) is done."""
        running = self._running
        if running is not None:
            running.exception()  # waits; an error is the frame's that used it

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._model.close()
