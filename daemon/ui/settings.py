"""The Settings and Face touch pages' requests: the camera, model and alert settings
read from the configuration and saved into the user's ``config.yaml`` (only the keys
changed, comments kept; checked as the daemon checks the file, each problem at its
field), and the face-touch history by day and by hour."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import bottle

from handmap.daemon.config import Config, ConfigError, load_config, read_config_text
from handmap.daemon.files import write_atomic
from handmap.daemon.history.store import HOURS_PER_DAY, TouchStore
from handmap.daemon.runtime.state import Controller
from handmap.daemon.ui.config_edit import EditRefused, line_of, set_values
from handmap.daemon.ui.server import error_answer, json_answer, request_json
from handmap.mappings.yamlpos import SourceErrors

log = logging.getLogger(__name__)

#: The keys the pages change, as ``section.key``.
SETTINGS_KEYS = ("camera.index", "camera.width", "camera.height", "camera.mirror", "model.size", "model.max_hands")
ALERT_KEYS = ("alerts.notify", "alerts.cooldown_s", "alerts.sound", "alerts.muted")
NEW_FILE_HEADER = ("# Your handmap settings: only what you changed, merged over the packaged defaults\n"
                   "# (written by the settings window; edit it by hand too; handmap config validate checks it).\n")
HISTORY_DAYS = 14
FIELD_ALL = "file"


class SettingsSection:
    def __init__(self, config_path: Path, history_path: Path, controller: Controller,
                 env: Mapping[str, str]) -> None:
        self.config_path = config_path
        self.history_path = history_path
        self.controller = controller
        self.env = dict(env)

    def __call__(self, app: bottle.Bottle) -> None:
        app.route("/api/settings", "GET", self.read)
        app.route("/api/settings", "POST", self.save)
        app.route("/api/faces", "GET", self.faces)
        app.route("/api/alerts/mute", "POST", self.mute)

    def _config(self) -> Config:
        return load_config(self.config_path if self.config_path.exists() else None, self.env)

    def read(self):
        try:
            config = self._config()
        except ConfigError as exc:
            return error_answer(f"the configuration has problems: {exc}", 409)
        values = {key: _get(config, key) for key in SETTINGS_KEYS + ALERT_KEYS}
        return json_answer({"file": str(self.config_path), "values": values})

    def save(self):
        sent = request_json().get("values")
        if not isinstance(sent, dict) or not sent or set(sent) - set(SETTINGS_KEYS + ALERT_KEYS):
            return error_answer(f"send the values to change, of {', '.join(SETTINGS_KEYS + ALERT_KEYS)}")
        changes = {tuple(key.split(".", 1)): value for key, value in sent.items()}
        try:
            old = read_config_text(self.config_path) if self.config_path.exists() else NEW_FILE_HEADER
            text = set_values(old, changes, str(self.config_path))
        except (ConfigError, EditRefused) as exc:
            return self._refused([{"field": FIELD_ALL, "message": str(exc), "where": str(exc)}])
        except SourceErrors as exc:
            return self._refused([{"field": FIELD_ALL, "message": e.message, "where": str(e)} for e in exc.errors])
        problems = self._check(text, list(sent))
        if problems:
            return self._refused(problems)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config_path, text)
        log.info("settings window: saved %s", self.config_path)
        if "alerts.muted" in sent and isinstance(sent["alerts.muted"], bool):
            self.controller.set_alerts_muted(sent["alerts.muted"])
        return json_answer({"ok": True, "file": str(self.config_path)})

    def _check(self, text: str, keys: list[str]) -> list[dict]:
        """The problems the daemon would find in ``text``, each at its field."""
        lines = {line_of(text, tuple(k.split(".", 1))): k for k in keys}  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory(prefix="handmap-ui-") as folder:
            candidate = Path(folder) / "config.yaml"
            candidate.write_text(text, encoding="utf-8")
            try:
                load_config(candidate, self.env)
            except ConfigError as exc:
                out = []
                for e in exc.errors or ():
                    where = f"{self.config_path}:{e.line}:{e.column}: {e.message}"
                    out.append({"field": lines.get(e.line, FIELD_ALL), "message": e.message, "where": where})
                return out or [{"field": FIELD_ALL, "message": str(exc), "where": str(exc)}]
        return []

    @staticmethod
    def _refused(problems: list[dict]):
        return json_answer({"ok": False, "errors": problems}, 422)

    def mute(self):
        muted = request_json().get("muted")
        if not isinstance(muted, bool):
            return error_answer("send {\"muted\": true} or false")
        self.controller.set_alerts_muted(muted)
        return json_answer({"ok": True, "muted": muted})

    def faces(self):
        status = self.controller.status()
        per_day: list[list[Any]] = []
        today_hours = [0] * HOURS_PER_DAY
        note = ""
        if self.history_path.is_file():
            try:
                with TouchStore(self.history_path, create=False) as store:
                    per_day = [[d.isoformat(), n] for d, n in store.per_day(HISTORY_DAYS)]
                    today_hours = store.per_hour()
            except Exception as exc:  # sqlite3.DatabaseError, permissions...
                note = f"cannot read the history {self.history_path}: {exc}"
        else:
            note = "no face touches recorded yet (a camera run keeps the history)"
        if status.face_touches_unrecorded:
            if per_day:
                per_day[-1][1] += status.face_touches_unrecorded
            else:
                per_day = [[datetime.now().date().isoformat(), status.face_touches_unrecorded]]
        try:
            alerts = {key: _get(self._config(), key) for key in ALERT_KEYS}
        except ConfigError:
            alerts = {}
        return json_answer({"today": status.face_touches_today, "muted": status.alerts_muted, "per_day": per_day,
                            "today_by_hour": today_hours, "alerts": alerts, "note": note})


def _get(config: Config, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(config, section), name)
