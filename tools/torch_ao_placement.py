#!/usr/bin/env python3
"""Where torch.ao quantizes and where qx does, measured: torch.ao's calibrated observers turned
into fake quantizers, switched off one kind of quantization point at a time, from torch.ao's
eager-mode placement down to qx's (docs/quantization.md). Each step is a cell of the experiment
`torch.ao-placement` in the qx results database.

    /usr/bin/python3 tools/torch_ao_placement.py --checkpoint checkpoints/resnet20.pt \\
        --data ../shared/data/cifar-10-batches-bin --db results/results.sqlite

Eager torch.ao requantizes every module output to 8 bits; qx quantizes what a layer reads. So
torch.ao also rounds (a) each block's conv2+bn2 output before the residual sum, (b) the logits,
and (c) the pooled features onto the grid of the last residual sum (a quantized average pool
keeps its input's scale) where qx gives the classifier's input its own observer. The first
cell, all of torch.ao's points, simulates the real int8 model of tools/torch_ao_ptq.py; the last,
none of (a)-(c), is the placement of qx's `pytorch` cell. The qconfig is onednn's default, the
one qx's `pytorch` quantizer reproduces; the calibration images are qx's."""
import argparse, copy, time

import torch
import torch.nn as nn
from torch.ao.quantization import HistogramObserver, get_default_qconfig, prepare

from qxref import QuantResNet, Results, add_common_arguments, calibrate, evaluate, find_data, load_data, load_qx_checkpoint


class FakeQuant(nn.Module):
    """An observer's per-tensor quantization parameters, applied as quantize-dequantize."""

    def __init__(self, observer):
        super().__init__()
        scale, zero_point = observer.calculate_qparams()
        self.scale, self.zero_point = float(scale), int(zero_point)
        self.quant_min, self.quant_max = observer.quant_min, observer.quant_max

    def forward(self, x):
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, self.quant_min, self.quant_max)


# Cumulative steps from torch.ao's placement to qx's: (label, points switched off, classifier input).
STEPS = [
    ("all torch.ao points", set(), "last sum's grid"),
    ("without the logits point", {"fc"}, "last sum's grid"),
    ("and without conv2 outputs before the sum", {"fc", "conv2"}, "last sum's grid"),
    ("and the classifier input on its own grid (qx's placement)", {"fc", "conv2"}, "own observer"),
]


def simulate(prepared, pooled_observer, qconfig, switched_off, classifier_input):
    model = copy.deepcopy(prepared)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                observer = qconfig.weight()
                observer(module.weight)
                scale, zero_point = observer.calculate_qparams()
                module.weight.copy_(torch.fake_quantize_per_channel_affine(
                    module.weight, scale, zero_point.int(), observer.ch_axis, observer.quant_min, observer.quant_max))
    last_sum = None
    for name, module in model.named_modules():
        if not hasattr(module, "activation_post_process"):
            continue
        kind = name.rsplit(".", 1)[-1]
        fake_quant = FakeQuant(module.activation_post_process)
        module.activation_post_process = nn.Identity() if kind in switched_off else fake_quant
        if kind == "add_relu":
            last_sum = fake_quant
    pool_quant = FakeQuant(pooled_observer) if classifier_input == "own observer" else last_sum
    model.fc.register_forward_pre_hook(lambda _, inputs: (pool_quant(inputs[0]),))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args()
    args.data = find_data(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    calibration, test_images, test_labels = load_data(args)
    results = Results(args, "torch.ao-placement", "torch_ao_placement", len(test_labels))

    model, _ = load_qx_checkpoint(args.checkpoint)
    model = QuantResNet(model).eval().fuse()
    model.qconfig = get_default_qconfig("onednn")
    prepared = prepare(model)
    # qx's classifier input point: a HistogramObserver of its own on the pooled features.
    pooled_observer = HistogramObserver()
    observing = prepared.fc.register_forward_pre_hook(lambda _, inputs: (pooled_observer(inputs[0]),))
    calib_seconds = calibrate(prepared, calibration, args.calibration_batch_size)
    observing.remove()
    for label, switched_off, classifier_input in STEPS:
        simulated = simulate(prepared, pooled_observer, model.qconfig, switched_off, classifier_input)
        start = time.time()
        top1, loss, _ = evaluate(simulated, test_images, test_labels)
        options = {"switched_off": sorted(switched_off), "classifier_input": classifier_input,
                   "qconfig": str(model.qconfig)}
        results.record(label, f"torch.ao fake-quant: {label}", "torch.ao HistogramObserver",
                       "PerChannelMinMaxObserver", "torch.ao fake-quant", options, top1, loss, len(test_labels),
                       calib_seconds, time.time() - start)
        print(f"{label}: top-1 {top1:.2f}%  loss {loss:.4f}", flush=True)
    results.finish()


if __name__ == "__main__":
    main()
