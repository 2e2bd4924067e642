#!/usr/bin/env bash
# Regenerates the report from the results database into a scratch folder and compares it, byte
# for byte, with docs/results/ and the README's generated region. Exit 0 only if equal: the
# committed figures are exactly what `qx report` makes of the database. The database is data and
# not in the repository, so on a clone that has not produced it, or not a finished cell of it yet,
# the check is skipped (exit 77).
#   tools/check_report.sh [QX_BINARY=build/qx]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
qx=${1:-$root/build/qx}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ! -f "$root/results/results.sqlite" ]]; then
  echo "results/results.sqlite not present (it is written by the README's reproduce commands): skipped"
  exit 77
fi
# qx report opens the database read-write (schema check); a copy keeps the original untouched.
cp "$root/results/results.sqlite" "$work/results.sqlite"
cp "$root/README.md" "$work/README.md"
# The same layout as the repository, so that the README's figure links come out the same.
if ! "$qx" report "$work/results.sqlite" --out "$work/docs/results" --readme "$work/README.md" > "$work/log" 2>&1; then
  # A reproduction that has not finished a cell yet (scripts/run.sh still training) has nothing
  # to compare; any other failure of the report is one.
  if grep -q "no finished cells to report" "$work/log"; then
    echo "results/results.sqlite has no finished cells yet: skipped"
    exit 77
  fi
  cat "$work/log"
  exit 1
fi
diff -r "$root/docs/results" "$work/docs/results"
diff "$root/README.md" "$work/README.md"
echo "docs/results and the README's results region match the database"
