"""Two-hand bindings in profile files: what is valid, and broken ones reported as
``file:line:col: message`` with what to change; the one-hand daemon warning."""

from __future__ import annotations

import textwrap

import pytest
from builders import profile_file as write

from handmap.mappings.loader import ProfileStore


def test_a_profile_with_every_two_hand_binding_loads(user):
    path = write(user, "maps", """
        version: 1
        bindings:
          - zoom: pinch
            step: 0.2
            scroll: ctrl
          - zoom: point
            in: ctrl+plus
            out: ctrl+minus
          - rotate: pinch
            degrees: 20
            clockwise: ctrl+r
            counterclockwise: ctrl+shift+r
          - enter: open
            hand: both
            do: {hold: shift}
          - held: closed
            ms: 1500
            hand: both
            do: pause
    """)
    store = ProfileStore(user)
    assert store.validate_file(path) == []
    p = store.load_file(path)
    assert [b.trigger for b in p.bindings] == ["zoom", "zoom", "rotate", "enter", "held"]
    assert p.bindings[0].zoom_step == 0.2 and p.bindings[1].zoom_step == 0.15  # the default
    assert p.bindings[1].zoom_in == "ctrl+plus" and p.bindings[2].rotate_degrees == 20
    assert p.two_hand_bindings() == (0, 1, 2, 3, 4)
    # The resolved profile writes them back as a user writes them.
    assert p.to_yaml_data()["bindings"][1] == {"zoom": "point", "in": "ctrl+plus", "out": "ctrl+-", "hand": "any",
                                               "do": []}


@pytest.mark.parametrize("binding, where, message", [
    ("- zoom: pinch\n  step: 0.2", "3:5",
     "bindings[0]: a 'zoom' needs 'scroll' (the keys held while the wheel turns, e.g. 'ctrl', or 'none')"
     " or both 'in' and 'out' (e.g. ctrl+plus and ctrl+minus)"),
    ("- zoom: pinch\n  scroll: ctrl\n  in: ctrl+plus", "3:5",
     "bindings[0]: a 'zoom' either scrolls ('scroll') or presses keys ('in' and 'out'), not both"),
    ("- zoom: pinch\n  in: ctrl+plus", "3:5", "bindings[0]: a 'zoom' needs 'scroll'"),
    ("- zoom: pinch\n  scroll: ctrl\n  step: 0", "5:11", "bindings[0].step: Input should be greater than or equal to 0.03"),
    ("- zoom: pinch\n  scroll: ctrl\n  hand: right", "3:5", "bindings[0]: a 'zoom' takes both hands; leave out 'hand'"),
    ("- zoom: pinch\n  scroll: ctrl\n  do: click", "3:5",
     "bindings[0]: a 'zoom' binding says what it does with 'scroll' or 'in' and 'out', not with 'do'"),
    ("- zoom: pinch\n  scroll: ctrll", "4:13", "bindings[0].scroll: unknown key name 'ctrll'; did you mean 'ctrl_l'?"),
    ("- zoom: pinhc\n  scroll: ctrl", "3:11", "bindings[0].zoom: unknown pose 'pinhc'; did you mean 'pinch'?"),
    ("- rotate: pinch\n  degrees: 15", "3:5", "bindings[0]: a 'rotate' needs 'clockwise' or 'counterclockwise'"),
    ("- rotate: pinch\n  degrees: 1\n  clockwise: r", "4:14",
     "bindings[0].degrees: Input should be greater than or equal to 3"),
    ("- rotate: pinch\n  clockwise: r\n  scroll: ctrl", "3:5", "bindings[0]: 'scroll' only goes with a 'zoom' trigger"),
    ("- enter: pinch\n  step: 0.2\n  do: click", "3:5", "bindings[0]: 'step' only goes with a 'zoom' trigger"),
    ("- swipe: left\n  hand: both\n  do: click", "3:5", "bindings[0]: 'hand: both' goes with an enter, exit or held"),
    ("- enter: two\n  hand: both\n  do: drag_scroll", "3:5",
     "bindings[0]: 'drag_scroll' follows one hand; it does not go with 'hand: both'"),
    ("- enter: open\n  hand: bth\n  do: click", "4:11", "bindings[0].hand: unknown value 'bth'; expected 'left', 'right', 'any' or 'both'; did you mean 'both'?"),
])
def test_broken_two_hand_bindings_name_file_line_and_problem(user, binding, where, message):
    text = "version: 1\nposes:\n  two: {fingers: {index: extended, middle: extended}}\nbindings:\n" \
        + textwrap.indent(binding, "  ") + "\n"
    # Bindings start on line 5 of this file: shift the expected line accordingly.
    line, column = (int(v) for v in where.split(":"))
    path = write(user, "p", text)
    errors = [str(e) for e in ProfileStore(user).validate_file(path)]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line + 2}:{column}: {message}"), errors[0]


def test_a_one_hand_daemon_is_warned_where_the_first_two_hand_binding_is(user):
    path = write(user, "p", """
        version: 1
        bindings:
          - enter: pinch
            do: click
          - zoom: pinch
            scroll: ctrl
    """)
    store = ProfileStore(user)
    assert store.check_file(path, max_hands=2) == ([], [])
    errors, warnings = store.check_file(path, max_hands=1)
    assert errors == []
    assert [str(w) for w in warnings] == [
        f"{path}:5:5: warning: this profile has two-hand bindings, but model.max_hands is 1, so they never fire;"
        " set 'model: {max_hands: 2}' in config.yaml to use them"]
    assert store.check("desktop", max_hands=2) == ([], [])
    # desktop's own zoom stays idle with one hand without a word, also in a profile that
    # extends it; the user's own zoom is warned of.
    assert store.check("desktop", max_hands=1) == ([], [])
    mine = write(user, "mine", """
        version: 1
        extends: desktop
        pointer: {mode: relative}
    """)
    assert store.check_file(mine, max_hands=1) == ([], [])
    zooming = write(user, "zooming", """
        version: 1
        extends: desktop
        bindings:
          - zoom: pinch
            in: ctrl+plus
            out: ctrl+minus
    """)
    assert [str(w).split(": warning:")[0] for w in store.check_file(zooming, max_hands=1)[1]] == [f"{zooming}:4:5"]


def test_a_child_zoom_replaces_the_parents_zoom_on_the_same_pose(user):
    write(user, "base", """
        version: 1
        bindings:
          - zoom: pinch
            scroll: ctrl
    """)
    path = write(user, "child", """
        version: 1
        extends: base
        bindings:
          - zoom: pinch
            in: ctrl+plus
            out: ctrl+minus
    """)
    p = ProfileStore(user).load_file(path)
    assert [(b.zoom, b.scroll, b.zoom_in) for b in p.bindings] == [("pinch", None, "ctrl+plus")]
