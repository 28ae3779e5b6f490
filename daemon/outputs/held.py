"""Output stage: what every backend holds down, and the journal that survives a kill.

:class:`HeldInputs` is the bookkeeping all backends share: which buttons and keys are
down right now, in press order. Presses and releases are idempotent, and
:meth:`HeldInputs.release_order` gives the most recent press first, so a combo such as
ctrl+shift+t lets go of ``t`` before the modifiers.

With a journal path it also keeps ``$XDG_RUNTIME_DIR/handmap-held.json`` up to date,
written atomically whenever the held set changes and removed when it is empty. A run
ended by SIGKILL or a hard crash cannot release anything itself; the next start calls
:func:`recover_stale_held`, which releases what the journal says the dead run held.
The file changes only on press and release, never per frame.

:func:`guard` is the "every way out" wrapper the daemon runs its loop in: normal exit,
exceptions, Ctrl-C, SIGTERM and SIGHUP all release held input and close the backend.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Any

from handmap.daemon.files import write_atomic
from handmap.mappings import actions as a

log = logging.getLogger(__name__)

JOURNAL_NAME = "handmap-held.json"
JOURNAL_VERSION = 1
#: Signals :func:`guard` turns into a clean exit (SIGINT already raises KeyboardInterrupt).
GUARDED_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)


class InputKind(str, Enum):
    BUTTON = "button"
    KEY = "key"


@dataclass(frozen=True)
class HeldInput:
    """One button (``left``/``right``/``middle``) or key (pynput-style name) held down."""

    kind: InputKind
    name: str


def journal_path(env: Mapping[str, str]) -> Path | None:
    """Where the held-input journal lives, or None when there is no runtime directory."""
    runtime = env.get("XDG_RUNTIME_DIR")
    if not runtime:
        return None
    return Path(runtime) / JOURNAL_NAME


class HeldInputs:
    """The set of held buttons and keys, in press order, optionally journaled.

    Thread-safe. The journal is not touched until the held set first changes, so a
    stale journal from a killed run is still there for :func:`recover_stale_held`.
    """

    def __init__(self, journal: Path | None = None, backend: str = "") -> None:
        self._held: dict[HeldInput, None] = {}  # insertion-ordered set
        self._journal = journal
        self._backend = backend
        self._lock = threading.Lock()

    @property
    def journal(self) -> Path | None:
        return self._journal

    def press(self, item: HeldInput) -> bool:
        """Mark ``item`` held; False (and nothing changes) when it already was."""
        with self._lock:
            if item in self._held:
                return False
            self._held[item] = None
            self._write_journal()
            return True

    def release(self, item: HeldInput) -> bool:
        """Mark ``item`` released; False (and nothing changes) when it was not held."""
        with self._lock:
            if item not in self._held:
                return False
            del self._held[item]
            self._write_journal()
            return True

    def is_held(self, item: HeldInput) -> bool:
        with self._lock:
            return item in self._held

    def held(self) -> tuple[HeldInput, ...]:
        """Everything held now, oldest press first."""
        with self._lock:
            return tuple(self._held)

    def release_order(self) -> tuple[HeldInput, ...]:
        """Everything held now, most recent press first: the order to let go in."""
        return tuple(reversed(self.held()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def _write_journal(self) -> None:
        if self._journal is None:
            return
        try:
            if not self._held:
                with contextlib.suppress(FileNotFoundError):
                    self._journal.unlink()
                return
            payload = {
                "version": JOURNAL_VERSION,
                "pid": os.getpid(),
                "backend": self._backend,
                "held": [{"kind": h.kind.value, "name": h.name} for h in self._held],
            }
            write_atomic(self._journal, json.dumps(payload))
        except OSError as exc:  # a full or read-only runtime dir must not stop input
            log.warning("could not update the held-input journal %s: %s", self._journal, exc)


@dataclass(frozen=True)
class StaleJournal:
    """What a previous run's journal says it held when it died."""

    pid: int
    backend: str
    held: tuple[HeldInput, ...]


def read_journal(path: Path) -> StaleJournal | None:
    """The journal at ``path``, or None when absent; unreadable journals are logged and None."""
    try:
        data = json.loads(path.read_text())
        held = tuple(HeldInput(InputKind(h["kind"]), str(h["name"])) for h in data["held"])
        return StaleJournal(pid=int(data.get("pid", 0)), backend=str(data.get("backend", "")), held=held)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable held-input journal %s: %s", path, exc)
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale_held(output: HoldingOutput, journal: Path | None = None) -> tuple[HeldInput, ...]:
    """Release what a killed previous run left held, as its journal recorded; return it.

    Call once at startup, after the output backend is built and before the first frame.
    ``journal`` defaults to the backend's own journal path. Does nothing (and leaves the
    journal for the next injecting run) when ``output`` injects nothing (dry-run), or
    when the journal's process is still alive (another handmap holds those inputs).
    """
    held_inputs = output.held
    path = journal if journal is not None else held_inputs.journal
    if path is None or not output.injects:
        return ()
    stale = read_journal(path)
    if stale is None:
        return ()
    if _pid_alive(stale.pid):
        log.warning("held-input journal %s belongs to running process %d; leaving it alone", path, stale.pid)
        return ()
    if stale.held:
        log.warning(
            "a previous handmap run (pid %d, %s) ended with %s held; releasing them",
            stale.pid, stale.backend or "unknown backend", ", ".join(f"{h.kind.value} {h.name}" for h in stale.held),
        )
        for item in stale.held:
            held_inputs.press(item)  # adopt, so the backend's own release path lets go of it
        output.release_all()
    with contextlib.suppress(FileNotFoundError):
        if not len(held_inputs):
            path.unlink()
    return stale.held


#: What ``signal.signal`` returns and takes: a function, SIG_DFL/SIG_IGN, or None.
_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class ExitSignal(SystemExit):
    """Raised in the main thread by :func:`guard`'s handlers for SIGTERM and SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


@contextlib.contextmanager
def guard(output, signals: Sequence[int] = GUARDED_SIGNALS) -> Iterator[object]:
    """Run a block with ``output``; release held input and close it on every way out.

    Inside the block, the given signals (default SIGTERM and SIGHUP) raise
    :class:`ExitSignal` (a ``SystemExit`` with status 128 + signal number) in the main
    thread, so the block unwinds through its ``finally`` clauses; Ctrl-C raises
    KeyboardInterrupt as usual. On leaving, for whatever reason, the backend's held keys
    and buttons are released and it is closed; the previous signal handlers come back.
    Signal handlers can only be installed from the main thread: elsewhere ``signals``
    is ignored (with a debug log). SIGKILL and hard crashes are covered by the journal
    and :func:`recover_stale_held` at the next start.
    """

    def on_signal(signum, _frame):
        raise ExitSignal(signum)

    previous: dict[int, _SignalHandler] = {}
    if signals and threading.current_thread() is threading.main_thread():
        for signum in signals:
            previous[signum] = signal.signal(signum, on_signal)
    elif signals:
        log.debug("guard() outside the main thread: not installing signal handlers")
    try:
        yield output
    finally:
        try:
            # A second SIGTERM while releasing must not cut the release short.
            for signum in previous:
                signal.signal(signum, signal.SIG_IGN)
            try:
                output.release_all()
            finally:
                output.close()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class HoldingOutput:
    """Base for backends: dispatches actions, keeps :class:`HeldInputs`, releases on exit.

    Subclasses implement the raw operations (``_move``, ``_button``, ``_scroll``,
    ``_key``, ``_type``, ``_report``, ``_close``) and set ``name`` and ``injects``. Downs
    and ups are idempotent: a second down of a held button, or an up of one that is not
    held, does nothing. A down is recorded before it is injected and an up forgotten
    after it is injected, so an exception in between can only cause a spare release,
    never a stuck one.
    """

    name = "base"
    injects = True

    def __init__(self, journal: Path | None = None) -> None:
        self.held = HeldInputs(journal if self.injects else None, backend=self.name)
        self._lock = threading.RLock()
        self._closed = False
        self.reason = ""  # why the selector chose this backend (``handmap doctor`` shows it)

    # -- the Output protocol -------------------------------------------------------
    def emit(self, item: a.Stamped) -> None:
        action = item.action
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} output is closed")
            if isinstance(action, a.MouseMove):
                self._move(item, int(action.x), int(action.y))
            elif isinstance(action, (a.MouseDown, a.MouseUp)):
                button = a.Button(action.button).value
                self._check_button(button)
                self._press_or_release(item, HeldInput(InputKind.BUTTON, button), isinstance(action, a.MouseDown))
            elif isinstance(action, (a.KeyDown, a.KeyUp)):
                self._check_key(action.key)
                self._press_or_release(item, HeldInput(InputKind.KEY, action.key), isinstance(action, a.KeyDown))
            elif isinstance(action, a.Scroll):
                if action.dx or action.dy:
                    self._scroll(item, int(action.dx), int(action.dy))
            elif isinstance(action, a.TypeText):
                if action.text:
                    self._type(item, action.text)
            else:
                self._report(item)

    def release_all(self, t: float = 0.0, frame: int = 0) -> None:
        """Let go of every held button and key, most recent first. Idempotent."""
        with self._lock:
            for held in self.held.release_order():
                try:
                    self._raw(held, down=False, t=t, frame=frame)
                except Exception as exc:  # keep releasing the others
                    log.error("%s output: could not release %s %s: %s", self.name, held.kind.value, held.name, exc)
                self.held.release(held)

    def close(self) -> None:
        """Release everything, then free the backend. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                self.release_all()
            finally:
                self._closed = True
                self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------
    def _press_or_release(self, item, held: HeldInput, down: bool) -> None:
        if down:
            # Kept as held even if the injection fails half-way (or a signal interrupts
            # it): a spare release later is harmless, a forgotten press is a stuck key.
            if self.held.press(held):
                self._raw(held, down=True, t=item.t, frame=item.frame)
        elif self.held.is_held(held):
            self._raw(held, down=False, t=item.t, frame=item.frame)
            self.held.release(held)

    def _raw(self, held: HeldInput, down: bool, t: float, frame: int) -> None:
        if held.kind is InputKind.BUTTON:
            self._button(held.name, down, t, frame)
        else:
            self._key(held.name, down, t, frame)

    # -- what a backend provides ---------------------------------------------------
    def _check_button(self, button: str) -> None:
        pass

    def _check_key(self, key: str) -> None:
        """Raise ValueError with a readable message for a key name this backend lacks."""

    def _move(self, item, x: int, y: int) -> None:
        raise NotImplementedError

    def _button(self, button: str, down: bool, t: float, frame: int) -> None:
        raise NotImplementedError

    def _key(self, key: str, down: bool, t: float, frame: int) -> None:
        raise NotImplementedError

    def _scroll(self, item, dx: int, dy: int) -> None:
        raise NotImplementedError

    def _type(self, item, text: str) -> None:
        raise NotImplementedError

    def _report(self, item) -> None:
        """Pose, face-touch, profile, pause reports: injecting backends ignore them."""

    def _close(self) -> None:
        pass
