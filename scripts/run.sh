#!/usr/bin/env bash
# The main job: installs the dependencies, builds, runs the task's PTQ grid
# (experiments/ptq_grid.toml: 5 observers x 4 quantizers x 16/8/4/2 bits, torch.ao's recipe,
# float16) on the shipped checkpoint, renders the report and prints a summary.
#   bash scripts/run.sh [--db FILE] [--data DIR] [--threads N]
# Results go into results/results.sqlite, the committed database, and the cells already in it are
# skipped: on a clone only missing cells are computed. To run the whole grid from scratch, give
# another --db; its report then goes beside it (FILE's folder/report/) instead of replacing
# docs/results/. Training has its own command, scripts/train.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
db=results/results.sqlite
run_args=()
while (($#)); do
  case $1 in
    --db) db=$2; shift 2 ;;
    --data|--threads) run_args+=("$1" "$2"); shift 2 ;;
    *) echo "run.sh: unknown argument '$1' (use --db FILE, --data DIR, --threads N)" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
build_start=$SECONDS
bash scripts/build.sh
echo "build: $((SECONDS - build_start)) s"

start=$SECONDS
./build/qx run experiments/ptq_grid.toml --db "$db" "${run_args[@]}"
if [[ $db -ef results/results.sqlite ]]; then
  report=docs/results
  ./build/qx report "$db" --out "$report" --readme README.md --layout experiments/report.toml
else
  report=$(dirname "$db")/report
  ./build/qx report "$db" --out "$report"
fi
echo "grid and report: $((SECONDS - start)) s"

# The summary reads the database the report was rendered from: the float model, PyTorch's own
# int8 PTQ where tools/torch_ao_ptq.py has run into it, and the grid's best cell at each width.
echo
sqlite3 -header -column "$db" <<'SQL'
WITH grid AS (SELECT * FROM results WHERE experiment = 'ptq-grid'),
best AS (SELECT w_bits, MAX(top1) AS top1 FROM grid WHERE label IS NULL GROUP BY w_bits)
SELECT 'fp32' AS model, '' AS recipe, printf('%.2f', top1) AS top1 FROM grid WHERE label = 'fp32'
UNION ALL
SELECT 'PyTorch int8', c.label || ' on ' || substr(e.machine, 1, instr(e.machine, ',') - 1)
       || CASE WHEN substr(e.machine, 1, instr(e.machine || '; no', '; no') - 1) LIKE '%vnni%'
               THEN ', VNNI' ELSE ', no VNNI' END,
       printf('%.2f', c.top1)
  FROM cells c JOIN experiments e ON e.id = c.experiment_id
  WHERE e.name = 'torch.ao-ptq' AND c.label = 'torch.ao int8 (onednn)' AND c.status = 'finished'
UNION ALL
SELECT * FROM (
  SELECT printf('qx W%dA%d', g.w_bits, g.a_bits), g.observer || '/' || g.quantizer, printf('%.2f', g.top1)
  FROM grid g JOIN best b ON b.w_bits = g.w_bits AND b.top1 = g.top1 WHERE g.label IS NULL
  GROUP BY g.w_bits ORDER BY g.w_bits DESC);
SQL
echo
echo "tables and figures: $report/ (README.md's results region when the database is the committed one)"
