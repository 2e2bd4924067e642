#!/usr/bin/env bash
# Training throughput, C++ against Python, in one run on one machine.
#   qx:     `qx train` runs the first two epochs of the default recipe
#           (experiments/train_resnet20.toml: ResNet20, batch 128, channels-last, all cores);
#   Python: Python PyTorch trains the same ResNet20 (tools/qxref.py) with the same batch size,
#           augmentation, optimizer and threads for two full epochs, channels-last like qx, and
#           for one epoch in PyTorch's default contiguous (NCHW) layout.
# Epoch 1 includes warm-up; epoch 2 is the steady state. Prints one JSON line per epoch and the
# ratio of qx's training seconds to Python's (<= 1.0: qx is no slower).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-${QX_DATA_DIR:-../shared/data/cifar-10-batches-bin}}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python=/usr/bin/python3

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
./build/qx train experiments/train_resnet20.toml --data "$data" --stop-after 2 --out "$out" >&2
tail -n +2 "$out/history.csv" | awk -F, '{ printf "{\"trainer\": \"qx\", \"memory_format\": \"channels_last\", \"epoch\": %s, \"test_top1\": %s, \"seconds_epoch\": %s, \"seconds_train\": %.1f, \"images_per_second\": %s}\n", $1, $5, $8, 50000 / $10, $10 }' | tee "$out/qx.jsonl"
$python tools/train_throughput.py --data "$data" --epochs 2 --channels-last | tee "$out/python_cl.jsonl"
$python tools/train_throughput.py --data "$data" --epochs 1 | tee "$out/python_nchw.jsonl"

$python - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
load = lambda name: {r["epoch"]: r for r in map(json.loads, (out / name).read_text().splitlines())}
qx, cl, nchw = load("qx.jsonl"), load("python_cl.jsonl"), load("python_nchw.jsonl")
for epoch in sorted(qx):
    for label, python in (("channels_last", cl), ("contiguous", nchw)):
        if epoch in python:
            ratio = python[epoch]["images_per_second"] / qx[epoch]["images_per_second"]
            print(f"epoch {epoch}: qx / Python ({label}) training seconds = {ratio:.3f}")
PY
