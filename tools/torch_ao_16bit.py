#!/usr/bin/env python3
"""PyTorch at 16 bits, two ways, as cells of the experiment `torch.ao-16bit` in the qx results
database. torch.ao has no 16-bit integer kernels, so neither is a real int16 model:

  int16 grid   torch.ao's own observers (MinMaxObserver on activations, PerChannelMinMaxObserver
               on weights) at a 16-bit integer range, quant_min/quant_max on torch.qint32, applied
               by torch.ao's fake-quant at every point torch.ao's eager int8 model quantizes
               (the placement of tools/torch_ao_placement.py's first cell). Min/max, not the int8
               qconfig's HistogramObserver: that one sizes its search for 2^32 levels on qint32,
               and at 65,536 levels clipping buys nothing.
  half         IEEE half precision, `model.half()`. PyTorch 1.13 has no half convolution on the
               CPU, so there the weights are rounded to half and every module's output is rounded
               to half, with fp32 arithmetic in between: half storage, not half accumulation.
               With --device cuda the model runs in half for real.

    /usr/bin/python3 tools/torch_ao_16bit.py --checkpoint checkpoints/resnet20.pt \\
        --data ../shared/data/cifar-10-batches-bin --db results/results.sqlite"""
import argparse, time

import torch
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver, QConfig, prepare

from qxref import QuantResNet, Results, add_common_arguments, calibrate, evaluate, find_data, load_data, load_qx_checkpoint
from torch_ao_placement import simulate

INT16_QCONFIG = QConfig(
    activation=MinMaxObserver.with_args(dtype=torch.qint32, quant_min=0, quant_max=2**16 - 1),
    weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint32, quant_min=-2**15, quant_max=2**15 - 1,
                                              qscheme=torch.per_channel_symmetric))


def int16_grid(args, calibration, test_images, test_labels):
    model, _ = load_qx_checkpoint(args.checkpoint)
    model = QuantResNet(model).eval().fuse()
    model.qconfig = INT16_QCONFIG
    prepared = prepare(model)
    calib_seconds = calibrate(prepared, calibration, args.calibration_batch_size)
    simulated = simulate(prepared, None, INT16_QCONFIG, set(), "last sum's grid")
    start = time.time()
    top1, loss, _ = evaluate(simulated, test_images, test_labels)
    return top1, loss, calib_seconds, time.time() - start


def round_to_half(_module, _inputs, output):
    return output.half().float()


def half(args, test_images, test_labels):
    model, _ = load_qx_checkpoint(args.checkpoint)
    model = model.eval()
    start = time.time()
    if args.device == "cuda":
        model = model.half().cuda()
        top1, loss, _ = evaluate(lambda x: model(x.half().cuda()).float().cpu(), test_images, test_labels)
        return top1, loss, time.time() - start
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    for module in model.modules():
        if not list(module.children()):  # the leaves: every tensor a layer hands on is rounded
            module.register_forward_hook(round_to_half)
    model.register_forward_pre_hook(lambda _, inputs: (inputs[0].half().float(),))
    top1, loss, _ = evaluate(model, test_images, test_labels)
    return top1, loss, time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the half model runs")
    args = parser.parse_args()
    args.data = find_data(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    calibration, test_images, test_labels = load_data(args)
    results = Results(args, "torch.ao-16bit", "torch_ao_16bit", len(test_labels))

    top1, loss, calib_seconds, eval_seconds = int16_grid(args, calibration, test_images, test_labels)
    results.record("int16-grid", "torch.ao fake-quant on a 16-bit integer grid", "torch.ao MinMaxObserver",
                   "PerChannelMinMaxObserver", "torch.ao fake-quant int16",
                   {"qconfig": str(INT16_QCONFIG), "placement": "torch.ao eager"}, top1, loss, len(test_labels),
                   calib_seconds, eval_seconds, bits=16)
    print(f"int16 grid: top-1 {top1:.2f}%  loss {loss:.4f}", flush=True)

    top1, loss, eval_seconds = half(args, test_images, test_labels)
    emulated = args.device != "cuda"
    results.record("half-" + args.device, "IEEE half, model.half()" + (" (half storage, fp32 arithmetic)" if emulated
                                                                       else ""),
                   None, None, "torch half", {"device": args.device, "arithmetic": "fp32" if emulated else "fp16"},
                   top1, loss, len(test_labels), 0.0, eval_seconds, bits=16)
    print(f"half ({args.device}): top-1 {top1:.2f}%  loss {loss:.4f}", flush=True)
    results.finish()


if __name__ == "__main__":
    main()
