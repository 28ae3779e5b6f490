"""Output stage, uinput access: what ``handmap setup uinput`` changes so this user may
write ``/dev/uinput``, as a plan of root commands (pure) and their execution.

The device is given to a dedicated ``uinput`` group (a udev rule), not to ``input``:
members of ``input`` may also read every keyboard (``/dev/input/event*``), which
handmap does not need. The module is loaded now and at every boot; the user joins the
group, which counts from the next login. :func:`probe` reads what is there already,
:func:`plan` lists only the missing steps, :func:`apply` runs them (through ``sudo``
unless already root) and stops at the first one that fails.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from handmap.daemon.outputs.uinput_backend import UINPUT_DEVNODE

GROUP = "uinput"
UDEV_RULE_FILE = Path("/etc/udev/rules.d/60-handmap-uinput.rules")
UDEV_RULE = f'KERNEL=="uinput", SUBSYSTEM=="misc", GROUP="{GROUP}", MODE="0660", OPTIONS+="static_node=uinput"\n'
MODULES_LOAD_FILE = Path("/etc/modules-load.d/handmap-uinput.conf")
MODULES_LOAD = "uinput\n"
STEP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Machine:
    """What is in place already for ``user``."""

    user: str
    module_loaded: bool  # /dev/uinput exists
    module_at_boot: bool  # the modules-load.d file is there
    group_exists: bool
    rule_installed: bool  # handmap's udev rule is there, as written by this version
    in_group: bool  # the user is a member (root needs no group)
    writable: bool  # this process may write /dev/uinput now
    rule_file: Path = UDEV_RULE_FILE
    modules_file: Path = MODULES_LOAD_FILE

    @property
    def needs_login(self) -> bool:
        """The user is in the group, but this login started before they joined it."""
        return self.in_group and self.module_loaded and self.rule_installed and not self.writable


@dataclass(frozen=True)
class Step:
    """One root command, why it is there, and what it reads on stdin (a file's text for ``tee``)."""

    why: str
    command: tuple[str, ...]
    stdin: str = ""

    def shell(self) -> str:
        """The command as a user would type it (with sudo)."""
        line = "sudo " + shlex.join(self.command)
        if self.stdin:
            line = f"echo {shlex.quote(self.stdin.rstrip(chr(10)))} | {line} >/dev/null"
        return line


def target_user(env: Mapping[str, str]) -> str:
    """The user to give access to: the one who ran ``sudo handmap ...``, else this one."""
    return env.get("SUDO_USER") or getpass.getuser()


def _member(user: str, group: grp.struct_group | None) -> bool:
    if group is None:
        return False
    if user in group.gr_mem:
        return True
    try:
        return pwd.getpwnam(user).pw_gid == group.gr_gid
    except KeyError:
        return False


def probe(user: str, devnode: str = UINPUT_DEVNODE, rule_file: Path = UDEV_RULE_FILE,
          modules_file: Path = MODULES_LOAD_FILE) -> Machine:
    """What is in place on this machine for ``user``."""
    try:
        group: grp.struct_group | None = grp.getgrnam(GROUP)
    except KeyError:
        group = None
    try:
        rule = rule_file.read_text() == UDEV_RULE
    except OSError:
        rule = False
    is_root = user == "root"
    return Machine(
        user=user,
        module_loaded=os.path.exists(devnode),
        module_at_boot=modules_file.exists(),
        group_exists=group is not None,
        rule_installed=rule,
        in_group=is_root or _member(user, group),
        writable=os.path.exists(devnode) and os.access(devnode, os.R_OK | os.W_OK),
        rule_file=rule_file,
        modules_file=modules_file,
    )


def plan(machine: Machine) -> list[Step]:
    """The root commands still needed, in order (empty: nothing to do)."""
    steps: list[Step] = []
    if not machine.module_loaded:
        steps.append(Step("load the uinput kernel module now", ("modprobe", "uinput")))
    if not machine.module_at_boot:
        steps.append(Step("load it at every boot", ("tee", str(machine.modules_file)), MODULES_LOAD))
    if not machine.group_exists:
        steps.append(Step(f"create the {GROUP} group", ("groupadd", "--system", GROUP)))
    if not machine.rule_installed:
        steps += [
            Step(f"give the {GROUP} group read and write access to {UINPUT_DEVNODE} (a udev rule)",
                 ("tee", str(machine.rule_file)), UDEV_RULE),
            Step("make udev read its rules again", ("udevadm", "control", "--reload")),
            Step(f"apply them to {UINPUT_DEVNODE} now", ("udevadm", "trigger", "--sysname-match=uinput")),
        ]
    if not machine.in_group:
        steps.append(Step(f"add {machine.user} to the {GROUP} group (counts from the next login)",
                          ("usermod", "-aG", GROUP, machine.user)))
    return steps


@dataclass(frozen=True)
class Outcome:
    """What :func:`apply` did: the steps that ran, and the one that failed with why."""

    done: tuple[Step, ...]
    failed: Step | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.failed is None


Runner = Callable[..., subprocess.CompletedProcess]


def apply(steps: Sequence[Step], as_root: bool | None = None, run: Runner = subprocess.run) -> Outcome:
    """Run ``steps`` in order (through ``sudo`` unless ``as_root``), stopping at the first failure."""
    as_root = os.geteuid() == 0 if as_root is None else as_root
    prefix: tuple[str, ...] = ()
    if steps and not as_root:
        if shutil.which("sudo") is None:
            return Outcome((), steps[0], "these steps need root and sudo is not installed: "
                                         "run 'handmap setup uinput' as root (su -c)")
        prefix = ("sudo",)
    done: list[Step] = []
    for step in steps:
        if shutil.which(step.command[0]) is None and not prefix:
            return Outcome(tuple(done), step, f"{step.command[0]} is not installed here")
        try:
            result = run([*prefix, *step.command], input=step.stdin or None, text=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=STEP_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            return Outcome(tuple(done), step, str(exc))
        if result.returncode != 0:
            text = (result.stderr or "").strip().splitlines()
            return Outcome(tuple(done), step, text[-1] if text else f"exit status {result.returncode}")
        done.append(step)
    return Outcome(tuple(done))
