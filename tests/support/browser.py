"""A real Chromium driven over WebDriver (Debian's chromium and chromium-driver), with
the flags this machine needs; a small W3C WebDriver client over the standard library
(no browser download, no extra Python package)."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


def missing() -> str | None:
    """Why the browser tests cannot run here, None when they can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found (Debian's chromium and chromium-driver; bash scripts/test.sh as root installs them)"
    return None


def started(width: int = 1100, height: int = 820) -> Browser:
    """A browser for a test, or the test skipped (with why) where none can run."""
    import pytest

    reason = missing()
    if reason:
        pytest.skip(reason)
    return Browser(width, height)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(Exception):
    pass


class Element:
    def __init__(self, browser: Browser, element_id: str) -> None:
        self.browser = browser
        self.id = element_id

    def _call(self, method: str, what: str, body: dict | None = None) -> Any:
        return self.browser.call(method, f"/element/{self.id}/{what}", body)

    def click(self) -> None:
        self._call("POST", "click", {})

    def clear(self) -> None:
        self._call("POST", "clear", {})

    def type(self, text: str) -> None:
        self._call("POST", "value", {"text": text})

    @property
    def text(self) -> str:
        return self._call("GET", "text")

    def prop(self, name: str) -> Any:
        return self._call("GET", f"property/{name}")

    def attr(self, name: str) -> Any:
        return self._call("GET", f"attribute/{name}")


class Browser:
    """One headless Chromium session; ``close`` ends it and the driver."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="handmap-chromium-")
        self._port = _free_port()
        self._driver = subprocess.Popen([CHROMEDRIVER, f"--port={self._port}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._base = f"http://127.0.0.1:{self._port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._request("GET", "/status")
                break
            except (OSError, WebDriverError):
                if time.monotonic() > deadline:
                    self._driver.kill()
                    raise
                time.sleep(0.1)
        args = [*FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}"]
        answer = self._request("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}})
        self._session = answer["sessionId"]

    def _request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self._base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as answer:
                payload = json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
            raise WebDriverError(f"{method} {path}: {payload.get('value', payload)}") from None
        return payload.get("value", payload) if path != "/session" else payload["value"]

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        return self._request(method, f"/session/{self._session}{path}", body)

    def go(self, url: str) -> None:
        self.call("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return self.call("GET", "/url")

    def find(self, css: str) -> Element:
        found = self.call("POST", "/element", {"using": "css selector", "value": css})
        if not isinstance(found, dict) or ELEMENT not in found:
            raise WebDriverError(f"no element {css!r}: {found!r}")
        return Element(self, found[ELEMENT])

    def find_all(self, css: str) -> list[Element]:
        return [Element(self, f[ELEMENT]) for f in self.call("POST", "/elements", {"using": "css selector", "value": css})]

    def run(self, script: str, *args: Any) -> Any:
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, condition, timeout: float = 30.0, every: float = 0.1, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = condition()
            except WebDriverError as exc:
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what or condition} (last: {last!r})")

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("GET", "/screenshot")))
        return path

    def close(self) -> None:
        try:
            self.call("DELETE", "")
        except (OSError, WebDriverError):
            pass
        self._driver.terminate()
        try:
            self._driver.wait(10)
        except subprocess.TimeoutExpired:
            self._driver.kill()
        shutil.rmtree(self._profile, ignore_errors=True)
