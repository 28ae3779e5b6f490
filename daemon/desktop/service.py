"""Service stage: run handmap at login as a systemd user unit (Linux) or a LaunchAgent (macOS).

``install`` writes the unit/plist, then asks the service manager to enable and start it;
when that is impossible (no user manager, no ``launchctl``) the file stays written and the
report lists the exact commands to run in the graphical session. ``uninstall`` stops and
removes it, ``status`` reports the file, the manager's view and the daemon's own state.

The display environment (Linux). A user service inherits the *user manager's*
environment, not the login shell's. Desktop sessions that start
``graphical-session.target`` (GNOME, KDE, and X sessions through systemd's
``xinitrc.d/50-systemd-user.sh``) upload ``DISPLAY``/``WAYLAND_DISPLAY``/``XAUTHORITY``
into it with ``systemctl --user import-environment`` (or
``dbus-update-activation-environment --systemd``); ``PassEnvironment=`` only filters what
the manager already has, so it cannot help. ``install`` therefore runs
``systemctl --user import-environment`` for the variables set in the installing shell (so
the first start works at once), and the unit is ``PartOf=``/``After=``/``WantedBy=
graphical-session.target``, so later it starts only once the session has published its
display. A daemon started before that waits ("waiting for display"); it can re-read the
manager's environment with :func:`manager_display_environment`. Window managers that never
start ``graphical-session.target`` should install with ``--wanted-by default.target`` and
put ``dbus-update-activation-environment --systemd DISPLAY XAUTHORITY`` in their startup.

macOS. handmap moves the pointer and presses keys, so macOS asks for the Accessibility
permission (System Settings → Privacy & Security → Accessibility) for the program
launchd starts: the Python interpreter behind the ``handmap`` script
(:func:`macos_permission_notes` names it). The pause hotkey also needs Input Monitoring,
and the camera asks for Camera access on first use.

The unit sets ``HANDMAP_SERVICE=1`` (:func:`running_as_service`) so the daemon knows to
wait for a camera or display that is not there yet instead of failing.
"""

from __future__ import annotations

import logging
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from handmap.daemon.desktop.session import SESSION_TYPE_VAR, WAYLAND_DISPLAY_VAR, X_DISPLAY_VAR, has_display
from handmap.daemon.files import write_atomic

log = logging.getLogger(__name__)

UNIT_NAME = "handmap.service"
LAUNCH_AGENT_LABEL = "io.github.handmap"
SERVICE_ENV_VAR = "HANDMAP_SERVICE"
GRAPHICAL_TARGET = "graphical-session.target"
DEFAULT_TARGET = "default.target"
WANTED_BY_CHOICES = (GRAPHICAL_TARGET, DEFAULT_TARGET)
#: What a GUI program needs from the session; imported into the user manager by ``install``.
DISPLAY_ENV_VARS = (X_DISPLAY_VAR, WAYLAND_DISPLAY_VAR, "XAUTHORITY", SESSION_TYPE_VAR, "XDG_CURRENT_DESKTOP")
RESTART_SEC = 5
START_LIMIT_INTERVAL_S = 300
START_LIMIT_BURST = 10
STOP_TIMEOUT_S = 10
COMMAND_TIMEOUT_S = 20
UNIT_FILE_MODE = 0o644  # the unit and the LaunchAgent: readable by the service manager
LINUX = "linux"
MACOS = "darwin"


class ServiceError(Exception):
    """Installing or inspecting the service failed; the message says what to do."""


# --------------------------------------------------------------------------- environment


def running_as_service(env: Mapping[str, str] | None = None) -> bool:
    """True when started by the unit or LaunchAgent ``install`` wrote."""
    env = os.environ if env is None else env
    return env.get(SERVICE_ENV_VAR, "") == "1"


def parse_manager_environment(text: str) -> dict[str, str]:
    """Parse ``systemctl --user show-environment`` output (``NAME=value`` lines; values
    with special characters come ``$'...'``-quoted)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if not sep or not name.isidentifier():
            continue
        if value.startswith("$'") and value.endswith("'"):
            value = value[2:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        out[name] = value
    return out


def manager_display_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The display variables the systemd user manager holds now ({} when unavailable).

    A service started before the session imported ``DISPLAY`` can poll this while
    "waiting for display" and adopt the values once they appear.
    """
    step = _run(("systemctl", "--user", "show-environment"), env)
    if not step.ok:
        return {}
    manager = parse_manager_environment(step.output)
    return {k: manager[k] for k in DISPLAY_ENV_VARS if manager.get(k)}


# --------------------------------------------------------------------------- where and what


def _platform(platform: str | None) -> str:
    platform = sys.platform if platform is None else platform
    if platform.startswith(LINUX):
        return LINUX
    if platform == MACOS:
        return MACOS
    raise ServiceError(f"`handmap service` supports Linux (systemd) and macOS (launchd), not {platform}")


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def systemd_unit_dir(env: Mapping[str, str]) -> Path:
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and os.path.isabs(config) else _home(env) / ".config"
    return base / "systemd" / "user"


def launch_agent_path(env: Mapping[str, str], label: str = LAUNCH_AGENT_LABEL) -> Path:
    return _home(env) / "Library" / "LaunchAgents" / f"{label}.plist"


def macos_log_dir(env: Mapping[str, str]) -> Path:
    return _home(env) / "Library" / "Logs" / "handmap"


def service_file(platform: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if _platform(platform) == LINUX:
        return systemd_unit_dir(env) / UNIT_NAME
    return launch_agent_path(env)


def handmap_executable() -> Path:
    """The ``handmap`` console script of the environment this code runs in (not resolved:
    a venv's ``bin/`` must stay in the path so the venv is used)."""
    beside = Path(sys.executable).parent / "handmap"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("handmap")
    if found:
        return Path(found).absolute()
    raise ServiceError(f"the `handmap` command was not found next to {sys.executable} or on PATH; "
                       "install handmap (pip install .) in the environment you want the service to use")


def service_command(executable: Path, *, config: Path | None = None, profile: str | None = None) -> list[str]:
    command = [os.fspath(executable), "run"]
    if config is not None:
        command += ["--config", os.fspath(Path(config).absolute())]
    if profile:
        command += ["--profile", profile]
    return command


_SYSTEMD_SPECIAL = set(' \t\n"\'\\;')


def systemd_quote(word: str, *, executable: bool = False) -> str:
    """One ExecStart word: ``%`` doubled (specifiers), ``$`` doubled in arguments (variable
    expansion; the executable path is not expanded), quoted when it has blanks or quotes."""
    word = word.replace("%", "%%")
    if not executable:
        word = word.replace("$", "$$")
    if word and not (_SYSTEMD_SPECIAL & set(word)):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def render_systemd_unit(command: Sequence[str], *, wanted_by: str = GRAPHICAL_TARGET) -> str:
    if wanted_by not in WANTED_BY_CHOICES:
        raise ServiceError(f"--wanted-by must be one of {', '.join(WANTED_BY_CHOICES)}, not {wanted_by}")
    unit = [
        "[Unit]",
        "Description=handmap: webcam hand gestures as mouse and keyboard input",
        # Stop with the graphical session; start after it has published its display.
        f"PartOf={GRAPHICAL_TARGET}",
        f"After={GRAPHICAL_TARGET}",
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_S}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(systemd_quote(w, executable=i == 0) for i, w in enumerate(command)),
        f"Environment={SERVICE_ENV_VAR}=1 PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        f"TimeoutStopSec={STOP_TIMEOUT_S}",
        "",
        "[Install]",
        f"WantedBy={wanted_by}",
        "",
    ]
    return "\n".join(unit)


def render_launch_agent(command: Sequence[str], *, log_dir: Path, label: str = LAUNCH_AGENT_LABEL) -> bytes:
    agent = {
        "Label": label,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after `quit`
        "ThrottleInterval": RESTART_SEC,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",  # the logged-in GUI session only
        "StandardOutPath": os.fspath(log_dir / "handmap.out.log"),
        "StandardErrorPath": os.fspath(log_dir / "handmap.err.log"),
        "EnvironmentVariables": {SERVICE_ENV_VAR: "1", "PYTHONUNBUFFERED": "1"},
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=False)


def macos_permission_notes(executable: Path | None = None) -> list[str]:
    interpreter = os.path.realpath(sys.executable)
    try:
        script = executable or handmap_executable()
        first = Path(script).read_text(errors="replace").splitlines()[0]
        if first.startswith("#!"):
            interpreter = os.path.realpath(first[2:].strip().split()[0])
    except (OSError, IndexError, ServiceError):
        pass
    return [
        "macOS asks for permissions the first time handmap runs:",
        f"  Accessibility (to move the pointer and press keys): System Settings > Privacy & Security > "
        f"Accessibility > + > add {interpreter} (press Cmd+Shift+G to type the path) and switch it on;",
        "  Input Monitoring (for the pause hotkey): the same list under Input Monitoring;",
        "  Camera: allow it when asked.",
        "Then restart the agent: launchctl kickstart -k gui/$(id -u)/" + LAUNCH_AGENT_LABEL,
    ]


# --------------------------------------------------------------------------- running commands


@dataclass(frozen=True)
class Step:
    """One service-manager command and how it went."""

    command: tuple[str, ...]
    ok: bool
    output: str  # stdout on success, the error text otherwise

    @property
    def shell(self) -> str:
        return shlex.join(self.command)


def _run(command: Sequence[str], env: Mapping[str, str] | None) -> Step:
    command = tuple(command)
    env = dict(os.environ if env is None else env)
    if shutil.which(command[0], path=env.get("PATH")) is None:
        return Step(command, False, f"{command[0]} is not installed")
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Step(command, False, f"no answer within {COMMAND_TIMEOUT_S} s")
    except OSError as exc:
        return Step(command, False, str(exc))
    if done.returncode != 0:
        return Step(command, False, (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"))
    return Step(command, True, done.stdout)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, mode=UNIT_FILE_MODE)


# --------------------------------------------------------------------------- install / uninstall / status


@dataclass(frozen=True)
class InstallReport:
    path: Path
    enabled: bool  # it will start with the graphical session (login)
    started: bool  # it was (re)started now
    steps: tuple[Step, ...]  # what ran
    manual: tuple[str, ...] = ()  # commands left for the user: what could not be done here
    notes: tuple[str, ...] = ()

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


@dataclass(frozen=True)
class UninstallReport:
    path: Path
    removed: bool
    steps: tuple[Step, ...]
    manual: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceStatus:
    platform: str
    path: Path
    installed: bool
    command: tuple[str, ...] = ()  # what the unit/plist starts
    command_exists: bool = False
    enabled: str = "unknown"  # enabled / disabled / unknown (with why in manager_error)
    active: str = "unknown"  # active / inactive / failed / running... / unknown
    manager_error: str = ""
    daemon: dict = field(default_factory=dict)  # the daemon's status over the control socket
    daemon_error: str = ""


def _refuse_root(allow_root: bool) -> None:
    if os.geteuid() == 0 and not allow_root:
        who = os.environ.get("SUDO_USER")
        hint = f" (run it as {who}, without sudo)" if who else " (run it as yourself, without sudo)"
        raise ServiceError("handmap runs as a user service in your graphical session, not as root" + hint +
                           "; pass --allow-root to install it for root's own session anyway")


def _run_until_failure(commands: Sequence[Sequence[str]], env: Mapping[str, str]) -> tuple[list[Step], list[str]]:
    """Run commands in order; stop at the first failure and return it and what is left."""
    steps: list[Step] = []
    for i, command in enumerate(commands):
        step = _run(command, env)
        steps.append(step)
        if not step.ok:
            return steps, [shlex.join(c) for c in commands[i:]]
    return steps, []


def install(*, platform: str | None = None, env: Mapping[str, str] | None = None, executable: Path | None = None,
            config: Path | None = None, profile: str | None = None, wanted_by: str = GRAPHICAL_TARGET,
            allow_root: bool = False, enable: bool = True) -> InstallReport:
    env = dict(os.environ if env is None else env)
    platform = _platform(platform)
    _refuse_root(allow_root)
    executable = executable or handmap_executable()
    command = service_command(executable, config=config, profile=profile)
    if platform == LINUX:
        path = systemd_unit_dir(env) / UNIT_NAME
        _write_atomic(path, render_systemd_unit(command, wanted_by=wanted_by).encode())
        enable_cmd = ("systemctl", "--user", "enable", UNIT_NAME)  # links files: works without a running manager
        start_cmds = [
            ("systemctl", "--user", "daemon-reload"),
            # systemctl skips (with a warning) names this shell does not have.
            ("systemctl", "--user", "import-environment", *DISPLAY_ENV_VARS),
            ("systemctl", "--user", "restart", UNIT_NAME),
        ]
        notes = []
        if not has_display(env):
            notes.append("this shell has no DISPLAY or WAYLAND_DISPLAY: run `systemctl --user import-environment "
                         f"{' '.join(DISPLAY_ENV_VARS)}` from a terminal in your graphical session (or let the "
                         "session import them) so the service can reach the display")
        if not enable:
            return InstallReport(path, False, False, (), tuple(shlex.join(c) for c in [enable_cmd, *start_cmds]),
                                 tuple(notes))
        steps, manual = _run_until_failure([enable_cmd], env)
        if manual:
            return InstallReport(path, False, False, tuple(steps), tuple(manual + [shlex.join(c) for c in start_cmds]),
                                 tuple(notes))
        more, manual = _run_until_failure(start_cmds, env)
        return InstallReport(path, True, not manual, tuple(steps + more), tuple(manual), tuple(notes))

    path = launch_agent_path(env)
    log_dir = macos_log_dir(env)
    log_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, render_launch_agent(command, log_dir=log_dir))
    domain = f"gui/{os.getuid()}"
    agent_notes = tuple(macos_permission_notes(executable))
    # Unload an older copy first (its failure only means it was not loaded).
    commands = [("launchctl", "enable", f"{domain}/{LAUNCH_AGENT_LABEL}"), ("launchctl", "bootstrap", domain, os.fspath(path))]
    if not enable:
        return InstallReport(path, False, False, (), tuple(shlex.join(c) for c in commands), agent_notes)
    steps = [_run(("launchctl", "bootout", f"{domain}/{LAUNCH_AGENT_LABEL}"), env)] if shutil.which(
        "launchctl", path=env.get("PATH")) else []
    more, manual = _run_until_failure(commands, env)
    # The plist in ~/Library/LaunchAgents loads at every login; bootstrap also starts it now.
    return InstallReport(path, not manual, not manual, tuple(steps + more), tuple(manual), agent_notes)


def _wants_links(unit_dir: Path) -> list[Path]:
    """``*.wants/handmap.service`` links ``systemctl enable`` made (to clean up by hand)."""
    if not unit_dir.is_dir():
        return []
    return [p for p in unit_dir.glob(f"*.wants/{UNIT_NAME}") if p.is_symlink()]


def uninstall(*, platform: str | None = None, env: Mapping[str, str] | None = None) -> UninstallReport:
    env = dict(os.environ if env is None else env)
    platform = _platform(platform)
    if platform == LINUX:
        unit_dir = systemd_unit_dir(env)
        path = unit_dir / UNIT_NAME
        steps: list[Step] = []
        manual: list[str] = []
        removed = path.exists()
        if removed:
            stop = _run(("systemctl", "--user", "stop", UNIT_NAME), env)
            steps += [stop, _run(("systemctl", "--user", "disable", UNIT_NAME), env)]
            if not stop.ok:
                manual.append(stop.shell)  # it may still run under a manager we cannot reach
        for link in _wants_links(unit_dir):  # what `disable` left, e.g. without systemctl
            link.unlink()
        path.unlink(missing_ok=True)
        if removed:
            reload = _run(("systemctl", "--user", "daemon-reload"), env)
            steps.append(reload)
            if not reload.ok:
                manual.append(reload.shell)
        return UninstallReport(path, removed, tuple(steps), tuple(manual))

    path = launch_agent_path(env)
    domain = f"gui/{os.getuid()}"
    steps, manual = [], []
    if path.exists():
        step = _run(("launchctl", "bootout", f"{domain}/{LAUNCH_AGENT_LABEL}"), env)
        steps.append(step)
        if not step.ok and shutil.which("launchctl", path=env.get("PATH")) is None:
            manual.append(step.shell)
    removed = path.exists()
    path.unlink(missing_ok=True)
    return UninstallReport(path, removed, tuple(steps), tuple(manual))


def _unit_command(text: str) -> tuple[str, ...]:
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            try:
                words = shlex.split(line[len("ExecStart="):])
            except ValueError:
                return (line[len("ExecStart="):],)
            words = [w.replace("%%", "%") for w in words]
            return (words[0], *(w.replace("$$", "$") for w in words[1:])) if words else ()
    return ()


def start_command(platform: str | None = None) -> str:
    """What starts the installed service now, in a terminal of the graphical session."""
    if _platform(platform) == LINUX:
        return f"systemctl --user start {UNIT_NAME}"
    return f"launchctl kickstart gui/{os.getuid()}/{LAUNCH_AGENT_LABEL}"


def status(*, platform: str | None = None, env: Mapping[str, str] | None = None,
           socket_path: Path | None = None) -> ServiceStatus:
    from handmap.daemon.control import ControlClient, ControlError, NotRunningError, StatusRequest, default_socket_path

    env = dict(os.environ if env is None else env)
    platform = _platform(platform)
    path = service_file(platform, env)
    installed = path.exists()
    command: tuple[str, ...] = ()
    enabled = active = "unknown"
    manager_error = ""
    if installed:
        if platform == LINUX:
            command = _unit_command(path.read_text(errors="replace"))
        else:
            try:
                command = tuple(plistlib.loads(path.read_bytes()).get("ProgramArguments", ()))
            except Exception as exc:
                manager_error = f"{path} is not a valid plist: {exc}"
    if not installed:
        enabled = active = "not installed"
    elif platform == LINUX:
        # is-enabled reads unit files (works without a manager); is-active asks the manager.
        # Both answer one word on stdout and exit non-zero for "disabled"/"inactive".
        answers = []
        for step in (_run(("systemctl", "--user", "is-enabled", UNIT_NAME), env),
                     _run(("systemctl", "--user", "is-active", UNIT_NAME), env)):
            word = step.output.strip()
            if word and " " not in word and "\n" not in word:
                answers.append(word)
            else:
                answers.append("unknown")
                manager_error = manager_error or f"systemctl --user: {word or 'no answer'}"
        enabled, active = answers
    else:
        pr = _run(("launchctl", "print", f"gui/{os.getuid()}/{LAUNCH_AGENT_LABEL}"), env)
        if pr.ok:
            enabled = "loaded"
            state = [ln.split("=", 1)[1].strip() for ln in pr.output.splitlines() if ln.strip().startswith("state =")]
            active = state[0] if state else "unknown"
        elif "not installed" in pr.output or shutil.which("launchctl", path=env.get("PATH")) is None:
            manager_error = f"launchctl is not available: {pr.output.strip()}"
        else:
            enabled, active = "not loaded", "inactive"
    daemon: dict = {}
    daemon_error = ""
    try:
        with ControlClient(socket_path or default_socket_path(env), timeout=2.0) as client:
            answer = client.request(StatusRequest())
        daemon = answer.get("status", {}) if answer.get("ok") else {}
        daemon_error = "" if answer.get("ok") else answer.get("error", "")
    except NotRunningError as exc:  # the advice depends on whether the service is installed
        daemon_error = f"handmap is not running ({exc.reason})"
    except ControlError as exc:
        daemon_error = str(exc)
    return ServiceStatus(platform, path, installed, command, bool(command) and Path(command[0]).is_file(),
                         enabled, active, manager_error, daemon, daemon_error)
