"""Face-touch alert stage: a desktop notification (and optional sound) when an episode
starts, at most once per cooldown window, mutable from the tray or the config.

``DesktopNotifications`` sends through desktop-notifier (D-Bus on Linux) from a private
asyncio event loop on its own thread: ``notify`` only queues the message and returns,
so the frame loop never waits on D-Bus. When no session bus or notification server is
reachable it logs that once and drops alerts, re-checking now and then (a service may
start before the desktop session). ``NullNotifier`` is for headless runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import shutil
import struct
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from handmap.daemon.files import atomic_file

if TYPE_CHECKING:
    from desktop_notifier import DesktopNotifier

log = logging.getLogger(__name__)

APP_NAME = "handmap"
ALERT_TITLE = "Face touch"
NOTIFICATIONS_BUS_NAME = "org.freedesktop.Notifications"
#: How long a notification stays on screen (seconds); the server may cap it.
NOTIFICATION_TIMEOUT_S = 5
#: How often to look again for a notification server after none was found.
SERVER_RETRY_S = 60.0
BUS_PROBE_TIMEOUT_S = 2.0
DEFAULT_COOLDOWN_S = 30.0
#: Sound players tried in order; the first on PATH is used.
SOUND_PLAYERS: tuple[tuple[str, ...], ...] = (("paplay",), ("aplay", "-q"), ("afplay",))
BEEP_FILENAME = "alert.wav"
BEEP_HZ = 880.0
BEEP_S = 0.18
BEEP_RATE = 22050
BEEP_VOLUME = 0.4


class Notifier(Protocol):
    def notify(self, title: str, body: str) -> None:
        """Show a notification; never blocks for long and never raises."""


class NullNotifier:
    """Headless: alerts are only logged."""

    def notify(self, title: str, body: str) -> None:
        log.debug("notification (no desktop): %s: %s", title, body)

    def close(self) -> None:
        pass


class DesktopNotifications:
    """Desktop notifications through desktop-notifier, sent from a private event loop."""

    def __init__(self, app_name: str = APP_NAME, timeout_s: int = NOTIFICATION_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._app_name = app_name
        self._timeout_s = timeout_s
        self._clock = clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="handmap-notify", daemon=True)
        self._thread.start()
        self._pending: set[concurrent.futures.Future] = set()
        self._pending_lock = threading.Lock()
        # Touched only on the loop thread:
        self._notifier: DesktopNotifier | None = None  # imported on first use: pulls in dbus-fast
        self._send_lock: asyncio.Lock | None = None
        self._server_ok = False
        self._next_probe = 0.0
        self._warned = False
        self._closed = False
        self.sent = 0  # notifications handed to the server (for status and tests)

    def notify(self, title: str, body: str) -> None:
        if self._closed:
            return
        fut = asyncio.run_coroutine_threadsafe(self._send(title, body), self._loop)
        with self._pending_lock:
            self._pending.add(fut)
        fut.add_done_callback(self._done)

    def _done(self, fut: concurrent.futures.Future) -> None:
        with self._pending_lock:
            self._pending.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("notification failed: %s", fut.exception())

    async def _send(self, title: str, body: str) -> None:
        # One at a time, in order: the first send probes the server for the others.
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        async with self._send_lock:
            await self._send_one(title, body)

    async def _send_one(self, title: str, body: str) -> None:
        if not await self._server_available():
            return
        if self._notifier is None:
            from desktop_notifier import DesktopNotifier  # lazy: pulls in dbus-fast

            self._notifier = DesktopNotifier(app_name=self._app_name, app_icon=None)
        await self._notifier.send(title, body, timeout=self._timeout_s)
        self.sent += 1

    async def _server_available(self) -> bool:
        if self._server_ok:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + SERVER_RETRY_S
        reason = await _probe_notification_server()
        if reason is None:
            self._server_ok = True
            if self._warned:
                log.info("notification server found: face-touch alerts resume")
            return True
        if not self._warned:
            log.warning("desktop notifications unavailable (%s); face-touch alerts are logged only", reason)
            self._warned = True
        return False

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued notification was handed over; True when all were."""
        with self._pending_lock:
            pending = list(self._pending)
        done, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (waiting up to ``timeout``), then stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        self.flush(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


async def _probe_notification_server() -> str | None:
    """None when a notification server owns its name on the session bus, else why not."""
    try:
        from dbus_fast import Message
        from dbus_fast.aio import MessageBus
    except ImportError as exc:
        return f"desktop-notifier is not installed ({exc})"
    bus = None
    try:
        bus = await asyncio.wait_for(MessageBus().connect(), BUS_PROBE_TIMEOUT_S)
        reply = await asyncio.wait_for(bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus", member="NameHasOwner",
            signature="s", body=[NOTIFICATIONS_BUS_NAME])), BUS_PROBE_TIMEOUT_S)
        if not reply.body or not reply.body[0]:
            return "no notification server on the session bus"
        return None
    except Exception as exc:  # connection refused, bad address, timeout...
        return f"cannot reach the session D-Bus: {exc or type(exc).__name__}"
    finally:
        if bus is not None:
            bus.disconnect()


class SoundPlayer:
    """Plays a short alert with the first system player found (paplay, aplay, afplay);
    silently does nothing when there is none. Never blocks: the player runs detached."""

    def __init__(self, sound: str | Path | None, cache_dir: Path,
                 players: Sequence[Sequence[str]] = SOUND_PLAYERS) -> None:
        self._command: list[str] | None = None
        self._proc: subprocess.Popen | None = None
        player = next((list(p) for p in players if shutil.which(p[0])), None)
        if player is None:
            log.info("alert sound: no sound player found (%s); alerts are silent",
                     ", ".join(p[0] for p in players))
            return
        path = Path(sound) if sound is not None else _write_beep(cache_dir / BEEP_FILENAME)
        if path is None or not path.is_file():
            log.warning("alert sound: %s not found; alerts are silent", path)
            return
        self._command = player + [str(path)]

    @property
    def enabled(self) -> bool:
        return self._command is not None

    def play(self) -> None:
        if self._command is None:
            return
        if self._proc is not None and self._proc.poll() is None:
            return  # still playing the previous one
        try:
            self._proc = subprocess.Popen(self._command, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            log.warning("alert sound: %s failed (%s); alerts are silent from now on", self._command[0], exc)
            self._command = None


def _write_beep(path: Path) -> Path | None:
    """A short sine beep as 16-bit mono WAV (every player reads WAV)."""
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        n = int(BEEP_RATE * BEEP_S)
        fade = int(BEEP_RATE * 0.01)
        frames = bytearray()
        for i in range(n):
            envelope = min(1.0, i / fade, (n - i) / fade)
            frames += struct.pack("<h", int(32767 * BEEP_VOLUME * envelope * math.sin(2 * math.pi * BEEP_HZ * i / BEEP_RATE)))
        with atomic_file(path) as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(BEEP_RATE)
            w.writeframes(bytes(frames))
        return path
    except OSError as exc:
        log.warning("alert sound: cannot write %s (%s)", path, exc)
        return None


class FaceTouchAlerts:
    """Decides when a face-touch episode raises an alert.

    At most one alert per ``cooldown_s`` (measured on the times the caller passes): a
    long touch is one episode, hence one alert, and touches repeated within the window
    raise none. Muted: no alert and no sound (and the cooldown is not consumed).
    ``sound`` is False (silent), True (a built-in beep) or the path of a sound file.
    """

    def __init__(self, notifier: Notifier, cooldown_s: float = DEFAULT_COOLDOWN_S,
                 sound: bool | str | Path = False, muted: bool = False,
                 cache_dir: Path | None = None, player: SoundPlayer | None = None) -> None:
        if cooldown_s < 0:
            raise ValueError("cooldown_s must be >= 0")
        self._notifier = notifier
        self.cooldown_s = float(cooldown_s)
        self._muted = bool(muted)
        self._lock = threading.Lock()
        self._last_alert: float | None = None
        if player is None and sound:
            if cache_dir is None:
                from handmap.daemon.paths import cache_dir as default_cache_dir

                cache_dir = default_cache_dir()
            player = SoundPlayer(None if sound is True else sound, cache_dir)
        self._player = player
        self.alerts = 0  # alerts raised so far

    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool) -> None:
        with self._lock:
            if self._muted != bool(muted):
                log.info("face-touch alerts %s", "muted" if muted else "unmuted")
            self._muted = bool(muted)

    def on_episode_start(self, hand, t_wall: float, touches_today: int | None = None, zone=None) -> bool:
        """Call when an episode starts; returns True when an alert was raised. ``zone``
        (a ``FaceZone``, when known) is named in the text."""
        with self._lock:
            if self._muted:
                return False
            last = self._last_alert
            # A clock stepped backwards (t_wall < last) counts as a new window.
            if last is not None and 0 <= t_wall - last < self.cooldown_s:
                return False
            self._last_alert = t_wall
            self.alerts += 1
        self._notifier.notify(ALERT_TITLE, _alert_body(hand, touches_today, zone))
        if self._player is not None:
            self._player.play()
        return True


#: How the notification names a zone (``FaceZone`` values); a zone not here by its value.
ZONE_WORDS = {"eyes": "eyes", "nose": "nose", "mouth": "mouth", "chin": "chin", "cheek": "cheek",
              "forehead": "forehead", "temple": "temple", "hair": "hairline"}


def _alert_body(hand, touches_today: int | None, zone=None) -> str:
    name = getattr(hand, "value", hand)
    who = f"Your {name} hand" if name in ("left", "right") else "A hand"
    where = getattr(zone, "value", zone)
    body = f"{who} touched your face ({ZONE_WORDS.get(where, where)})." if where else f"{who} touched your face."
    if touches_today is not None:
        body += f" Face touches today: {touches_today}."
    return body
