#!/usr/bin/env bash
# Builds qx, its plugins and the unit suite with AddressSanitizer and UndefinedBehaviorSanitizer
# (CMake preset 'sanitize': clang, build-sanitize/) and runs the suite under them. Any report
# fails the test that caused it (halt_on_error). Extra arguments go to ctest, e.g. -R Store.
# Needs scripts/install-deps.sh (clang, libclang-rt-14-dev). docs/reliability.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j "$(nproc)"
ctest --preset sanitize -j "$(nproc)" "$@"
