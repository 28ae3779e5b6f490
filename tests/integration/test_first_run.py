"""The first run, issue 18: ``handmap run`` as a newcomer meets it, the real CLI in a
subprocess. Asked for a preview where no window can open, it says so in one line and
exits 1 (OpenCV's window would abort the process); the first-run mode's banner says what
the hand controls and how to pause and quit; with no display the first-run preview is
left out with one line, never an abort.
"""

from __future__ import annotations

import pytest
from cli import handmap, json_lines
from e2e_util import header_only_trace, idle_trace, private_env

NO_X = "no X display"


@pytest.mark.parametrize(("display_env", "said"), [
    ({}, "no display"),
    ({"WAYLAND_DISPLAY": "bogus"}, NO_X),
    ({"DISPLAY": ":97"}, "cannot open the X display :97"),
], ids=["nothing", "bogus-wayland", "unreachable-x"])
def test_preview_without_a_display_says_so_in_one_line(tmp_path, display_env, said):
    env = private_env(tmp_path / "home", **display_env)
    trace = header_only_trace(tmp_path / "empty.trace.jsonl")
    out = handmap("run", "--source", str(trace), "--preview", "--output", "dry-run", "--no-tray", env=env, timeout=120)
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("handmap: error: --preview needs a display") and said in lines[0], lines


# --------------------------------------------------------------------------- first-run mode
#
# There is no camera on the machines the tests run on: these tests hand `handmap run` an
# idle landmark trace where it opens camera 0 (the one part replaced); everything else is
# the real command (its parser and run function, in this process), the real daemon and
# the dry-run output.


@pytest.fixture()
def camera_run(tmp_path, monkeypatch):
    """``handmap run ARGS`` in this process with an idle trace as camera 0, no display;
    returns (exit status, stdout events, stderr)."""
    from handmap.daemon.capture import open_source as real_open_source
    from handmap.daemon.cli import build_parser
    from handmap.daemon.runtime import assemble

    trace = idle_trace(tmp_path / "camera.trace.jsonl", seconds=1)
    monkeypatch.setattr(assemble, "open_source", lambda spec, **kw: real_open_source(
        str(trace) if spec == "0" else spec, **kw))
    env = private_env(tmp_path / "home")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "INVOCATION_ID", "JOURNAL_STREAM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if name.startswith("XDG_") or name == "HOME":
            monkeypatch.setenv(name, value)

    def run(*args: str, config: str | None = None):
        import io
        import logging

        if config is not None:
            path = tmp_path / "home" / ".config" / "handmap" / "config.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config)
        err = io.StringIO()
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("handmap: %(levelname)s: %(message)s"))
        logging.getLogger("handmap").addHandler(handler)
        monkeypatch.setattr("sys.stderr", err)
        try:
            parsed = build_parser().parse_args(["run", "--output", "dry-run", "--no-tray", "--no-alerts",
                                                "--no-history", *args])
            code = parsed.func(parsed)
        finally:
            logging.getLogger("handmap").removeHandler(handler)
        return code, err.getvalue()

    return run


def test_first_run_starts_paused_says_how_out_and_degrades_without_a_display(camera_run, capsys):
    code, err = camera_run()
    events = json_lines(capsys.readouterr().out)
    assert code == 0, err
    assert events[0] == {**events[0], "type": "paused", "reason": "first-run mode"}, events
    assert not any(e["type"] == "resumed" for e in events)
    banner = [line for line in err.splitlines() if line.startswith("handmap: ") and "WARNING" not in line]
    assert banner[0].startswith("handmap: ") and "profile desktop" in banner[0], err
    assert "first-run mode: starting PAUSED; nothing happens until you resume" in err  # no preview: no display
    assert "the left-hand closed pose held 2000 ms" in err and "`handmap pause` / `handmap resume`" in err
    assert "quit: Ctrl-C here" in err
    assert "`handmap ui` opens the settings window in your browser" in err
    assert "first_run: false" in err and "--no-first-run" in err
    assert "handmap: WARNING: no preview window: no display" in err  # one line, and it ran on


def test_first_run_mode_ends_with_the_flag_or_the_config(camera_run, capsys):
    for args, config in ((("--no-first-run",), None), ((), "first_run: false\n")):
        code, err = camera_run(*args, config=config)
        events = json_lines(capsys.readouterr().out)
        assert code == 0, err
        assert not any(e["type"] == "paused" for e in events), events
        assert "first-run mode" not in err and "from now on, the hand controls the computer" in err, err
        assert "no preview window" not in err
