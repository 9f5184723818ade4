#!/usr/bin/env bash
# Sets everything up, then runs the main job on this host (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mpkit demo "$@"
