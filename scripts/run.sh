#!/usr/bin/env bash
# The main job: installs the dependencies, finds or fetches CIFAR-10, builds, recomputes the task's
# whole PTQ grid (experiments/ptq_grid.toml: 5 observers x 4 quantizers x 16/8/4/2 bits, torch.ao's
# recipe, float16) on the shipped checkpoint into a scratch database, renders its report beside it,
# and compares every cell with the committed results/results.sqlite.
#   bash scripts/run.sh [--data DIR] [--threads N] [--db FILE]
# The committed database and report are left byte for byte as they are. The last line is
#   grid: N/N cells match the committed database (max |delta top-1| = X pp)
# where a cell matches when its top-1 is within 0.05 pp of the committed one's.
# --db results/results.sqlite is the deliberate way to update the published results instead: only
# the cells missing there are computed, and docs/results/ and the README are rendered again.
# The data: --data DIR, else QX_DATA_DIR, else data/cifar-10-batches-bin, else
# ../shared/data/cifar-10-batches-bin; when none exists, the official archive (or the mirror that
# QX_DATA_URL and QX_DATA_MD5 name) is downloaded into data/ by `qx data fetch`, which checks its
# MD5 before unpacking and leaves nothing behind when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
committed=results/results.sqlite
scratch=results/local/ptq_grid.sqlite
db=$scratch
data=
run_args=()
while (($#)); do
  case $1 in
    --db) db=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --threads) run_args+=("$1" "$2"); shift 2 ;;
    *) echo "run.sh: unknown argument '$1' (use --data DIR, --threads N, --db FILE)" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

# Settle the data before the 18-minute build: a folder given or found, or a source that answers
# (scripts/find-data.sh); a user without either learns it now, in one line.
data=$(bash scripts/find-data.sh "$data")
fetch=
if [[ $data == fetch ]]; then fetch=1; data=data/cifar-10-batches-bin; fi

build_start=$SECONDS
bash scripts/build.sh
echo "build: $((SECONDS - build_start)) s"

start=$SECONDS
if [[ -n $fetch ]]; then
  ./build/qx data fetch --dir data   # QX_DATA_URL and QX_DATA_MD5 are read by qx itself
fi

if [[ $db -ef $committed ]]; then
  ./build/qx run experiments/ptq_grid.toml --db "$db" --data "$data" "${run_args[@]}"
  ./build/qx report "$db" --out docs/results --readme README.md --layout experiments/report.toml
  echo "grid and report: $((SECONDS - start)) s; the committed database and docs/results/ are updated"
  exit 0
fi

# The whole grid from scratch: a database left by an earlier run is replaced, not resumed.
rm -f "$db" "$db-wal" "$db-shm"
report=$(dirname "$db")/report
./build/qx run experiments/ptq_grid.toml --db "$db" --data "$data" "${run_args[@]}"
./build/qx report "$db" --out "$report"
echo "grid and report: $((SECONDS - start)) s (report: $report/)"

# The summary reads the scratch database: the float model and the grid's best cell at each width.
echo
sqlite3 -header -column "$db" <<'SQL'
WITH grid AS (SELECT * FROM results WHERE experiment = 'ptq-grid'),
best AS (SELECT w_bits, MAX(top1) AS top1 FROM grid WHERE label IS NULL GROUP BY w_bits)
SELECT 'fp32' AS model, '' AS recipe, printf('%.2f', top1) AS top1 FROM grid WHERE label = 'fp32'
UNION ALL
SELECT * FROM (
  SELECT printf('qx W%dA%d', g.w_bits, g.a_bits), g.observer || '/' || g.quantizer, printf('%.2f', g.top1)
  FROM grid g JOIN best b ON b.w_bits = g.w_bits AND b.top1 = g.top1 WHERE g.label IS NULL
  GROUP BY g.w_bits ORDER BY g.w_bits DESC);
SQL
echo
tools/compare_results.sh "$db" "$committed" --experiment ptq-grid --name grid
