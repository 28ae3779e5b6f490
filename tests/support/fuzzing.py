"""What the fuzz tests share: how many inputs each tries, how they report it, how
YAML counts lines (for checking the positions error messages give), and a capped child
process to load a hostile file in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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


#: The child's address space: an alias bomb that expands fails there with MemoryError.
CHILD_MEMORY_BYTES = 1 << 30
#: The child's time limit: an unbounded loop fails the test instead of hanging the run.
CHILD_TIMEOUT_S = 60
#: How much of an unexpected exception's message the child reports.
CHILD_MESSAGE_CHARS = 300

_CHILD = """\
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
from pathlib import Path
{imports}
path = Path(sys.argv[1])
start = time.perf_counter()
try:
{attempt}
except BaseException as exc:
    result = {{"outcome": type(exc).__name__, "message": str(exc)[:{message_chars}]}}
result["seconds"] = time.perf_counter() - start
print(json.dumps(result))
"""


def run_in_child(imports: str, attempt: str, path: Path) -> dict:
    """Load ``path`` in a child process with 1 GB of address space and a time limit, so
    that an alias bomb or an unbounded recursion fails the test without taking the test
    run down with it.

    ``attempt`` (code run after ``imports``, with ``path`` bound) sets ``result``, a
    dict with an ``outcome``; any exception it lets through becomes the outcome, named
    by its type. The result comes back with the ``seconds`` the attempt took.
    """
    script = _CHILD.format(memory=CHILD_MEMORY_BYTES, message_chars=CHILD_MESSAGE_CHARS,
                           imports=textwrap.dedent(imports).strip(),
                           attempt=textwrap.indent(textwrap.dedent(attempt).strip(), "    "))
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
