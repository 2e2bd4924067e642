"""ResNet20 (He et al. 2016, option-A shortcuts) in Python PyTorch, with the same module names as
qx's resnet20 plugin, so a qx checkpoint's state_dict loads into it unchanged. Used for reference
checks against torch.ao and for the C++-vs-Python training throughput comparison."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra = out_channels - in_channels

    def shortcut(self, x):
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, blocks_per_stage=3, num_classes=10):
        super().__init__()
        widths = (16, 32, 64)
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_channels = 16
        for stage, width in enumerate(widths):
            blocks = []
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(in_channels, width, stride))
                in_channels = width
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def resnet20(num_classes=10):
    return ResNetCifar(3, num_classes)


def load_qx_checkpoint(path):
    """Returns (model, checkpoint dict) for a checkpoint written by `qx train`."""
    checkpoint = torch.load(path, map_location="cpu")
    if checkpoint.get("format") != "qx.checkpoint":
        raise ValueError(f"{path}: not a qx checkpoint")
    blocks = {"resnet20": 3, "resnet56": 9}[checkpoint["model"]]
    model = ResNetCifar(blocks, **checkpoint["model_options"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint


def main():
    """Evaluates a qx checkpoint on the CIFAR-10 test set in Python PyTorch: the cross-check of
    `qx eval` (same top-1 to 0.02 pp; the two differ only in float summation order)."""
    import argparse, json
    from torch_ao_ptq import evaluate, load_split  # the same reader and normalization as the torch.ao checks

    parser = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/resnet20.pt")
    parser.add_argument("--data", default="../shared/data/cifar-10-batches-bin")
    args = parser.parse_args()
    model, checkpoint = load_qx_checkpoint(args.checkpoint)
    images, labels = load_split(args.data, ["test_batch.bin"])
    top1, loss, seconds = evaluate(model, images, labels, batch_size=200)
    print(json.dumps({"checkpoint": args.checkpoint, "run": checkpoint.get("run_uid"), "epoch": checkpoint.get("epoch"),
                      "images": len(labels), "top1": round(top1, 4), "loss": round(loss, 6),
                      "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
