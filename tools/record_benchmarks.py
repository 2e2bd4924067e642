#!/usr/bin/env python3
"""Runs qx's performance measurements side by side, in one run on one machine, and stores them
in the results database's `benchmarks` table, from which `qx report` writes
docs/results/performance.md (docs/performance.md reads them):

  qx_bench_quant     Google Benchmark: fake-quant per tensor (ATen, qx's AVX2 kernel) and per
                     channel, every observer on a typical activation, one evaluation batch
                     plain against simulated
  qx_bench_training  Google Benchmark: one SGD step, a trainer epoch of 100 batches, augmentation
  python_training    Python PyTorch, the same 100 batches of the same recipe (tools/train_throughput.py)
  torch_int8         PyTorch's int8 kernels against fp32 at batch 1 and 256 (tools/int8_latency.py)
  grid_scaling       experiments/ptq_grid.toml from scratch three ways on this machine's cores: one
                     process with every thread, `mpirun -np 2` with one thread a rank, and shards
                     1/2 and 2/2 side by side with one thread each (docs/scaling.md)

    /usr/bin/python3 tools/record_benchmarks.py --db results/results.sqlite

Run it on an otherwise idle machine: every figure is a wall time. A suite measured again
replaces its rows; a suite that fails writes nothing. --smoke runs every suite on a token budget
(scripts/reproduce.sh --smoke): it checks that each one still runs and records, not how fast."""
import argparse, json, os, platform, sqlite3, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qxref import ROOT, find_data, qx_import  # noqa: E402
PYTHON = "/usr/bin/python3"  # Debian's, with PyTorch


def machine():
    # The ISA flags as the experiments record them: the int8 timings depend on VNNI.
    from qxref import machine_description  # imports torch, which the suites load anyway
    memory_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                memory_kb = int(line.split()[1])
    return f"{machine_description()}, {memory_kb / 2**20:.0f} GiB, {platform.system()} {platform.release()}"


def run(command):
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout


def google_benchmark(binary, suite, smoke):
    # Through a file: the trainer benchmark logs its epochs on stdout.
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run([binary, f"--benchmark_out={out.name}", "--benchmark_out_format=json"]
            + (["--benchmark_min_time=0.001"] if smoke else []))
        report = json.load(open(out.name))
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    context = {"library_build_type": report["context"].get("library_build_type"),
               "num_cpus": report["context"].get("num_cpus")}
    rows = []
    for b in report["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        # A trainer epoch also evaluates and checkpoints; its counter counts the training alone.
        per_second = b.get("train_images_per_second", b.get("items_per_second"))
        rows.append((suite, b["name"], b["real_time"] * scale[b["time_unit"]], b["iterations"], per_second,
                     json.dumps(context, sort_keys=True)))
    return rows


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def python_training(data, iterations):
    rows = []
    for layout, flag in (("channels_last", ["--channels-last"]), ("contiguous", [])):
        for r in json_lines(run([PYTHON, "tools/train_throughput.py", "--data", data, "--iterations", str(iterations),
                                 *flag])):
            context = {"torch": r["torch"], "threads": r["threads"], "batch": 128, "images": r["images"]}
            rows.append(("python_training", f"epoch_of_{iterations}_batches/{layout}", r["seconds_train"],
                         1, r["images_per_second"], json.dumps(context, sort_keys=True)))
    return rows


def torch_int8(data, smoke):
    return [(r["suite"], r["name"], r["seconds"], r["iterations"], r["items_per_second"],
             json.dumps(r["context"], sort_keys=True))
            for r in json_lines(run([PYTHON, "tools/int8_latency.py", "--data", data]
                                    + (["--batches", "1,16"] if smoke else [])))]


# What --smoke asks of `qx run`: the first cells of the grid, on a few images.
SMOKE_GRID_BUDGET = ["--first", "4", "--test-images", "256", "--calibration-batches", "1"]


def grid_scaling(data, smoke, grid="experiments/ptq_grid.toml"):
    """Wall time of one grid, computed from scratch, as one process and spread two ways. Each
    way writes fresh databases in a scratch folder; rank 0's write cost per cell is read back from
    the database it wrote (experiments.write_seconds / cells_written)."""
    qx = os.path.join(ROOT, "build", "qx")
    cores = os.cpu_count()
    # mpirun as root (containers) needs these two; harmless otherwise.
    mpi_env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    ways = {
        f"one_process/threads:{cores}": [[qx, "run", grid, "--threads", str(cores)]],
        f"mpirun/np:{cores}/threads:1": [["mpirun", "--oversubscribe", "-np", str(cores), qx, "run", grid,
                                          "--threads", "1"]],
        f"shards_side_by_side/n:{cores}/threads:1": [[qx, "run", grid, "--threads", "1", "--shard",
                                                      f"{k}/{cores}"] for k in range(1, cores + 1)],
    }
    rows = []
    for name, commands in ways.items():
        with tempfile.TemporaryDirectory() as scratch:
            dbs = [os.path.join(scratch, f"{i}.sqlite") for i in range(len(commands))]
            print("$ " + " & ".join(" ".join(c) for c in commands), file=sys.stderr, flush=True)
            start = time.perf_counter()
            budget = SMOKE_GRID_BUDGET if smoke else []
            processes = [subprocess.Popen(c + ["--db", db, "--data", data] + budget, cwd=ROOT, env=mpi_env,
                                          stdout=subprocess.DEVNULL) for c, db in zip(commands, dbs)]
            if any(p.wait() != 0 for p in processes):
                sys.exit(f"record_benchmarks: grid_scaling: '{name}' failed")
            seconds = time.perf_counter() - start
            cells, write_seconds, cell_seconds = 0, 0.0, 0.0
            for db in dbs:
                connection = sqlite3.connect(db)
                written = connection.execute("SELECT SUM(cells_written), SUM(write_seconds) FROM experiments").fetchone()
                cells += written[0] or 0
                write_seconds += written[1] or 0.0
                cell_seconds += connection.execute(
                    "SELECT SUM(IFNULL(calib_seconds, 0) + IFNULL(quantize_seconds, 0) + pass_seconds + "
                    "IFNULL(eval_seconds, 0)) FROM cells WHERE status = 'finished'").fetchone()[0] or 0.0
                connection.close()
        # cell_seconds: the cells' own time, summed over processes; the rest of the wall time is
        # each process's start-up (the checkpoint and the 180 MB of data) and rank 0's writes.
        processes = cores if name.startswith("mpirun") else len(commands)  # MPI: one command, N ranks
        context = {"grid": grid, "cells": cells, "processes": processes, "cell_seconds": cell_seconds,
                   "write_seconds_per_cell": write_seconds / cells if cells else None}
        rows.append(("grid_scaling", name, seconds, 1, cells / seconds, json.dumps(context, sort_keys=True)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--data", help="the CIFAR-10 folder (default: where `qx data where` finds it)")
    parser.add_argument("--build", default="build")
    parser.add_argument("--suites", default="qx_bench_quant,qx_bench_training,python_training,torch_int8,grid_scaling")
    parser.add_argument("--smoke", action="store_true", help="every suite on a token budget: it runs, not how fast")
    args = parser.parse_args()
    args.qx = os.path.join(args.build, "qx")
    args.data = find_data(args)
    bench = os.path.join(args.build, "benchmarks")
    # The same 100 batches of 128 in qx's trainer benchmark (BM_TrainerEpoch) and in Python.
    producers = {
        "qx_bench_quant": lambda: google_benchmark(os.path.join(bench, "qx_bench_quant"), "qx_bench_quant", args.smoke),
        "qx_bench_training": lambda: google_benchmark(os.path.join(bench, "qx_bench_training"), "qx_bench_training",
                                                      args.smoke),
        "python_training": lambda: python_training(args.data, 2 if args.smoke else 100),
        "torch_int8": lambda: torch_int8(args.data, args.smoke),
        "grid_scaling": lambda: grid_scaling(args.data, args.smoke),
    }
    where = machine()
    for suite in args.suites.split(","):
        if suite not in producers:
            sys.exit(f"record_benchmarks: unknown suite '{suite}' (known: {', '.join(producers)})")
        rows = producers[suite]()
        # Through qx's store, the suite's earlier rows replaced in the same transaction.
        qx_import(args.qx, args.db, [{"benchmark": {
            "suite": suite_name, "name": name, "seconds": seconds, "iterations": iterations,
            "items_per_second": per_second, "context": json.loads(context), "machine": where}}
            for suite_name, name, seconds, iterations, per_second, context in rows])
        print(f"{suite}: {len(rows)} measurements", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
