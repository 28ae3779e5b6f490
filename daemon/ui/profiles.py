"""The Profiles page's requests: list, read, create from a bundled template, and save a
profile from its form or its YAML. Every save is checked as the daemon would load it;
a profile with problems is not written (the file on disk stays as it was) and each
problem comes back with its field and ``file:line:col``. A good one is written whole,
atomically, to the user's profile folder, where the daemon's hot reload picks it up."""

from __future__ import annotations

import logging
from pathlib import Path

import bottle
import yaml

from handmap.daemon.files import write_atomic
from handmap.daemon.runtime.state import Controller
from handmap.daemon.ui.profile_form import (
    YAML_FIELD,
    FormError,
    ProfileForm,
    field_of,
    form_from_json,
    form_from_text,
    text_from_form,
)
from handmap.daemon.ui.server import error_answer, json_answer, request_json
from handmap.mappings.loader import SUFFIX, ProfileStore
from handmap.mappings.schema import _NAME_RE, BUILTIN_POSES
from handmap.mappings.yamlpos import SourceError

log = logging.getLogger(__name__)


class ProfilesSection:
    def __init__(self, store: ProfileStore, directory: Path, controller: Controller) -> None:
        self.store = store
        self.directory = directory
        self.controller = controller

    def path(self, name: str) -> Path:
        return self.directory / (name + SUFFIX)

    def __call__(self, app: bottle.Bottle) -> None:
        app.route("/api/profiles", "GET", self.listing)
        app.route("/api/profiles", "POST", self.create)
        app.route("/api/profiles/<name>", "GET", self.read)
        app.route("/api/profiles/<name>/form", "POST", self.save_form)
        app.route("/api/profiles/<name>/yaml", "POST", self.save_yaml)

    # -- requests -----------------------------------------------------------------------

    def listing(self):
        status = self.controller.status()
        user = set(self.store.user_names())
        return json_answer({
            "active": status.profile,
            "templates": list(self.store.bundled_names()),
            "poses": list(BUILTIN_POSES) + [p for p in self._taught()],
            "profiles": [{"name": n, "origin": "user" if n in user else "bundled",
                          "broken": status.broken_profiles.get(n)} for n in self.store.names()]})

    def read(self, name: str):
        if not _NAME_RE.match(name):
            return error_answer(f"'{name}' is not a profile name", 404)
        try:
            source = self.store.source(name)
        except KeyError as exc:
            return error_answer(str(exc.args[0]), 404)
        editable = source.origin == "user"
        answer = {"name": name, "origin": source.origin, "file": source.file, "yaml": source.text,
                  "editable": editable, "form": None, "form_problem": ""}
        try:
            answer["form"] = form_from_text(source.text).to_json()
        except (yaml.YAMLError, FormError) as exc:
            answer["form_problem"] = f"the file cannot be shown as a form ({exc}); use the YAML view"
        return json_answer(answer)

    def create(self):
        data = request_json()
        name = str(data.get("name", "")).strip()
        template = str(data.get("template", "")).strip()
        if not _NAME_RE.match(name):
            return self._refused([("name", 1, 1, f"'{name}' is not a valid name; use lower-case letters, digits, "
                                                 "'_' and '-', starting with a letter")], "")
        if self.path(name).exists():
            return self._refused([("name", 1, 1, f"you have a profile named '{name}' already; pick another name")],
                                 "")
        if template and template not in self.store.bundled_names():
            return self._refused([("template", 1, 1, f"no bundled profile named '{template}'")], "")
        form = ProfileForm(name=name, extends=template,
                           description=f"My profile, from {template}." if template else "My profile.")
        return self._save(name, form, create=True)

    def save_form(self, name: str):
        try:
            form = form_from_json(request_json().get("form"))
        except FormError as exc:
            return error_answer(str(exc))
        if form.name != name:
            return self._refused([("name", 1, 1, f"the name must stay '{name}' (it is the file's name); "
                                                 "create a new profile for another name")], "")
        return self._save(name, form)

    def save_yaml(self, name: str):
        text = request_json().get("yaml")
        if not isinstance(text, str):
            return error_answer("send the profile's text: {\"yaml\": TEXT}")
        if not _NAME_RE.match(name):
            return error_answer(f"'{name}' is not a profile name", 404)
        return self._write(name, text, {})

    # -- saving -------------------------------------------------------------------------

    def _save(self, name: str, form: ProfileForm, create: bool = False):
        text, fields = text_from_form(form)
        if not create and not self.path(name).exists():
            return error_answer(f"'{name}' is a bundled profile: make your own from it first", 409)
        return self._write(name, text, fields)

    def _write(self, name: str, text: str, fields: dict[int, str]):
        path = self.path(name)
        errors, warnings = self.store.check_text(path, text)
        if errors:
            return self._refused([(field_of(e.line, fields) if e.file == str(path) else YAML_FIELD, e.line,
                                   e.column, e.message, e) for e in errors], text)
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        log.info("settings window: saved %s", path)
        return json_answer({"ok": True, "file": str(path), "yaml": text,
                            "warnings": [str(w) for w in warnings]})

    def _refused(self, problems: list, text: str):
        out = []
        for problem in problems:
            field_id, line, column, message = problem[:4]
            where = str(problem[4]) if len(problem) > 4 and isinstance(problem[4], SourceError) else message
            out.append({"field": field_id, "line": line, "column": column, "message": message, "where": where})
        return json_answer({"ok": False, "errors": out, "yaml": text}, 422)

    def _taught(self) -> tuple[str, ...]:
        names = self.store.taught_poses
        return tuple(names()) if names is not None else ()
