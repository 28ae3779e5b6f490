"""A profile's title pattern can never stall the frame loop on a crafted window title."""

from __future__ import annotations

import time

from handmap.daemon.desktop.switching import ProfileMatcher
from handmap.daemon.desktop.windows.base import ActiveWindow


def test_nested_quantifier_on_a_crafted_title_returns_quickly():
    matcher = ProfileMatcher([("x", {"title": "(a+)+$"}), ("y", {"title": "(x+x+)+y"})], "desktop")
    for title in ("a" * 40 + "!", "x" * 5000, "é" * 100000):
        start = time.perf_counter()
        assert matcher.pick(ActiveWindow(title=title)) == "desktop"
        assert time.perf_counter() - start < 0.5


def test_title_patterns_still_match():
    matcher = ProfileMatcher([("slides", {"title": "(Impress|Slides)$"})], "desktop")
    assert matcher.pick(ActiveWindow(title="deck.odp - LibreOffice Impress")) == "slides"
    assert matcher.pick(ActiveWindow(title="notes.txt - gedit")) == "desktop"
