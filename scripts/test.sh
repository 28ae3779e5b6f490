#!/usr/bin/env bash
# Set up handmap with its test dependencies (see setup.sh), run the quality gates (ruff
# and mypy, configured in pyproject.toml), then the whole test suite on two workers
# (HANDMAP_TEST_WORKERS=0 runs it in one process; each test file stays on one worker).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k poses`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
echo "handmap tests: ruff" >&2
.venv/bin/ruff check --quiet .
echo "handmap tests: mypy" >&2
.venv/bin/python scripts/typecheck.py
exec .venv/bin/python -m pytest -n "${HANDMAP_TEST_WORKERS:-2}" --dist loadfile "$@"
