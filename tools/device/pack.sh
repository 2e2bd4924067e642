#!/usr/bin/env bash
# Prepares .device/ for a lent GPU machine (see tools/device/README.md): that machine has
# LibTorch with CUDA, CMake and a compiler, but none of qx's other libraries and no network.
#   .device/deps.tar.xz   Debian's TOML++, CLI11, fmt, spdlog, SQLite and the Boost headers
#                         that Boost.DLL needs, as a relocatable prefix (usr/...)
#   .device/data-1/ .. data-3/
#                         the lossless CIFAR-10 batches, two files per folder (59 MiB each) with
#                         SHA256SUMS: the 184 MB do not fit one 64 MiB call, so each folder
#                         travels in a call of its own (tools/device/README.md)
# .device/ is ignored by git through .git/info/exclude and travels with `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared_data="${1:-../shared/data}"
out=.device
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
rm -rf "$out" && mkdir -p "$out"

packages=(libtomlplusplus-dev libtomlplusplus3 libcli11-dev libfmt-dev libfmt9 libspdlog-dev libspdlog1.10
          libsqlite3-dev libsqlite3-0)
# Package files that exist (not folders), without documentation.
dpkg -L "${packages[@]}" | grep -E '^/usr/(include|lib|share/cmake)/' | while read -r f; do
  [[ -f "$f" || -L "$f" ]] && echo "${f#/}"
done > "$out/files.txt"

# Boost: only the headers Boost.DLL pulls in (on std::filesystem), plus CMake's package files.
probe=$(mktemp --suffix=.cpp)
printf '#include <boost/config.hpp>\n#include <boost/version.hpp>\n#include <boost/dll/alias.hpp>\n#include <boost/dll/shared_library.hpp>\n' > "$probe"
g++ -std=c++17 -DBOOST_DLL_USE_STD_FS -M "$probe" | tr ' \\' '\n\n' | grep '^/usr/include/boost/' | sed 's|^/||' >> "$out/files.txt"
rm -f "$probe"
find /usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0 /usr/lib/x86_64-linux-gnu/cmake/boost_headers-1.74.0 \
     /usr/lib/x86_64-linux-gnu/cmake/BoostDetectToolset-1.74.0.cmake -type f | sed 's|^/||' >> "$out/files.txt"

sort -u "$out/files.txt" | tar -C / -cJf "$out/deps.tar.xz" --no-recursion -T -
parts=("data_batch_1.bin data_batch_2.bin" "data_batch_3.bin data_batch_4.bin" "data_batch_5.bin test_batch.bin")
for i in 1 2 3; do
  mkdir -p "$out/data-$i"
  for f in ${parts[$((i - 1))]}; do cp "$shared_data/cifar-10-batches-bin/$f" "$out/data-$i/"; done
  cp "$shared_data/cifar-10-batches-bin/SHA256SUMS" "$shared_data/cifar-10-batches-bin/batches.meta.txt" "$out/data-$i/"
done
chmod -R u+w "$out"
du -sh "$out"/*
