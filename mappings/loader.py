"""Profile loading: user and bundled files, ``extends`` resolution, positioned errors.

Profiles live in ``$XDG_CONFIG_HOME/handmap/profiles/NAME.yaml`` (the user's) over the
bundled ``handmap.mappings`` package's ``profiles/NAME.yaml``: a user file with the same
name wins, and a user file may ``extends`` the bundled profile of its own name.

Resolving ``extends`` merges raw YAML data, parent first: mappings merge key by key,
other values (lists included) are replaced, and ``bindings`` are appended, a child
binding replacing the parent's binding with the same trigger, pose and hand. Every
problem is reported as ``file:line:col: message`` in the file that holds it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from handmap.mappings.keys import suggest
from handmap.mappings.schema import _NAME_RE, MIGRATIONS, SCHEMA_VERSION, TRIGGERS, Profile, SwitchProfile
from handmap.mappings.yamlpos import (
    LoadedYaml,
    SourceError,
    SourceErrors,
    dotted,
    errors_from_validation,
    load_yaml,
    resolve_loc,
    wrap_in_list,
)

log = logging.getLogger(__name__)

#: An error in a profile file: ``file``, ``line``, ``column``, ``message``; ``str()`` gives
#: ``file:line:col: message``.
ProfileError = SourceError

BUNDLED_PACKAGE = "handmap.mappings"
BUNDLED_DIR = "profiles"
SUFFIX = ".yaml"
#: A profile is a few KB; a bigger file is refused before it is parsed.
MAX_PROFILE_BYTES = 1 << 20
#: ``extends`` chains longer than this are refused (a cycle is caught sooner).
MAX_EXTENDS_DEPTH = 16
#: How errors name a bundled profile's file: ``profiles/NAME.yaml (bundled)``.
BUNDLED_MARK = " (bundled)"


class ProfileLoadError(SourceErrors):
    """A profile (or one it extends) has errors; ``errors`` lists them."""


def read_profile_text(path: Path) -> str:
    """A profile file's text; :class:`ProfileLoadError` when it is not a regular file,
    is over :data:`MAX_PROFILE_BYTES` or is not UTF-8."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))  # a FIFO must not block
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ProfileLoadError([SourceError(file, 1, 1, "not a regular file; a profile is a YAML file")])
            raw = f.read(MAX_PROFILE_BYTES + 1)
    except IsADirectoryError:
        raise ProfileLoadError([SourceError(file, 1, 1, "is a folder; a profile is a YAML file")]) from None
    except OSError as exc:
        raise ProfileLoadError([SourceError(file, 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileLoadError([SourceError(file, 1, 1, f"the file is over {MAX_PROFILE_BYTES} bytes; "
                                                        "a profile is a few KB (is it the right file?)")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ProfileLoadError([SourceError(file, line, column, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                                                "save the file as UTF-8")]) from None


def default_user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "handmap" / "profiles"


@dataclass(frozen=True)
class ProfileSource:
    name: str
    file: str  # how errors name the file
    text: str
    origin: str  # "user", "bundled" or "file"
    directory: Path | None = None  # where its siblings are, for ``extends``


@dataclass(frozen=True)
class _Resolved:
    data: dict
    origins: dict  # merged path -> (LoadedYaml, path in that file)


def _migrate(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("version"), int):
        while data["version"] < SCHEMA_VERSION and data["version"] in MIGRATIONS:
            data = MIGRATIONS[data["version"]](data)
    return data


def _binding_key(b: Any) -> Any:
    if not isinstance(b, dict):
        return None
    trig = [t for t in TRIGGERS if t in b]
    if len(trig) != 1:
        return None
    return (trig[0], str(b[trig[0]]), b.get("ms"), b.get("hand", "any"))


def _sub(origins: dict, old: tuple, new: tuple) -> dict:
    n = len(old)
    return {new + p[n:]: o for p, o in origins.items() if p[:n] == old}


def _merge(p: Any, p_or: dict, c: Any, c_or: dict, path: tuple) -> tuple[Any, dict]:
    """Merge child ``c`` over parent ``p`` at ``path``; origins keyed by full path."""
    if isinstance(p, dict) and isinstance(c, dict):
        out: dict = {}
        origins = {path: c_or.get(path, p_or.get(path))}
        for k in list(p) + [k for k in c if k not in p]:
            sub = path + (k,)
            if k == "bindings" and path == () and isinstance(p.get(k), list) and isinstance(c.get(k), list):
                out[k], o = _merge_bindings(p[k], p_or, c[k], c_or, sub)
            elif k in p and k in c:
                out[k], o = _merge(p[k], p_or, c[k], c_or, sub)
            elif k in c:
                out[k], o = c[k], _sub(c_or, sub, sub)
            else:
                out[k], o = p[k], _sub(p_or, sub, sub)
            origins.update(o)
        return out, origins
    return c, _sub(c_or, path, path)


def _merge_bindings(p: list, p_or: dict, c: list, c_or: dict, path: tuple) -> tuple[list, dict]:
    child_keys = {_binding_key(b) for b in c} - {None}
    out: list = []
    origins = {path: c_or.get(path)}
    for i, b in enumerate(p):
        if _binding_key(b) not in child_keys:
            origins.update(_sub(p_or, path + (i,), path + (len(out),)))
            out.append(b)
    for i, b in enumerate(c):
        origins.update(_sub(c_or, path + (i,), path + (len(out),)))
        out.append(b)
    return out, origins


class _Merged:
    """Positions for merged data: each path points back into the file it came from."""

    def __init__(self, resolved: _Resolved, fallback: LoadedYaml):
        self.data = resolved.data
        self.origins = resolved.origins
        self.fallback = fallback

    def bundled(self, path: tuple) -> bool:
        """Whether the value at ``path`` comes from a bundled profile."""
        p = tuple(path)
        while p and p not in self.origins:
            p = p[:-1]
        origin = self.origins.get(p)
        loaded = origin[0] if origin is not None else self.fallback
        return loaded.file.endswith(BUNDLED_MARK)

    def error(self, path: tuple, message: str, at_key: bool = False) -> SourceError:
        p = tuple(path)
        while p and p not in self.origins:
            p = p[:-1]
        origin = self.origins.get(p)
        if origin is None:
            return self.fallback.error((), message, at_key)
        loaded, orig_path = origin
        return loaded.error(orig_path, message, at_key)


class ProfileStore:
    """The profiles a user has: their own files over the bundled ones."""

    def __init__(self, user_dir: Path | None = None, taught_poses: Callable[[], Iterable[str]] | None = None):
        self.user_dir = Path(user_dir) if user_dir is not None else None
        #: The names of the user's taught poses (``handmap teach``), asked afresh on each
        #: load: bindings may name them like built-in poses.
        self.taught_poses = taught_poses

    # -- finding files ------------------------------------------------------------------

    def _bundled(self):
        return resources.files(BUNDLED_PACKAGE).joinpath(BUNDLED_DIR)

    def bundled_names(self) -> tuple[str, ...]:
        try:
            entries = list(self._bundled().iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return ()
        return tuple(sorted(e.name[: -len(SUFFIX)] for e in entries if e.name.endswith(SUFFIX)))

    def user_names(self) -> tuple[str, ...]:
        if self.user_dir is None or not self.user_dir.is_dir():
            return ()
        return tuple(sorted(p.stem for p in self.user_dir.glob("*" + SUFFIX) if p.is_file()))

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.bundled_names()) | set(self.user_names())))

    def origin(self, name: str) -> str:
        """``user`` (a user file, possibly over a bundled one) or ``bundled``."""
        if name in self.user_names():
            return "user"
        if name in self.bundled_names():
            return "bundled"
        raise KeyError(self._unknown(name))

    def _unknown(self, name: str) -> str:
        return f"no profile named '{name}'" + suggest(name, self.names()) + \
            f" (profiles: {', '.join(self.names()) or 'none'})"

    def source(self, name: str, *, bundled_only: bool = False, near: Path | None = None) -> ProfileSource:
        """The file for profile ``name``: next to ``near`` first, then user, then bundled.
        Only a valid profile name is looked up (never a path: ``../x`` is no profile)."""
        if not isinstance(name, str):
            raise KeyError(f"no profile named {name!r}")
        if not _NAME_RE.match(name):
            raise KeyError(self._unknown(name))
        for directory, origin in ((near, "file"), (None if bundled_only else self.user_dir, "user")):
            if directory is not None:
                path = directory / (name + SUFFIX)
                if path.is_file():
                    if directory == self.user_dir:
                        origin = "user"
                    return ProfileSource(name, str(path), read_profile_text(path), origin, directory)
        res = self._bundled().joinpath(name + SUFFIX)
        if res.is_file():
            return ProfileSource(name, f"{BUNDLED_DIR}/{name}{SUFFIX}{BUNDLED_MARK}", res.read_text(encoding="utf-8"),
                                 "bundled")
        raise KeyError(self._unknown(name))

    # -- loading --------------------------------------------------------------------------

    def load(self, name: str) -> Profile:
        """Profile ``name`` with ``extends`` resolved; KeyError if there is none,
        :class:`ProfileLoadError` if it (or a profile it extends) has errors."""
        return self._load_source(self.source(name))

    def load_file(self, path: Path) -> Profile:
        """A profile file anywhere (its ``extends`` looked up next to it first)."""
        path = Path(path)
        text = read_profile_text(path)
        return self._load_source(ProfileSource(path.stem, str(path), text, "file", path.parent))

    def validate_file(self, path: Path) -> list[ProfileError]:
        """Every problem in the profile file at ``path`` (empty when it is valid)."""
        return self.check_file(path)[0]

    def check_file(self, path: Path, max_hands: int | None = None) -> tuple[list[ProfileError], list[ProfileError]]:
        """The errors in the profile file at ``path``, and, when it has none, what it
        should be warned of on a daemon tracking ``max_hands`` hands (messages start
        with ``warning:``): two-hand bindings the user wrote (a bundled profile's, such as
        ``desktop``'s zoom, stay idle with one hand without a word)."""
        path = Path(path)
        try:
            text = read_profile_text(path)
        except SourceErrors as exc:
            return list(exc.errors), []
        return self._check(ProfileSource(path.stem, str(path), text, "file", path.parent), max_hands)

    def check_text(self, path: Path, text: str, max_hands: int | None = None) -> tuple[list[ProfileError], list[ProfileError]]:
        """:meth:`check_file` for ``text`` as if it were the file at ``path`` (not written
        yet: the settings window checks before it saves)."""
        path = Path(path)
        return self._check(ProfileSource(path.stem, str(path), text, "file", path.parent), max_hands)

    def check(self, name: str, max_hands: int | None = None) -> tuple[list[ProfileError], list[ProfileError]]:
        """:meth:`check_file` for the installed profile ``name`` (KeyError if none)."""
        try:
            src = self.source(name)
        except SourceErrors as exc:
            return list(exc.errors), []
        return self._check(src, max_hands)

    def _check(self, src: ProfileSource, max_hands: int | None) -> tuple[list[ProfileError], list[ProfileError]]:
        warnings: list[ProfileError] = []
        try:
            self._load_source(src, max_hands, warnings)
        except SourceErrors as exc:
            return list(exc.errors), []
        return [], warnings

    def _load_source(self, src: ProfileSource, max_hands: int | None = None,
                     warnings: list[ProfileError] | None = None) -> Profile:
        errors: list[SourceError] = []
        resolved, top = self._resolve(src, (), errors)
        if errors or resolved is None or top is None:
            raise ProfileLoadError(errors or [SourceError(src.file, 1, 1, "profile could not be loaded")])
        merged = _Merged(resolved, top)
        data = dict(resolved.data)
        data.setdefault("name", src.name)
        try:
            profile = Profile.model_validate(data)
        except ValidationError as exc:
            raise ProfileLoadError(errors_from_validation(exc, merged, Profile, "profile")) from None
        errors = self._semantic_errors(profile, merged, src)
        if errors:
            raise ProfileLoadError(errors)
        if warnings is not None and max_hands is not None:
            note = profile.two_hand_warning(max_hands)
            own = [i for i in profile.two_hand_bindings() if not merged.bundled(("bindings", i))]
            if note is not None and own:
                warnings.append(merged.error(("bindings", own[0]), f"warning: {note}"))
        return profile

    def _resolve(self, src: ProfileSource, chain: tuple, errors: list) -> tuple[_Resolved | None, LoadedYaml | None]:
        try:
            loaded = load_yaml(src.text, src.file)
        except SourceErrors as exc:
            errors.extend(exc.errors)
            return None, None
        data = _migrate(loaded.data)
        if data is None:
            errors.append(loaded.error((), "the profile is empty; start it with 'version: 1'"))
            return None, loaded
        if not isinstance(data, dict):
            errors.append(loaded.error((), "a profile must be a mapping of keys (version, name, pointer, bindings...)"))
            return None, loaded
        loaded = LoadedYaml(loaded.file, data, loaded.positions)
        if isinstance(data.get("bindings"), list):
            for i, b in enumerate(data["bindings"]):
                if isinstance(b, dict) and "do" in b and not isinstance(b["do"], (list, str)):
                    wrap_in_list(loaded, ("bindings", i, "do"))
        try:
            Profile.model_validate(data)
        except ValidationError as exc:
            errors.extend(errors_from_validation(exc, loaded, Profile, "profile"))
            return None, loaded
        if "name" in data and data["name"] != src.name:
            errors.append(loaded.error(("name",), f"name '{data['name']}' does not match the file name "
                                       f"'{src.name}{SUFFIX}'; rename the file or change the name"))
            return None, loaded
        origins = {p: (loaded, p) for p in loaded.positions}
        own = _Resolved(data, origins)
        parent_name = data.get("extends")
        if parent_name is None:
            return own, loaded
        here = chain + ((src.file, src.name),)
        if len(here) >= MAX_EXTENDS_DEPTH:
            errors.append(loaded.error(("extends",), f"extends chain longer than {MAX_EXTENDS_DEPTH} profiles"))
            return None, loaded
        same_name = parent_name == src.name
        try:
            parent_src = self.source(parent_name, bundled_only=same_name and src.origin != "bundled",
                                     near=None if same_name else src.directory)
        except KeyError:
            errors.append(loaded.error(("extends",), f"extends an unknown profile '{parent_name}'"
                                       + suggest(parent_name, self.names())
                                       + f" (profiles: {', '.join(self.names()) or 'none'})"))
            return None, loaded
        if parent_src.file in {f for f, _ in here} or (same_name and src.origin == "bundled"):
            names = " -> ".join(n for _, n in here) + f" -> {parent_name}"
            errors.append(loaded.error(("extends",), f"extends cycle: {names}; remove one of these 'extends'"))
            return None, loaded
        parent, _ = self._resolve(parent_src, here, errors)
        if parent is None:
            return None, loaded
        data.pop("extends", None)
        merged_data, merged_origins = _merge(parent.data, parent.origins, data, origins, ())
        merged_data["extends"] = parent_name
        merged_data["name"] = src.name
        merged_origins[("extends",)] = (loaded, ("extends",))
        return _Resolved(merged_data, merged_origins), loaded

    def _semantic_errors(self, profile: Profile, merged: _Merged, src: ProfileSource) -> list[SourceError]:
        """Cross-references: pose names against built-in and profile poses, profile names."""
        errors = []
        taught = tuple(sorted(self.taught_poses())) if self.taught_poses is not None else ()
        poses = profile.pose_names() + tuple(n for n in taught if n not in profile.poses)

        def check_pose(name: str | None, path: tuple) -> None:
            if name is not None and name not in poses:
                errors.append(merged.error(path, f"{dotted(path)}: unknown pose '{name}'" + suggest(name, poses)
                                           + f" (poses: {', '.join(poses)}; define others under 'poses'"
                                           + (f", or teach it with 'handmap teach {name}')"
                                              if self.taught_poses is not None and _NAME_RE.match(name) else ")")))

        pointer = profile.pointer
        for i, p in enumerate(pointer.poses or ()):
            check_pose(p, ("pointer", "poses", i))
        check_pose(pointer.clutch, ("pointer", "clutch"))
        if pointer.clutch is not None and pointer.poses is not None and pointer.clutch in pointer.poses:
            errors.append(merged.error(("pointer", "clutch"), "pointer.clutch: the clutch pose must not also be"
                                       " one of pointer.poses (the pointer moves in those)"))
        known_profiles = set(self.names())
        if src.directory is not None:
            known_profiles |= {p.stem for p in src.directory.glob("*" + SUFFIX)}
        for i, b in enumerate(profile.bindings):
            if b.pose is not None:
                check_pose(b.pose, ("bindings", i, b.trigger))
            for j, action in enumerate(b.do):
                target = action.profile if isinstance(action, SwitchProfile) else None
                if target is not None and target not in known_profiles:
                    path = resolve_loc(merged.data, ("bindings", i, "do", j, "profile"))
                    if len(path) < 4:
                        path = ("bindings", i, "do")
                    errors.append(merged.error(path, f"{dotted(path)}: unknown profile '{target}'"
                                               + suggest(target, known_profiles)))
        return sorted(errors, key=lambda e: (e.file, e.line, e.column))
