#!/usr/bin/env bash
# Prepares .device/ for a lent GPU machine (see tools/device/README.md): that machine has
# LibTorch with CUDA, CMake and a compiler, but none of qx's other libraries and no network.
#   .device/deps.tar.xz   Debian's TOML++, CLI11, fmt, spdlog, SQLite and the Boost headers
#                         that Boost.DLL needs, as a relocatable prefix (usr/...)
#   .device/jpeg-source/  the packed CIFAR-10 JPEGs and rebuild_bins.py (~55 MB; the .bin
#                         files are too large to carry)
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
cp -r "$shared_data/jpeg-source" "$out/jpeg-source"
mkdir -p "$out/cifar-10-jpeg-batches-bin"  # rebuild_bins.py --check looks for ../cifar-10-jpeg-batches-bin/SHA256SUMS
cp "$shared_data/cifar-10-jpeg-batches-bin/SHA256SUMS" "$out/cifar-10-jpeg-batches-bin/"
chmod -R u+w "$out"
du -sh "$out"/*
