"""Profiles as the settings window's forms: a profile file's text read into the form's
fields (bindings the form cannot show are kept as written), and the form written back as
ordinary, commented YAML with the line of each field, so that the loader's
``file:line:col`` errors are shown at the field they are about."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from handmap.mappings.schema import SCHEMA_VERSION

REGION_SIDES = ("left", "top", "right", "bottom")
FORM_TRIGGERS = ("enter", "exit", "held", "swipe", "face_touch")
HANDS = ("any", "left", "right", "both")
BUTTON_ACTIONS = ("click", "double_click", "mouse_down", "mouse_up")
KEY_ACTIONS = ("key", "hold", "release")
CONTROL_ACTIONS = ("pause", "resume", "toggle_pause")
#: Every action the form offers (what its value is: a button, keys, text, steps, a profile).
FORM_ACTIONS = (*BUTTON_ACTIONS, *KEY_ACTIONS, "type", "scroll", "profile", *CONTROL_ACTIONS)
#: The field a problem outside every field is shown at: the raw YAML view.
YAML_FIELD = "yaml"


class FormError(ValueError):
    """The form's data is not a form (not what the page sends)."""


@dataclass
class BindingForm:
    trigger: str = "enter"
    pose: str = ""  # the pose, swipe direction or face-touch state
    ms: int | None = None
    hand: str = "any"
    action: str = "click"
    value: str = ""

    def to_json(self) -> dict:
        return {"trigger": self.trigger, "pose": self.pose, "ms": self.ms, "hand": self.hand,
                "action": self.action, "value": self.value}


@dataclass
class ProfileForm:
    name: str = ""
    description: str = ""
    extends: str = ""
    match_class: list[str] = field(default_factory=list)
    match_title: str = ""
    match_process: list[str] = field(default_factory=list)
    bindings: list[BindingForm] = field(default_factory=list)
    #: The pointer's active region (``pointer.absolute.region``: left, top, right, bottom).
    region: dict[str, Any] | None = None
    #: Top-level sections and bindings the form does not show, written back as they were.
    kept: dict[str, Any] = field(default_factory=dict)
    kept_bindings: list[Any] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description, "extends": self.extends,
                "match": {"class": ", ".join(self.match_class), "title": self.match_title,
                          "process": ", ".join(self.match_process)},
                "bindings": [b.to_json() for b in self.bindings], "region": self.region,
                "kept": yaml.safe_dump(self.kept, sort_keys=False) if self.kept else "",
                "kept_bindings": yaml.safe_dump(self.kept_bindings, sort_keys=False) if self.kept_bindings else ""}


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [w.strip() for w in value.split(",") if w.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


# -- reading ------------------------------------------------------------------------------


def _binding_form(item: Any) -> BindingForm | None:
    """The form of one binding, None when the form cannot show it."""
    if not isinstance(item, dict):
        return None
    triggers = [t for t in FORM_TRIGGERS if t in item]
    if len(triggers) != 1 or set(item) - {triggers[0], "ms", "hand", "do"}:
        return None
    trigger = triggers[0]
    form = BindingForm(trigger=trigger, pose=str(item[trigger]), hand=str(item.get("hand", "any")))
    if "ms" in item:
        if not isinstance(item["ms"], int):
            return None
        form.ms = item["ms"]
    action = _action_form(item.get("do"))
    if action is None:
        return None
    form.action, form.value = action
    return form


def _action_form(do: Any) -> tuple[str, str] | None:
    if isinstance(do, list):
        if len(do) != 1:
            return None
        do = do[0]
    if isinstance(do, str):
        shorthand = {"click": ("click", "left"), "left_click": ("click", "left"), "right_click": ("click", "right"),
                     "middle_click": ("click", "middle"), "double_click": ("double_click", "left"),
                     "mouse_down": ("mouse_down", "left"), "mouse_up": ("mouse_up", "left"),
                     "pause": ("pause", ""), "resume": ("resume", ""), "toggle_pause": ("toggle_pause", "")}
        return shorthand.get(do)
    if not isinstance(do, dict) or len(do) != 1:
        return None
    (key, value), = do.items()
    if key in BUTTON_ACTIONS + KEY_ACTIONS + ("type", "profile") and isinstance(value, str):
        return key, value
    if key == "control" and value in CONTROL_ACTIONS:
        return value, ""
    if key == "scroll" and isinstance(value, dict) and set(value) == {"dy"} and isinstance(value["dy"], int):
        return "scroll", str(value["dy"])
    return None


def form_from_text(text: str) -> ProfileForm:
    """The form of a profile file's text (raises ``yaml.YAMLError`` on a file that is not
    YAML, FormError on one that is not a mapping)."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise FormError("the profile is not a mapping of keys to values")
    form = ProfileForm(name=str(data.get("name") or ""), description=str(data.get("description") or ""),
                       extends=str(data.get("extends") or ""))
    match = data.get("match") or {}
    if isinstance(match, dict) and not set(match) - {"class", "title", "process"}:
        form.match_class = _words(match.get("class"))
        form.match_title = str(match.get("title") or "")
        form.match_process = _words(match.get("process"))
    else:
        form.kept["match"] = match
    for item in data.get("bindings") or []:
        binding = _binding_form(item)
        if binding is None:
            form.kept_bindings.append(item)
        else:
            form.bindings.append(binding)
    for key, value in data.items():
        if key not in ("version", "name", "description", "extends", "match", "bindings"):
            form.kept[key] = value
    form.region = _take_region(form.kept)
    return form


def _take_region(kept: dict[str, Any]) -> dict[str, Any] | None:
    """``pointer.absolute.region`` out of the kept sections, when it is a plain one."""
    pointer = kept.get("pointer")
    absolute = pointer.get("absolute") if isinstance(pointer, dict) else None
    region = absolute.get("region") if isinstance(absolute, dict) else None
    if not isinstance(region, dict) or set(region) != set(REGION_SIDES):
        return None
    assert isinstance(pointer, dict) and isinstance(absolute, dict)
    del absolute["region"]
    if not absolute:
        del pointer["absolute"]
    if not pointer:
        del kept["pointer"]
    return region


def form_from_json(data: Any) -> ProfileForm:
    """The form the page sent (FormError when it is not one)."""
    if not isinstance(data, dict):
        raise FormError("the form is not a JSON object")
    match = data.get("match") or {}
    try:
        kept = yaml.safe_load(data.get("kept") or "") or {}
        kept_bindings = yaml.safe_load(data.get("kept_bindings") or "") or []
    except yaml.YAMLError as exc:
        raise FormError(f"the kept sections are not YAML: {exc}") from None
    if not isinstance(kept, dict) or not isinstance(kept_bindings, list):
        raise FormError("the kept sections are not what the page was given")
    bindings = []
    for item in data.get("bindings") or []:
        if not isinstance(item, dict):
            raise FormError("a binding is not a JSON object")
        ms = item.get("ms")
        bindings.append(BindingForm(trigger=str(item.get("trigger", "enter")), pose=str(item.get("pose", "")).strip(),
                                    ms=ms if isinstance(ms, int) and not isinstance(ms, bool) else None,
                                    hand=str(item.get("hand", "any")), action=str(item.get("action", "click")),
                                    value=str(item.get("value", "")).strip()))
    region = data.get("region")
    if region is not None and (not isinstance(region, dict) or set(region) != set(REGION_SIDES)):
        raise FormError(f"the region has {', '.join(REGION_SIDES)}")
    return ProfileForm(region=region, name=str(data.get("name", "")).strip(), description=str(data.get("description", "")).strip(),
                       extends=str(data.get("extends", "")).strip(), match_class=_words(match.get("class", "")),
                       match_title=str(match.get("title", "")), match_process=_words(match.get("process", "")),
                       bindings=bindings, kept=kept, kept_bindings=kept_bindings)


# -- writing ------------------------------------------------------------------------------


def _scalar(value: str) -> str:
    """A string as YAML reads it back unchanged (a JSON string is a YAML one)."""
    return json.dumps(value, ensure_ascii=False)


def _number_or_text(value: str) -> str:
    """A number the user typed stays a number (so the schema checks it as one)."""
    for kind in (int, float):
        try:
            return repr(kind(value))
        except ValueError:
            pass
    return _scalar(value)


def _action_yaml(b: BindingForm) -> str:
    if b.action in BUTTON_ACTIONS:
        return b.action if b.value in ("", "left") else "{" + f"{b.action}: {_scalar(b.value)}" + "}"
    if b.action in CONTROL_ACTIONS:
        return b.action
    if b.action == "scroll":
        return "{scroll: {dy: " + _number_or_text(b.value) + "}}"
    return "{" + f"{b.action}: {_scalar(b.value)}" + "}"


def _describe(b: BindingForm) -> str:
    what = {"enter": "when the pose starts", "exit": "when the pose ends", "held": f"held {b.ms} ms",
            "swipe": "swipe", "face_touch": "a face touch"}.get(b.trigger, b.trigger)
    hand = "" if b.hand == "any" else f", {b.hand} hand"
    action = b.action.replace("_", " ") + (f" {b.value}" if b.value else "")
    return f"{b.pose}: {what}{hand} -> {action}"


def text_from_form(form: ProfileForm) -> tuple[str, dict[int, str]]:
    """The profile file for ``form`` and the field of each line (1-based) that holds one."""
    lines: list[str] = []
    fields: dict[int, str] = {}

    def add(text: str, field_id: str | None = None) -> None:
        lines.append(text)
        if field_id is not None:
            fields[len(lines)] = field_id

    add(f"# {form.name or 'profile'}: made in handmap's settings window (handmap ui).")
    add("# An ordinary profile file: edit it by hand if you like; the window reads it back.")
    add(f"version: {SCHEMA_VERSION}")
    add(f"name: {_scalar(form.name)}", "name")
    if form.description:
        add(f"description: {_scalar(form.description)}", "description")
    if form.extends:
        add(f"extends: {_scalar(form.extends)}   # everything {form.extends} does, with the bindings below",
            "extends")
    if form.match_class or form.match_title or form.match_process:
        add("# The windows this profile switches on for (any of these is enough).")
        add("match:")
        if form.match_class:
            add(f"  class: [{', '.join(_scalar(c) for c in form.match_class)}]", "match.class")
        if form.match_title:
            add(f"  title: {_scalar(form.match_title)}   # a regular expression searched in the title",
                "match.title")
        if form.match_process:
            add(f"  process: [{', '.join(_scalar(p) for p in form.match_process)}]", "match.process")
    kept = dict(form.kept)
    pointer = kept.pop("pointer", None) if form.region is not None else None
    if kept:
        add("# Kept as written (the window's forms do not edit these):")
        for text in yaml.safe_dump(kept, sort_keys=False, allow_unicode=True).splitlines():
            add(text, YAML_FIELD)
    if form.region is not None:
        pointer = dict(pointer) if isinstance(pointer, dict) else {}
        absolute = pointer.pop("absolute", None)
        add("pointer:")
        if pointer:
            for text in yaml.safe_dump(pointer, sort_keys=False, allow_unicode=True).splitlines():
                add("  " + text, YAML_FIELD)
        add("  absolute:")
        if isinstance(absolute, dict):
            for text in yaml.safe_dump(absolute, sort_keys=False, allow_unicode=True).splitlines():
                add("    " + text, YAML_FIELD)
        add("    # The part of the camera view that covers the screen (shares of the view).")
        sides = ", ".join(f"{side}: {_number_or_text(str(form.region[side]))}" for side in REGION_SIDES)
        add(f"    region: {{{sides}}}", "pointer.region")
    if form.bindings or form.kept_bindings:
        add("bindings:")
    for i, b in enumerate(form.bindings):
        prefix = f"bindings.{i}."
        add(f"  # {_describe(b)}")
        pose = _number_or_text(b.pose) if b.trigger != "held" else _scalar(b.pose)
        add(f"  - {b.trigger}: {pose if b.pose else 'null'}", prefix + "pose")
        if b.trigger == "held" or b.ms is not None:
            add(f"    ms: {b.ms if b.ms is not None else 'null'}", prefix + "ms")
        if b.hand != "any":
            add(f"    hand: {_scalar(b.hand)}", prefix + "hand")
        add(f"    do: {_action_yaml(b)}", prefix + "action")
    if form.kept_bindings:
        add("  # Kept as written (the window's forms do not edit these):")
        for text in yaml.safe_dump(form.kept_bindings, sort_keys=False, allow_unicode=True).splitlines():
            add("  " + text, YAML_FIELD)
    return "\n".join(lines) + "\n", fields


def field_of(line: int, fields: dict[int, str]) -> str:
    """The form field a problem on ``line`` is shown at (the nearest field line at or
    above it within a binding; the YAML view when there is none)."""
    if line in fields:
        return fields[line]
    above = [n for n in fields if n < line]
    if above:
        nearest = fields[max(above)]
        if nearest.startswith("bindings.") and line - max(above) <= 1:
            return nearest
    return YAML_FIELD
