#!/usr/bin/env bash
# Kills qx with SIGKILL at random moments and checks that nothing it writes is ever half-written
# (docs/reliability.md):
#   grid:  `qx run` on a small grid; after every kill the results database passes integrity_check
#          and holds only whole cells; a final rerun gives exactly an uninterrupted run's cells and
#          leaves no claim behind.
#   train: `qx train` (with --resume once a checkpoint exists) on a small recipe with an SWA
#          phase; after every kill the checkpoint loads; the final weights equal an uninterrupted
#          run's, bit for bit.
#   tools/kill_storm.sh [grid|train|both] [--kills N] [--seed S] [--data DIR] [--checkpoint PATH] [--qx BINARY]
# Prints one line per kill and a summary line per storm. Exit 0 only if every check held.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
what=both
if [[ ${1:-} == grid || ${1:-} == train || ${1:-} == both ]]; then what=$1; shift; fi
kills=20 seed=1 data="" checkpoint="$root/checkpoints/resnet20.pt"
qx="$root/build/qx"
while (($#)); do
  case $1 in
    --kills) kills=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --checkpoint) checkpoint=$2; shift 2 ;;
    --qx) qx=$2; shift 2 ;;
    *) echo "kill_storm: unknown argument $1" >&2; exit 2 ;;
  esac
done
# Without --data, the folder qx itself would use (--data, $QX_DATA_DIR, data/, ../shared/data).
[ -n "$data" ] || data=$(cd "$root" && realpath "$("$qx" data where)")
data=$(realpath "$data") checkpoint=$(realpath "$checkpoint")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RANDOM=$seed

now() { date +%s.%N; }
# A moment anywhere in an uninterrupted run's span, start-up included.
random_moment() { awk -v span="$1" -v r="$RANDOM" 'BEGIN { printf "%.3f", span * r / 32767 }'; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# Starts a command in the background, SIGKILLs it after $1 seconds (if it still runs), reaps it.
kill_after() {
  local delay=$1
  shift
  "$@" &
  local pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Whole cells only: the file passes SQLite's own integrity check, and every finished cell has
# exactly the tensor records the same cell has in the uninterrupted run (a cell's row and its
# tensors are one transaction; keys are UNIQUE, so no cell has two rows).
check_database() {  # db -> prints a reason and returns 1 on the first problem
  local db=$1 integrity tensors
  integrity=$(sqlite3 "$db" "PRAGMA integrity_check" 2>&1) || { echo "cannot open: $integrity"; return 1; }
  [[ $integrity == ok ]] || { echo "integrity_check: $integrity"; return 1; }
  tensors=$(sqlite3 "$db" "ATTACH '$work/reference.sqlite' AS ref;
    SELECT COUNT(*) FROM cells c JOIN ref.cells r ON r.key = c.key WHERE c.status = 'finished' AND
    (SELECT COUNT(*) FROM cell_tensors WHERE cell_id = c.id) != (SELECT COUNT(*) FROM ref.cell_tensors WHERE cell_id = r.id)")
  [[ $tensors == 0 ]] || { echo "$tensors cells with tensors missing"; return 1; }
}

grid_storm() {
  # Twelve quantized cells and the float one, a second or two each: 1,000 test images, one thread.
  cat >"$work/grid.toml" <<EOF
name = "kill-storm"
[model]
checkpoint = "$checkpoint"
[data]
dir = "$data"
[calibration]
batches = 2
batch_size = 64
[evaluation]
images = 1000
threads = 1
[output]
database = "storm.sqlite"
[grid]
observers = ["minmax", "percentile"]
quantizers = ["asymmetric", "per_channel"]
bits = [8, 4, 2]
[[cells]]
name = "fp32"
quantize = false
EOF
  local cells=13 start span survived=0 i delay done_cells reason round=1 db
  start=$(now)
  "$qx" run "$work/grid.toml" --db "$work/reference.sqlite" >"$work/reference.log" 2>&1
  span=$(seconds_since "$start")
  # Each kill interrupts a grid that is not yet complete: once the kills and resumes have
  # completed one database, the next kill starts another from nothing.
  for ((i = 1; i <= kills; i++)); do
    db="$work/storm-$round.sqlite"
    delay=$(random_moment "$span")
    kill_after "$delay" "$qx" run "$work/grid.toml" --db "$db" >>"$work/storm.log" 2>&1
    done_cells=0
    if [[ -f $db ]]; then
      done_cells=$(sqlite3 "$db" "SELECT COUNT(*) FROM cells WHERE status = 'finished'" 2>/dev/null || echo 0)
    fi
    if [[ ! -f $db ]] || reason=$(check_database "$db"); then
      survived=$((survived + 1))
      printf 'grid kill %2d at %5.2f s: ok (database %d: %d/%d cells finished)\n' "$i" "$delay" "$round" "$done_cells" "$cells"
    else
      printf 'grid kill %2d at %5.2f s: FAILED: %s\n' "$i" "$delay" "$reason"
    fi
    [[ $done_cells == "$cells" ]] && round=$((round + 1))
  done
  # Every database the storm wrote, completed by a rerun, equals the uninterrupted run.
  local differ=0 claims=0 running=0 r
  for ((r = 1; r <= round; r++)); do
    db="$work/storm-$r.sqlite"
    "$qx" run "$work/grid.toml" --db "$db" >>"$work/storm.log" 2>&1 \
      || { echo "grid kill storm: the final rerun of database $r failed"; tail -3 "$work/storm.log"; return 1; }
    differ=$((differ + $(sqlite3 "$db" "ATTACH '$work/reference.sqlite' AS ref;
      SELECT (SELECT COUNT(*) FROM ref.cells r LEFT JOIN main.cells c ON c.key = r.key AND c.status = 'finished'
              WHERE c.key IS NULL OR c.top1 != r.top1 OR c.top5 != r.top5 OR c.loss != r.loss)
           + (SELECT COUNT(*) FROM main.cells WHERE status = 'finished') - (SELECT COUNT(*) FROM ref.cells)")))
    claims=$((claims + $(sqlite3 "$db" "SELECT COUNT(*) FROM cell_claims")))
    # The killed runs' experiment rows: marked failed by the rerun, none left `running`.
    running=$((running + $(sqlite3 "$db" "SELECT COUNT(*) FROM experiments WHERE status = 'running'")))
  done
  echo "grid kill storm: $survived/$kills kills survived; $round databases completed by reruns: $differ cells" \
       "differing from an uninterrupted run, $claims claims left, $running experiments left running" \
       "(uninterrupted: ${span%.*} s)"
  [[ $survived == "$kills" && $differ == 0 && $claims == 0 && $running == 0 ]]
}

# Loads a checkpoint in Python PyTorch and prints its epoch.
checkpoint_epoch() {
  /usr/bin/python3 -c "import sys, torch; print(torch.load(sys.argv[1])['epoch'])" "$1" 2>/dev/null || echo unreadable
}

train_storm() {
  # Three epochs of 1,024 images and one SWA epoch, one thread: seconds an epoch.
  cat >"$work/train.toml" <<EOF
name = "kill-storm-train"
[model]
plugin = "resnet20"
[data]
dir = "$data"
train_images = 1024
test_images = 500
[train]
epochs = 3
batch_size = 128
eval_batch_size = 500
threads = 1
[schedule]
warmup_epochs = 0.5
[swa]
epochs = 1
[output]
dir = "run"
EOF
  local start span survived=0 i delay epoch resume round=1 out total=4 r
  start=$(now)
  "$qx" train "$work/train.toml" --out "$work/train-reference" >"$work/train-reference.log" 2>&1
  span=$(seconds_since "$start")
  # As for the grid: once kills and resumes have finished one run, the next kill starts another.
  for ((i = 1; i <= kills; i++)); do
    out="$work/train-storm-$round"
    delay=$(random_moment "$span")
    resume=()
    [[ -f $out/checkpoint.pt ]] && resume=(--resume)
    kill_after "$delay" "$qx" train "$work/train.toml" --out "$out" "${resume[@]}" >>"$work/train-storm.log" 2>&1
    epoch=none
    [[ -f $out/checkpoint.pt ]] && epoch=$(checkpoint_epoch "$out/checkpoint.pt")
    if [[ $epoch == unreadable ]]; then
      printf 'train kill %2d at %5.2f s: FAILED: the checkpoint does not load\n' "$i" "$delay"
    else
      survived=$((survived + 1))
      printf 'train kill %2d at %5.2f s: ok (run %d: checkpoint after epoch %s of %d)\n' "$i" "$delay" "$round" "$epoch" "$total"
    fi
    [[ $epoch == "$total" ]] && round=$((round + 1))
  done
  # Every run the storm interrupted, finished by --resume, ends with the uninterrupted run's weights.
  local identical=0
  for ((r = 1; r <= round; r++)); do
    out="$work/train-storm-$r"
    resume=()
    [[ -f $out/checkpoint.pt ]] && resume=(--resume)
    "$qx" train "$work/train.toml" --out "$out" "${resume[@]}" >>"$work/train-storm.log" 2>&1 \
      || { echo "train kill storm: finishing run $r failed"; tail -3 "$work/train-storm.log"; return 1; }
    /usr/bin/python3 - "$work/train-reference/checkpoint.pt" "$out/checkpoint.pt" <<'PY' && identical=$((identical + 1))
import sys, torch
a, b = (torch.load(path) for path in sys.argv[1:])
keys = set(a["state_dict"]) | set(b["state_dict"])
sys.exit(0 if a["epoch"] == b["epoch"] and all(
    k in a["state_dict"] and k in b["state_dict"] and torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in keys)
    else 1)
PY
  done
  echo "train kill storm: $survived/$kills kills survived; $identical of $round interrupted runs, finished with" \
       "--resume, end with an uninterrupted run's weights bit for bit (uninterrupted: ${span%.*} s)"
  [[ $survived == "$kills" && $identical == "$round" ]]
}

status=0
if [[ $what != train ]]; then grid_storm || status=1; fi
if [[ $what != grid ]]; then train_storm || status=1; fi
exit $status
