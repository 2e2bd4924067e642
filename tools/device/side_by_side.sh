#!/usr/bin/env bash
# Measures what running QAT cells side by side on one lent GPU buys (tools/device/run_cells.sh):
# the `lsq` pass's seconds for the same short training, run by one qx process alone, then by two
# processes at once with half the cores each ("two-all-cores" adds the pair at torch's default of
# every core each).
#   run(command="bash tools/device/side_by_side.sh [two-all-cores]", carry=[".device"], timeout_s=300)
# Prints one line per process: the variant, the process, the lsq seconds.
deadline=${QX_DEADLINE_S:-280}
variants=" alone two-half-cores ${1:-} "
source "$(dirname "$0")/setup.sh"
probe=build-device/side-by-side
rm -rf "$probe" && mkdir -p "$probe"
cores=$(nproc)

# One W4A4 cell of experiments/qat.toml with only the lsq pass, on 50 steps of 128 images.
experiment() {  # threads seed -> file
  python3 - "$1" "$2" "$probe/t$1-s$2.toml" <<'EOF'
import pathlib, re, sys
threads, seed, out = sys.argv[1:]
head = pathlib.Path("experiments/qat.toml").read_text().split("\n[[cells]]\n")[0]
head = re.sub(r"^threads = \d+", f"threads = {threads}", head, flags=re.M)
pathlib.Path(out).write_text(head + f'''
[[cells]]
name = "side-by-side"
observer = "mse"
weight_observer = "lp_norm"
quantizer = "per_channel_affine"
weight_bits = 4
activation_bits = 4
overrides = "first_last_8bit"
passes = ["lsq"]
seed = {seed}

[cells.pass_options.lsq]
epochs = 1
images_per_epoch = 6400
weight_optimizer = "adam"
temperature = 4.0
''')
EOF
  echo "$probe/t$1-s$2.toml"
}

run() {  # variant threads seed
  local file; file=$(experiment "$2" "$3")
  "$qx" run "$file" --device cuda --data "$data" --checkpoint "$PWD/checkpoints/resnet20.pt" \
      --db "${file%.toml}-$1.sqlite" > "${file%.toml}-$1.log" 2>&1
  python3 -c 'import sqlite3, sys; print(sys.argv[1], sys.argv[2], "lsq %.1f s" % sqlite3.connect(sys.argv[3]).execute(
      "SELECT seconds FROM cell_passes WHERE name = '"'lsq'"'").fetchone()[0])' "$1" "seed $3" "${file%.toml}-$1.sqlite" \
      || tail -3 "${file%.toml}-$1.log"
}

left() { ((SECONDS - start < deadline)) || { echo "out of time"; exit 1; }; }
left; run alone 0 0
[[ $variants == *" two-all-cores "* ]] && { left; run two-all-cores 0 0 & run two-all-cores 0 1 & wait; }
left; run two-half-cores $((cores / 2)) 0 & run two-half-cores $((cores / 2)) 1 & wait
tar -C "$probe" -czf "$out/side-by-side-logs.tgz" .
echo "== done after $((SECONDS - start)) s"
