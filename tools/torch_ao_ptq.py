#!/usr/bin/env python3
"""PyTorch's own post-training quantization of a qx checkpoint, the reference for qx's `pytorch`
quantizer: torch.ao eager-mode static PTQ (fuse, prepare, calibrate, convert) with the backend's
default qconfig, executed by PyTorch's real int8 kernels, on each quantized engine this PyTorch
has. The calibration images are qx's: the same seeded draw from the training set, unaugmented.
Results go into the qx results database as cells of an experiment named `torch.ao-ptq`.

    /usr/bin/python3 tools/torch_ao_ptq.py --checkpoint checkpoints/resnet20.pt \\
        --data ../shared/data/cifar-10-batches-bin --db results/results.sqlite

Debian's python3-torch (1.13) has the onednn and qnnpack engines (no fbgemm/x86). A variant is
ENGINE[+MODIFIER]. Without a modifier the engine runs its own default qconfig (qnnpack's has
per-tensor weights). `+per_channel` runs the onednn qconfig, which is qx's `pytorch` quantizer:
per-channel weights, 8-bit activations. `+reduce_range` runs that qconfig with x86's 7-bit
activation grid, to measure int16 saturation."""
import argparse, json, os, sqlite3, subprocess, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import (DeQuantStub, HistogramObserver, QConfig, QuantStub, convert, fuse_modules,
                                   get_default_qconfig, prepare)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet20 import BasicBlock, load_qx_checkpoint  # noqa: E402

MEAN = (0.4914, 0.4822, 0.4465)  # qx's data::Normalization
STD = (0.2470, 0.2435, 0.2616)


class QuantBlock(nn.Module):
    """A BasicBlock in torch.ao's eager form: fusable ReLU modules and a FloatFunctional add."""

    def __init__(self, block):
        super().__init__()
        self.conv1, self.bn1, self.relu1 = block.conv1, block.bn1, nn.ReLU()
        self.conv2, self.bn2 = block.conv2, block.bn2
        self.stride, self.extra = block.stride, block.extra
        self.add_relu = nn.quantized.FloatFunctional()

    shortcut = BasicBlock.shortcut  # the float model's option-A shortcut, unchanged

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.add_relu.add_relu(out, self.shortcut(x))


class QuantResNet(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.quant, self.dequant = QuantStub(), DeQuantStub()
        self.conv1, self.bn1, self.relu = model.conv1, model.bn1, nn.ReLU()
        self.layers = nn.Sequential(*[QuantBlock(b) for stage in (model.layer1, model.layer2, model.layer3) for b in stage])
        self.fc = model.fc

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(self.quant(x))))
        x = F.adaptive_avg_pool2d(self.layers(x), 1).flatten(1)
        return self.dequant(self.fc(x))

    def fuse(self):
        fuse_modules(self, [["conv1", "bn1", "relu"]], inplace=True)
        for block in self.layers:
            fuse_modules(block, [["conv1", "bn1", "relu1"], ["conv2", "bn2"]], inplace=True)
        return self


def load_split(folder, names):
    records = [np.fromfile(os.path.join(folder, n), dtype=np.uint8).reshape(-1, 3073) for n in names]
    data = np.concatenate(records)
    images = torch.from_numpy(data[:, 1:].reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(data[:, 0].astype(np.int64))


def normalize(images):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(STD).view(1, 3, 1, 1) * 255.0
    return (images.float() - mean) / std


def evaluate(model, images, labels, batch_size=1000):
    correct, loss, start = 0, 0.0, time.time()
    with torch.no_grad():
        for i in range(0, len(labels), batch_size):
            logits = model(normalize(images[i:i + batch_size]))
            loss += F.cross_entropy(logits, labels[i:i + batch_size], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i:i + batch_size]).sum().item()
    return 100.0 * correct / len(labels), loss / len(labels), time.time() - start


def qconfig_for(engine, modifier, variant):
    if not modifier:
        return get_default_qconfig(engine)
    if modifier == "per_channel":
        return get_default_qconfig("onednn")  # qx's `pytorch` quantizer reproduces this one
    if modifier == "reduce_range":
        # x86's activation grid (7 bits) on another engine: without VNNI, u8 x s8 products are
        # summed pairwise in int16 (VPMADDUBSW) and saturate unless activations leave headroom.
        return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                       weight=get_default_qconfig("onednn").weight)
    sys.exit(f"unknown engine variant '{variant}' (use ENGINE, ENGINE+per_channel or ENGINE+reduce_range)")


def load_data(args):
    """Test images, and qx's calibration draw: randperm on a CPU generator seeded with the seed."""
    train_images, _ = load_split(args.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    test_images, test_labels = load_split(args.data, ["test_batch.bin"])
    if args.images:
        test_images, test_labels = test_images[:args.images], test_labels[:args.images]
    order = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(args.seed))
    calibration = train_images[order[:args.calibration_batches * args.calibration_batch_size]]
    return calibration, test_images, test_labels


def calibrate(prepared, calibration, batch_size):
    start = time.time()
    with torch.no_grad():
        for i in range(0, len(calibration), batch_size):
            prepared(normalize(calibration[i:i + batch_size]))
    return time.time() - start


def machine_description():
    """The CPU as qx::describe_machine() writes it: int8 kernels depend on its ISA flags (VNNI)."""
    model, flags = "unknown CPU", set()
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name" and model == "unknown CPU":
                model = value
            if key == "flags" and not flags:
                flags = set(value.split())
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile"]
    present = [f for f in wanted if f in flags]
    absent = [f for f in wanted if f not in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(present)}" + (f"; no {' '.join(absent)}" if absent else "")


class ResultsDb:
    """Cells of one experiment in the qx results database, keyed like qx keys its own cells."""

    def __init__(self, args, experiment, tool, test_images, machine_dependent=False):
        # Real int8 kernels depend on the CPU (VNNI or not): their cells are keyed by the machine
        # too, so that a run on another machine adds its own rows (`qx merge`) beside these.
        self.machine_dependent = machine_dependent
        self.db = sqlite3.connect(args.db)
        self.check_schema(args.db)
        _, checkpoint = load_qx_checkpoint(args.checkpoint)
        self.tool = tool
        self.context = {"calibration": {"batch_size": args.calibration_batch_size,
                                        "batches": args.calibration_batches, "seed": args.seed},
                        "checkpoint": {"epoch": checkpoint["epoch"], "run": checkpoint["run_uid"]},
                        "test_images": test_images}
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        with self.db:
            self.experiment_id = self.db.execute(
                "INSERT INTO experiments (name, status, config_path, config_text, git_revision, checkpoint, model, "
                "device, threads, torch_version) VALUES (?, 'running', ?, ?, ?, ?, ?, 'cpu', ?, ?)",
                (experiment, f"tools/{tool}.py", " ".join(sys.argv), revision or None, args.checkpoint,
                 checkpoint["model"], torch.get_num_threads(), torch.__version__)).lastrowid
            self.db.execute("UPDATE experiments SET machine = ? WHERE id = ?", (machine_description(), self.experiment_id))

    # Every column this class writes. The gate is on them and not on a range of schema versions:
    # qx's migrations add columns and never remove one (store/results_db.cpp), so any later schema
    # takes these rows, and one without them is refused with the columns it lacks. The cells'
    # settings rows come from the schema's own trigger.
    WRITTEN = {"experiments": ["name", "status", "config_path", "config_text", "git_revision", "checkpoint", "model",
                               "device", "threads", "torch_version", "machine", "finished_at"],
               "cells": ["experiment_id", "key", "label", "quantize", "observer", "weight_observer", "quantizer",
                         "w_bits", "a_bits", "fold_batch_norm", "options", "status", "top1", "loss", "images",
                         "calib_seconds", "eval_seconds"]}

    def check_schema(self, path):
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            sys.exit(f"{path}: not a qx results database (no schema_version table); a `qx run` creates one")
        missing = [f"{table}.{column}" for table, columns in self.WRITTEN.items()
                   for column in columns
                   if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}]
        if missing:
            version = self.db.execute("SELECT version FROM schema_version").fetchone()[0]
            sys.exit(f"{path}: schema version {version} lacks {', '.join(missing)}; open it once with this qx "
                     "(e.g. `qx report`) to upgrade it")

    def record(self, variant, label, observer, weight_observer, quantizer, options, top1, loss, images,
               calib_seconds, eval_seconds, bits=8):
        identity = {"context": self.context, "tool": self.tool, "engine": variant}
        if self.machine_dependent:
            identity["machine"] = machine_description()
        key = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        with self.db:
            self.db.execute("DELETE FROM cells WHERE key = ?", (key,))
            self.db.execute(
                "INSERT INTO cells (experiment_id, key, label, quantize, observer, weight_observer, quantizer, w_bits, "
                "a_bits, fold_batch_norm, options, status, top1, loss, images, calib_seconds, eval_seconds) "
                "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, 1, ?, 'finished', ?, ?, ?, ?, ?)",
                (self.experiment_id, key, label, observer, weight_observer, quantizer, bits, bits, json.dumps(options),
                 top1, loss, images, calib_seconds, eval_seconds))

    def finish(self):
        with self.db:
            self.db.execute("UPDATE experiments SET status = 'finished', "
                            "finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?", (self.experiment_id,))


def add_common_arguments(parser):
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--calibration-batches", type=int, default=8)
    parser.add_argument("--calibration-batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=0, help="the first N test images (0: all)")
    parser.add_argument("--threads", type=int, default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--engines", default="onednn,onednn+reduce_range,qnnpack,qnnpack+per_channel",
                        help="quantized engines, each optionally +reduce_range or +per_channel")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    calibration, test_images, test_labels = load_data(args)
    results = ResultsDb(args, "torch.ao-ptq", "torch_ao_ptq", len(test_labels), machine_dependent=True)
    for variant in args.engines.split(","):
        engine, _, modifier = variant.partition("+")
        torch.backends.quantized.engine = engine
        model, _ = load_qx_checkpoint(args.checkpoint)
        model = QuantResNet(model).eval().fuse()
        model.qconfig = qconfig_for(engine, modifier, variant)
        prepared = prepare(model)
        calib_seconds = calibrate(prepared, calibration, args.calibration_batch_size)
        quantized = convert(prepared)
        top1, loss, eval_seconds = evaluate(quantized, test_images, test_labels)
        options = {"engine": engine, "variant": variant, "qconfig": str(model.qconfig)}
        results.record(variant, f"torch.ao int8 ({variant})", "torch.ao HistogramObserver",
                       type(model.qconfig.weight()).__name__, f"torch.ao/{variant}", options, top1, loss,
                       len(test_labels), calib_seconds, eval_seconds)
        print(f"{variant}: top-1 {top1:.2f}%  loss {loss:.4f}  (calibration {calib_seconds:.1f} s, "
              f"int8 evaluation {eval_seconds:.1f} s)", flush=True)
    results.finish()


if __name__ == "__main__":
    main()
