#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (CMake preset 'sanitize': clang, ASan + UBSan) and
# fuzzes each for SECONDS (default 120). Usage: tools/fuzz.sh [SECONDS] [FORMAT...]
# FORMAT: experiment checkpoint cifar10 plugin_info results_db (default: all).
#
# Corpora grow in build-sanitize/fuzz/<format>/corpus, seeded from experiments/*.toml (the
# experiment loader) or from small valid inputs the target itself writes (QX_FUZZ_SEEDS). An
# input that fails lands in build-sanitize/fuzz/<format>/crashes/; fix the cause, then copy the
# input to tests/fuzz/regressions/<format>/, where CTest replays it in every build.
# Prints one table row per format: seconds, executions, executions/s, new corpus, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
shift || true
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(experiment checkpoint cifar10 plugin_info results_db)

cmake --preset sanitize >/dev/null
cmake --build --preset sanitize -j "$(nproc)" --target "${formats[@]/#/qx_fuzz_}"

# LibTorch keeps its registries until exit, so leak checking is off; memory errors and undefined
# behaviour in qx code abort. tools/ubsan.supp lists (with reasons) what is LibTorch's own.
export ASAN_OPTIONS="detect_leaks=0:detect_odr_violation=0:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tools/ubsan.supp"
export OMP_NUM_THREADS=1

status=0
printf '| format | seconds | executions | executions/s | corpus | crashes |\n|---|---:|---:|---:|---:|---:|\n'
for format in "${formats[@]}"; do
  binary=build-sanitize/tests/fuzz/qx_fuzz_$format
  work=build-sanitize/fuzz/$format
  mkdir -p "$work/corpus" "$work/crashes"
  extra=()
  if [ "$format" = experiment ]; then
    cp experiments/*.toml "$work/corpus/"
    # A dictionary of the keys and section names the shipped experiments use.
    grep -hoE '^\s*\[{1,2}[a-z_.]+\]{1,2}|^\s*[a-z_]+\s*=' experiments/*.toml |
      sed -E 's/^\s+//; s/\s*=$/ =/' | sort -u | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' >"$work/toml.dict"
    extra+=(-dict="$work/toml.dict")
  else
    QX_FUZZ_SEEDS="$work/corpus" "$binary"
  fi
  before=$(find "$work/corpus" -type f | wc -l)
  set +e
  "$binary" "$work/corpus" "tests/fuzz/regressions/$format" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/crashes/" "${extra[@]}" >"$work/log" 2>&1
  code=$?
  set -e
  executions=$(awk '/stat::number_of_executed_units:/ {n = $2} END {print n}' "$work/log")
  rate=$(awk '/stat::average_exec_per_sec:/ {n = $2} END {print n}' "$work/log")
  after=$(find "$work/corpus" -type f | wc -l)
  crashes=$(find "$work/crashes" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  printf '| %s | %s | %s | %s | %s (+%s) | %s |\n' "$format" "$seconds" "${executions:-?}" "${rate:-?}" "$after" \
    "$((after - before))" "$crashes"
  if [ $code -ne 0 ]; then
    status=1
    echo "  $format: libFuzzer exited $code; see $work/log and $work/crashes/" >&2
  fi
done
exit $status
