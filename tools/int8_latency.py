#!/usr/bin/env python3
"""Latency of PyTorch's real int8 kernels against the float model, on the same ResNet20: the fp32
model (channels-last, as qx evaluates) and torch.ao's converted int8 model on each quantized
engine, at batch 1 and batch 256. One JSON line per measurement, in the form
tools/record_benchmarks.py stores:
    {"suite": "torch_int8", "name": "qnnpack/int8/batch:1", "seconds": ..., "iterations": ...,
     "items_per_second": ..., "context": {...}}
`seconds` is the median wall time of one forward pass over `iterations` timed passes, after
warm-up. Calibration uses the first 512 training images (the speed does not depend on it)."""
import argparse, json, os, statistics, sys, time

import torch
from torch.ao.quantization import convert, prepare

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qxref import QuantResNet, calibrate, load_qx_checkpoint, load_split, normalize, qconfig_for  # noqa: E402


def median_seconds(model, batch, iterations, warmup):
    with torch.inference_mode():
        for _ in range(warmup):
            model(batch)
        times = []
        for _ in range(iterations):
            start = time.perf_counter()
            model(batch)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/resnet20.pt")
    parser.add_argument("--data", required=True)
    parser.add_argument("--engines", default="onednn,qnnpack")
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    args = parser.parse_args()
    # All cores, as qx uses them (Debian's PyTorch starts with one thread).
    torch.set_num_threads(args.threads or os.cpu_count())
    images, _ = load_split(args.data, ["data_batch_1.bin"])
    calibration = images[:512]
    context = {"threads": torch.get_num_threads(), "torch": torch.__version__}

    def emit(name, model, batch_size, channels_last):
        batch = normalize(images[:batch_size])
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        iterations, warmup = (200, 20) if batch_size == 1 else (20, 3)
        seconds = median_seconds(model, batch, iterations, warmup)
        print(json.dumps({"suite": "torch_int8", "name": f"{name}/batch:{batch_size}", "seconds": seconds,
                          "iterations": iterations, "items_per_second": batch_size / seconds,
                          "context": dict(context, batch=batch_size)}), flush=True)

    float_model, _ = load_qx_checkpoint(args.checkpoint)
    float_model = float_model.eval().to(memory_format=torch.channels_last)
    for batch_size in map(int, args.batches.split(",")):
        emit("fp32", float_model, batch_size, channels_last=True)
    for engine in args.engines.split(","):
        torch.backends.quantized.engine = engine
        model, _ = load_qx_checkpoint(args.checkpoint)
        model = QuantResNet(model).eval().fuse()
        model.qconfig = qconfig_for(engine, "", engine)
        prepared = prepare(model)
        calibrate(prepared, calibration, 128)
        quantized = convert(prepared)
        for batch_size in map(int, args.batches.split(",")):
            emit(f"{engine}/int8", quantized, batch_size, channels_last=False)


if __name__ == "__main__":
    main()
