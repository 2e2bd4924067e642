#!/usr/bin/env bash
# Trains a recipe twice from scratch for N epochs on one machine and one thread count, then
# compares the two checkpoints tensor by tensor (weights, BatchNorm buffers, momentum buffers)
# and the histories without their timing columns. Exit 0 only if all are bitwise equal.
#   tools/check_determinism.sh experiments/train_resnet20.toml [EPOCHS=1] [THREADS=1]
set -euo pipefail
recipe=$(realpath "$1") epochs=${2:-1} threads=${3:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for run in a b; do
  # Same recipe, own output folder and database (--out): the repository's results stay untouched.
  (cd "$root" && ./build/qx train "$recipe" --out "$work/$run" --stop-after "$epochs" --threads "$threads")
done
/usr/bin/python3 - "$work/a/checkpoint.pt" "$work/b/checkpoint.pt" <<'PY'
import sys, torch
a, b = (torch.load(p, map_location="cpu") for p in sys.argv[1:])
differ = [f"{part}.{k}" for part in ("state_dict", "optimizer") for k in a[part] if not torch.equal(a[part][k], b[part][k])]
history = a["history"][:, :7], b["history"][:, :7]  # epoch .. lr; seconds, data_seconds, images/s are timings
if not torch.equal(*history): differ.append("history")
print("bitwise identical" if not differ else "differ: " + ", ".join(differ))
sys.exit(1 if differ else 0)
PY
