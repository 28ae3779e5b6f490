"""Type-check the source as the installed ``handmap.*`` tree: mypy over the real files.

The folders ``daemon/``, ``gestures/`` and ``mappings/`` install as ``handmap.daemon``,
``handmap.gestures`` and ``handmap.mappings`` (setuptools ``package-dir`` in
pyproject.toml). mypy cannot follow that mapping from the folder names, so this runner
reads it from pyproject.toml and hands mypy every source file with its real module
name; imports between them then resolve to these files, and errors name them. The mypy
settings themselves are in pyproject.toml (``[tool.mypy]``).

    python scripts/typecheck.py        # exit 0 when clean; errors as file:line: message
"""

from __future__ import annotations

import sys
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.fscache import FileSystemCache
from mypy.main import process_options
from mypy.modulefinder import BuildSource

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, which mypy depends on there
    import tomli as tomllib

PROJECT = Path(__file__).resolve().parents[1]


def sources(project: Path) -> list[BuildSource]:
    """Every ``.py`` file under the mapped folders, named as it is installed."""
    setup = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = setup["tool"]["setuptools"]["package-dir"]
    found = []
    for package, folder in sorted(mapping.items()):
        root = project / folder
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(BuildSource(str(path.relative_to(project)), ".".join([package, *parts])))
    return found


def main() -> int:
    files = sources(PROJECT)
    # The options come from pyproject.toml's [tool.mypy]; the file list from the mapping.
    _, options = process_options(["--config-file", str(PROJECT / "pyproject.toml"), "-c", "pass"],
                                 fscache=FileSystemCache())
    try:
        result = build.build(files, options)
    except CompileError as exc:
        print("\n".join(exc.messages), file=sys.stderr)
        return 2
    for line in result.errors:
        print(line)
    checked = len(files)
    if result.errors:
        count = sum(1 for line in result.errors if ": error:" in line)
        print(f"typecheck: {count} errors in {checked} modules", file=sys.stderr)
        return 1
    print(f"typecheck: clean ({checked} modules, mypy)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
