"""End to end, issue 18: what the running daemon tells the command line. A real
``handmap run`` (a child process in a private home and runtime folder, dry-run, on an
idle landmark trace played in real time) and the real CLI talking to it over the control
socket: a refused profile switch says why and fails, ``status`` marks broken profiles,
a second daemon refuses to start (or takes over with ``--replace``), and a pause says
who paused.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli import handmap, json_lines
from e2e_util import HandmapProcess, idle_trace, private_env, wait_until, write_profile

BROKEN_KEY = """\
version: 1
name: broken
pointer: {mode: none}
colour: blue
"""
NOT_YAML = "version: 1\nname: notyaml\nbindings: [\n"


def start(tmp_path: Path, env: dict, *extra: str, name: str = "handmap") -> HandmapProcess:
    trace = idle_trace(tmp_path / "idle.trace.jsonl")
    return HandmapProcess(["--source", str(trace), "--realtime", "--output", "dry-run", "--no-tray", *extra],
                          env, tmp_path, name=name)


def test_a_refused_profile_switch_says_why_and_fails_and_status_marks_it_broken(tmp_path):
    env = private_env(tmp_path / "home")
    broken = write_profile(env, "broken", BROKEN_KEY)
    write_profile(env, "notyaml", NOT_YAML)
    run = start(tmp_path, env, "--profile", "presenter")
    try:
        run.wait_ready()
        refused = handmap("profile", "broken", env=env, timeout=60)
        assert refused.returncode == 1, refused
        assert "switched" not in refused.stdout
        assert f"{broken}:4:1" in refused.stderr and "colour" in refused.stderr, refused.stderr
        assert "keeping presenter" in refused.stderr

        not_yaml = handmap("profile", "notyaml", env=env, timeout=60)
        assert not_yaml.returncode == 1 and "notyaml.yaml:" in not_yaml.stderr, not_yaml

        assert run.status()["profile"] == "presenter"
        text = handmap("status", env=env, timeout=60)
        assert text.returncode == 0, text.stderr
        assert "broken [broken]" in text.stdout and "notyaml [broken]" in text.stdout, text.stdout
        assert "desktop [broken]" not in text.stdout
        as_json = json.loads(handmap("status", "--json", env=env, timeout=60).stdout)
        assert set(as_json["broken_profiles"]) == {"broken", "notyaml"}
        assert as_json["broken_profiles"]["broken"].startswith(f"{broken}:4:1")
        assert "broken" in as_json["profiles"]  # still listed: the old field keeps its meaning

        switched = handmap("profile", "desktop", env=env, timeout=60)
        assert switched.returncode == 0 and "switched to profile desktop" in switched.stdout, switched
        wait_until(lambda: run.status()["profile"] == "desktop", 10, "the switch to desktop")
    finally:
        run.stop()
    assert not any(e["type"] == "profile" and e.get("name") in ("broken", "notyaml") for e in run.events())


def test_paused_events_and_status_say_who_paused(tmp_path):
    env = private_env(tmp_path / "home")
    run = start(tmp_path, env)
    try:
        run.wait_ready()
        paused = handmap("pause", env=env, timeout=60)
        assert paused.returncode == 0, paused.stderr
        wait_until(lambda: run.status()["state"] == "paused", 10, "the pause")
        assert run.status()["paused_by"] == "handmap pause"
        assert "paused (by handmap pause)" in handmap("status", env=env, timeout=60).stdout
        wait_until(lambda: any(e["type"] == "paused" for e in run.events()), 10, "the paused event")
    finally:
        run.stop()
    events = [e for e in json_lines(run.stdout_path.read_text()) if e["type"] == "paused"]
    assert events and events[0]["reason"] == "handmap pause", events


def test_a_second_daemon_refuses_in_one_line_and_replace_takes_over(tmp_path):
    env = private_env(tmp_path / "home")
    first = start(tmp_path, env, name="first")
    second = third = None
    try:
        first.wait_ready()
        second = start(tmp_path, env, name="second")
        assert second.wait(60) == 1
        lines = second.stderr().strip().splitlines()
        assert len(lines) == 1, lines
        assert f"pid {first.proc.pid}" in lines[0] and "--replace" in lines[0], lines
        assert first.proc.poll() is None

        third = start(tmp_path, env, "--replace", name="third")
        assert first.wait(30) == 0, first.stderr()
        status = third.wait_ready()
        assert status["state"] != "stopping"
        assert f"pid {first.proc.pid}" in third.stderr(), third.stderr()
    finally:
        for run in (first, second, third):
            if run is not None:
                run.stop()


def test_a_good_hot_reload_is_one_line_at_the_default_level(tmp_path):
    env = private_env(tmp_path / "home")
    path = write_profile(env, "mine", "version: 1\nname: mine\npointer: {mode: none}\n")
    run = start(tmp_path, env, "--profile", "mine")  # no -v: what a user sees
    try:
        run.wait_ready()
        write_profile(env, "mine", "version: 1\nname: mine\npointer: {mode: none}\nbindings:\n"
                                   "  - enter: open\n    do: {key: a}\n")
        line = wait_until(lambda: next((x for x in run.stderr().splitlines() if "reloaded" in x), None), 20,
                          "the reload's line")
        assert line == f"handmap: note: reloaded {path}", run.stderr()
    finally:
        run.stop()
    assert sum("reloaded" in x for x in run.stderr().splitlines()) == 1, run.stderr()
