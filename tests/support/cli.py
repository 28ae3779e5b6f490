"""Run the real ``handmap`` command line in a subprocess, as users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: The project's root (the checkout) and the tests' support folder.
PROJECT = Path(__file__).resolve().parents[2]
SUPPORT = Path(__file__).resolve().parent


def handmap(*args: str, env: dict | None = None, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "handmap.daemon.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, input=input)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
