#!/usr/bin/env bash
# Set up handmap (see setup.sh) and run the daemon with the packaged config.yaml
# (overridden by ~/.config/handmap/config.yaml). Extra arguments go to `handmap run`,
# e.g. `bash scripts/run.sh --source clip.mp4 --output dry-run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/handmap run "$@"
