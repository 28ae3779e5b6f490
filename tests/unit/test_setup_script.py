"""scripts/setup.sh, the first thing a new user runs (through run.sh and test.sh): it
installs once, `run.sh` after `test.sh` does not install again (the test install is a
superset), and pip's build warnings are not shown unless the install fails.

The real script runs in a copy of the checkout; its ``.venv/bin/python`` is a stand-in
that logs how it was called and prints what setuptools prints (a real pip install needs
the network and minutes, and would change the project's own environment).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from cli import PROJECT

#: What setuptools prints on an editable install: ~80 lines of warnings.
NOISE = "\n".join(f"  BuildBackendWarning: line {i} of a deprecation notice" for i in range(80))
TOOLS = ("bash", "cat", "sha256sum", "cut", "id", "dirname", "mktemp", "rm")


def checkout(tmp_path: Path, pip_fails: bool = False) -> Path:
    root = tmp_path / "handmap"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(PROJECT / "scripts" / "setup.sh", root / "scripts")
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(PROJECT / name, root)
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/bash\necho \"$*\" >> {root}/pip-calls\ncat >&2 <<'EOF'\n{NOISE}\nEOF\n"
                      f"exit {1 if pip_fails else 0}\n")
    python.chmod(0o755)
    # Only the tools the script needs: no apt-get, so the Debian step is never taken.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), tools / tool)
    return root


def setup(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(root.parent / "bin"), "HOME": str(root.parent)}
    return subprocess.run(["bash", str(root / "scripts" / "setup.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def installs(root: Path) -> list[str]:
    calls = root / "pip-calls"
    return [line for line in calls.read_text().splitlines() if " -e " in line] if calls.exists() else []


def test_run_after_test_does_not_install_again_and_pip_noise_is_hidden(tmp_path):
    root = checkout(tmp_path)
    first = setup(root, "--tests")
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [
        "handmap setup: installing Python dependencies into .venv (pinned by requirements.lock)"]
    assert len(installs(root)) == 1 and installs(root)[0].endswith('-e .[test]')

    again = setup(root)  # what run.sh does next
    assert again.returncode == 0 and again.stderr == "" and again.stdout == "", again
    assert len(installs(root)) == 1
    assert setup(root, "--tests").stderr == ""
    assert len(installs(root)) == 1

    (root / "requirements.lock").write_text((root / "requirements.lock").read_text() + "\n# changed\n")
    assert setup(root).returncode == 0
    assert len(installs(root)) == 2 and installs(root)[1].endswith("-e .")


def test_a_failed_install_shows_pip_and_fails(tmp_path):
    root = checkout(tmp_path, pip_fails=True)
    out = setup(root)
    assert out.returncode == 1
    assert "line 79 of a deprecation notice" in out.stderr
    assert out.stderr.rstrip().endswith("installing the Python dependencies failed (pip's output above)")
    assert not (root / ".venv" / ".handmap-installed").exists()
