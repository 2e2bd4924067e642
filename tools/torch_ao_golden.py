#!/usr/bin/env python3
"""Writes tests/data/torch_ao_golden.pt: fixed tensors and the scale and zero point torch.ao's
default qconfigs give them, the golden values for qx's `pytorch` quantizer (test_golden.cpp).

    /usr/bin/python3 tools/torch_ao_golden.py      # Debian's python3-torch (1.13)

Per backend: activations through HistogramObserver (quint8; x86 with reduce_range), the weight
through the qconfig's weight observer (qint8, per channel except qnnpack)."""
import os

import torch
from torch.ao.quantization import get_default_qconfig

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "torch_ao_golden.pt")


def main():
    generator = torch.Generator().manual_seed(20261126)
    # Post-ReLU-like activations whose range grows from batch to batch, and a conv weight.
    activations = [torch.relu(torch.randn(4, 8, 6, 6, generator=generator)) * (1.5 + i) for i in range(3)]
    activations[1][0, 0, 0, 0] = 9.0  # an outlier for the histogram search to clip
    weight = torch.randn(8, 4, 3, 3, generator=generator) * torch.linspace(0.2, 2.0, 8).view(8, 1, 1, 1)
    golden = {f"x{i}": a for i, a in enumerate(activations)}
    golden["weight"] = weight
    for backend in ("onednn", "x86", "qnnpack"):
        qconfig = get_default_qconfig(backend)
        activation = qconfig.activation()
        for a in activations:
            activation(a)
        scale, zero_point = activation.calculate_qparams()
        golden[f"{backend}.activation.scale"] = scale.float().reshape(-1)
        golden[f"{backend}.activation.zero_point"] = zero_point.int().reshape(-1)
        weight_observer = qconfig.weight()
        weight_observer(weight)
        scale, zero_point = weight_observer.calculate_qparams()
        golden[f"{backend}.weight.scale"] = scale.float().reshape(-1)
        golden[f"{backend}.weight.zero_point"] = zero_point.int().reshape(-1)
    torch.save(golden, OUT)
    print(f"wrote {os.path.relpath(OUT)}: {len(golden)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
