"""Broken profiles are reported as ``file:line:col: message`` with what to change."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import profile_file as write

from handmap.mappings.loader import ProfileLoadError, ProfileStore


def only_error(store: ProfileStore, path: Path) -> str:
    errors = store.validate_file(path)
    assert len(errors) == 1, [str(e) for e in errors]
    return str(errors[0])


def test_unknown_top_level_key_with_suggestion(user):
    path = write(user, "desktop", """
        version: 1
        name: desktop
        bindngs: []
    """)
    assert only_error(ProfileStore(user), path) == f"{path}:3:1: unknown key 'bindngs' in profile; did you mean 'bindings'?"


def test_unknown_nested_key_points_at_the_key(user):
    path = write(user, "p", """
        version: 1
        pointer:
          mode: absolute
          absolute:
            regoin: {left: 0.1}
    """)
    assert only_error(ProfileStore(user), path) == (
        f"{path}:5:5: unknown key 'regoin' in pointer.absolute; did you mean 'region'?")


def test_unknown_key_inside_an_action(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: closed
            do: {mouse_down: left, stikcy: true}
    """)
    assert only_error(ProfileStore(user), path) == (
        f"{path}:4:28: unknown key 'stikcy' in bindings[0].do[0]; did you mean 'sticky'?")


def test_bad_yaml_reports_the_parser_position(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: pinch
            do: [click
    """)
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:5:1: not valid YAML:"), msg


def test_bad_indentation_is_a_yaml_error(user):
    path = write(user, "p", "version: 1\npointer:\n  mode: absolute\n hand: right\n")
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:4:2: not valid YAML:"), msg


def test_unknown_pose_with_suggestion(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: pinch
            do: click
          - held: piont
            ms: 500
            do: right_click
    """)
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:5:11: bindings[1].held: unknown pose 'piont'; did you mean 'point'?"), msg


def test_user_poses_can_be_bound_and_checked(user):
    path = write(user, "p", """
        version: 1
        poses:
          rock:
            fingers: {index: extended, pinky: extended, middle: curled, ring: curled}
        pointer: {mode: relative, clutch: rok}
        bindings:
          - enter: rock
            do: {key: space}
    """)
    assert only_error(ProfileStore(user), path) == (
        f"{path}:5:35: pointer.clutch: unknown pose 'rok'; did you mean 'rock'?"
        " (poses: hand, open, closed, pinch, point, rock; define others under 'poses')")


def test_unknown_key_name_and_bad_combo(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - swipe: left
            do: {key: ctrl+shfit+t}
          - swipe: right
            do: {key: t+ctrl}
    """)
    errors = [str(e) for e in ProfileStore(user).validate_file(path)]
    assert errors == [
        f"{path}:4:15: bindings[0].do[0].key: unknown key name 'shfit'; did you mean 'shift'?",
        f"{path}:6:15: bindings[1].do[0].key: in combo 't+ctrl' only the last key may be a non-modifier"
        " ('t' is not a modifier; modifiers are ctrl, shift, alt, alt_gr, cmd)",
    ]


def test_wrong_types(user):
    path = write(user, "p", """
        version: 1
        pointer:
          mode: relative
          relative:
            gain: fast
        bindings: {enter: pinch}
    """)
    errors = [str(e) for e in ProfileStore(user).validate_file(path)]
    assert errors == [
        f"{path}:5:11: pointer.relative.gain: input should be a valid number,"
        " unable to parse string as a number (got 'fast')",
        f"{path}:6:11: bindings: input should be a valid list (got a mapping)",
    ]


def test_wrong_enum_value_with_suggestion(user):
    path = write(user, "p", """
        version: 1
        pointer:
          mode: absolut
    """)
    assert only_error(ProfileStore(user), path) == (
        f"{path}:3:9: pointer.mode: unknown value 'absolut'; expected 'none', 'absolute', 'relative'"
        " or 'joystick'; did you mean 'absolute'?")


def test_unknown_action_with_suggestion(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: pinch
            do: clik
    """)
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:4:9: bindings[0].do: unknown action 'clik'; did you mean 'click'?"), msg


def test_binding_needs_one_trigger_and_held_needs_ms(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: pinch
            exit: open
            do: click
          - held: point
            do: click
    """)
    errors = [str(e) for e in ProfileStore(user).validate_file(path)]
    assert errors == [
        f"{path}:3:5: bindings[0]: a binding needs exactly one trigger: enter, exit, held, swipe, face_touch, zoom or rotate"
        " (found enter, exit)",
        f"{path}:6:5: bindings[1]: a 'held' binding needs 'ms' (how long the pose must last, in milliseconds)",
    ]


def test_duplicate_key(user):
    path = write(user, "p", """
        version: 1
        pointer: {mode: absolute}
        pointer: {mode: relative}
    """)
    assert only_error(ProfileStore(user), path) == (
        f"{path}:3:1: duplicate key 'pointer'; each key may appear once in a mapping")


def test_missing_and_unsupported_version(user):
    a = write(user, "a", "name: a\n")
    b = write(user, "b", "version: 2\n")
    store = ProfileStore(user)
    assert only_error(store, a) == f"{a}:1:1: missing key 'version' in profile"
    assert only_error(store, b) == f"{b}:1:10: version: unsupported profile version 2; this handmap reads version 1"


def test_empty_file_and_not_a_mapping(user):
    a = write(user, "a", "# nothing yet\n")
    b = write(user, "b", "- version: 1\n")
    store = ProfileStore(user)
    assert only_error(store, a) == f"{a}:1:1: the profile is empty; start it with 'version: 1'"
    assert only_error(store, b).startswith(f"{b}:1:1: a profile must be a mapping")


def test_name_must_match_the_file(user):
    path = write(user, "games", "version: 1\nname: game\n")
    assert only_error(ProfileStore(user), path) == (
        f"{path}:2:7: name 'game' does not match the file name 'games.yaml'; rename the file or change the name")


def test_bad_regex_in_match(user):
    path = write(user, "p", "version: 1\nmatch:\n  title: 'Slides ('\n")
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:3:10: match.title: not a valid regular expression"), msg


def test_extends_cycle(user):
    a = write(user, "a", "version: 1\nextends: b\n")
    write(user, "b", "version: 1\nextends: c\n")
    c = write(user, "c", "version: 1\n\nextends: a\n")
    store = ProfileStore(user)
    assert only_error(store, a) == (
        f"{c}:3:10: extends cycle: a -> b -> c -> a; remove one of these 'extends'")
    with pytest.raises(ProfileLoadError) as info:
        store.load("b")
    assert [str(e) for e in info.value.errors] == [
        f"{a}:2:10: extends cycle: b -> c -> a -> b; remove one of these 'extends'"]


def test_extends_itself(user):
    path = write(user, "solo", "version: 1\nextends: solo\n")
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:2:10: extends an unknown profile 'solo'"), msg


def test_extends_unknown_profile(user):
    path = write(user, "p", "version: 1\nextends: desktp\n")
    msg = only_error(ProfileStore(user), path)
    assert msg.startswith(f"{path}:2:10: extends an unknown profile 'desktp'; did you mean 'desktop'?"), msg


def test_an_error_in_the_parent_is_reported_in_the_parent_file(user):
    parent = write(user, "base", """
        version: 1
        bindings:
          - enter: pinch
            do: {key: spcae}
    """)
    child = write(user, "child", "version: 1\nextends: base\n")
    errors = [str(e) for e in ProfileStore(user).validate_file(child)]
    assert errors == [f"{parent}:4:15: bindings[0].do[0].key: unknown key name 'spcae'; did you mean 'space'?"]


def test_a_merged_binding_error_points_into_the_file_that_holds_it(user):
    # the child's binding uses a pose only the parent defines: fine; one it does not: error in the child
    write(user, "base", """
        version: 1
        poses:
          rock: {fingers: {index: extended, pinky: extended, middle: curled}}
        bindings:
          - enter: pinch
            do: click
    """)
    child = write(user, "child", """
        version: 1
        extends: base
        bindings:
          - enter: rock
            do: {key: r}
          - enter: peace
            do: {key: p}
    """)
    errors = [str(e) for e in ProfileStore(user).validate_file(child)]
    assert len(errors) == 1 and errors[0].startswith(f"{child}:6:12: bindings[2].enter: unknown pose 'peace'"), errors


def test_profile_action_names_an_existing_profile(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - swipe: up
            do: {profile: presentr}
    """)
    msg = only_error(ProfileStore(user), path)
    assert msg == f"{path}:4:19: bindings[0].do[0].profile: unknown profile 'presentr'; did you mean 'presenter'?"


def test_several_errors_are_all_reported_in_file_order(user):
    path = write(user, "p", """
        version: 1
        pointr: {}
        pointer:
          hand: rigth
        bindings:
          - enter: pinch
            hand: all
            do: click
    """)
    errors = ProfileStore(user).validate_file(path)
    assert [(e.line, e.column) for e in errors] == [(2, 1), (4, 9), (7, 11)]
    assert "did you mean 'pointer'?" in errors[0].message
    assert "did you mean 'right'?" in errors[1].message


def test_unreadable_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    errors = ProfileStore(None).validate_file(missing)
    assert len(errors) == 1 and str(errors[0]).startswith(f"{missing}:1:1: cannot read the file")


def test_load_unknown_name_is_a_key_error(user):
    with pytest.raises(KeyError) as info:
        ProfileStore(user).load("desktopp")
    assert "did you mean 'desktop'?" in str(info.value)


def test_the_position_machinery_serves_other_yaml_files():
    """``yamlpos.parse_model`` is what the daemon config can use too."""
    from pydantic import BaseModel, ConfigDict

    from handmap.mappings.yamlpos import SourceErrors, parse_model

    class Camera(BaseModel):
        model_config = ConfigDict(extra="forbid")
        index: int = 0
        fps: float = 30.0

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        profile: str = "desktop"
        camera: Camera = Camera()

    assert parse_model("camera: {fps: 15}\n", "config.yaml", Config, "config").camera.fps == 15.0
    assert parse_model("", "config.yaml", Config, "config").profile == "desktop"
    with pytest.raises(SourceErrors) as info:
        parse_model("profile: game\ncamera:\n  indx: 1\n  fps: fast\n", "config.yaml", Config, "config")
    assert [str(e) for e in info.value.errors] == [
        "config.yaml:3:3: unknown key 'indx' in camera; did you mean 'index'?",
        "config.yaml:4:8: camera.fps: input should be a valid number, unable to parse string as a number (got 'fast')",
    ]
