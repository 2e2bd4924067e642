#!/usr/bin/env bash
# Trains the reference ResNet20 on a lent GPU machine, in one call of the device tool:
#   bash tools/device/pack.sh                    # here, once: fills .device/
#   run(command="bash tools/device/train_reference.sh", carry=[".device"], timeout_s=600)
# The recipe is experiments/train_resnet20.toml, unchanged; only --device differs. A call that
# runs out of time leaves a checkpoint after its last whole epoch; the same command on the still
# warm machine continues it with --resume. Everything under $OUT comes back.
deadline=${QX_DEADLINE_S:-560}  # seconds after which training stops, so that results get copied
source "$(dirname "$0")/setup.sh"
run_dir=build-device/run        # ignored by git, kept on a warm machine between calls
mkdir -p "$run_dir"

resume=()
[[ -f $run_dir/checkpoint.pt ]] && resume=(--resume)
left=$((deadline - (SECONDS - start)))
echo "== training for at most $left s ${resume[*]}"
timeout --signal=INT "$left" "$qx" train experiments/train_resnet20.toml --device cuda \
    --data "$data" --out "$run_dir" "${resume[@]}"
echo "== qx train exit $? after $((SECONDS - start)) s"
cp "$run_dir"/checkpoint.pt "$run_dir"/history.csv "$run_dir"/results.sqlite "$out"/ 2>/dev/null
ls -la "$out"
