"""Profile schema: what a valid profile means, shorthands, user poses, extends merging."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from handmap.gestures import classify
from handmap.gestures.landmarks import Finger
from handmap.gestures.poses import check_pose_spec
from handmap.mappings import schema as sc
from handmap.mappings.keys import KeyNameError, canonical_key, parse_combo
from handmap.mappings.loader import ProfileStore


def load(text: str) -> sc.Profile:
    return sc.Profile.model_validate(yaml.safe_load(textwrap.dedent(text)))


def test_a_minimal_profile_has_safe_defaults():
    p = load("version: 1\n")
    assert p.pointer.mode == "none"  # nothing moves unless asked
    assert p.bindings == [] and p.poses == {}
    assert p.alerts.face_touch is True
    assert p.hold_durations_ms() == ()
    assert p.match.is_empty()


def test_action_shorthands_and_lists():
    p = load("""
        version: 1
        bindings:
          - enter: pinch
            do: right_click
          - enter: point
            do: [click, double_click, middle_click, {key: "ctrl+c"}, {type: hello}]
          - held: open
            ms: 2000
            do: pause
          - swipe: any
            do: none
    """)
    assert p.bindings[0].do == [sc.Click(click="right")]
    assert [type(a) for a in p.bindings[1].do] == [sc.Click, sc.DoubleClick, sc.Click, sc.KeyTap, sc.TypeText]
    assert p.bindings[1].do[2].click == "middle" and p.bindings[1].do[4].text == "hello"
    assert p.bindings[2].do == [sc.Control(control="pause")]
    assert p.bindings[3].do == []
    assert [b.trigger for b in p.bindings] == ["enter", "enter", "held", "swipe"]


def test_key_names_are_canonicalised():
    p = load("""
        version: 1
        pointer:
          mode: joystick
          joystick: {output: keys, keys: {up: Up, down: DOWN, left: arrow_left, right: Right}}
        bindings:
          - swipe: left
            do: {key: Control+Super+Return}
    """)
    assert p.pointer.joystick.keys.model_dump() == {"up": "up", "down": "down", "left": "left", "right": "right"}
    assert p.bindings[0].do[0].key == "ctrl+cmd+enter"
    assert parse_combo("ctrl++").keys == ("ctrl", "+")
    assert parse_combo("shift+plus").keys == ("shift", "+")
    assert canonical_key("F5") == "f5" and canonical_key("esc") == "esc" and canonical_key("A") == "a"
    with pytest.raises(KeyNameError, match="did you mean 'space'"):
        canonical_key("spcae")
    with pytest.raises(KeyNameError, match="twice"):
        parse_combo("ctrl+ctrl")


def test_pressing_actions_need_a_pose_trigger_unless_sticky():
    with pytest.raises(ValueError, match="needs an 'enter' or 'held' trigger"):
        load("version: 1\nbindings: [{swipe: up, do: {hold: w}}]\n")
    p = load("version: 1\nbindings: [{swipe: up, do: {hold: w, sticky: true}}, {swipe: down, do: {release: w}}]\n")
    assert p.bindings[0].do[0].sticky


def test_user_poses_become_pose_specs_the_classifier_accepts(data_dir):
    p = load("""
        version: 1
        poses:
          two:
            fingers: {index: extended, middle: extended, ring: curled, pinky: curled}
            pinch_above: 0.4
          loose_pinch:
            pinch_below: 0.4
            pinch_above: 0.2
    """)
    specs = p.pose_specs()
    assert [s.name for s in specs] == ["two", "loose_pinch"]
    assert dict(specs[0].fingers) == {Finger.INDEX: True, Finger.MIDDLE: True, Finger.RING: False, Finger.PINKY: False}
    assert specs[1].pinch_below == 0.4 and specs[1].pinch_above == 0.2 and not specs[1].fingers
    for s in specs:
        check_pose_spec(s)
    assert p.pose_names()[-2:] == ("two", "loose_pinch")
    # MediaPipe's own landmarks for its "victory" test photo: the profile's pose "two"
    fixtures = json.loads((data_dir / "hands" / "mediapipe_testdata_landmarks.json").read_text())["fixtures"]
    labels = {f["name"]: classify(f["landmarks"], custom=specs[:1]).label for f in fixtures}
    assert labels["victory"] == "two"
    assert labels["fist"] == "closed" and labels["pointing_up"] == "point"


def test_poses_cannot_shadow_builtins_or_be_empty():
    with pytest.raises(ValueError, match="'pinch' is a built-in pose"):
        load("version: 1\nposes: {pinch: {pinch_below: 0.2}}\n")
    with pytest.raises(ValueError, match="needs at least one finger state or pinch bound"):
        load("version: 1\nposes: {loose: {fingers: {index: any}}}\n")


def test_hold_durations_are_what_the_profile_binds():
    p = load("""
        version: 1
        bindings:
          - {held: point, ms: 1500, do: right_click}
          - {held: open, ms: 500, do: {key: a}}
          - {held: closed, ms: 1500, do: {key: b}}
    """)
    assert p.hold_durations_ms() == (500, 1500)


def test_match_by_class_title_or_process():
    p = load("""
        version: 1
        match: {class: Firefox, title: "- YouTube", process: [mpv, vlc]}
    """)
    assert p.matches(window_class="firefox")
    assert p.matches(title="Cats - YouTube — Mozilla")
    assert p.matches(process="vlc")
    assert not p.matches(window_class="xterm", title="bash", process="bash")


def test_region_must_be_a_real_rectangle():
    with pytest.raises(ValueError, match="left < right"):
        load("version: 1\npointer: {absolute: {region: {left: 0.8, right: 0.2}}}\n")
    with pytest.raises(ValueError, match="less than or equal to 1"):
        load("version: 1\npointer: {absolute: {region: {bottom: 1.5}}}\n")


def test_show_output_is_itself_a_valid_profile():
    for name in ProfileStore(None).names():
        p = ProfileStore(None).load(name)
        again = sc.Profile.model_validate(yaml.safe_load(yaml.safe_dump(p.to_yaml_data())))
        assert again == p, name


def test_extends_merges_parent_first(tmp_path):
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""
        version: 1
        description: the base
        poses:
          two: {fingers: {index: extended, middle: extended, ring: curled}}
        pointer:
          mode: absolute
          hand: right
          absolute: {region: {left: 0.1, right: 0.9}}
        bindings:
          - {enter: pinch, do: click}
          - {swipe: left, do: {key: alt+left}}
    """))
    (tmp_path / "child.yaml").write_text(textwrap.dedent("""
        version: 1
        extends: base
        poses:
          rock: {fingers: {index: extended, pinky: extended, middle: curled}}
        pointer:
          absolute: {region: {top: 0.3}}
        bindings:
          - {enter: pinch, do: right_click}     # replaces the parent's pinch binding
          - {enter: rock, do: {key: r}}
    """))
    p = ProfileStore(tmp_path).load("child")
    assert p.name == "child" and p.extends == "base" and p.description == "the base"
    assert set(p.poses) == {"two", "rock"}
    assert p.pointer.mode == "absolute" and p.pointer.hand == "right"
    r = p.pointer.absolute.region
    assert (r.left, r.right, r.top) == (0.1, 0.9, 0.3)
    assert [(b.trigger, b.pose or b.swipe, b.do[0]) for b in p.bindings] == [
        ("swipe", "left", sc.KeyTap(key="alt+left")),
        ("enter", "pinch", sc.Click(click="right")),
        ("enter", "rock", sc.KeyTap(key="r")),
    ]


def test_user_file_wins_and_may_extend_the_bundled_one(tmp_path):
    store = ProfileStore(tmp_path)
    bundled = store.load("desktop")
    (tmp_path / "desktop.yaml").write_text("version: 1\nextends: desktop\npointer: {mode: relative}\n")
    (tmp_path / "mine.yaml").write_text("version: 1\nextends: desktop\n")
    assert store.origin("desktop") == "user" and store.origin("presenter") == "bundled"
    assert "mine" in store.names()
    mine = store.load("desktop")
    assert mine.pointer.mode == "relative" and bundled.pointer.mode == "absolute"
    assert mine.bindings == bundled.bindings
    # "mine" extends the user's desktop (which itself extends the bundled one)
    assert store.load("mine").pointer.mode == "relative"
