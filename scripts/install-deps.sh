#!/usr/bin/env bash
# Installs every build and run dependency of qx from Debian 12 packages.
# Idempotent: apt skips what is already there. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl
  libtorch-dev python3-torch python3-numpy
  libboost-dev libboost-filesystem-dev
  libtomlplusplus-dev
  libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev
  libopenblas0-openmp   # Debian's LibTorch otherwise runs its BLAS calls on reference BLAS
  gnuplot-nox
  openmpi-bin libopenmpi-dev   # `mpirun -np N qx run` (docs/scaling.md)
  clang libclang-rt-14-dev     # tools/fuzz.sh and tools/sanitize.sh (docs/reliability.md)
  libonnx-dev libprotobuf-dev python3-onnx   # `qx export-onnx` and its onnx.checker test (docs/deployment.md)
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js for onnxruntime-node, the external judge of `qx judge`; a machine that has node and npm
# from elsewhere (NodeSource) keeps them, since Debian's npm would conflict with that nodejs.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# onnxruntime's CPU runtime, pinned by tools/onnxruntime/package-lock.json. Its install script is
# skipped: it downloads from a host this machine may not reach, and the CPU binaries it needs are
# in the package's tarball already.
judge_dir="$(dirname "$0")/../tools/onnxruntime"
if [ ! -f "$judge_dir/node_modules/onnxruntime-node/package.json" ]; then
  echo "install-deps: installing onnxruntime-node into tools/onnxruntime/node_modules"
  (cd "$judge_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
