#!/usr/bin/env bash
# Regenerates the published results database from the shipped checkpoint, stage by stage, then
# the report. The published set is the STAGES list below: every experiment the README and docs/
# draw on, in order, and nothing exploratory.
#   bash scripts/reproduce.sh [--db FILE] [--data DIR] [--device cuda] [--only STAGE] [--smoke]
# Each stage is resumable: `qx run` skips the cells already in the database, and a Python or
# measurement stage is skipped once the database records it finished. The default database is
# results/results.sqlite, so on a clone every stage is found done; --db FILE (a new file)
# regenerates everything from scratch, and its report goes to FILE's folder/report/.
# --device cuda runs the stages that train (QAT) on a GPU; on a machine that only has the GPU,
# run `--only qat --db gpu.sqlite` there and `qx merge gpu.sqlite results/results.sqlite` here.
# --smoke (with a new --db) runs every stage on a token budget instead: 256 test images, one
# calibration batch, a few cells of each experiment, two iterations of each reconstruction, one
# short epoch of QAT, benchmarks once each. It checks that every stage still runs and records
# against today's schema (a CTest, ReproduceSmoke); its numbers mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
committed=results/results.sqlite
db=$committed
data=${QX_DATA_DIR:-}
device=
only=
smoke=
while (($#)); do
  case $1 in
    --db) db=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    *) echo "reproduce.sh: unknown argument '$1' (use --db FILE, --data DIR, --device cuda, --only STAGE, --smoke)" >&2
       exit 2 ;;
  esac
done
qx=${QX:-./build/qx}   # QX: another build's binary (the CTest passes its own)
python=/usr/bin/python3
checkpoint=checkpoints/resnet20.pt
[[ -x $qx ]] || { echo "reproduce.sh: no $qx; build first (bash scripts/build.sh)" >&2; exit 1; }
if [[ -n $smoke && ( $db -ef $committed || -e $db ) ]]; then
  echo "reproduce.sh: --smoke writes a new database: give --db with a file that does not exist yet" >&2
  exit 2
fi
# The data where qx itself finds it (--data, QX_DATA_DIR, then data/ and ../shared/data), so
# the Python stages read the same folder; a missing folder ends here with qx's one-line reason.
[[ -n $data ]] || data=$($qx data where)

# stage name | experiment name in the database | what runs | its budget under --smoke
SMOKE_QX="--test-images 256 --calibration-batches 1"
SMOKE_PYTHON="--images 256 --calibration-batches 1"
SMOKE_PASSES="--pass-option qdrop.iterations=2 --pass-option brecq.iterations=2 --pass-option adaround.iterations=2"
STAGES=(
  "ptq-grid|ptq-grid|qx experiments/ptq_grid.toml|$SMOKE_QX --shard 1/8"
  "torch-ao-ptq|torch.ao-ptq|python tools/torch_ao_ptq.py|$SMOKE_PYTHON"
  "torch-ao-placement|torch.ao-placement|python tools/torch_ao_placement.py|$SMOKE_PYTHON"
  "torch-ao-16bit|torch.ao-16bit|python tools/torch_ao_16bit.py|$SMOKE_PYTHON"
  "sensitivity|sensitivity|qx experiments/sensitivity.toml|$SMOKE_QX --shard 1/12"
  "improvements|improvements|qx experiments/improvements.toml|$SMOKE_QX --shard 1/20 $SMOKE_PASSES"
  "integer-bias|integer-bias|qx experiments/integer_bias.toml|$SMOKE_QX --first 2"
  "qat|qat|qx experiments/qat.toml|$SMOKE_QX --first 1 $SMOKE_PASSES --pass-option lsq.epochs=1 \
    --pass-option lsq.images_per_epoch=256"
  "pack||pack|"
  "benchmarks||benchmarks|--smoke"
)
names=()
for stage in "${STAGES[@]}"; do names+=("${stage%%|*}"); done
if [[ -n $only && " ${names[*]} report " != *" $only "* ]]; then
  echo "reproduce.sh: unknown stage '$only' (one of: ${names[*]} report)" >&2
  exit 2
fi

# The expected time of a stage on 2 cores, as the README states the total: the core seconds its
# cells took when last recorded (each cell's seconds times its threads; calibration, quantization,
# passes and evaluation, the model and data loads of each invocation on top), in this database or
# else the committed one, over 2. Prints "SECONDS CELLS", nothing if never recorded.
recorded() {
  local source=$db
  [[ -f $source && $(sqlite3 "$source" "SELECT COUNT(*) FROM results WHERE experiment = '$1'") -gt 0 ]] ||
    source=$committed
  [[ -f $source ]] || return 0
  sqlite3 -separator ' ' "$source" "SELECT CAST(ROUND(SUM((IFNULL(c.calib_seconds, 0) + IFNULL(c.quantize_seconds, 0)
      + c.pass_seconds + IFNULL(c.eval_seconds, 0)) * MAX(e.threads, 1)) / 2) AS INTEGER), COUNT(*)
    FROM cells c JOIN experiments e ON e.id = c.experiment_id
    WHERE c.status = 'finished' AND e.name = '$1' HAVING COUNT(*) > 0"
}
finished() {  # whether the database records a finished experiment of this name
  [[ -f $db ]] && [[ $(sqlite3 "$db" "SELECT COUNT(*) FROM experiments WHERE name = '$1' AND status = 'finished'") -gt 0 ]]
}

machine=unknown
[[ -f $committed ]] && machine=$(sqlite3 "$committed" \
  "SELECT machine FROM experiments WHERE machine IS NOT NULL AND name = 'ptq-grid' ORDER BY id DESC LIMIT 1")
echo "stages into $db (expected times on 2 cores, from the core time last recorded on ${machine:-unknown}):"
total=0
for stage in "${STAGES[@]}"; do
  IFS='|' read -r name experiment what budget <<< "$stage"
  [[ -z $only || $only == "$name" ]] || continue
  case $what in
    qx*) count=$($qx run --list "${what#qx }" | tail -1) ;;
    *) count="-" ;;
  esac
  expected=-
  if [[ -n $experiment ]] && read -r seconds recorded_cells < <(recorded "$experiment"); then
    if ((seconds < 60)); then expected="$seconds s"; else expected="$(((seconds + 30) / 60)) min"; fi
    expected+=" ($recorded_cells cells recorded)"
    total=$((total + seconds))
  fi
  printf '  %-20s %-12s expected %s\n' "$name" "$count" "$expected"
done
((total == 0)) || echo "  all stages: about $(awk -v s="$total" 'BEGIN { printf "%.1f", s / 3600 }') hours on 2 cores"

# The file as it was, so that a reproduction that finds every stage done leaves it byte for byte.
as_found=$( [[ -f $db ]] && cksum < "$db" || true)

run_stage() {
  local name=$1 experiment=$2 what=$3 start=$SECONDS extra=()
  # The stage's budget words (no quoting inside them) under --smoke; nothing otherwise.
  [[ -n $smoke ]] && read -r -a extra <<< "$4"
  echo "== $name"
  case $what in
    qx*)
      [[ $name == qat && -n $device ]] && extra+=(--device "$device")
      $qx run "${what#qx }" --db "$db" --data "$data" "${extra[@]}" ;;
    python*)
      if finished "$experiment"; then echo "$name: finished earlier, skipped"; return; fi
      $python "${what#python }" --checkpoint "$checkpoint" --data "$data" --db "$db" --qx "$qx" "${extra[@]}" ;;
    pack)
      if [[ -f $db && $(sqlite3 "$db" "SELECT COUNT(*) FROM packed_models") -gt 0 ]]; then
        echo "$name: finished earlier, skipped"; return
      fi
      $qx pack "$checkpoint" --db "$db" ;;
    benchmarks)
      if [[ -f $db && $(sqlite3 "$db" "SELECT COUNT(DISTINCT suite) FROM benchmarks") -ge 5 ]]; then
        echo "$name: finished earlier, skipped"; return
      fi
      $python tools/record_benchmarks.py --db "$db" --data "$data" --build "$(dirname "$qx")" "${extra[@]}" ;;
  esac
  echo "$name: $((SECONDS - start)) s"
}

for stage in "${STAGES[@]}"; do
  IFS='|' read -r name experiment what budget <<< "$stage"
  [[ -z $only || $only == "$name" ]] || continue
  run_stage "$name" "$experiment" "$what" "$budget"
done

# The training run is recorded by `qx train` itself and is not re-trained here: a new database
# takes its record (runs, train_epochs) from the committed one, so that its report is complete.
if [[ -f $db && -f $committed && ! $db -ef $committed ]] &&
   [[ $(sqlite3 "$db" "SELECT COUNT(*) FROM runs") == 0 ]]; then
  sqlite3 "$db" "ATTACH '$committed' AS committed;
    INSERT INTO runs SELECT * FROM committed.runs WHERE kind = 'train';
    INSERT INTO train_epochs SELECT * FROM committed.train_epochs
      WHERE run_id IN (SELECT id FROM committed.runs WHERE kind = 'train');"
fi
if [[ -z $only || $only == report ]]; then
  echo "== report"
  if [[ $db -ef $committed ]]; then
    $qx report "$db" --out docs/results --readme README.md --layout experiments/report.toml
  else
    $qx report "$db" --out "$(dirname "$db")/report"
  fi
fi
# The file as committed: compacted, in rollback-journal mode (no -wal or -shm beside it), so that
# a copy of the one file is the whole database. qx switches it back to WAL when it next writes.
# A file nothing was written to is left alone (VACUUM would rewrite it).
if [[ -f $db-wal || $(cksum < "$db") != "$as_found" ]]; then
  sqlite3 "$db" "PRAGMA journal_mode = DELETE; VACUUM;" > /dev/null
fi
echo "$db: $(du -k "$db" | cut -f1) KiB"

# A smoke run passes when every stage it ran left its rows: a finished cell of each experiment,
# the packed files' sizes and every benchmark suite.
if [[ -n $smoke ]]; then
  short=()
  for stage in "${STAGES[@]}"; do
    IFS='|' read -r name experiment what budget <<< "$stage"
    [[ -z $only || $only == "$name" ]] || continue
    case $name in
      pack) query="SELECT COUNT(*) FROM packed_models" ;;
      benchmarks) query="SELECT COUNT(*) >= 5 FROM (SELECT DISTINCT suite FROM benchmarks)" ;;
      *) query="SELECT COUNT(*) FROM results WHERE experiment = '$experiment'" ;;
    esac
    [[ $(sqlite3 "$db" "$query") -gt 0 ]] || short+=("$name")
  done
  if ((${#short[@]})); then echo "smoke: no rows recorded by ${short[*]}" >&2; exit 1; fi
  echo "smoke: every stage ran and recorded its rows in $db"
fi
