"""``handmap doctor`` against a real test desktop (Xvfb, WM, session D-Bus, dunst, trayer)
and against an empty environment: what it finds, and a fix for everything missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from handmap.daemon.tools.doctor import Status, check_cameras, check_notifications, format_checks, run_checks


def doctor(env: dict, *args: str) -> subprocess.CompletedProcess:
    """``handmap doctor`` as a user runs it, in its own process with ``env``."""
    env = {**env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "handmap.daemon.cli", "doctor", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def by_name(lines: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in lines}


def test_doctor_on_the_test_desktop(desktop, tmp_path):
    desktop.start_tray()
    env = {**desktop.env, "XDG_CONFIG_HOME": str(tmp_path)}
    text = doctor(env)
    assert text.returncode == 0, text.stderr
    report = text.stdout
    assert f"ok    display        X11 on {desktop.display} (1920x1080, window manager matchbox)" in report
    assert "ok    notifications  notification server on the session D-Bus: dunst" in report
    assert "ok    tray           system tray on" in report
    assert "warn  cameras        no camera" in report
    assert "fix: connect a webcam" in report and "--source clip.mp4" in report
    assert report.rstrip().endswith("handmap can run; see the warnings above")

    checks = by_name([json.loads(line) for line in doctor(env, "--json").stdout.splitlines()])
    assert checks["display"]["status"] == "ok"
    assert checks["output"]["status"] == "ok"
    assert checks["output"]["finding"].startswith("pynput: X11 session")
    assert checks["notifications"]["status"] == "ok"
    assert checks["tray"]["status"] == "ok"
    assert checks["models"]["status"] == "ok"
    if not Path("/dev/video0").exists():
        assert checks["cameras"]["status"] == "warn" and "--source" in checks["cameras"]["fix"]
    if not Path("/dev/uinput").exists():
        assert checks["uinput"]["status"] == "warn" and "sudo modprobe uinput" in checks["uinput"]["fix"]
    for check in checks.values():
        assert check["status"] == "ok" or check["fix"], f"{check['name']} has no fix"


def test_no_tray_and_no_notification_server_are_found_with_fixes(desktop):
    dunst = desktop.procs[-1]
    assert Path(dunst.args[0]).name == "dunst"
    dunst.terminate()
    dunst.wait(timeout=5)
    checks = by_name([json.loads(line) for line in doctor(desktop.env, "--json").stdout.splitlines()])
    notifications = checks["notifications"]
    assert notifications["status"] == "warn"
    assert notifications["finding"] == "session D-Bus reachable, but no notification server on it"
    assert "dunst" in notifications["fix"]
    assert checks["tray"]["status"] == "warn" and "_NET_SYSTEM_TRAY_S0 has no owner" in checks["tray"]["finding"]
    assert "--no-tray" in checks["tray"]["fix"]


def json_checks(env: dict, *args: str) -> dict[str, dict]:
    return by_name([json.loads(x) for x in doctor(env, "--json", *args).stdout.splitlines()])


def test_requested_output_is_checked(desktop):
    checks = json_checks(desktop.env, "--output", "dry-run")
    assert checks["output"]["status"] == "warn"
    assert checks["output"]["finding"].startswith("dry-run (asked for dry-run)")
    if not Path("/dev/uinput").exists():
        checks = json_checks(desktop.env, "--output", "uinput")
        assert checks["output"]["status"] == "fail" and "sudo modprobe uinput" in checks["output"]["fix"]


def test_bad_config_is_reported_not_fatal(desktop, tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("output: xinput\n")
    out = doctor(desktop.env, "--config", str(bad), "--json")
    assert out.returncode == 1  # a failed check, the rest of the report all the same
    checks = by_name([json.loads(x) for x in out.stdout.splitlines()])
    assert checks["config"]["status"] == "fail" and "output" in checks["config"]["finding"]
    assert "display" in checks


def test_without_any_session_everything_missing_has_a_fix(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "XDG_RUNTIME_DIR": str(tmp_path)}
    checks = {c.name: c for c in run_checks(env, platform="linux", camera_opener=lambda i: (False, ""))}
    assert checks["display"].status is Status.FAIL
    assert "DISPLAY and WAYLAND_DISPLAY are unset" in checks["display"].finding
    assert checks["notifications"].status is Status.WARN and "no session D-Bus" in checks["notifications"].finding
    if not Path("/dev/uinput").exists():
        assert checks["output"].status is Status.FAIL and "--output dry-run" in checks["output"].fix
        assert checks["uinput"].status is Status.FAIL
    for check in checks.values():
        assert check.status is Status.OK or check.fix, check
    report = format_checks(list(checks.values()))
    assert report.endswith("something handmap needs is missing; see the fixes above")
    assert "accessibility" not in checks  # a macOS-only check


def test_failed_checks_fail_the_command_and_fixes_fit_a_machine_without_a_desktop(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = doctor(env)
    assert out.returncode == 1, out
    assert "\nfail  " in "\n" + out.stdout and "something handmap needs is missing" in out.stdout
    assert "'handmap doctor' says how" not in out.stdout  # the user is reading it
    tray = by_name([json.loads(line) for line in doctor(env, "--json").stdout.splitlines()])["tray"]
    assert tray["finding"] == "no display, so no tray"
    assert "trayer" not in tray["fix"] and "desktop session" in tray["fix"], tray


def test_macos_checks_hint_at_permissions(tmp_path):
    checks = {c.name: c for c in run_checks({}, platform="darwin", camera_opener=lambda i: (False, ""))}
    # pyobjc is not installed here, so the doctor cannot ask macOS: it says where to grant it
    assert "Accessibility" in checks["accessibility"].fix
    assert checks["output"].finding.startswith("pynput: macOS")
    assert "Privacy & Security > Camera" in checks["cameras"].fix
    assert "uinput" not in checks


def test_camera_probe_reports_working_indices():
    # No camera device exists on this machine; this stand-in for OpenCV's VideoCapture
    # answers for index 1 only, to check which indices are tried and how one is reported.
    tried = []

    def opener(index):
        tried.append(index)
        return (index == 1, "640x480" if index == 1 else "")

    check = check_cameras(platform="win32", opener=opener)
    assert tried == [0, 1, 2, 3]
    assert check.status is Status.OK and check.finding == "camera index 1 (640x480)"


def test_unreachable_bus_is_a_warning_with_the_reason(tmp_path):
    check = check_notifications({"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/nobus"}, platform="linux")
    assert check.status is Status.WARN and "cannot reach the session D-Bus" in check.finding and check.fix
