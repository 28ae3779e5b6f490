"""Desktop stage: per-app profile switching, from the focused window to the profile that matches it.

``ProfileMatcher`` turns a window into a profile name with the one window matcher
(``handmap.mappings.window_match``); ``AutoSwitcher`` joins a window watcher
(``handmap.daemon.desktop.windows``) and a matcher for the daemon loop, which calls
``poll()`` once per frame and switches profile when it returns a name.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import regex

from handmap.daemon.desktop.windows.base import NO_WINDOW, ActiveWindow, WindowWatcher
from handmap.mappings.schema import Match, Profile
from handmap.mappings.window_match import MatchScore, WindowRule, compile_title

log = logging.getLogger(__name__)

#: A profile's ``match`` section as the matcher accepts it: the schema's model, the
#: matcher's rule, YAML-shaped data (keys ``class``, ``title``, ``process``; class and
#: process a string or a list) or None (no rule).
MatchSpec = Match | WindowRule | Mapping[str, object] | None

_CLASS_KEYS = ("window_class", "class", "wm_class")


class ProfileSource(Protocol):
    """What the matcher needs of a profile store (``mappings.loader.ProfileStore``)."""

    def names(self) -> Sequence[str]: ...

    def load(self, name: str) -> Profile: ...


def _as_tuple(value: object) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value if v)
    return (str(value),)


def rule_from(match: MatchSpec) -> WindowRule:
    """The matcher's rule for a profile's ``match`` section (see ``MatchSpec``)."""
    if match is None:
        return WindowRule()
    if isinstance(match, WindowRule):
        return match
    if isinstance(match, Match):
        return match.rule()
    window_class = next((match[k] for k in _CLASS_KEYS if match.get(k)), None)
    title = match.get("title")
    return WindowRule(window_class=_as_tuple(window_class), title=str(title) if title else None,
                      process=_as_tuple(match.get("process")))


@dataclass(frozen=True)
class _Ranked:
    name: str
    rule: WindowRule
    order: int


class ProfileMatcher:
    """Picks the profile for a window.

    A profile matches when any field of its ``match`` section does. When several match,
    the most specific wins: the one matching on more fields, then one matching on the
    title (it names a particular window) over the class, then the class over the process
    name; remaining ties go to the first in ``rules`` order (``ProfileStore.names()``,
    alphabetical). No match, or no window focused (``NO_WINDOW``) → ``default``.
    """

    def __init__(self, rules: Iterable[tuple[str, MatchSpec]], default: str) -> None:
        self.default = default
        ranked = []
        for order, (name, raw) in enumerate(rules):
            rule = rule_from(raw)
            if rule.title:
                try:
                    compile_title(rule.title)
                except regex.error as exc:
                    log.warning("profile %s: title pattern %r is not a valid regular expression (%s); "
                                "ignoring it", name, rule.title, exc)
                    rule = WindowRule(rule.window_class, None, rule.process)
            if not rule.is_empty():
                ranked.append(_Ranked(name, rule, order))
        self._rules = tuple(ranked)

    @classmethod
    def from_profiles(cls, profiles: Mapping[str, Profile], default: str) -> ProfileMatcher:
        """From ``{name: Profile}``."""
        return cls(((name, profile.match) for name, profile in profiles.items()), default)

    @classmethod
    def from_store(cls, store: ProfileSource, default: str) -> ProfileMatcher:
        """From a ``ProfileStore``; a profile that does not load is left out with a
        warning (it cannot be switched to anyway)."""
        profiles = {}
        for name in store.names():
            try:
                profiles[name] = store.load(name)
            except Exception as exc:
                log.warning("profile %s is left out of automatic switching: %s", name, exc)
        return cls.from_profiles(profiles, default)

    @property
    def rules(self) -> tuple[tuple[str, WindowRule], ...]:
        """``(name, rule)`` in the given order (profiles without a rule left out)."""
        return tuple((r.name, r.rule) for r in self._rules)

    def pick(self, window: ActiveWindow | None) -> str:
        if window is None or window == NO_WINDOW:
            return self.default
        best: tuple[MatchScore, int, str] | None = None
        for ranked in self._rules:
            score = ranked.rule.score(window)
            if score.fields and (best is None or score > best[0]):
                best = (score, ranked.order, ranked.name)
        return best[2] if best is not None else self.default


class AutoSwitcher:
    """Joins a watcher and a matcher for the daemon loop.

    Call ``poll(current_profile)`` once per frame: it returns the profile to switch to
    after a focus change, or None (no change, same profile, paused, or the window is
    handmap's own, e.g. its preview). When no window has focus (the bare desktop) it
    returns the default profile, as for a window no profile matches. A manual switch (``handmap profile NAME``) stays
    until the next focus change. Replace the matcher after a profile reload with
    ``set_matcher``; the current window is then matched again on the next ``poll``.
    """

    def __init__(self, watcher: WindowWatcher, matcher: ProfileMatcher, own_pid: int | None = None) -> None:
        self.watcher = watcher
        self._matcher = matcher
        self._own_pid = os.getpid() if own_pid is None else own_pid
        self._lock = threading.Lock()
        self._rematch = False
        self.enabled = True

    def set_matcher(self, matcher: ProfileMatcher) -> None:
        with self._lock:
            self._matcher = matcher
            self._rematch = True

    def poll(self, current_profile: str) -> str | None:
        window = self.watcher.poll()
        with self._lock:
            matcher, rematch, self._rematch = self._matcher, self._rematch, False
        if window is None and rematch:
            window = self.watcher.current()
        if window is None or not self.enabled or window.pid == self._own_pid:
            return None
        wanted = matcher.pick(window)
        return wanted if wanted != current_profile else None
