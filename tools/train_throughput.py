#!/usr/bin/python3
"""Python PyTorch side of the training-throughput comparison (benchmarks/train_throughput.sh).

Trains the same ResNet20 with the same batch size, augmentation, optimizer and thread count as
`qx train`, on the same CIFAR-10 files, and prints one JSON line with seconds and images/s."""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qxref import load_train, normalize, resnet20  # noqa: E402


def crop_flip(images, generator):
    # The same whole-batch gather as qx's random_crop_flip.
    b = images.shape[0]
    padded = F.pad(images, (4, 4, 4, 4)).reshape(b, 3, 40 * 40)
    top = torch.randint(0, 9, (b, 1), generator=generator)
    left = torch.randint(0, 9, (b, 1), generator=generator)
    flip = torch.randint(0, 2, (b, 1), generator=generator).bool()
    rows = top + torch.arange(32)
    cols = left + torch.where(flip, 31 - torch.arange(32), torch.arange(32))
    index = (rows.unsqueeze(2) * 40 + cols.unsqueeze(1)).reshape(b, 1, 1024).expand(b, 3, 1024)
    return padded.gather(2, index).reshape(b, 3, 32, 32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=0, help="per epoch; 0 = a full pass")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = load_train(args.data)
    model = resnet20().train()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0}],
                                lr=0.05, momentum=0.9, nesterov=True)
    generator = torch.Generator().manual_seed(0)
    batches_per_epoch = (len(labels) + args.batch_size - 1) // args.batch_size
    iterations = args.iterations or batches_per_epoch
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(labels), generator=generator)
        start = time.perf_counter()
        seen = 0
        for i in range(iterations):
            idx = order[(i * args.batch_size) % len(labels):][:args.batch_size]
            x = normalize(crop_flip(images.index_select(0, idx), generator))
            if args.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = labels.index_select(0, idx)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            seen += len(idx)
        seconds = time.perf_counter() - start
        print(json.dumps({"trainer": "python", "torch": torch.__version__, "threads": args.threads,
                          "memory_format": "channels_last" if args.channels_last else "contiguous",
                          "epoch": epoch, "iterations": iterations, "images": seen,
                          "seconds_train": round(seconds, 1), "images_per_second": round(seen / seconds, 1)}),
              flush=True)


if __name__ == "__main__":
    main()
