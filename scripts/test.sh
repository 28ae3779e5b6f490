#!/usr/bin/env bash
# Set up handmap with its test dependencies (see setup.sh) and run the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k poses`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
exec .venv/bin/python -m pytest "$@"
