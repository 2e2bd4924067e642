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
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
