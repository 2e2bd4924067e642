#!/usr/bin/env bash
# `qx data fetch` and scripts/find-data.sh against mirrors on this machine: a loopback HTTP server
# (tests/data/loopback_http_server.py) and file:// paths. Each failure must end with one line that
# names the cause and the ways to give the data, exit non-zero, and leave no folder where the data
# is looked for; a good mirror given by QX_DATA_URL and QX_DATA_MD5 must give a loadable folder.
#   tests/data/data_fetch_test.sh QX SOURCE_DIR
set -euo pipefail
qx=$1 source=$2
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
failures=0 passed=0
check() {  # check NAME CONDITION...: one line per case
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok    $name"; else failures=$((failures + 1)); echo "FAIL  $name"; fi
}

# The archives: a well-formed one (six batch files of the official size, every label 0), one whose
# test batch is short, and bytes that are no archive at all.
/usr/bin/python3 - "$work" <<'PY'
import io, os, sys, tarfile
work = sys.argv[1]
def archive(name, sizes):
    with tarfile.open(os.path.join(work, name), "w:gz", compresslevel=1) as tar:
        for member, size in sizes.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{member}")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
archive("good.tar.gz", {f: 30730000 for f in files})
archive("short.tar.gz", {f: 30730000 - 3073 * (f == "test_batch.bin") for f in files})
open(os.path.join(work, "garbage.tar.gz"), "wb").write(b"this is no gzip stream\n" * 100)
good = open(os.path.join(work, "good.tar.gz"), "rb").read()
open(os.path.join(work, "cut.tar.gz"), "wb").write(good[:len(good) // 2])
PY
md5() { md5sum "$1" | cut -d' ' -f1; }
good_md5=$(md5 "$work/good.tar.gz")

/usr/bin/python3 "$source/tests/data/loopback_http_server.py" "$work" > "$work/port" &
server=$!
for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
port=$(head -1 "$work/port")
http="http://127.0.0.1:$port"

# fetch CASE URL MD5: runs `qx data fetch` into a fresh parent folder, the mirror given by the
# environment as scripts/run.sh gives it; leaves rc, the stderr's last line and the folder.
fetch() {
  rm -rf "$work/into"
  set +e
  QX_DATA_URL=$2 QX_DATA_MD5=$3 "$qx" data fetch --dir "$work/into" --quiet 2> "$work/$1.err" > /dev/null
  rc=$?
  set -e
  last=$(tail -1 "$work/$1.err")
}
one_line_failure() {  # non-zero, one error line with the cause and the remedies, nothing left
  local cause=$1
  ((rc != 0)) && [[ $(grep -c 'error' "$work/$case.err") == 1 ]] && [[ $last == *"$cause"* ]] &&
    [[ $last == *"--data DIR"* && $last == *QX_DATA_DIR* && $last == *"qx data fetch"* ]] && [[ ! -e $work/into ]]
}

fetched_cleanly() {  # rc 0, a folder qx loads, and nothing else beside it (no staging left)
  ((rc == 0)) && "$qx" data where --data "$work/into/cifar-10-batches-bin" > /dev/null &&
    [[ $(ls -A "$work/into") == cifar-10-batches-bin ]]
}
case=good; fetch $case "$http/good.tar.gz" "$good_md5"
check "a mirror by QX_DATA_URL/QX_DATA_MD5 gives a folder qx loads" fetched_cleanly

case=checksum; fetch $case "$http/good.tar.gz" 0123456789abcdef0123456789abcdef
check "a wrong checksum is refused before unpacking" one_line_failure "checksum mismatch"

case=truncated; fetch $case "$http/truncated/good.tar.gz" "$good_md5"
check "a transfer cut short is named truncated" one_line_failure "truncated"

case=cut-file; fetch $case "file://$work/cut.tar.gz" "$good_md5"
check "a truncated local copy fails its checksum" one_line_failure "checksum mismatch"

case=corrupt; fetch $case "file://$work/garbage.tar.gz" "$(md5 "$work/garbage.tar.gz")"
check "bytes that are no tar.gz are refused" one_line_failure "not a readable tar.gz"

case=short; fetch $case "$http/short.tar.gz" "$(md5 "$work/short.tar.gz")"
check "an archive with a short batch file is refused" one_line_failure "truncated"

case=missing; fetch $case "$http/absent.tar.gz" "$good_md5"
check "a mirror without the file is refused" one_line_failure "cannot be read"

# A port nothing listens on: the server's own, once it is gone.
kill "$server"; wait "$server" 2>/dev/null || true; server=
case=unreachable; fetch $case "$http/good.tar.gz" "$good_md5"
check "an unreachable source is refused" one_line_failure "cannot be read"

# scripts/find-data.sh in a checkout with no data beside it: found, fetchable, or one line.
mkdir -p "$work/checkout/scripts" "$work/checkout/data"
cp "$source/scripts/find-data.sh" "$work/checkout/scripts/"
set +e
found=$(QX_DATA_DIR= QX_DATA_URL="$http/good.tar.gz" bash "$work/checkout/scripts/find-data.sh" 2> "$work/find.err")
rc=$?
set -e
refused_early() {
  ((rc != 0)) && [[ -z $found ]] && tail -1 "$work/find.err" | grep -q 'cannot be read.*--data DIR.*QX_DATA_DIR.*qx data fetch'
}
check "find-data: no data and an unreachable source exit non-zero with the remedies" refused_early
found=$(QX_DATA_DIR= QX_DATA_URL="file://$work/good.tar.gz" bash "$work/checkout/scripts/find-data.sh" 2> /dev/null)
check "find-data: no data and a source that answers say fetch" test "$found" == fetch
mkdir -p "$work/checkout/data/cifar-10-batches-bin"
found=$(QX_DATA_DIR= QX_DATA_URL="$http/good.tar.gz" bash "$work/checkout/scripts/find-data.sh")
check "find-data: the checkout's data/ comes first" test "$found" == data/cifar-10-batches-bin

echo "$passed passed, $failures failed"
((failures == 0))
