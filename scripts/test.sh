#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the unit suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh "$@"
ctest --test-dir build --output-on-failure -j "$(nproc)"
