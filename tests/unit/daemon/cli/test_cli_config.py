"""``handmap config validate [FILE]`` and how ``handmap run`` reports a bad configuration:
every problem, one a line, with its file:line:col (the real CLI in a subprocess)."""

from __future__ import annotations

from cli import handmap

BAD = "camera:\n  idx: 1\nalerts:\n  cooldown_s: x\noutput: xinput\n"


def test_validate_reports_every_problem_and_fails(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text(BAD)
    out = handmap("config", "validate", str(bad), timeout=120)
    assert out.returncode == 1, out
    assert out.stderr.splitlines() == [
        f"{bad}:2:3: unknown key 'idx' in camera; did you mean 'index'?",
        f"{bad}:4:15: alerts.cooldown_s: input should be a valid number, unable to parse string as a number (got 'x')",
        f"{bad}:5:9: output: unknown value 'xinput'; expected 'auto', 'pynput', 'uinput' or 'dry-run'; "
        "did you mean 'uinput'?",
    ]
    assert out.stdout == ""


def test_validate_a_good_file_and_the_users_own(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("camera:\n  index: 1\n")
    out = handmap("config", "validate", str(good), timeout=120)
    assert (out.returncode, out.stdout) == (0, f"{good}: ok\n"), out
    home = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    none = handmap("config", "validate", env=home, timeout=120)
    assert none.returncode == 0 and "the packaged defaults are used" in none.stdout, none
    (tmp_path / "cfg" / "handmap").mkdir(parents=True)
    (tmp_path / "cfg" / "handmap" / "config.yaml").write_text("tray: maybe\n")
    mine = handmap("config", "validate", env=home, timeout=120)
    assert mine.returncode == 1 and "config.yaml:1:7: tray:" in mine.stderr, mine
    missing = handmap("config", "validate", str(tmp_path / "nope.yaml"), timeout=120)
    assert missing.returncode == 1 and "no such configuration file" in missing.stderr


def test_run_shows_every_problem_not_the_first_and_a_count(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text(BAD)
    out = handmap("run", "--config", str(bad), "--source", str(tmp_path), "--output", "dry-run", timeout=120)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"handmap: error: {bad}:") for line in lines), lines
    assert "more problem" not in out.stderr
