#!/usr/bin/env bash
# Runs a quantization experiment on a lent GPU machine, in one call of the device tool:
#   bash tools/device/pack.sh                    # here, once: fills .device/
#   run(command="bash tools/device/run_experiment.sh experiments/qat.toml", carry=[".device"], timeout_s=600)
# The cells go into a new database, $OUT/<name>.sqlite, that comes back; `qx merge`
# adds them to the local results database. Each cell is written when it finishes, so a call that
# reaches its deadline keeps the cells done by then (the one in progress is not written).
deadline=${QX_DEADLINE_S:-570}
source "$(dirname "$0")/setup.sh"
experiment=${1:?usage: run_experiment.sh EXPERIMENT.toml}
db="$out/$(basename "$experiment" .toml).sqlite"
left=$((deadline - (SECONDS - start)))
echo "== $experiment for at most $left s"
timeout --signal=INT "$left" "$qx" run "$experiment" --device cuda --data "$data" --db "$db"
echo "== qx run exit $? after $((SECONDS - start)) s"
nvidia-smi --query-gpu=name,memory.used --format=csv
ls -la "$out"
