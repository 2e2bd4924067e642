#!/usr/bin/env bash
# Training, apart from the main job: installs dependencies, builds, and trains the reference
# ResNet20 with the recipe in experiments/train_resnet20.toml (200 cosine epochs, then 12 of SWA;
# 7-10 hours on 2 CPU cores), then exports the shipped checkpoint. Arguments go to `qx train`
# (--resume continues an interrupted run, --stop-after N, --data DIR, --device cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/qx train experiments/train_resnet20.toml "$@"
# A run stopped early (--stop-after) leaves its resume state to continue from; a finished one
# ships its weights and BatchNorm buffers (no optimizer state) as checkpoints/resnet20.pt.
[[ " $* " == *" --stop-after"* ]] || ./build/qx export runs/resnet20/checkpoint.pt checkpoints/resnet20.pt
