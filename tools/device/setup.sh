#!/usr/bin/env bash
# Sourced by the scripts here on a lent GPU machine (see README.md): unpacks the carried library
# prefix, gathers the CIFAR-10 batch files carried so far (.device/data-N/, one part per call)
# into a folder that stays on the machine, and builds qx against the machine's LibTorch with CUDA. Sets: out (copied back), data (CIFAR-10
# folder), qx (the binary), start (SECONDS at the beginning). build-device/ survives on a warm
# machine, so a second call rebuilds nothing.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
start=$SECONDS
out=${OUT:-/tmp/qx-out}
mkdir -p "$out"
exec > >(tee -a "$out/device.log") 2>&1

echo "== machine"; nvidia-smi -L; nproc; g++ --version | head -1; cmake --version | head -1

[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"
deps=/opt/qxdeps
if [[ ! -d $deps ]]; then mkdir -p $deps && tar -C $deps -xJf .device/deps.tar.xz; fi
data=/tmp/cifar/cifar-10-batches-bin
mkdir -p "$data"
for part in .device/data-*/; do
  [[ -d $part ]] && cp -n "$part"* "$data/" 2>/dev/null
done
missing=$(cd "$data" && for f in data_batch_{1..5}.bin test_batch.bin; do [[ -f $f ]] || echo "$f"; done)

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
qx=./build-device/qx

# A call that carried only part of the data stops here: qx is built, the part is kept for the next.
if [[ -n $missing ]]; then
  echo "== CIFAR-10 so far: missing $(echo $missing); carry the next .device/data-N in another call"
  exit 0
fi
(cd "$data" && sha256sum --quiet -c SHA256SUMS) || { echo "CIFAR-10 on this machine fails SHA256SUMS"; exit 1; }
