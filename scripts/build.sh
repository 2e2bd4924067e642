#!/usr/bin/env bash
# Configures and builds qx into build/ (Release, Ninja, ccache when present).
# Extra arguments go to CMake, e.g. -DCMAKE_PREFIX_PATH=/path/to/newer/libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
