"""``handmap bench``: the full pipeline and a bare MediaPipe loop over the same frames.

Each loop decodes the same source itself (decoding is deterministic, so both see the
same frames); decode time is reported as its own stage and left out of both frame
rates, so the ratio compares what each loop does with a decoded frame. The bare loop
runs in a process of its own and the two take turns of ``BareLoop.TURN`` frames, so
both meet the same machine, and the peak RSS and CPU reported are the daemon's own.
Nothing is injected: the output is the dry-run stream, written to nowhere.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmap.daemon.capture import Frame, open_source
from handmap.daemon.outputs.held import HoldingOutput
from handmap.daemon.runtime.pipeline import StageClock

CONTRACT_STAGES = ("decode", "hands", "faces", "gestures", "mapping", "output")
EXTRA_STAGES = ("prep", "body")


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


def _status_mb(field: str) -> float | None:
    """A memory figure from /proc/self/status (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (VmHWM), in MB."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def current_rss_mb() -> float:
    return _status_mb("VmRSS") or 0.0


#: A soak run (``--loops``) samples memory and latency every this many frames.
SAMPLE_EVERY = 1000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class BenchOptions:
    source: str
    config_path: Path | None = None
    model: str | None = None  # full / lite (default: the configured one)
    size: tuple[int, int] | None = None  # resize frames to this (width, height)
    max_frames: int | None = None
    profile: str = "desktop"
    loops: int = 1  # play the source this many times (a longer, steadier run)
    bare: bool = True  # also run the bare MediaPipe loop (a soak may leave it out)
    #: Every this many seconds of source time, change mode: pause, resume, switch profile
    #: (to the other of ``profile`` and ``other_profile``), as a soak that exercises them.
    mode_changes_s: float | None = None
    other_profile: str = "game-aim"


def _frames(spec: str, size, max_frames, loops: int, clock: StageClock | None) -> Iterator[Frame]:
    """Decoded frames (timed into ``clock``), resized, numbered and timed as one stream."""
    import cv2

    index = 0
    t_offset = 0.0
    for _ in range(loops):
        source = open_source(spec, folder_fps=30.0)
        last_t = 0.0
        try:
            while max_frames is None or index < max_frames:
                start = time.perf_counter()
                frame = source.read()
                if frame is None:
                    break
                image = frame.image
                if size is not None and image is not None and (image.shape[1], image.shape[0]) != size:
                    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                now = time.perf_counter()
                if clock is not None:
                    clock.add("decode", (now - start) * 1000.0)
                last_t = frame.t
                yield Frame(t=t_offset + frame.t, index=index, image=image, observation=frame.observation, available_at=now)
                index += 1
        finally:
            source.close()
        t_offset += last_t + 1.0 / 30.0


def _raise_errors(outcomes) -> None:
    """A benchmark stops at the first frame that failed."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error


def run_handmap(options: BenchOptions, config, bare: BareLoop | None = None) -> dict:
    """The full pipeline over the source; with ``bare``, the bare loop takes its turn after
    every ``BareLoop.TURN`` frames (handmap's work in flight is finished first, and the
    bare loop's time is left out of handmap's)."""
    from handmap.daemon.runtime.assemble import RunOptions, build

    built = build(RunOptions(
        config_path=options.config_path, profile=options.profile, source=options.source, output="dry-run",
        tray=False, alerts=False, history=False, control_socket=False, window_switching=False, hotkey=False,
        idle=False, faces_async=True, stream=_Discard(),
    ), config=config)
    pipeline = built.pipeline
    clock = pipeline.clock
    if built.first_source is not None:
        built.first_source.close()
    frames = 0
    try:
        cpu0 = cpu_seconds()
        wall0 = time.perf_counter()
        samples = []
        window_start = time.perf_counter()
        daemon = built.daemon
        changes = 0
        every = next_change = options.mode_changes_s
        away = 0.0  # seconds of the bare loop's turns
        for frame in _frames(options.source, options.size, options.max_frames, options.loops, clock):
            if every is not None and next_change is not None and frame.t >= next_change:
                next_change += every
                step = changes % 3
                if step == 0:
                    daemon.pause()
                elif step == 1:
                    daemon.resume()
                else:
                    target = options.other_profile if daemon.mapping.name == options.profile else options.profile
                    daemon.switch_profile(target)
                changes += 1
            # A binding's own requests (the desktop profile pauses on a left fist held
            # 2 s) are not carried out, so every frame exercises the whole mapping; the
            # mode changes asked for above are.
            daemon.mapping.take_requests()
            daemon.apply_requests()
            pipeline.submit(frame)
            _raise_errors(pipeline.completed())
            frames += 1
            if bare is not None and frames % BareLoop.TURN == 0:
                pipeline.drain()  # nothing of handmap's runs during the bare loop's turn
                left = time.perf_counter()
                bare.turn(BareLoop.TURN)
                gone = time.perf_counter() - left
                away += gone
                window_start += gone
            if options.loops > 1 and frames % SAMPLE_EVERY == 0:
                recent = clock.recent("hands", SAMPLE_EVERY)
                e2e = clock.recent("end_to_end", SAMPLE_EVERY)
                now = time.perf_counter()
                samples.append({"frames": frames, "rss_mb": round(current_rss_mb(), 1),
                                "hands_p50_ms": round(float(np.median(recent)), 2) if recent.size else 0.0,
                                "end_to_end_p50_ms": round(float(np.median(e2e)), 2) if e2e.size else 0.0,
                                "fps": round(SAMPLE_EVERY / (now - window_start), 1)})
                window_start = now
        pipeline.settle()  # the last frame's input is out
        wall = time.perf_counter() - wall0 - away
        cpu = cpu_seconds() - cpu0
        rss = peak_rss_mb()
        pipeline.drain()
        _raise_errors(pipeline.completed())
        pipeline.emit(daemon.mapping.shutdown(), pipeline.last_t, pipeline.last_frame)
        held_at_end = len(built.output.held) if isinstance(built.output, HoldingOutput) else 0
        second_looks = pipeline.tracker.second_looks if pipeline.tracker is not None else None
    finally:
        built.close()
    decode_ms = float(clock.samples("decode").sum())
    busy = wall - decode_ms / 1000.0
    return {
        "frames": frames,
        "fps": frames / busy if busy > 0 else 0.0,
        "fps_with_decode": frames / wall if wall > 0 else 0.0,
        "clock": clock,
        "cpu_s_per_frame": cpu / frames if frames else 0.0,
        "peak_rss_mb": rss,
        "dropped_frames": 0,  # every decoded frame is handed to the pipeline (no capture thread here)
        "samples": samples,
        "mode_changes": changes,
        "held_at_end": held_at_end,
        "second_looks": second_looks,
    }


@dataclass(frozen=True)
class BareSettings:
    """What the bare loop needs to know, sent to its process."""

    source: str
    size: tuple[int, int] | None
    max_frames: int | None
    loops: int
    model: str  # the hand model bundle's path
    max_hands: int
    min_detection_confidence: float
    min_presence_confidence: float
    min_tracking_confidence: float


def _bare_process(conn, settings: BareSettings) -> None:
    """The bare loop's process: a plain HandLandmarker loop (VIDEO mode, same model and
    settings), colour conversion once and ``detect_for_video`` per frame, nothing else.
    It waits for its turn (a frame count; 0 ends it) and answers with the frames done and
    the seconds they took, or ``("error", text)``."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks import python as mp_tasks
    from mediapipe.tasks.python import vision

    try:
        landmarker = vision.HandLandmarker.create_from_options(vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=settings.model),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=settings.max_hands,
            min_hand_detection_confidence=settings.min_detection_confidence,
            min_hand_presence_confidence=settings.min_presence_confidence,
            min_tracking_confidence=settings.min_tracking_confidence,
        ))
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        conn.send(("error", f"the bare MediaPipe loop could not start: {exc}"))
        return
    frames = _frames(settings.source, settings.size, settings.max_frames, settings.loops, None)
    last_ts = -1
    conn.send(("ready",))
    try:
        while True:
            turn = conn.recv()
            if not turn:
                return
            done, busy = 0, 0.0
            for frame in frames:
                if frame.image is None:
                    conn.send(("error", "the bare MediaPipe loop needs images: bench a video, a folder or a "
                                        "camera, not a trace"))
                    return
                start = time.perf_counter()
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                ts = max(int(frame.t * 1000), last_ts + 1)
                last_ts = ts
                landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ts)
                busy += time.perf_counter() - start
                done += 1
                if done == turn:
                    break
            conn.send(("done", done, busy))
    except (EOFError, BrokenPipeError):
        return
    finally:
        landmarker.close()


class BareLoop:
    """The bare MediaPipe loop, in a process of its own, taking turns with handmap's.

    Turns of ``TURN`` frames alternate: while one loop runs, the other waits, so a slow
    spell of the machine (another tenant, a frequency change) lands on both loops alike
    and the ratio compares like with like. Its own process keeps its model out of the
    memory figure and its time out of handmap's CPU figure. It decodes the same source
    itself (decoding is deterministic), outside its timed part."""

    TURN = 100

    def __init__(self, options: BenchOptions, config) -> None:
        import multiprocessing

        from handmap.daemon.paths import cache_dir
        from handmap.daemon.perception.models import check_hand_task_file, hand_bundle

        model = check_hand_task_file(config.model.task_file) if config.model.task_file else hand_bundle(config.model.size, cache_dir())
        settings = BareSettings(
            source=options.source, size=options.size, max_frames=options.max_frames, loops=options.loops,
            model=str(model), max_hands=config.model.max_hands,
            min_detection_confidence=config.model.min_detection_confidence,
            min_presence_confidence=config.model.min_presence_confidence,
            min_tracking_confidence=config.model.min_tracking_confidence,
        )
        context = multiprocessing.get_context("spawn")  # no copy of this process's threads or models
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_bare_process, args=(child, settings), name="handmap-bench-bare",
                                        daemon=True)
        self._process.start()
        child.close()
        self.frames = 0
        self.busy = 0.0
        self._answer()

    def _answer(self) -> tuple:
        try:
            answer = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the bare MediaPipe loop's process ended (exit code {self._process.exitcode})") from None
        if answer[0] == "error":
            raise ValueError(answer[1])
        return answer

    def turn(self, frames: int | None = None) -> None:
        """The bare loop's next ``frames`` frames (all that are left when None)."""
        self._conn.send(frames if frames is not None else float("inf"))
        _, done, busy = self._answer()
        self.frames += done
        self.busy += busy

    @property
    def fps(self) -> float:
        return self.frames / self.busy if self.busy > 0 else 0.0

    def close(self) -> None:
        try:
            self._conn.send(0)
        except OSError:
            pass
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def benchmark(options: BenchOptions) -> dict:
    from handmap.daemon.config import load_config

    config = load_config(options.config_path)
    if options.model:
        config = config.model_copy(update={"model": config.model.model_copy(update={"size": options.model})})
    probe = next(_frames(options.source, options.size, 1, 1, None), None)
    if probe is None:
        raise ValueError(f"{options.source} has no frames")
    if probe.image is not None:
        height, width = probe.image.shape[:2]
    else:  # a trace's frame: its recorded observation's size
        assert probe.observation is not None, "a frame carries an image or an observation"
        height, width = probe.observation.height, probe.observation.width
    bare_loop = BareLoop(options, config) if options.bare else None
    try:
        ours = run_handmap(options, config, bare_loop)
        if bare_loop is not None:
            bare_loop.turn()  # whatever frames it has left
    finally:
        if bare_loop is not None:
            bare_loop.close()
    bare = {"frames": bare_loop.frames, "fps": bare_loop.fps} if bare_loop is not None else {"frames": 0, "fps": 0.0}
    clock: StageClock = ours["clock"]
    stages = {}
    for name in CONTRACT_STAGES + EXTRA_STAGES:
        stats = clock.percentiles(name)
        stages[name] = stats if stats is not None else {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0}
    e2e = clock.percentiles("end_to_end") or {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0}
    ratio = ours["fps"] / bare["fps"] if bare["fps"] else 0.0
    return {
        "source": options.source,
        "frames": ours["frames"],
        "bare_frames": bare["frames"] if options.bare else None,
        "width": width,
        "height": height,
        "model": config.model.size if not config.model.task_file else str(config.model.task_file),
        "max_hands": config.model.max_hands,
        "faces": config.faces.enabled,
        "body_model": config.faces.enabled and config.faces.body_model,
        "profile": options.profile,
        "fps": {"handmap": round(ours["fps"], 1), "bare": round(bare["fps"], 1) if options.bare else None,
                "ratio": round(ratio, 3) if options.bare else None,
                "handmap_with_decode": round(ours["fps_with_decode"], 1)},
        "stages_ms": stages,
        "end_to_end_ms": e2e,
        "cpu_s_per_frame": round(ours["cpu_s_per_frame"], 5),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "dropped_frames": ours["dropped_frames"],
        "cpu_count": os.cpu_count(),
        **({"second_looks": ours["second_looks"]} if ours["second_looks"] else {}),
        **({"soak": ours["samples"], "mode_changes": ours["mode_changes"], "held_at_end": ours["held_at_end"]}
           if ours["samples"] else {}),
    }


def format_report(report: dict) -> str:
    fps = report["fps"]
    lines = [
        f"source {report['source']}: {report['frames']} frames at {report['width']}x{report['height']}, "
        f"model {report['model']}, max_hands {report['max_hands']}, faces {'on' if report['faces'] else 'off'}",
        f"frames per second: handmap {fps['handmap']}, bare MediaPipe {fps['bare']}, "
        f"ratio {fps['ratio'] if fps['ratio'] is not None else '-'}",
        "stage latency (ms)      p50      p95      p99",
    ]
    for name, stats in report["stages_ms"].items():
        lines.append(f"  {name:<18} {stats['p50']:8.2f} {stats['p95']:8.2f} {stats['p99']:8.2f}")
    e2e = report["end_to_end_ms"]
    lines.append(f"  {'end to end':<18} {e2e['p50']:8.2f} {e2e['p95']:8.2f} {e2e['p99']:8.2f}")
    lines.append(f"CPU per frame {report['cpu_s_per_frame'] * 1000:.1f} ms, peak RSS {report['peak_rss_mb']:.0f} MB, "
                 f"dropped frames {report['dropped_frames']}")
    looks = report.get("second_looks")
    if looks:
        lines.append(f"tracks lost and looked for again: {looks['lost_tracks']} "
                     f"(look-ahead started {looks['look_ahead_started']}, used {looks['look_ahead_used']}); "
                     f"palm detections {looks.get('palm_detections', 0)}; tracks that held across a jump "
                     f"re-detected {looks.get('redetected', 0)}, doubtful {looks.get('doubtful', 0)}")
    soak = report.get("soak")
    if soak:
        first, last = soak[0], soak[-1]
        lines.append(f"soak over {last['frames']} frames ({report['mode_changes']} pause/resume/profile changes): "
                     f"RSS {first['rss_mb']:.0f} -> {last['rss_mb']:.0f} MB (max {max(s['rss_mb'] for s in soak):.0f}), "
                     f"hand model p50 {first['hands_p50_ms']:.1f} -> {last['hands_p50_ms']:.1f} ms, "
                     f"end to end p50 {first['end_to_end_p50_ms']:.1f} -> {last['end_to_end_p50_ms']:.1f} ms, "
                     f"held at the end {report['held_at_end']}")
    return "\n".join(lines)


#: The idle benchmark's steady figure leaves out its first seconds: the models' first
#: inferences (weights packed once) and the first second at full rate, which idle mode
#: keeps after a hand was last seen (here: after the start).
STEADY_AFTER_S = 5.0
#: ... and is given only when at least this much of the run came after that mark (a run
#: told to stop at ``STEADY_AFTER_S + 5`` s has a little under 5 s of it).
STEADY_MIN_S = 2.0


def idle_benchmark(options: BenchOptions, seconds: float | None = None) -> dict:
    """The daemon as it runs all day, on a source paced in real time (no hand in view is
    the interesting case): CPU use as a share of one core over the whole run and from
    ``STEADY_AFTER_S`` on, and how many frames it analysed."""
    import threading

    from handmap.daemon.runtime.assemble import RunOptions, build

    built = build(RunOptions(
        config_path=options.config_path, profile=options.profile, source=options.source, output="dry-run",
        realtime=True, tray=False, alerts=False, history=False, control_socket=False, window_switching=False,
        hotkey=False, idle=True, faces_async=True, stream=_Discard(),
    ))
    timer = threading.Timer(seconds, built.daemon.quit) if seconds else None
    steady: list[tuple[float, float]] = []  # (wall, cpu) once the start-up is over
    mark = threading.Timer(STEADY_AFTER_S, lambda: steady.append((time.perf_counter(), cpu_seconds())))
    try:
        if timer is not None:
            timer.start()
        cpu0 = cpu_seconds()
        wall0 = time.perf_counter()
        mark.start()
        summary = built.daemon.run()
        end_wall, end_cpu = time.perf_counter(), cpu_seconds()
        wall = end_wall - wall0
        cpu = end_cpu - cpu0
    finally:
        mark.cancel()
        if timer is not None:
            timer.cancel()
        built.close()
    report = {
        "source": options.source,
        "seconds": round(wall, 2),
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 2) if wall > 0 else 0.0,
        "frames_analysed": summary.frames,
        "frames_skipped_idle": summary.skipped_idle,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if steady and end_wall - steady[0][0] >= STEADY_MIN_S:
        steady_wall, steady_cpu = steady[0]
        report["steady_cpu_percent_of_one_core"] = round(100.0 * (end_cpu - steady_cpu) / (end_wall - steady_wall), 2)
    return report
