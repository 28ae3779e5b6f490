"""A real daemon (``handmap run``, dry-run output) replaying a real clip with its settings
window on, in private XDG folders, for the settings window's tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from handmap.daemon.ui.security import ACCESS_FILE, Access

#: Set (to anything) to refresh the settings window's screenshots in docs/ (README shows them).
UPDATE_SCREENSHOTS_VAR = "HANDMAP_UPDATE_SCREENSHOTS"


def screenshots_dir() -> Path:
    """Where the browser tests save their screenshots: docs/ when ``HANDMAP_UPDATE_SCREENSHOTS``
    is set, else a temporary folder, so a test run leaves the checkout as it was."""
    if os.environ.get(UPDATE_SCREENSHOTS_VAR):
        return Path(__file__).resolve().parents[2] / "docs"
    import tempfile

    return Path(tempfile.mkdtemp(prefix="handmap-screenshots-"))

STARTUP_S = 60


@dataclass
class UiDaemon:
    proc: subprocess.Popen
    env: dict
    home: Path
    stdout: Path
    stderr: Path
    access: Access

    @property
    def profiles(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "handmap" / "profiles"

    @property
    def access_file(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / ACCESS_FILE

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.read_text().splitlines() if line.startswith("{")]

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """A request as a script would send it: the token in its header."""
        req = urllib.request.Request(self.access.origin + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Handmap-Token": self.access.token,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def login(chromium, daemon: UiDaemon, page: str = "") -> None:
    """Open the window as ``handmap ui`` does (its address with the token), then ``page``."""
    result = subprocess.run([sys.executable, "-m", "handmap.daemon.cli", "ui", "--print-url"], env=daemon.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    chromium.go(result.stdout.strip())
    chromium.wait_for(lambda: chromium.url.endswith("/live"), what="the live page after the login")
    if page:
        chromium.go(daemon.access.origin + page)


def private_env(home: Path) -> dict:
    env = dict(os.environ)
    for var, sub in (("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache")):
        folder = home / sub
        folder.mkdir(parents=True, exist_ok=True)
        env[var] = str(folder)
    os.chmod(env["XDG_RUNTIME_DIR"], 0o700)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        env.pop(var, None)
    return env


def start(source: Path, home: Path, *args: str, config: str = "") -> UiDaemon:
    """``handmap run --source SOURCE --realtime --output dry-run`` with the window on."""
    env = private_env(home)
    if config:
        (home / "config" / "handmap").mkdir(parents=True, exist_ok=True)
        (home / "config" / "handmap" / "config.yaml").write_text(config)
    stdout, stderr = home / "events.jsonl", home / "stderr.txt"
    proc = subprocess.Popen([sys.executable, "-m", "handmap.daemon.cli", "run", "--source", str(source), "--realtime",
                             "--output", "dry-run", "--no-tray", *args],
                            stdout=stdout.open("w"), stderr=stderr.open("w"), env=env)
    access_file = Path(env["XDG_RUNTIME_DIR"]) / ACCESS_FILE
    deadline = time.monotonic() + STARTUP_S
    while not access_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the daemon did not serve its settings window: {stderr.read_text()[-2000:]}")
        time.sleep(0.1)
    data = json.loads(access_file.read_text())
    return UiDaemon(proc, env, home, stdout, stderr, Access(data["port"], data["token"], data["pid"]))
