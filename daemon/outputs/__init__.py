"""Output stage: the backend selector.

One selector, :func:`select_output`, builds the backend named by ``--output`` or the
config (``pynput``, ``uinput``, ``dry-run``), or picks one for this desktop when the
name is ``auto`` or None: pynput on X11, macOS and Windows; uinput under Wayland (pynput
cannot inject into native Wayland windows) and on a bare console. :func:`choose_output`
makes the same decision without building anything and says why (``handmap doctor``
prints it). When the requested backend cannot work here the selector raises
:class:`OutputUnavailable`: one sentence saying what is wrong and what to do.

Backends are imported only when chosen: pynput opens the X display on import.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from handmap.daemon.desktop.session import SessionKind, detect, needs_x_display, session_kind, x_display
from handmap.daemon.outputs.held import (
    ExitSignal,
    HeldInput,
    HeldInputs,
    HoldingOutput,
    InputKind,
    guard,
    recover_stale_held,
)

log = logging.getLogger(__name__)

AUTO = "auto"
PYNPUT = "pynput"
UINPUT = "uinput"
DRY_RUN = "dry-run"
OUTPUT_NAMES = (AUTO, PYNPUT, UINPUT, DRY_RUN)
#: Where a fix for uinput is found; ``doctor`` itself puts its own pointer in its place.
DOCTOR_HINT = " ('handmap doctor' says how)"

__all__ = [
    "DOCTOR_HINT", "OUTPUT_NAMES", "Choice", "ExitSignal", "HeldInput", "HeldInputs", "InputKind", "OutputUnavailable",
    "choose_output", "guard", "recover_stale_held", "select_output",
]


class OutputUnavailable(RuntimeError):
    """The requested output backend cannot work here; ``fix`` says what to do."""

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


@dataclass(frozen=True)
class Choice:
    """Which backend a name resolves to here, why, and what stops it (if anything)."""

    name: str
    reason: str
    problem: OutputUnavailable | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None


def _uinput_problem(platform: str) -> OutputUnavailable | None:
    from handmap.daemon.outputs.uinput_backend import uinput_problem

    return uinput_problem(platform=platform)


def pynput_problem(env: Mapping[str, str], platform: str = sys.platform) -> OutputUnavailable | None:
    """Why pynput cannot work in ``env`` (no X display where it needs one), or None."""
    if needs_x_display(platform) and not x_display(env):
        return OutputUnavailable(
            "the pynput output needs an X display, and DISPLAY is not set",
            "run handmap inside your X11 session (or set DISPLAY=:0); under Wayland use --output uinput",
        )
    return None


def choose_output(
    name: str | None,
    env: Mapping[str, str],
    platform: str = sys.platform,
    uinput_problem: OutputUnavailable | None = None,
    check_uinput: bool = True,
) -> Choice:
    """Resolve ``name`` (None or ``auto`` included) to a backend for this desktop, with the reason.

    ``uinput_problem`` overrides the probe of /dev/uinput (tests, or a caller that has
    probed already); with ``check_uinput`` False uinput is assumed usable.
    """
    requested = (name or AUTO).strip().lower().replace("_", "-")
    if requested == "dryrun":
        requested = DRY_RUN
    if requested not in OUTPUT_NAMES:
        raise OutputUnavailable(f"unknown output {name!r}", "use one of pynput, uinput, dry-run or auto")

    def uinput_issue() -> OutputUnavailable | None:
        if uinput_problem is not None:
            return uinput_problem
        return _uinput_problem(platform) if check_uinput else None

    if requested == DRY_RUN:
        return Choice(DRY_RUN, "requested: nothing is injected, events go to stdout as JSON Lines")
    if requested == PYNPUT:
        problem = pynput_problem(env, platform)
        reason = "requested with --output or in the config"
        if session_kind(env, platform) is SessionKind.WAYLAND and problem is None:
            reason += " (Wayland session: pynput reaches only X11 apps through Xwayland)"
        return Choice(PYNPUT, reason, problem)
    if requested == UINPUT:
        return Choice(UINPUT, "requested with --output or in the config", uinput_issue())

    session = detect(env, platform)
    if session.kind is SessionKind.MACOS:
        return Choice(PYNPUT, "macOS: pynput posts Quartz events (needs the Accessibility permission)")
    if session.kind is SessionKind.WINDOWS:
        return Choice(PYNPUT, "Windows: pynput sends SendInput events")
    if session.kind is SessionKind.X11:
        return Choice(PYNPUT, f"X11 session (DISPLAY={session.x_display}): pynput injects through XTest")
    issue = uinput_issue()
    if session.kind is SessionKind.WAYLAND:
        if issue is None:
            return Choice(UINPUT, "Wayland session: pynput cannot inject into Wayland windows, uinput works everywhere")
        if session.x_display:
            return Choice(
                PYNPUT,
                f"Wayland session but uinput is unavailable ({issue.problem}): pynput through Xwayland "
                f"reaches X11 apps only; {issue.fix}",
            )
        return Choice(UINPUT, "Wayland session: pynput cannot inject into Wayland windows", issue)
    if issue is None:
        return Choice(UINPUT,
                      "no graphical session found (DISPLAY and WAYLAND_DISPLAY unset): uinput works without one")
    return Choice(
        UINPUT,
        "no graphical session found",
        OutputUnavailable(
            "no output can work here: there is no graphical session (DISPLAY and WAYLAND_DISPLAY are unset) "
            f"and uinput is unavailable ({issue.problem})",
            "run handmap inside your desktop session, make uinput available" + DOCTOR_HINT + ", "
            "or use --output dry-run",
        ),
    )


def screen_size(env: Mapping[str, str]) -> tuple[int, int] | None:
    """The X screen's size in pixels (Xwayland's under Wayland), or None when unknown."""
    display = x_display(env)
    if not display:
        return None
    try:
        from Xlib import display as xdisplay

        d = xdisplay.Display(display)
        try:
            screen = d.screen()
            return int(screen.width_in_pixels), int(screen.height_in_pixels)
        finally:
            d.close()
    except Exception as exc:  # no python-xlib, or the display is unreachable
        log.debug("could not read the screen size from %s: %s", display, exc)
        return None


def select_output(
    name: str | None,
    env: Mapping[str, str] | None = None,
    *,
    stream: TextIO | None = None,
    screen: tuple[int, int] | None = None,
    journal: Path | None = None,
    platform: str = sys.platform,
) -> HoldingOutput:
    """Build the output backend ``name`` (``auto``/None: the best one here).

    The backend's ``reason`` attribute says why it was chosen. ``stream`` is where the
    dry-run backend writes (stdout by default); ``screen`` is the uinput pointer's range
    (default: the X screen's size, else 1920x1080); ``journal`` overrides the held-input
    journal path (default ``$XDG_RUNTIME_DIR/handmap-held.json``).
    Raises :class:`OutputUnavailable` when the backend cannot work here.
    """
    env = os.environ if env is None else env
    choice = choose_output(name, env, platform=platform)
    if choice.problem is not None:
        raise choice.problem
    output: HoldingOutput
    if choice.name == DRY_RUN:
        from handmap.daemon.outputs.dryrun import DryRunOutput

        output = DryRunOutput(stream)
    elif choice.name == PYNPUT:
        from handmap.daemon.outputs.pynput_backend import PynputOutput

        output = PynputOutput(env, journal=journal)
    else:
        from handmap.daemon.outputs.uinput_backend import DEFAULT_SCREEN, UInputOutput

        size = screen or screen_size(env)
        if size is None:
            log.warning("screen size unknown: the uinput pointer spans %dx%d pixels", *DEFAULT_SCREEN)
            size = DEFAULT_SCREEN
        output = UInputOutput(env, screen=size, journal=journal)
    output.reason = choice.reason
    log.info("output: %s (%s)", output.name, choice.reason)
    return output

