"""Bad input: one clear line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest
from cli import handmap


def _one_line_error(done, *fragments: str) -> str:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("handmap: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_missing_image(tmp_path):
    _one_line_error(handmap("detect", str(tmp_path / "nope.jpg")), "nope.jpg", "no such file")


def test_text_file_passed_as_image(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture\n")
    _one_line_error(handmap("detect", str(text)), "notes.jpg", "not an image")


def test_text_file_passed_as_video_source(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    _one_line_error(handmap("run", "--source", str(text), "--output", "dry-run"), "notes.txt", "video")


def test_empty_folder(tmp_path):
    _one_line_error(handmap("run", "--source", str(tmp_path), "--output", "dry-run"), str(tmp_path), "no images")


def test_missing_source():
    _one_line_error(handmap("run", "--source", "/nonexistent/clip.mp4", "--output", "dry-run"), "clip.mp4", "no such file")


def test_camera_index_that_does_not_exist():
    line = _one_line_error(handmap("run", "--source", "7", "--output", "dry-run"), "no camera at index 7", "--source FILE")
    assert "camera" in line


@pytest.mark.parametrize("text, fragments", [
    ("camera:\n  fps: 0\n", ("camera.fps", "0", ":2:")),
    ("model:\n  size: huge\n", ("model.size", "huge", ":2:")),
    ("camra:\n  fps: 30\n", ("unknown key 'camra'",)),
    ("camera: [1, 2\n", ("not valid YAML",)),
    ("output: joystick\n", ("output", "joystick")),
])
def test_bad_config_value(tmp_path, data_dir, text, fragments):
    config = tmp_path / "config.yaml"
    config.write_text(text)
    image = str(data_dir / "hands" / "ht" / "9.jpg")
    _one_line_error(handmap("detect", "--config", str(config), image), str(config), *fragments)


def test_user_task_file_that_is_not_a_bundle(tmp_path, data_dir):
    bogus = tmp_path / "hand.task"
    bogus.write_bytes(b"not a zip")
    config = tmp_path / "config.yaml"
    config.write_text(f"model:\n  task_file: {bogus}\n")
    _one_line_error(handmap("detect", "--config", str(config), str(data_dir / "hands" / "ht" / "9.jpg")),
                    "hand.task", "not a MediaPipe .task bundle")
