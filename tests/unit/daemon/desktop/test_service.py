"""`handmap service install|uninstall|status`: the systemd user unit and the LaunchAgent.

Real tools where they exist here: `systemd-analyze verify` checks the unit, the real
`systemctl --user` runs (and, PID 1 not being systemd here, cannot reach a user manager:
that is the path these tests cover), the real console script is run. No launchd exists on
Linux: the plist is checked with plistlib, key by key, and the macOS install path runs
with `launchctl` absent, as it would on a broken Mac.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from handmap.daemon.control import ControlServer
from handmap.daemon.desktop.service import (
    DEFAULT_TARGET,
    DISPLAY_ENV_VARS,
    GRAPHICAL_TARGET,
    LAUNCH_AGENT_LABEL,
    UNIT_NAME,
    ServiceError,
    _run,
    _unit_command,
    handmap_executable,
    install,
    parse_manager_environment,
    render_launch_agent,
    render_systemd_unit,
    running_as_service,
    service_command,
    status,
    uninstall,
)
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                                   reason="systemd-analyze not installed (Debian package `systemd`; scripts/setup.sh)")
#: Keys launchd documents for agents (launchd.plist(5)); anything else is a typo launchd ignores.
LAUNCHD_KEYS = {
    "Label", "Disabled", "UserName", "GroupName", "inetdCompatibility", "LimitLoadToHosts", "LimitLoadFromHosts",
    "LimitLoadToSessionType", "Program", "ProgramArguments", "EnableGlobbing", "EnableTransactions",
    "OnDemand", "KeepAlive", "RunAtLoad", "RootDirectory", "WorkingDirectory", "EnvironmentVariables", "Umask",
    "TimeOut", "ExitTimeOut", "ThrottleInterval", "InitGroups", "WatchPaths", "QueueDirectories",
    "StartOnMount", "StartInterval", "StartCalendarInterval", "StandardInPath", "StandardOutPath",
    "StandardErrorPath", "Debug", "WaitForDebugger", "SoftResourceLimits", "HardResourceLimits", "Nice",
    "ProcessType", "AbandonProcessGroup", "LowPriorityIO", "LowPriorityBackgroundIO", "LaunchOnlyOnce",
    "MachServices", "Sockets", "AssociatedBundleIdentifiers",
}


@pytest.fixture()
def home(tmp_path):
    """A user's HOME, config and runtime folders, and the environment pointing at them."""
    runtime = Path(tempfile.mkdtemp(prefix="hm-rt-"))  # short: it holds a Unix socket
    os.chmod(runtime, 0o700)
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_RUNTIME_DIR=str(runtime))
    for name in DISPLAY_ENV_VARS:
        env.pop(name, None)
    yield env
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture()
def exe(tmp_path) -> Path:
    """An executable at an awkward path (a space, % and $) standing in for the console script."""
    folder = tmp_path / "my venv %h $HOME" / "bin"
    folder.mkdir(parents=True)
    script = folder / "handmap"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return script


def user_manager_reachable(env) -> bool:
    return _run(("systemctl", "--user", "show-environment"), env).ok


# --------------------------------------------------------------------------- the unit


def analyze(unit: Path, runtime_dir: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime_dir)
    return subprocess.run([SYSTEMD_ANALYZE, "--user", "verify", str(unit)], env=env,
                          capture_output=True, text=True, timeout=60)


@needs_analyze
@pytest.mark.parametrize("wanted_by", [GRAPHICAL_TARGET, DEFAULT_TARGET])
def test_unit_passes_systemd_analyze_verify(tmp_path, home, exe, wanted_by):
    unit = tmp_path / UNIT_NAME
    command = service_command(exe, config=tmp_path / "my config.yaml", profile="game$a")
    unit.write_text(render_systemd_unit(command, wanted_by=wanted_by))
    out = analyze(unit, home["XDG_RUNTIME_DIR"])
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # bad keys and values are only warnings: none allowed


@needs_analyze
def test_systemd_analyze_check_can_fail(tmp_path, home, exe):
    """The check above is real: a wrong value and an unquoted path both show up."""
    good = render_systemd_unit(service_command(exe))
    unit = tmp_path / UNIT_NAME
    unit.write_text(good.replace("Restart=on-failure", "Restart=sometimes"))
    assert "Failed to parse service restart specifier" in analyze(unit, home["XDG_RUNTIME_DIR"]).stderr
    unit.write_text(good.replace(f'"{str(exe).replace("%", "%%")}"', str(exe).replace("%", "%%")))
    assert analyze(unit, home["XDG_RUNTIME_DIR"]).returncode != 0


def test_unit_content(exe):
    text = render_systemd_unit(service_command(exe))
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read_string(text)
    assert unit["Unit"]["PartOf"] == GRAPHICAL_TARGET and unit["Unit"]["After"] == GRAPHICAL_TARGET
    assert unit["Service"]["Restart"] == "on-failure" and int(unit["Service"]["RestartSec"]) > 0
    assert "HANDMAP_SERVICE=1" in unit["Service"]["Environment"].split()
    assert unit["Install"]["WantedBy"] == GRAPHICAL_TARGET
    # ExecStart, read back the way systemd unquotes it, is the absolute script and `run`.
    assert _unit_command(text) == (str(exe), "run")
    assert Path(_unit_command(text)[0]).is_absolute()
    with pytest.raises(ServiceError, match="--wanted-by"):
        render_systemd_unit(service_command(exe), wanted_by="multi-user.target")


def test_console_script_of_this_environment_is_found():
    script = handmap_executable()
    assert script.is_absolute() and script.name == "handmap" and os.access(script, os.X_OK)


# --------------------------------------------------------------------------- the plist


def test_launch_agent_plist_keys_and_types(tmp_path, exe):
    log_dir = tmp_path / "Library" / "Logs" / "handmap"
    agent = plistlib.loads(render_launch_agent(service_command(exe, profile="gamea"), log_dir=log_dir))
    assert set(agent) <= LAUNCHD_KEYS, set(agent) - LAUNCHD_KEYS
    assert agent["Label"] == LAUNCH_AGENT_LABEL and isinstance(agent["Label"], str)
    args = agent["ProgramArguments"]
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)
    assert args == [str(exe), "run", "--profile", "gamea"] and Path(args[0]).is_absolute()
    assert agent["RunAtLoad"] is True
    assert isinstance(agent["KeepAlive"], dict) and agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["ProcessType"] == "Interactive"
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert isinstance(agent["ThrottleInterval"], int) and not isinstance(agent["ThrottleInterval"], bool)
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert isinstance(agent[key], str) and Path(agent[key]).parent == log_dir
    env = agent["EnvironmentVariables"]
    assert isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    assert running_as_service(env)


# --------------------------------------------------------------------------- install / status / uninstall


class WaitingController:
    """A daemon started before its camera: what `service status` should show."""

    def status(self) -> StatusSnapshot:
        return StatusSnapshot(state=DaemonState.WAITING_FOR_CAMERA, profile="default", fps=0.0, hands_seen=0,
                              output="pynput", uptime_s=4.0)

    def pause(self, by=""): ...
    def resume(self): ...
    def toggle_pause(self, by=""): ...
    def switch_profile(self, name): raise KeyError(name)
    def set_alerts_muted(self, muted): ...
    def quit(self): ...


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl not installed")
def test_linux_round_trip_without_a_user_manager(home, exe):
    if user_manager_reachable(home):
        pytest.skip("a systemd user manager is reachable here; this test covers the unreachable path")
    unit_dir = Path(home["XDG_CONFIG_HOME"]) / "systemd" / "user"
    report = install(platform="linux", env=home, executable=exe, allow_root=True)
    assert report.path == unit_dir / UNIT_NAME and report.path.is_file()
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o644
    assert _unit_command(report.path.read_text()) == (str(exe), "run")
    # `systemctl --user enable` only links files: it works; starting needs the manager: it fails.
    assert report.enabled and not report.started
    link = unit_dir / f"{GRAPHICAL_TARGET}.wants" / UNIT_NAME
    assert link.is_symlink() and link.resolve() == report.path
    assert report.failed_step.command == ("systemctl", "--user", "daemon-reload")
    assert "Failed to connect to bus" in report.failed_step.output
    assert report.manual == ("systemctl --user daemon-reload",
                             "systemctl --user import-environment " + " ".join(DISPLAY_ENV_VARS),
                             f"systemctl --user restart {UNIT_NAME}")
    assert any("no DISPLAY or WAYLAND_DISPLAY" in n for n in report.notes)

    st = status(platform="linux", env=home)
    assert st.installed and st.command == (str(exe), "run") and st.command_exists
    assert st.enabled == "enabled" and st.active == "unknown" and "Failed to connect to bus" in st.manager_error
    assert not st.daemon and "handmap is not running" in st.daemon_error
    with ControlServer(WaitingController(), Path(home["XDG_RUNTIME_DIR"]) / "handmap.sock"):
        st = status(platform="linux", env=home)
    assert st.daemon["state"] == "waiting for camera"

    exe.unlink()  # the venv it pointed at is gone
    assert not status(platform="linux", env=home).command_exists

    gone = uninstall(platform="linux", env=home)
    assert gone.removed and not report.path.exists() and not link.is_symlink()
    assert "systemctl --user stop handmap.service" in gone.manual
    st = status(platform="linux", env=home)
    assert not st.installed and st.enabled == "not installed"
    assert not uninstall(platform="linux", env=home).removed  # twice is fine


def test_install_without_systemctl_writes_the_file_and_says_what_to_run(home, exe, tmp_path):
    home["PATH"] = str(tmp_path / "empty-bin")  # no systemctl on PATH
    report = install(platform="linux", env=home, executable=exe, allow_root=True)
    assert report.path.is_file() and not report.enabled and not report.started
    assert report.failed_step.output == "systemctl is not installed"
    assert report.manual[0] == f"systemctl --user enable {UNIT_NAME}"
    assert report.manual[-1] == f"systemctl --user restart {UNIT_NAME}"


def test_install_refuses_root(home, exe):
    if os.geteuid() != 0:
        pytest.skip("only root is refused")
    with pytest.raises(ServiceError, match="not as root.*--allow-root"):
        install(platform="linux", env=home, executable=exe)
    assert not (Path(home["XDG_CONFIG_HOME"]) / "systemd").exists()


def test_macos_round_trip_without_launchctl(home, exe, tmp_path):
    home["PATH"] = str(tmp_path / "empty-bin")  # launchctl exists only on macOS
    report = install(platform="darwin", env=home, executable=exe, allow_root=True)
    assert report.path == tmp_path / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    agent = plistlib.loads(report.path.read_bytes())
    assert agent["ProgramArguments"] == [str(exe), "run"] and agent["RunAtLoad"] is True
    assert (tmp_path / "Library" / "Logs" / "handmap").is_dir()
    assert not report.enabled
    uid = os.getuid()
    assert report.manual == (f"launchctl enable gui/{uid}/{LAUNCH_AGENT_LABEL}",
                             f"launchctl bootstrap gui/{uid} {report.path}")
    assert any("Accessibility" in n for n in report.notes)
    st = status(platform="darwin", env=home)
    assert st.installed and st.command == (str(exe), "run") and "launchctl" in st.manager_error
    assert uninstall(platform="darwin", env=home).removed and not report.path.exists()


def test_environment_helpers():
    text = "HOME=/home/u\nDISPLAY=:0\nXAUTHORITY=$'/run/user/1000/x auth\\tfile'\nnot a line\n"
    assert parse_manager_environment(text) == {"HOME": "/home/u", "DISPLAY": ":0",
                                               "XAUTHORITY": "/run/user/1000/x auth\tfile"}
    assert running_as_service({"HANDMAP_SERVICE": "1"}) and not running_as_service({})


# --------------------------------------------------------------------------- the command line


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(handmap_executable()), *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl not installed")
def test_cli_install_status_uninstall(home):
    if user_manager_reachable(home):
        pytest.skip("a systemd user manager is reachable here; this test covers the unreachable path")
    unit = Path(home["XDG_CONFIG_HOME"]) / "systemd" / "user" / UNIT_NAME
    out = cli(home, "service", "install", "--allow-root")
    assert out.returncode == 0, out.stderr
    assert f"handmap: wrote {unit}" in out.stdout and unit.is_file()
    assert "service enabled: it starts with your next graphical session; it could not be started now" in out.stderr
    assert "  systemctl --user restart handmap.service" in out.stderr.splitlines()

    out = cli(home, "service", "status")
    assert out.returncode == 0
    assert f"installed ({unit})" in out.stdout and "enabled:  enabled" in out.stdout
    daemon_line = next(line for line in out.stdout.splitlines() if "daemon:" in line)
    assert "not reachable (handmap is not running (no socket at" in daemon_line
    # Installed already: it says how to start it, not to install it.
    assert "service install" not in daemon_line and "`systemctl --user start handmap.service`" in daemon_line

    out = cli(home, "service", "uninstall")
    assert out.returncode == 0 and f"removed {unit}" in out.stdout and not unit.exists()
