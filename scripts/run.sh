#!/usr/bin/env bash
# The main job: installs dependencies, builds, and trains the reference ResNet20 with the
# recipe in experiments/train_resnet20.toml. Arguments go to `qx train` (e.g. --resume,
# --stop-after N, --data DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/qx train experiments/train_resnet20.toml "$@"
