#!/usr/bin/env bash
# Sets everything up, then runs every test: the Kotlin core (kotlinc, JUnit 5, ktlint), then
# pytest (host tests and device tests on virtual devices). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/kotlin.sh
.venv/bin/python -m pytest "$@"
