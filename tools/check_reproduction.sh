#!/usr/bin/env bash
# Re-runs experiments into a scratch database and compares every cell's accuracy with the
# reference results database (results/results.sqlite), cell by cell (matched by key): exit 0 only if every re-run cell
# has exactly the committed top-1, top-5 and loss. Timings are not compared.
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
sqlite3 "$work/rerun.sqlite" <<SQL
ATTACH '$committed' AS committed;
CREATE TEMP VIEW compared AS
SELECT r.label, r.observer, r.quantizer, r.w_bits, r.a_bits, r.passes, r.top1 AS rerun, c.top1 AS committed,
       r.top5 = c.top5 AND r.loss = c.loss AS same_rest
FROM main.cells r LEFT JOIN committed.cells c ON c.key = r.key AND c.status = 'finished'
WHERE r.status = 'finished';
.mode column
.headers on
SELECT label, observer, quantizer, w_bits, a_bits, passes, rerun, committed FROM compared
WHERE committed IS NULL OR rerun != committed OR NOT same_rest;
.headers off
SELECT printf('%d cells re-run: %d identical to the reference database, %d differ, %d not in it',
              COUNT(*), SUM(committed = rerun AND same_rest), SUM(committed != rerun OR NOT same_rest),
              SUM(committed IS NULL)) FROM compared;
SQL
differ=$(sqlite3 "$work/rerun.sqlite" "ATTACH '$committed' AS committed;
  SELECT COUNT(*) FROM main.cells r LEFT JOIN committed.cells c ON c.key = r.key AND c.status = 'finished'
  WHERE r.status = 'finished' AND (c.key IS NULL OR r.top1 != c.top1 OR r.top5 != c.top5 OR r.loss != c.loss)")
[[ $differ == 0 ]]
