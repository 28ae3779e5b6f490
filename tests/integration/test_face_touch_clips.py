"""Face-touch episodes on real footage, through the daemon ``handmap run`` builds.

- The labelled clips of ``../shared/data/facetouch`` (the quick form of
  scripts/facetouch_clips.py, whose scoring these tests use): the touches are caught,
  each as one episode, and the hands near faces that touch nothing raise nothing.
- A replay spliced from the interview clip's own frames: four touches with 0.5 s, 1 s
  and 2 s of no contact between them give four episodes, each ending within 0.25 s of
  its last touching frame.

The thresholds were tuned on these clips (the only labelled face-touch video there is),
so the floors here guard against regressions; they are no held-out measure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripts_loader import load_script

clips = load_script("facetouch_clips.py", "handmap_facetouch_clips")

INTERVIEW = "chin_touch_interview_side.mp4"
PORTRAIT = "chin_rest_hand_on_head_portrait.mp4"
THUMBS_UP = "thumbs_up_in_front_of_face.mp4"
NEAR_FACE_NEGATIVES = ("wave_beside_head_phone.mp4", "two_people_waving_webcam.mp4", "mask_loops_at_ears_webcam.mp4")


@pytest.fixture(scope="module")
def facetouch(data_dir):
    if not (data_dir / "facetouch" / "segments.csv").exists():
        pytest.skip(f"the labelled face-touch clips are not under {data_dir}")
    return data_dir, clips.load_segments(data_dir)


def _score(facetouch, clip: str, overrides: dict | None = None):
    data, segments = facetouch
    lines, last_frame, last_t = clips.play(data / "facetouch" / clip, overrides)
    return clips.score(clip, segments[clip], clips.episodes_from_stream(lines, last_frame, last_t))


def test_scoring_counts_what_the_stream_says():
    """The scorer on a hand-made stream: one touch caught as two episodes, a false alert
    in a `no` segment, latencies from the segment's times."""
    segments = [clips.Segment(0, 9, 0.0, 1.0, "no"), clips.Segment(10, 19, 1.0, 2.0, "yes"),
                clips.Segment(20, 29, 2.0, 3.0, "no")]
    events = [(12, 1.2, "start"), (15, 1.5, "end"), (16, 1.6, "start"), (21, 2.1, "end"),
              (25, 2.5, "start"), (28, 2.8, "end")]
    lines = [json.dumps({"t": t, "frame": f, "type": "face_touch", "state": s, "hand": "left"}) for f, t, s in events]
    result = clips.score("x", segments, clips.episodes_from_stream(lines, 29, 2.9))
    assert (result.touches, result.caught, result.one_episode, result.false_alerts) == (1, 1, 0, 1)
    assert result.start_latency == [pytest.approx(0.2)] and result.end_latency == [pytest.approx(0.1)]
    assert (result.yes_hit, result.yes_frames) == (7, 10)  # 12-14 and 16-19
    assert (result.no_hit, result.no_frames) == (4, 20)  # 20 and 25-27


def test_chin_resting_on_a_folded_hand_is_one_episode(portrait):
    """The folded hand's joints lie 1.2-1.35 face radii from the face's centre, as far as
    hands held beside faces in the labelled photos; it is at the face's metric depth
    and the face mesh's chin point lies on it (``face_touch.chin_on_hand``)."""
    result = portrait
    assert (result.caught, result.one_episode, result.false_alerts) == (1, 1, 0), result
    assert result.recall >= 0.6, result
    assert result.start_latency[0] <= 0.3 and result.end_latency[0] <= 0.5, result
    assert "chin" in result.touch_zones[0], result


BODY_MODEL = {"faces": {"body_model": True}}


def test_thumbs_up_held_in_front_of_the_face_is_no_touch_with_the_body_model(facetouch):
    """The arm held out toward the camera: the pose model puts the hand two shoulder
    widths nearer the camera than the nose (its z), so it is in front of the face."""
    result = _score(facetouch, THUMBS_UP, BODY_MODEL)
    assert result.false_alerts == 0 and result.false_frames <= 0.05, result


def test_thumbs_up_held_in_front_of_the_face_is_no_touch(facetouch):
    """Without the body model: the hand's world landmarks against its pixels and the face
    mesh's eye distance against the face's put the hand at 0.69-0.79 of the face's
    distance from the camera (metric depth), so it is in front of the face (its size in
    pixels matches a hand at the face's depth: 80% of the `no` frames were flagged
    without this cue). What remains is the end of an episode that starts while the fist
    passes over the face (`ambiguous`)."""
    result = _score(facetouch, THUMBS_UP)
    assert result.false_alerts == 0 and result.false_frames <= 0.08, result


@pytest.mark.parametrize("clip", NEAR_FACE_NEGATIVES)
def test_hands_beside_faces_raise_nothing(facetouch, clip):
    result = _score(facetouch, clip)
    assert result.false_alerts == 0 and result.no_hit == 0, result


@pytest.fixture(scope="module")
def interview(facetouch):
    return _score(facetouch, INTERVIEW)


@pytest.mark.slow
def test_interview_fingers_at_the_mouth_are_one_prompt_episode(interview):
    """The side view's second touch (fingers curled against chin and mouth): one episode,
    started and ended promptly, at the chin or mouth; nothing in the minutes of hands
    gesturing low."""
    result = interview
    assert result.false_alerts == 0 and result.false_frames <= 0.01, result
    second = next(e for e in result.episodes if e.start_frame >= 399)
    assert [e for e in result.episodes if e.start_frame >= 399] == [second], result
    assert second.start_t - 19.102 <= 0.35 and second.end_t - 23.398 <= 0.3, second
    assert second.zones and set(second.zones) <= {"chin", "mouth"}, second


@pytest.mark.slow
def test_interview_chin_rest_is_caught(interview):
    """With the default configuration (two hands tracked) the hand on the chin is seen
    beside the hand in the lap, so both of the clip's touches are caught."""
    assert interview.caught == 2, interview


@pytest.fixture(scope="module")
def portrait(facetouch):
    return _score(facetouch, PORTRAIT)


@pytest.mark.slow
def test_the_three_touches_meet_the_episode_targets(portrait, interview):
    """The issue's targets over the clips' three touches, with the default configuration
    (two hands tracked, metric depth, the chin rest): each caught as one episode, nothing
    starting in the gesturing, START within 0.3 s of contact and END within 0.25 s of the
    hand leaving (medians), and the zones each episode gives (its START's, which the alert
    names, and its END's, the zone touched most, which the history records) are the chin
    for the two chin rests (the interview's seen from the side: the thumb under the jaw
    behind the chin point) and the chin or mouth for the interview's second touch."""
    results = (portrait, interview)
    assert sum(r.caught for r in results) == 3 and sum(r.one_episode for r in results) == 3, results
    assert sum(r.false_alerts for r in results) == 0, results
    starts = sorted(x for r in results for x in r.start_latency)
    ends = sorted(x for r in results for x in r.end_latency)
    assert starts[1] <= 0.3 and ends[1] <= 0.25, (starts, ends)
    zones = [zones for r in results for zones in r.touch_zones]
    assert zones[0] == zones[1] == ("chin", "chin") and set(zones[2]) <= {"chin", "mouth"}, zones
    assert interview.recall >= 0.85 and interview.false_frames <= 0.02, interview


# ---------------------------------------------------------------------------------
# Touches with gaps between them, spliced from the interview's frames.
# ---------------------------------------------------------------------------------

#: Interview frames (23.98 fps): fingers against the chin and mouth (a `yes` segment),
#: and the hands lowered to the chest and lap (a `no` segment), in the same camera view.
TOUCH_FRAMES = range(470, 494)  # 1.0 s
AWAY_FRAMES = range(600, 648)  # 2.0 s
GAPS_S = (0.5, 1.0, 2.0)


def _spliced(data: Path, folder: Path, fps: float) -> list[tuple[int, int]]:
    """Write the replay as an image folder: 1 s away, then a touch, each gap, a touch...,
    1 s away. The (first, last) frame numbers of each touch."""
    import cv2

    capture = cv2.VideoCapture(str(data / "facetouch" / INTERVIEW))
    frames, index = {}, 0
    wanted = set(TOUCH_FRAMES) | set(AWAY_FRAMES)
    while index <= max(wanted):
        ok, image = capture.read()
        assert ok, f"{INTERVIEW} ended at frame {index}"
        if index in wanted:
            frames[index] = image
        index += 1
    capture.release()
    away = [frames[i] for i in AWAY_FRAMES]
    sequence, touches = away[: round(fps)], []
    for gap in (*GAPS_S, None):
        start = len(sequence)
        sequence.extend(frames[i] for i in TOUCH_FRAMES)
        touches.append((start, len(sequence) - 1))
        sequence.extend(away[: round((gap or 1.0) * fps)])
    folder.mkdir()
    for i, image in enumerate(sequence):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return touches


def test_touches_with_gaps_are_one_episode_each_and_end_promptly(facetouch, tmp_path):
    data, _ = facetouch
    fps = 23.98
    touches = _spliced(data, tmp_path / "frames", fps)
    lines = _run_folder(tmp_path, fps)
    episodes = clips.episodes_from_stream(lines, touches[-1][1] + round(fps), 0.0)
    assert len(episodes) == len(touches), (episodes, touches)
    for episode, (first, last) in zip(episodes, touches):
        assert first <= episode.start_frame <= last, (episode, first, last)
        assert episode.start_t - first / fps <= 0.4, episode
        # Ends within 0.25 s of the last touching frame (it is shown for 1/fps).
        assert 0.0 <= episode.end_t - (last + 1) / fps <= 0.25, (episode, last)


def _run_folder(tmp_path: Path, fps: float) -> list[str]:
    import io

    from faulty import make_home

    from handmap.daemon.runtime.assemble import RunOptions, build

    stream = io.StringIO()
    built = build(RunOptions(source=str(tmp_path / "frames"), folder_fps=fps, output="dry-run",
                             profile="face-touch-only", stream=stream, tray=False, control_socket=False,
                             hotkey=False, window_switching=False, history=False, alerts=False),
                  env=make_home(tmp_path / "home", config="pause_hotkey: null\ntray: false\n"))
    try:
        built.daemon.run()
    finally:
        built.close()
    return stream.getvalue().splitlines()
