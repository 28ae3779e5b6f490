"""config.yaml's typed sections: ``gestures`` and ``face_touch`` are read into the
gesture engine's and face-touch detector's settings, every key checked where it is read
(file:line errors, as for the other sections; the hostile files are in tests/fuzz)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from handmap.daemon.config import ConfigError, FaceTouchSettings, GestureSettings, load_config
from handmap.gestures.engine import GestureConfig
from handmap.gestures.face_touch import FaceTouchConfig


@pytest.mark.parametrize("settings, engine", [(GestureSettings, GestureConfig), (FaceTouchSettings, FaceTouchConfig)])
def test_every_engine_setting_is_a_config_key_with_the_engine_default(settings, engine):
    assert set(settings.model_fields) == {f.name for f in dataclasses.fields(engine)}
    assert settings().engine_config() == engine()


def test_sections_build_the_engine_settings(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("gestures:\n  hold_ms: 80\n  control_point: index_tip\n  hold_durations_ms: [250, 750]\n"
                    "  click_lock: false\n  pose_hold_ms: {closed: 200}\n"
                    "face_touch:\n  dwell_ms: 500\n  release_ms: 250.5\n  vouch_scale: [0.3, 2.5]\n", encoding="utf-8")
    config = load_config(path)
    gestures = config.gestures.engine_config()
    assert gestures == GestureConfig(hold_ms=80.0, control_point="index_tip", hold_durations_ms=(250.0, 750.0),
                                     click_lock=False, pose_hold_ms={"closed": 200.0})
    assert gestures.debounce_params().hold_s("closed") == pytest.approx(0.2)
    face = config.face_touch.engine_config()
    assert (face.dwell_ms, face.release_ms, face.vouch_scale) == (500.0, 250.5, (0.3, 2.5))


@pytest.mark.parametrize("text, message", [
    ("gestures:\n  hold_time: 100\n", "2:3: unknown key 'hold_time' in gestures; did you mean 'hold_ms'?"),
    ("gestures:\n  hold_ms: -5\n", "2:12: gestures.hold_ms: Input should be greater than or equal to 0"),
    ("gestures:\n  filter_min_cutoff: 0\n", "2:22: gestures.filter_min_cutoff: Input should be greater than 0"),
    ("gestures:\n  click_lock: 'yes'\n", "2:15: gestures.click_lock: input should be a valid boolean (got 'yes')"),
    ("gestures:\n  swipe_min_speed: true\n", "2:20: gestures.swipe_min_speed: input should be a valid number (got True)"),
    ("gestures:\n  min_score: 1.5\n", "2:14: gestures.min_score: Input should be less than or equal to 1"),
    ("gestures:\n  hold_durations_ms: [500, -1]\n", "2:28: gestures.hold_durations_ms[1]: Input should be greater than 0"),
    ("gestures:\n  pose_hold_ms: {closed: x}\n", "2:26: gestures.pose_hold_ms.closed: input should be a valid number"),
    ("gestures:\n  pinch_enter: 0.5\n", "2:3: gestures: gesture setting pinch_enter (0.5) must be below pinch_exit (0.4)"),
    ("gestures: [1, 2]\n", "1:11: gestures: input should be a valid dictionary"),
    ("face_touch:\n  dwell: 500\n", "2:3: unknown key 'dwell' in face_touch; did you mean 'dwell_ms'?"),
    ("face_touch:\n  dwell_ms: long\n", "2:13: face_touch.dwell_ms: input should be a valid number (got 'long')"),
    ("face_touch:\n  contact_inner: 2.0\n", "2:3: face_touch: contact_inner (2.0) must be below contact_outer (1.3)"),
])
def test_section_errors_name_the_file_line_and_key(tmp_path: Path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:{message}"), str(err.value)
