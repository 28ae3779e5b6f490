"""The layout's rules, checked on the source itself: dependencies point one way, imports
are absolute, every stage package says what it owns and is installed, and the two things
written once (what kind of session this is, MediaPipe's private API) stay in one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as mypy's dependency
    import tomli as tomllib

from cli import PROJECT

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
SOURCE = {package: PROJECT / folder for package, folder in PACKAGE_DIRS.items()}

#: Names of MediaPipe's private API (stream names, the video/image calls, the C++ bindings).
MEDIAPIPE_PRIVATE = re.compile(r"_framework_bindings|_IMAGE_IN_STREAM_NAME|_NORM_RECT|_process_(video|image)_data")
#: Reading the session's display variables from an environment mapping.
SESSION_SNIFFING = re.compile(r"""(\.get\(|\[)\s*["'](DISPLAY|WAYLAND_DISPLAY|XDG_SESSION_TYPE)["']\s*[,)\]]""")


def modules(package: str) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(SOURCE[package].rglob("*.py"))]


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(("package", "forbidden"), [
    ("handmap.gestures", ("handmap.mappings", "handmap.daemon")),
    ("handmap.mappings", ("handmap.daemon",)),
])
def test_dependencies_point_one_way(package, forbidden):
    wrong = [f"{path.relative_to(PROJECT)} imports {name}"
             for path, tree in modules(package) for name in imported(tree) if name.startswith(forbidden)]
    assert not wrong, wrong


@pytest.mark.parametrize("package", sorted(PACKAGE_DIRS))
def test_imports_are_absolute(package):
    relative = [f"{path.relative_to(PROJECT)}:{node.lineno}" for path, tree in modules(package)
                for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative, relative


def test_every_daemon_package_says_what_it_owns_and_is_installed():
    installed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    root = SOURCE["handmap.daemon"]
    for init in sorted(root.rglob("__init__.py")):
        folder = init.parent.relative_to(root)
        name = ".".join(("handmap.daemon", *folder.parts))
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 40, f"{name} has no docstring saying what it owns"
        assert name in installed, f"{name} is missing from pyproject.toml's packages"
    folders = {p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    assert all((folder / "__init__.py").exists() for folder in folders), "a folder of modules without __init__.py"


def test_mediapipe_private_api_is_read_in_one_module():
    users = {str(path.relative_to(PROJECT)) for path, _ in modules("handmap.daemon")
             if MEDIAPIPE_PRIVATE.search(path.read_text(encoding="utf-8"))}
    assert users == {"daemon/perception/mediapipe_internals.py"}


def test_one_module_says_what_kind_of_session_this_is():
    sniffing = [f"{path.relative_to(PROJECT)}:{n}" for path, _ in modules("handmap.daemon")
                if path.relative_to(PROJECT) != Path("daemon/desktop/session.py")
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if SESSION_SNIFFING.search(line) and not line.lstrip().startswith("#")
                and "``" not in line]  # docstrings naming the variable are fine
    assert not sniffing, f"read the session through handmap.daemon.desktop.session: {sniffing}"
    assert SESSION_SNIFFING.search('env.get("WAYLAND_DISPLAY")') and SESSION_SNIFFING.search("os.environ['DISPLAY']")


def test_loggers_are_named_by_module():
    named = [f"{path.relative_to(PROJECT)}:{node.lineno}"
             for package in PACKAGE_DIRS for path, tree in modules(package) for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "getLogger"
             and node.args and isinstance(node.args[0], ast.Constant) and path.name != "log.py"]
    assert not named, f"loggers must be logging.getLogger(__name__): {named}"


def test_test_modules_have_unique_names():
    """pytest imports test files by their base name (the test folders are not packages):
    two files of one name stop the whole run at collection."""
    seen: dict[str, list[str]] = {}
    for path in (PROJECT / "tests").rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(PROJECT)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"
