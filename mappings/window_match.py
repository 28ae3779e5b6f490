"""Mapping stage: which windows a profile is for; the one window matcher.

A profile's ``match`` section (``schema.Match``: ``class``, ``title``, ``process``)
becomes a :class:`WindowRule`. Any one field matching is enough; a rule with no field
never matches (the default profile's). ``class``: any entry equal, ignoring case, to the
window's class or its X11 instance. ``title``: a regular expression searched in the
title (case-sensitive unless the pattern says ``(?i)``), bounded in time and length so a
pattern with nested quantifiers cannot stall the frame loop on a title a web page chose.
``process``: any entry equal, ignoring case and a trailing ``.exe``, to the process name.

The desktop's window watchers report windows; this module only compares, so it stays
pure (no threads, no display).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import regex

log = logging.getLogger(__name__)

#: A window title is matched for at most this long, and only its first characters.
TITLE_MATCH_TIMEOUT_S = 0.02
MAX_TITLE_CHARS = 512
_EXE_SUFFIX = ".exe"


class WindowFacts(Protocol):
    """What the matcher reads of a window; empty strings where unknown."""

    @property
    def wm_class(self) -> str: ...

    @property
    def instance(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def process(self) -> str: ...


@dataclass(frozen=True)
class Window:
    """A window described by plain strings (``WindowFacts`` for callers without a watcher)."""

    wm_class: str = ""
    instance: str = ""
    title: str = ""
    process: str = ""


class MatchScore(NamedTuple):
    """How well a rule fits a window; compares as a tuple (more fields, then title, then class)."""

    fields: int
    by_title: int
    by_class: int



def compile_title(pattern: str) -> regex.Pattern[str]:
    """The compiled title pattern; raises ``regex.error`` when it is not a regular expression."""
    return _compile(pattern)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def title_search(pattern: str, title: str) -> bool:
    """``pattern`` found in ``title`` (its first ``MAX_TITLE_CHARS``), within ``TITLE_MATCH_TIMEOUT_S``.

    A pattern that runs out of time, or is not a regular expression, is no match.
    """
    try:
        compiled = _compile(pattern)
    except regex.error:
        return False
    try:
        return compiled.search(title[:MAX_TITLE_CHARS], timeout=TITLE_MATCH_TIMEOUT_S) is not None
    except TimeoutError:
        log.warning("title pattern %r took too long on a window title; treated as no match", pattern)
        return False


def _strip_exe(name: str) -> str:
    name = name.casefold()
    return name[: -len(_EXE_SUFFIX)] if name.endswith(_EXE_SUFFIX) else name


@dataclass(frozen=True)
class WindowRule:
    """When a profile applies (see the module docstring for each field's meaning)."""

    window_class: tuple[str, ...] = ()
    title: str | None = None
    process: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.window_class or self.title or self.process)

    def score(self, window: WindowFacts) -> MatchScore:
        """Which fields match ``window`` (all zero when none does)."""
        names = {window.wm_class.casefold(), window.instance.casefold()} - {""}
        by_class = any(c.casefold() in names for c in self.window_class)
        by_title = bool(self.title and window.title) and title_search(self.title or "", window.title)
        by_process = bool(window.process) and any(_strip_exe(p) == _strip_exe(window.process)
                                                  for p in self.process)
        return MatchScore(by_class + by_title + by_process, int(by_title), int(by_class))

    def matches(self, window: WindowFacts) -> bool:
        return self.score(window).fields > 0
