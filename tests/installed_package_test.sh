#!/usr/bin/env bash
# CTest InstalledPackage: qx as a package others build on (README, "Writing a plugin").
#   1. installs this build into a temporary prefix (cmake --install);
#   2. builds examples/out_of_tree_observer against it with find_package(qx);
#   3. lists the example with `qx --plugins <its build folder> plugins`;
#   4. installs it beside qx's own plugins and runs a one-cell grid that uses it, with the
#      installed qx finding every plugin by itself.
# Usage: installed_package_test.sh BUILD_DIR SOURCE_DIR CXX_COMPILER. Skipped (77) without the
# shipped checkpoint or the CIFAR-10 data (where `qx data where` finds it).
set -euo pipefail
build=$(realpath "$1")
source=$(realpath "$2")
compiler=$3
checkpoint=$source/checkpoints/resnet20.pt
data=$(cd "$source" && realpath "$("$build/qx" data where 2>/dev/null)" 2>/dev/null) || data=""
[ -n "$data" ] && [ -f "$checkpoint" ] || { echo "no CIFAR-10 data or checkpoint: skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
cmake -S "$source/examples/out_of_tree_observer" -B "$work/observer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log"
cmake --build "$work/observer" >"$work/build.log"

# The example's folder alone: one plugin, accepted.
"$prefix/bin/qx" --plugins "$work/observer/plugins" plugins | tee "$work/plugins.txt"
grep -Eq 'observer +shrunk_max +0\.1\.0' "$work/plugins.txt"

# Installed beside the others, found without --plugins, and used by a grid.
cmake --install "$work/observer" --prefix "$prefix" >>"$work/install.log"
cat >"$work/grid.toml" <<TOML
name = "installed-package"
[model]
checkpoint = "$checkpoint"
[data]
dir = "$data"
[calibration]
batches = 1
batch_size = 32
[evaluation]
images = 200
batch_size = 100
threads = 1
[output]
database = "results.sqlite"
[[cells]]
name = "shrunk"
observer = "shrunk_max"
quantizer = "symmetric"
bits = 8
[observers.shrunk_max]
fraction = 0.9
TOML
(cd "$work" && "$prefix/bin/qx" run grid.toml --db results.sqlite)
finished=$(sqlite3 "$work/results.sqlite" \
  "SELECT COUNT(*) FROM cells WHERE status = 'finished' AND observer = 'shrunk_max' AND top1 > 10")
[ "$finished" = 1 ] || { echo "expected one finished shrunk_max cell above chance, found $finished"; exit 1; }
echo "installed qx ran the out-of-tree observer: one cell, finished"
