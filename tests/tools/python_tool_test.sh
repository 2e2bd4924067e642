#!/usr/bin/env bash
# CTest PythonTool.<tool>: one Python reference on a token budget into a fresh database. Its rows
# must arrive through `qx import` (tools/qxref.py), as a finished experiment with cells or as
# benchmark rows, and a database with cells must pass qx's own reading (`qx report`; it reports
# cells, so a database of benchmark rows alone has nothing for it). A database qx
# refuses (here: not SQLite) must make the tool fail with qx's one-line reason and leave it as it was.
# Usage: python_tool_test.sh TOOL QX SOURCE_DIR. Skipped (77) without Python PyTorch, the shipped
# checkpoint or the CIFAR-10 data.
set -euo pipefail
tool=$1
qx=$(realpath "$2")
source=$(realpath "$3")
cd "$source"
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "no Python PyTorch: skipped"; exit 77; }
"$qx" data where >/dev/null 2>&1 && [ -f checkpoints/resnet20.pt ] || { echo "no data or checkpoint: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/fresh.sqlite
budget=(--images 64 --calibration-batches 1 --calibration-batch-size 32 --threads 1)
case $tool in
  torch_ao_ptq) experiment=torch.ao-ptq; args=("${budget[@]}" --engines qnnpack) ;;
  torch_ao_placement) experiment=torch.ao-placement; args=("${budget[@]}") ;;
  torch_ao_16bit) experiment=torch.ao-16bit; args=("${budget[@]}") ;;
  record_benchmarks) experiment=""; args=(--smoke --suites python_training --build "$(dirname "$qx")") ;;
  *) echo "unknown tool '$tool'"; exit 2 ;;
esac
qx_arg=(--qx "$qx")
[ "$tool" = record_benchmarks ] && qx_arg=()
/usr/bin/python3 "tools/$tool.py" --db "$db" "${qx_arg[@]}" "${args[@]}"
if [ -n "$experiment" ]; then
  cells=$(sqlite3 "$db" "SELECT COUNT(*) FROM results WHERE experiment = '$experiment' AND top1 BETWEEN 0 AND 100")
  state=$(sqlite3 "$db" "SELECT status FROM experiments WHERE name = '$experiment'")
  [ "$cells" -gt 0 ] && [ "$state" = finished ] || { echo "expected finished cells of $experiment, found $cells ($state)"; exit 1; }
  echo "$tool: $cells cells of $experiment in a fresh database"
  "$qx" report "$db" --out "$work/report" >/dev/null
else
  rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM benchmarks WHERE suite = 'python_training'")
  [ "$rows" -gt 0 ] || { echo "expected python_training benchmark rows"; exit 1; }
  echo "$tool: $rows benchmark rows in a fresh database"
fi

# A file qx cannot open as its database: the tool fails, qx says why, the file is unchanged.
printf 'not a database, but long enough to be read as one by sqlite3 and refused by it\n%.0s' {1..64} > "$work/bad.sqlite"
before=$(cksum < "$work/bad.sqlite")
if /usr/bin/python3 "tools/$tool.py" --db "$work/bad.sqlite" "${qx_arg[@]}" "${args[@]}" 2>"$work/err.txt"; then
  echo "the tool accepted a corrupt database"; exit 1
fi
grep -q "qx: error: " "$work/err.txt" || { echo "no qx error in:"; cat "$work/err.txt"; exit 1; }
[ "$(cksum < "$work/bad.sqlite")" = "$before" ] || { echo "the corrupt database was changed"; exit 1; }
echo "$tool: a corrupt database is refused in qx's words and left as it was"
