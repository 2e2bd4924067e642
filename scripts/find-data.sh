#!/usr/bin/env bash
# Settles where the main job's CIFAR-10 comes from, before anything is built: prints the folder
# to use, or `fetch` when there is none but the download source answers; otherwise one line on
# stderr with the ways to give the data, and exit 1.
#   bash scripts/find-data.sh [DIR]
# DIR (run.sh's --data), else QX_DATA_DIR, else the places qx looks in itself
# (qx::data::default_data_dirs): data/cifar-10-batches-bin, then ../shared/data/cifar-10-batches-bin,
# relative to the repository root. The source is QX_DATA_URL, else the official archive; only its
# first byte is asked for here, and `qx data fetch` downloads and checks it after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
given=${1:-${QX_DATA_DIR:-}}
remedy="give the folder with --data DIR or QX_DATA_DIR, name a mirror with QX_DATA_URL and QX_DATA_MD5, or run \`qx data fetch --url URL\`"
if [[ -n $given ]]; then
  [[ -d $given ]] && { echo "$given"; exit 0; }
  echo "find-data: CIFAR-10 folder '$given' does not exist: $remedy" >&2
  exit 1
fi
for dir in data/cifar-10-batches-bin ../shared/data/cifar-10-batches-bin; do
  [[ -d $dir ]] && { echo "$dir"; exit 0; }
done
url=${QX_DATA_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}  # qx::data::kCifarUrl
echo "find-data: no CIFAR-10 data in data/ or ../shared/data/; asking $url" >&2
if ! reason=$(curl --fail --silent --show-error --location --max-time 60 --range 0-0 --output /dev/null "$url" 2>&1); then
  echo "find-data: no CIFAR-10 data found and $url cannot be read (${reason:-no answer}): $remedy" >&2
  exit 1
fi
echo fetch
