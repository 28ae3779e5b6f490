"""``handmap profiles list | validate | show``, through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from handmap.mappings.schema import Profile


def handmap(*args: str, config_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CONFIG_HOME=str(config_home))
    return subprocess.run([sys.executable, "-m", "handmap.daemon.cli", "profiles", *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture()
def home(tmp_path) -> Path:
    (tmp_path / "handmap" / "profiles").mkdir(parents=True)
    return tmp_path


def user_file(home: Path, name: str, text: str) -> Path:
    path = home / "handmap" / "profiles" / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_validate_reports_file_line_col_and_exits_1(home):
    bad = user_file(home, "desktop", """
        version: 1
        name: desktop
        pointer:
          mode: absolute
        bindngs:
          - enter: pinch
            do: click
    """)
    good = user_file(home, "mine", "version: 1\nextends: desktop\n")
    r = handmap("validate", str(bad), str(good), config_home=home)
    assert r.returncode == 1
    # "mine" extends the user's desktop, which is broken: checking "mine" reports the
    # error where it is, in desktop.yaml
    msg = f"{bad}:5:1: unknown key 'bindngs' in profile; did you mean 'bindings'?"
    assert r.stderr.strip().splitlines() == [msg, msg]
    assert r.stdout == ""


def test_validate_good_files_exits_0(home):
    good = user_file(home, "mine", """
        version: 1
        extends: desktop
        pointer: {mode: relative, clutch: closed}
    """)
    r = handmap("validate", str(good), "presenter", config_home=home)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [f"{good}: ok", "presenter: ok"]


def test_list_shows_user_and_bundled_profiles(home):
    user_file(home, "mine", "version: 1\ndescription: my own\nmatch: {process: [blender]}\n")
    r = handmap("list", config_home=home)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert {"desktop", "presenter", "game-wasd", "game-aim", "face-touch-only", "mine"} <= set(rows)
    assert rows["mine"].split()[1] == "user" and "my own [auto: process blender]" in rows["mine"]
    assert rows["desktop"].split()[1] == "bundled"


def test_list_flags_a_broken_user_profile(home):
    bad = user_file(home, "broken", "version: 1\npointer: {mode: sideways}\n")
    r = handmap("list", config_home=home)
    assert r.returncode == 1
    line = next(row for row in r.stdout.splitlines() if row.startswith("broken"))
    assert f"INVALID: {bad}:2:17: pointer.mode: unknown value 'sideways'" in line


def test_show_prints_the_resolved_profile_as_yaml(home):
    user_file(home, "mine", """
        version: 1
        extends: desktop
        pointer: {mode: relative}
        bindings:
          - {swipe: left, do: {key: ctrl+page_up}}
    """)
    r = handmap("show", "mine", config_home=home)
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(r.stdout)
    p = Profile.model_validate(data)
    assert p.name == "mine" and p.extends == "desktop" and p.pointer.mode == "relative"
    assert p.pointer.absolute.region.left == 0.2  # from desktop
    swipes = [b for b in p.bindings if b.swipe == "left"]
    assert len(swipes) == 1 and swipes[0].do[0].key == "ctrl+page_up"
    assert any(b.enter == "pinch" for b in p.bindings)


def test_show_unknown_name_and_usage(home):
    r = handmap("show", "desktp", config_home=home)
    assert r.returncode == 1
    assert "no profile named 'desktp'; did you mean 'desktop'?" in r.stderr
    r = handmap(config_home=home)
    assert r.returncode == 2 and "list, validate FILE... or show NAME" in r.stderr
    r = handmap("validate", config_home=home)  # FILE is required
    assert r.returncode == 2


def test_dir_option_overrides_the_user_folder(tmp_path, home):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "solo.yaml").write_text("version: 1\n")
    r = handmap("--dir", str(other), "list", config_home=home)
    assert r.returncode == 0 and any(row.startswith("solo") for row in r.stdout.splitlines())
