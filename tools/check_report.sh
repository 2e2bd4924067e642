#!/usr/bin/env bash
# Regenerates the report from the results database into a scratch folder and compares it, byte
# for byte, with docs/results/ and the README's generated region. Exit 0 only if equal: the
# committed figures are exactly what `qx report` makes of the database, which is committed
# (results/results.sqlite): a clone without it, or with no finished cell in it, fails.
#   tools/check_report.sh [QX_BINARY=build/qx]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
qx=${1:-$root/build/qx}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[[ -f "$root/results/results.sqlite" ]] || { echo "check_report: no results/results.sqlite" >&2; exit 1; }
# qx report only reads the database, but upgrades one at an older schema first: the copy keeps the
# committed file untouched either way.
cp "$root/results/results.sqlite" "$work/results.sqlite"
cp "$root/README.md" "$work/README.md"
# The same layout as the repository, so that the README's figure links come out the same.
if ! "$qx" report "$work/results.sqlite" --out "$work/docs/results" --readme "$work/README.md" \
    --layout "$root/experiments/report.toml" > "$work/log" 2>&1; then
  cat "$work/log"
  exit 1
fi
diff -r "$root/docs/results" "$work/docs/results"
diff "$root/README.md" "$work/README.md"
echo "docs/results and the README's results region match the database"
