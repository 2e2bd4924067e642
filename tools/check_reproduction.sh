#!/usr/bin/env bash
# Re-runs experiments into a scratch database and compares every cell with the committed results
# database (results/results.sqlite), cell by cell (matched by key): exit 0 only if every re-run
# cell has exactly the committed top-1, top-5 and loss (tools/compare_results.sh --exact).
# Timings are not compared.
#   tools/check_reproduction.sh [--data DIR] EXPERIMENT.toml...     e.g. experiments/ptq_grid.toml
# Cells run where the reference ones ran: on this machine's CPU with the committed checkpoint.
# Cells computed on a GPU (experiments.device = 'cuda') are reproducible on a GPU only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=()
if [[ ${1:-} == --data ]]; then data=(--data "$2"); shift 2; fi
(($# > 0)) || { echo "usage: check_reproduction.sh [--data DIR] EXPERIMENT.toml..." >&2; exit 2; }
committed="$root/results/results.sqlite"
[[ -f $committed ]] || { echo "check_reproduction: no $committed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for experiment in "$@"; do
  "$root/build/qx" run "$experiment" --db "$work/rerun.sqlite" "${data[@]}"
done
"$root/tools/compare_results.sh" "$work/rerun.sqlite" "$committed" --exact --name "re-run"
