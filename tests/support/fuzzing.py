"""What the fuzz tests share: how many inputs each tries, how they report it, and how
YAML counts lines (for checking the positions error messages give)."""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings

#: Examples per fuzzer: modest for CI; ``HANDMAP_FUZZ_EXAMPLES=5000`` for a deeper run.
EXAMPLES = int(os.environ.get("HANDMAP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: What YAML counts as a line break (NEL and the Unicode separators too), for positions.
YAML_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


def yaml_lines(content: str | bytes) -> int:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return len(YAML_BREAK.findall(text)) + 1


def report(record_property, name: str, tried: int) -> None:
    """The count of inputs tried, on stdout and in the JUnit report."""
    print(f"\n{name}: {tried} inputs tried")
    record_property("inputs_tried", tried)
