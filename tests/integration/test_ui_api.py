"""The settings window's requests as a script sends them (the token in a header), against
a real daemon: profiles saved from YAML are checked first (a problem comes back as
file:line:col and the file stays as it was), names are names and never paths, bundled
profiles are read only, and a new profile's name is checked at its field."""

from __future__ import annotations

import json
import urllib.error

import pytest
import ui_daemon
from keypoint_traces import empty_frames, write_trace


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-api")
    running = ui_daemon.start(write_trace(home / "idle.jsonl", empty_frames(30 * 120)), home / "home")
    yield running
    running.stop()


def refused(daemon, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    with pytest.raises(urllib.error.HTTPError) as caught:
        daemon.api(method, path, body)
    return caught.value.code, json.loads(caught.value.read() or b"{}")


def test_a_profile_saved_as_yaml_is_checked_before_it_is_written(daemon):
    created = daemon.api("POST", "/api/profiles", {"name": "typed", "template": "desktop"})
    path = daemon.profiles / "typed.yaml"
    assert created["ok"] and path.read_text() == created["yaml"] and "extends: \"desktop\"" in created["yaml"]
    before = path.read_bytes()
    bad = "version: 1\nname: typed\nbindings:\n  - enter: pinch\n    do: {key: ctrl+nosuchkey}\n"
    code, answer = refused(daemon, "POST", "/api/profiles/typed/yaml", {"yaml": bad})
    assert code == 422 and answer["errors"][0]["where"].startswith(f"{path}:5:")
    assert path.read_bytes() == before
    code, answer = refused(daemon, "POST", "/api/profiles/typed/yaml", {"yaml": "bindings: [unclosed\n"})
    assert code == 422 and answer["errors"][0]["where"].startswith(f"{path}:")
    assert path.read_bytes() == before
    good = "# mine, by hand\nversion: 1\nname: typed\nbindings:\n  - enter: pinch\n    do: click  # my click\n"
    assert daemon.api("POST", "/api/profiles/typed/yaml", {"yaml": good})["ok"]
    assert path.read_text() == good  # as typed, comments and all
    read = daemon.api("GET", "/api/profiles/typed")
    assert read["editable"] and read["form"]["bindings"][0]["pose"] == "pinch"


def test_names_are_names_and_bundled_profiles_are_read_only(daemon):
    for name in ("..", "%2e%2e%2fconfig", "Desktop", "a%20b", "..%2f..%2fconfig"):
        code, _ = refused(daemon, "GET", f"/api/profiles/{name}")
        assert code == 404
    code, answer = refused(daemon, "POST", "/api/profiles", {"name": "../evil", "template": ""})
    assert code == 422 and answer["errors"][0]["field"] == "name"
    assert not (daemon.profiles.parent / "evil.yaml").exists()
    code, answer = refused(daemon, "POST", "/api/profiles", {"name": "mine", "template": "nosuch"})
    assert code == 422 and answer["errors"][0]["field"] == "template"
    bundled = daemon.api("GET", "/api/profiles/presenter")
    assert bundled["origin"] == "bundled" and not bundled["editable"]
    form = bundled["form"]
    code, _ = refused(daemon, "POST", "/api/profiles/presenter/form", {"form": form})
    assert code == 409 and not (daemon.profiles / "presenter.yaml").exists()


def test_a_second_profile_of_the_same_name_is_refused_at_the_name(daemon):
    assert daemon.api("POST", "/api/profiles", {"name": "twice", "template": ""})["ok"]
    code, answer = refused(daemon, "POST", "/api/profiles", {"name": "twice", "template": ""})
    assert code == 422 and answer["errors"][0]["field"] == "name" and "already" in answer["errors"][0]["message"]
