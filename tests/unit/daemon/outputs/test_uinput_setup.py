"""``handmap setup uinput``: the plan of root commands, their execution, and the command.

The plan is pure. Execution runs real commands (``tee`` into a temporary file, ``false``
to fail): nothing here changes the machine's /etc, and this kernel has no uinput, so
the last step (the device becoming writable after a new login) cannot be shown here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handmap.daemon.outputs import uinput_setup as setup

FRESH = setup.Machine(user="ada", module_loaded=False, module_at_boot=False, group_exists=False,
                      rule_installed=False, in_group=False, writable=False)


def handmap(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "handmap.daemon.cli", "setup", "uinput", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_a_fresh_machine_needs_every_step_in_order():
    steps = setup.plan(FRESH)
    assert [s.command for s in steps] == [
        ("modprobe", "uinput"),
        ("tee", str(setup.MODULES_LOAD_FILE)),
        ("groupadd", "--system", "uinput"),
        ("tee", str(setup.UDEV_RULE_FILE)),
        ("udevadm", "control", "--reload"),
        ("udevadm", "trigger", "--sysname-match=uinput"),
        ("usermod", "-aG", "uinput", "ada"),
    ]
    assert steps[3].stdin == setup.UDEV_RULE
    assert 'GROUP="uinput", MODE="0660"' in setup.UDEV_RULE
    assert steps[3].shell() == (f"echo '{setup.UDEV_RULE.strip()}' | sudo tee {setup.UDEV_RULE_FILE} >/dev/null")


def test_only_what_is_missing_is_planned_and_a_pending_login_is_seen():
    done = setup.Machine(user="ada", module_loaded=True, module_at_boot=True, group_exists=True,
                         rule_installed=True, in_group=True, writable=False)
    assert setup.plan(done) == []
    assert done.needs_login
    only_group = setup.Machine(**{**done.__dict__, "in_group": False})
    assert [s.command for s in setup.plan(only_group)] == [("usermod", "-aG", "uinput", "ada")]
    assert not only_group.needs_login


def test_probe_reads_the_rule_and_the_boot_file(tmp_path):
    rule, boot = tmp_path / "60-handmap-uinput.rules", tmp_path / "uinput.conf"
    machine = setup.probe("root", devnode=str(tmp_path / "uinput"), rule_file=rule, modules_file=boot)
    assert not machine.rule_installed and not machine.module_at_boot and not machine.module_loaded
    assert machine.in_group  # root needs no group
    rule.write_text('KERNEL=="uinput", GROUP="input", MODE="0660"\n')  # someone else's, older rule
    boot.write_text(setup.MODULES_LOAD)
    machine = setup.probe("root", devnode=str(tmp_path / "uinput"), rule_file=rule, modules_file=boot)
    assert not machine.rule_installed and machine.module_at_boot
    assert [s.command[0] for s in setup.plan(machine)][-3:] == ["tee", "udevadm", "udevadm"]


def test_steps_run_in_order_and_stop_at_the_first_failure(tmp_path):
    rule = tmp_path / "rule"
    never = tmp_path / "never"
    steps = [setup.Step("write the rule", ("tee", str(rule)), setup.UDEV_RULE),
             setup.Step("fail", ("false",)),
             setup.Step("never run", ("tee", str(never)), "x")]
    outcome = setup.apply(steps, as_root=True)
    assert rule.read_text() == setup.UDEV_RULE
    assert not outcome.ok and outcome.failed is steps[1] and outcome.done == (steps[0],)
    assert outcome.error == "exit status 1"
    assert not never.exists()


def test_a_missing_program_is_named(tmp_path):
    outcome = setup.apply([setup.Step("reload udev", ("handmap-no-such-program", "--reload"))], as_root=True)
    assert outcome.failed is not None and outcome.error == "handmap-no-such-program is not installed here"


@pytest.mark.skipif(Path("/dev/uinput").exists(), reason="this machine has uinput: the plan would differ")
def test_the_command_explains_lists_the_commands_and_changes_nothing_without_consent():
    before = setup.UDEV_RULE_FILE.exists()
    out = handmap("--dry-run")
    assert out.returncode == 0, out.stderr
    assert "virtual mouse and keyboard" in out.stdout and "Wayland" in out.stdout
    assert "  sudo modprobe uinput\n" in out.stdout
    assert "--dry-run: nothing changed" in out.stdout
    refused = handmap()  # stdin is not a terminal and no --yes: nothing may run
    assert refused.returncode == 1
    assert "run again with --yes" in refused.stderr and "nothing changed" in refused.stdout
    assert setup.UDEV_RULE_FILE.exists() == before
    if os.geteuid() == 0:
        assert "to give root access" in out.stdout
