#!/usr/bin/env bash
# Compares the finished cells of a results database with a reference one, cell by cell (matched
# by key, so by everything that decides a cell's numbers), and prints every cell that differs:
# one whose top-1 is more than TOLERANCE percentage points away, or that the reference lacks.
# --exact asks for equal top-1, top-5 and loss instead. The last line is
#   NAME: M/N cells match the committed database (max |delta top-1| = X pp)
# and the exit status is 0 when all N match, 1 otherwise.
#   tools/compare_results.sh DB REFERENCE [--experiment NAME] [--tolerance PP | --exact] [--name NAME]
# scripts/run.sh calls it on the grid it recomputed; tools/check_reproduction.sh with --exact.
set -euo pipefail
(($# >= 2)) || { echo "usage: compare_results.sh DB REFERENCE [--experiment NAME] [--tolerance PP] [--name NAME]" >&2; exit 2; }
db=$1 reference=$2
shift 2
experiment= tolerance=0.05 name=cells exact=0
while (($#)); do
  case $1 in
    --experiment) experiment=$2; shift 2 ;;
    --tolerance) tolerance=$2; shift 2 ;;
    --exact) exact=1 tolerance=0; shift ;;
    --name) name=$2; shift 2 ;;
    *) echo "compare_results.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for file in "$db" "$reference"; do
  [[ -f $file ]] || { echo "compare_results.sh: no database '$file'" >&2; exit 2; }
done
[[ $tolerance =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "compare_results.sh: --tolerance '$tolerance' is not a number" >&2; exit 2; }

# Read-only on both: the comparison writes nothing to either file. Single quotes in names are
# doubled for SQL.
sql_text() { printf "'%s'" "${1//\'/\'\'}"; }
matches="c.key IS NOT NULL AND ABS(r.top1 - c.top1) <= $tolerance + 1e-9"
((exact)) && matches="c.key IS NOT NULL AND r.top1 = c.top1 AND r.top5 IS c.top5 AND r.loss IS c.loss"
sqlite3 -readonly "$db" <<SQL
ATTACH $(sql_text "file:$reference?mode=ro") AS reference;
CREATE TEMP VIEW compared AS
SELECT r.label, r.observer, r.quantizer, r.w_bits, r.a_bits, r.passes, r.top1 AS top1, c.top1 AS committed,
       ABS(r.top1 - c.top1) AS delta, $matches AS matched
FROM main.cells r JOIN main.experiments e ON e.id = r.experiment_id
LEFT JOIN reference.cells c ON c.key = r.key AND c.status = 'finished'
WHERE r.status = 'finished' AND ($(sql_text "$experiment") = '' OR e.name = $(sql_text "$experiment"));
.mode column
.headers on
SELECT label, observer, quantizer, w_bits, a_bits, passes, top1, IFNULL(committed, 'missing') AS committed,
       printf('%+.2f', top1 - committed) AS delta
FROM compared WHERE NOT matched;
.headers off
.mode list
SELECT printf('%s: %d/%d cells match the committed database (max |delta top-1| = %.2f pp)', $(sql_text "$name"),
              IFNULL(SUM(matched), 0), COUNT(*), IFNULL(MAX(delta), 0))
FROM compared;
SQL
mismatched=$(sqlite3 -readonly "$db" "ATTACH $(sql_text "file:$reference?mode=ro") AS reference;
  SELECT COUNT(*) FROM main.cells r JOIN main.experiments e ON e.id = r.experiment_id
  LEFT JOIN reference.cells c ON c.key = r.key AND c.status = 'finished'
  WHERE r.status = 'finished' AND ($(sql_text "$experiment") = '' OR e.name = $(sql_text "$experiment"))
    AND NOT ($matches)")
total=$(sqlite3 -readonly "$db" "SELECT COUNT(*) FROM cells c JOIN experiments e ON e.id = c.experiment_id
  WHERE c.status = 'finished' AND ($(sql_text "$experiment") = '' OR e.name = $(sql_text "$experiment"))")
((total > 0)) || { echo "compare_results.sh: no finished cells${experiment:+ of '$experiment'} in $db" >&2; exit 1; }
[[ $mismatched == 0 ]]
