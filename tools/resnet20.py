#!/usr/bin/env python3
"""Evaluates a qx checkpoint on the CIFAR-10 test set in Python PyTorch: the cross-check of
`qx eval` (same top-1 to 0.02 pp; the two differ only in float summation order). The model is
qxref.ResNetCifar, the Python twin of qx's resnet20 plugin, with the same module names.

    /usr/bin/python3 tools/resnet20.py --checkpoint checkpoints/resnet20.pt"""
import argparse, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qxref import ROOT, evaluate, find_data, load_qx_checkpoint, load_split  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=os.path.join(ROOT, "checkpoints", "resnet20.pt"))
    parser.add_argument("--data", help="the CIFAR-10 folder (default: where `qx data where` finds it)")
    parser.add_argument("--qx", default=os.path.join(ROOT, "build", "qx"))
    parser.add_argument("--images", type=int, default=0, help="the first N test images (0: all)")
    args = parser.parse_args()
    model, checkpoint = load_qx_checkpoint(args.checkpoint)
    images, labels = load_split(find_data(args), ["test_batch.bin"])
    if args.images:
        images, labels = images[:args.images], labels[:args.images]
    top1, loss, seconds = evaluate(model, images, labels, batch_size=200)
    print(json.dumps({"checkpoint": args.checkpoint, "run": checkpoint.get("run_uid"), "epoch": checkpoint.get("epoch"),
                      "images": len(labels), "top1": round(top1, 4), "loss": round(loss, 6),
                      "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
