"""What ``handmap run`` says first on a camera: what the hand now controls, and how to
pause, resume and quit (the hotkey, the profile's pause pose, ``handmap pause``, Ctrl-C);
in first-run mode, that it starts paused and how to leave that mode."""

from __future__ import annotations

from handmap.daemon.runtime.assemble import StartFacts
from handmap.mappings.mapper import describe_trigger
from handmap.mappings.schema import Control, Profile

#: Control actions that pause (a binding doing one of these is a way to pause).
PAUSING_CONTROLS = ("pause", "toggle_pause")
PREFIX = "handmap: "


def hotkey_text(combo: str) -> str:
    """``<ctrl>+<alt>+h`` as people write it: ``Ctrl+Alt+H``."""
    return "+".join(part.strip("<>").capitalize() if len(part.strip("<>")) > 1 else part.upper()
                    for part in combo.split("+"))


def pause_poses(profile: Profile) -> list[str]:
    """The profile's bindings that pause, in words."""
    return [describe_trigger(binding) for binding in profile.bindings
            if any(isinstance(action, Control) and action.control in PAUSING_CONTROLS for action in binding.do)]


def what_the_hand_does(profile: Profile, output: str) -> str:
    if output == "dry-run":
        return "nothing is injected (--output dry-run): each event is printed as a JSON line on stdout"
    pointer = profile.pointer
    hand = "either hand" if pointer.hand == "any" else f"your {pointer.hand} hand"
    moves = "" if pointer.mode == "none" else f"{hand} moves the pointer ({pointer.mode}); "
    return f"{moves}poses and motion press buttons and keys as the profile binds them (output {output})"


def banner(facts: StartFacts, profile: Profile, source: str, config_file: str) -> list[str]:
    """The lines (without the ``handmap: `` prefix) a camera run starts with."""
    about = f": {profile.description}" if profile.description else ""
    lines = [f"{source}, profile {facts.profile}{about}",
             f"{'once you resume' if facts.first_run else 'from now on'}, the hand controls the computer: "
             f"{what_the_hand_does(profile, facts.output)}"]
    if facts.first_run:
        preview = ", with the preview window" if facts.preview else ""
        lines.append(f"first-run mode: starting PAUSED{preview}; nothing happens until you resume")
    ways = ([hotkey_text(facts.hotkey)] if facts.hotkey else []) + pause_poses(profile)
    ways.append("`handmap pause` / `handmap resume` in another terminal")
    lines.append(f"pause and resume: {', or '.join(ways)}")
    lines.append("quit: Ctrl-C here (held keys and buttons are released)")
    if facts.settings_window:
        lines.append("profiles, poses, face touches and settings without editing YAML: `handmap ui` opens the "
                     "settings window in your browser")
    if facts.first_run:
        lines.append(f"to start running right away next time, set `first_run: false` in {config_file} "
                     "(or pass --no-first-run)")
    return lines
