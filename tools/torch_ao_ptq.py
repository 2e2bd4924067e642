#!/usr/bin/env python3
"""PyTorch's own post-training quantization of a qx checkpoint, the reference for qx's `pytorch`
quantizer: torch.ao eager-mode static PTQ (fuse, prepare, calibrate, convert) with the backend's
default qconfig, executed by PyTorch's real int8 kernels, on each quantized engine this PyTorch
has. The calibration images are qx's: the same seeded draw from the training set, unaugmented.
Results go into the qx results database as cells of an experiment named `torch.ao-ptq`.

    /usr/bin/python3 tools/torch_ao_ptq.py --db results/results.sqlite

Debian's python3-torch (1.13) has the onednn and qnnpack engines (no fbgemm/x86). A variant is
ENGINE[+MODIFIER]. Without a modifier the engine runs its own default qconfig (qnnpack's has
per-tensor weights). `+per_channel` runs the onednn qconfig, which is qx's `pytorch` quantizer:
per-channel weights, 8-bit activations. `+reduce_range` runs that qconfig with x86's 7-bit
activation grid, to measure int16 saturation."""
import argparse, os, sys

import torch
from torch.ao.quantization import convert, prepare

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qxref import (QuantResNet, Results, add_common_arguments, calibrate, evaluate, find_data,  # noqa: E402
                   load_data, load_qx_checkpoint, qconfig_for)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--engines", default="onednn,onednn+reduce_range,qnnpack,qnnpack+per_channel",
                        help="quantized engines, each optionally +reduce_range or +per_channel")
    args = parser.parse_args()
    args.data = find_data(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    calibration, test_images, test_labels = load_data(args)
    results = Results(args, "torch.ao-ptq", "torch_ao_ptq", len(test_labels), machine_dependent=True)
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
