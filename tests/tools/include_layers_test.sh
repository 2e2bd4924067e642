#!/usr/bin/env bash
# CTest IncludeLayersCatchesUpwardIncludes: tools/include_layers.py --check fails on a tree with
# an upward include, a sideways one, a folder with no floor, an include of a library not linked,
# LibTorch in a library declared free of it, and a CMake file whose source lists or links drift
# from the declared libraries; it passes on the same trees without them. Usage: include_layers_test.sh SOURCE_DIR
set -euo pipefail
tool=$(realpath "$1")/tools/include_layers.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fw=$work/framework
mkdir -p "$fw/include/qx/core" "$fw/include/qx/store" "$fw/include/qx/sim" "$fw/include/qx/quant" \
         "$fw/include/qx/plugin" "$work/plugins"
echo '#pragma once' > "$fw/include/qx/core/error.h"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/quant/qparams.h"
printf '#include "qx/quant/qparams.h"\n' > "$fw/include/qx/sim/quant_sim.h"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/store/results_db.h"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/plugin/abi.h"
printf '#include "qx/plugin/abi.h"\n' > "$fw/include/qx/plugin/registrar.h"

expect() {  # expect RC TEXT: the check exits RC and, where TEXT is given, prints it
  local rc=0 out
  out=$(/usr/bin/python3 "$tool" --check --root "$fw") || rc=$?
  [ "$rc" -eq "$1" ] || { echo "FAIL: exit $rc, not $1"; echo "$out"; exit 1; }
  [ -z "${2:-}" ] || grep -qF -- "$2" <<<"$out" || { echo "FAIL: no '$2' in"; echo "$out"; exit 1; }
}

expect 0 "every folder includes only folders on lower floors"
# The store (floor 2) reading the simulation (floor 3): the weakness this check exists for.
printf '#include "qx/sim/quant_sim.h"\n' >> "$fw/include/qx/store/results_db.h"
expect 1 "qx/store/ (floor 2) includes qx/sim/ (floor 3)"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/store/results_db.h"
# Two folders of one floor may not include each other either.
printf '#include "qx/store/results_db.h"\n' >> "$fw/include/qx/quant/qparams.h"
expect 1 "qx/quant/ (floor 2) includes qx/store/ (floor 2)"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/quant/qparams.h"
# A new folder must be placed before it passes.
mkdir -p "$fw/src/newroom" && printf '#include "qx/core/error.h"\n' > "$fw/src/newroom/x.cpp"
expect 1 "qx/newroom/ has no floor in FLOORS"
rm -r "$fw/src/newroom"
expect 0
# The report (floor 3) reading the quantizers (floor 2) keeps the floors but not the libraries:
# qx::report does not link qx::sdk.
mkdir -p "$fw/src/report" && printf '#include "qx/quant/qparams.h"\n' > "$fw/src/report/report.cpp"
expect 1 "qx/report/ (qx::report) includes qx/quant/ (qx::sdk), which qx::report does not link"
printf '#include "qx/store/results_db.h"\n' > "$fw/src/report/report.cpp"
# The store is declared free of LibTorch.
printf '#include <torch/torch.h>\n' >> "$fw/include/qx/store/results_db.h"
expect 1 "framework/include/qx/store/results_db.h includes LibTorch"
printf '#include "qx/core/error.h"\n' > "$fw/include/qx/store/results_db.h"
expect 0

# The real tree's CMake file, drifted from the declared libraries: a link the table does not
# declare, and a source compiled into the wrong library.
rm -rf "$fw" && cp -r "$(dirname "$tool")/../framework" "$fw"
expect 0 "every library compiles its declared folders, links its declared libraries"
sed -i 's/^target_link_libraries(qx_report PUBLIC qx_store/target_link_libraries(qx_report PUBLIC qx_store qx_engine/' "$fw/CMakeLists.txt"
expect 1 "qx::report links {config, engine, store} in CMake, declared {store, config}"
cp "$(dirname "$tool")/../framework/CMakeLists.txt" "$fw/CMakeLists.txt"
sed -i '/^  src\/eval\/evaluate.cpp$/d; s#^  src/store/sqlite.cpp$#  src/store/sqlite.cpp\n  src/eval/evaluate.cpp#' "$fw/CMakeLists.txt"
expect 1 "qx::store compiles src/{eval, store}, declared {store}"
echo "include_layers: upward, sideways, unplaced, unlinked and LibTorch includes fail, as do CMake lists that drift; the clean trees pass"
