"""The settings window's file writers: profile forms to commented YAML (each field's
line known, bundled profiles read back), and config keys changed in place."""

from __future__ import annotations

from importlib import resources

import pytest

from handmap.daemon.config import ConfigError, load_config
from handmap.daemon.ui.config_edit import EditRefused, set_values
from handmap.daemon.ui.profile_form import (
    YAML_FIELD,
    BindingForm,
    ProfileForm,
    field_of,
    form_from_text,
    text_from_form,
)
from handmap.mappings.loader import ProfileStore


def bundled(name: str) -> str:
    return resources.files("handmap.mappings").joinpath("profiles", f"{name}.yaml").read_text()


@pytest.mark.parametrize("name", ["desktop", "presenter", "game-wasd", "game-aim", "face-touch-only"])
def test_every_bundled_profile_read_into_the_form_and_written_back_means_the_same(tmp_path, name):
    store = ProfileStore(tmp_path)
    text, _ = text_from_form(form_from_text(bundled(name)))
    path = tmp_path / f"{name}.yaml"
    assert store.check_text(path, text)[0] == []
    path.write_text(text)
    before, after = ProfileStore(None).load(name).to_yaml_data(), store.load_file(path).to_yaml_data()
    # The same profile; the form's bindings come first, the ones it cannot show after them.
    assert sorted(map(repr, after.pop("bindings"))) == sorted(map(repr, before.pop("bindings")))
    assert after == before


def test_a_bad_key_is_reported_at_its_bindings_action_line(tmp_path):
    form = ProfileForm(name="mine", bindings=[BindingForm("enter", "pinch", None, "right", "click", "left"),
                                              BindingForm("held", "point", 500, "any", "key", "ctrl+nosuchkey")])
    text, fields = text_from_form(form)
    errors = ProfileStore(tmp_path).check_text(tmp_path / "mine.yaml", text)[0]
    assert errors and all(field_of(e.line, fields) == "bindings.1.action" for e in errors)
    assert "nosuchkey" in errors[0].message
    assert field_of(1, fields) == YAML_FIELD


def test_config_values_change_in_place_with_their_comments(tmp_path):
    text = "# mine\ncamera:\n  index: 0   # the laptop's\n  mirror: true\nmodel: {size: full}\n"
    changed = set_values(text, {("camera", "index"): 2, ("camera", "width"): 320, ("alerts", "muted"): True})
    assert changed.startswith("# mine\ncamera:\n  width: 320\n  index: 2   # the laptop's\n  mirror: true\n")
    assert changed.endswith("alerts:\n  muted: true\n")
    path = tmp_path / "config.yaml"
    path.write_text(changed)
    config = load_config(path, {})
    assert (config.camera.index, config.camera.width, config.alerts.muted) == (2, 320, True)
    with pytest.raises(EditRefused):
        set_values(text, {("model", "max_hands"): 2})  # a one-line section is left to the user
    path.write_text(set_values(text, {("camera", "width"): "wide"}))
    with pytest.raises(ConfigError) as refused:
        load_config(path, {})
    assert refused.value.errors[0].line == 3
