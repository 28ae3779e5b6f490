"""Import one of ``scripts/`` as a module, for tests of its parts."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(file_name: str, module_name: str) -> ModuleType:
    """``scripts/<file_name>`` as the module ``module_name``. The environment is restored
    afterwards (the training scripts pin BLAS threads in it when they load)."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location(module_name, SCRIPTS / file_name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module
