#!/usr/bin/env bash
# Trains the reference ResNet20 on a lent GPU machine, in one call of the device tool:
#   bash tools/device/pack.sh                    # here, once: fills .device/
#   run(command="bash tools/device/train_reference.sh", carry=[".device"], timeout_s=600)
# The recipe is experiments/train_resnet20.toml, unchanged; only --device differs. A call that
# runs out of time leaves a checkpoint after its last whole epoch; the same command on the still
# warm machine continues it with --resume. Everything under $OUT comes back.
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
deadline=${QX_DEADLINE_S:-560}  # seconds after which training stops, so that results get copied
run_dir=build-device/run        # ignored by git, kept on a warm machine between calls
out=${OUT:-/tmp/qx-out}
mkdir -p "$out" "$run_dir"
exec > >(tee -a "$out/device.log") 2>&1

echo "== machine"; nvidia-smi -L; nproc; g++ --version | head -1; cmake --version | head -1

[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"
deps=/opt/qxdeps
if [[ ! -d $deps ]]; then mkdir -p $deps && tar -C $deps -xJf .device/deps.tar.xz; fi
data=/tmp/cifar
if [[ ! -f $data/cifar-10-jpeg-batches-bin/test_batch.bin ]]; then
  (python3 .device/jpeg-source/rebuild_bins.py $data --check > "$out/rebuild_bins.log" 2>&1; echo "rebuild_bins exit $?" >> "$out/rebuild_bins.log") &
  data_job=$!
fi

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
torch_root=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
echo "== LibTorch $(python3 -c 'import torch; print(torch.__version__)') at $torch_root"
if [[ ! -f build-device/build.ninja ]]; then
  std=17
  echo '#include <torch/torch.h>' | g++ -std=c++17 -fsyntax-only -x c++ - -I"$torch_root/include" \
      -I"$torch_root/include/torch/csrc/api/include" 2> "$out/cxx17_probe.log" || std=20
  echo "== C++$std"
  cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=$std \
      -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" -DQX_WITH_DOWNLOAD=OFF -DQX_BUILD_TESTS=OFF \
      -DQX_BUILD_BENCHMARKS=OFF -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_POLICY_VERSION_MINIMUM=3.5 > "$out/cmake.log" 2>&1 \
      || { tail -40 "$out/cmake.log"; exit 1; }
fi
cmake --build build-device -j "$(nproc)" -- -k 0 > "$out/build.log" 2>&1 || { grep -m5 -A5 "error" "$out/build.log"; tail -20 "$out/build.log"; exit 1; }
echo "== built in $((SECONDS - start)) s"

if [[ -n ${data_job:-} ]]; then wait $data_job; fi
cat "$out/rebuild_bins.log" 2>/dev/null

resume=()
[[ -f $run_dir/checkpoint.pt ]] && resume=(--resume)
left=$((deadline - (SECONDS - start)))
echo "== training for at most $left s ${resume[*]}"
timeout --signal=INT "$left" ./build-device/qx train experiments/train_resnet20.toml --device cuda \
    --data $data/cifar-10-jpeg-batches-bin --out "$run_dir" "${resume[@]}"
echo "== qx train exit $? after $((SECONDS - start)) s"
cp "$run_dir"/checkpoint.pt "$run_dir"/history.csv "$run_dir"/results.sqlite "$out"/ 2>/dev/null
ls -la "$out"
