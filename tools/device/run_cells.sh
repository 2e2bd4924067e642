#!/usr/bin/env bash
# Runs chosen cells of an experiment on a lent GPU machine side by side, one qx process per cell:
# a ResNet20 training step launches many small kernels, so one process leaves the GPU mostly idle.
# Each process gets its share of the cores ([evaluation] threads): at torch's default of every
# core each, the processes' thread pools fight over the cores and every step runs several times
# slower than one process alone (tools/device/side_by_side.sh measures it).
#   bash tools/device/pack.sh                                   # here, once: fills .device/
#   run(command="bash tools/device/run_cells.sh experiments/qat.toml NAME...", carry=[".device"], timeout_s=600)
#   run(command="bash tools/device/run_cells.sh --wait", carry=[".device"], timeout_s=...)  # same warm machine
# Every [[cells]] entry whose name is given (each of its seeds) becomes a one-cell copy of the
# experiment and its own process, started with setsid so that it outlives the call: a second call
# with --wait, on the still warm machine, waits on for the cells the first one left running. Each
# call copies the databases of the cells finished so far to $OUT (<cell>-seed<N>.sqlite); `qx merge`
# adds them to results/results.sqlite here.
deadline=${QX_DEADLINE_S:-570}
wait_only=0
[[ ${1:-} == --wait ]] && { wait_only=1; shift; }
source "$(dirname "$0")/setup.sh"
cells=build-device/cells  # ignored by git, kept on a warm machine between calls

if ((!wait_only)); then
  experiment=${1:?usage: run_cells.sh EXPERIMENT.toml NAME... | run_cells.sh --wait}
  shift
  (($# > 0)) || { echo "name at least one cell of $experiment"; exit 2; }
  rm -rf "$cells" && mkdir -p "$cells"
  python3 - "$experiment" "$cells" "$(nproc)" "$@" <<'EOF' || exit 2
import pathlib, re, sys
experiment, out, cores, names = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3]), set(sys.argv[4:])
head, *entries = experiment.read_text().split("\n[[cells]]\n")
named = [(re.search(r'^name = "([^"]+)"', e, re.M).group(1), e) for e in entries]
chosen = [(name, entry) for name, entry in named if name in names]
missing = names - {name for name, _ in chosen}
if missing:
    sys.exit(f"{experiment}: no [[cells]] named {', '.join(sorted(missing))}")
head = re.sub(r"^threads = \d+", f"threads = {max(1, cores // len(chosen))}", head, flags=re.M)
for name, entry in chosen:
    seed = re.search(r"^seed = (\d+)", entry, re.M)
    (out / f"{name}-seed{seed.group(1) if seed else 0}.toml").write_text(head + "\n[[cells]]\n" + entry)
EOF
  for file in "$cells"/*.toml; do
    cell=${file%.toml}
    # The split files live elsewhere than the experiment, so its relative paths are given here.
    setsid bash -c '"$1" run "$2" --device cuda --data "$3" --checkpoint "$4" --db "$5.sqlite" > "$5.log" 2>&1
                    echo $? > "$5.rc"' _ "$qx" "$file" "$data" "$PWD/checkpoints/resnet20.pt" "$cell" \
        > /dev/null 2>&1 < /dev/null &
    echo "== started $(basename "$cell")"
  done
fi

running() { for file in "$cells"/*.toml; do [[ -f ${file%.toml}.rc ]] || echo "$file"; done; }
polls=0
while [[ -n $(running) ]] && ((SECONDS - start < deadline - 20)); do
  sleep 10
  ((++polls % 6)) && continue  # progress once a minute
  for log in "$cells"/*.log; do
    echo "[$((SECONDS - start)) s] $(basename "$log" .log): $(grep -a 'epoch\|top-1' "$log" | tail -1)"
  done
done

for file in "$cells"/*.toml; do
  cell=${file%.toml}
  if [[ -f $cell.rc ]]; then
    echo "== $(basename "$cell"): exit $(cat "$cell.rc")"
    grep -a 'top-1\|error' "$cell.log" | tail -2
    [[ $(cat "$cell.rc") == 0 ]] && cp "$cell.sqlite" "$out/"
  else
    echo "== $(basename "$cell"): still running after $((SECONDS - start)) s"
  fi
done
tar -C "$cells" -czf "$out/cell-logs.tgz" $(cd "$cells" && ls ./*.log)
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv
