"""What qx's Python references share, so that each tool holds only its own experiment: the
CIFAR-10 reader and qx's normalisation, qx's calibration draw, ResNet20 with the module names of
qx's plugin (and its torch.ao eager form), the machine description qx records, and the way their
rows reach the results database: JSON lines handed to `qx import`, which writes them through
qx's own store (docs/results-schema.md). It imports torch and numpy only; every tool imports it,
and no tool imports a tool that imports it back.
"""
import json, os, subprocess, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = (0.4914, 0.4822, 0.4465)  # qx's data::Normalization
STD = (0.2470, 0.2435, 0.2616)


# --- data ---------------------------------------------------------------------------------------

def load_split(folder, names):
    """uint8 images [N, 3, 32, 32] and int64 labels from CIFAR-10 binary batch files."""
    records = [np.fromfile(os.path.join(folder, n), dtype=np.uint8).reshape(-1, 3073) for n in names]
    data = np.concatenate(records)
    images = torch.from_numpy(data[:, 1:].reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(data[:, 0].astype(np.int64))


def load_train(folder):
    return load_split(folder, [f"data_batch_{i}.bin" for i in range(1, 6)])


def normalize(images):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(STD).view(1, 3, 1, 1) * 255.0
    return (images.float() - mean) / std


def load_data(args):
    """Test images, and qx's calibration draw: randperm on a CPU generator seeded with the seed."""
    train_images, _ = load_train(args.data)
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


def evaluate(model, images, labels, batch_size=1000):
    """(top-1 in percent, mean cross-entropy, seconds) on uint8 images."""
    correct, loss, start = 0, 0.0, time.time()
    with torch.no_grad():
        for i in range(0, len(labels), batch_size):
            logits = model(normalize(images[i:i + batch_size]))
            loss += F.cross_entropy(logits, labels[i:i + batch_size], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i:i + batch_size]).sum().item()
    return 100.0 * correct / len(labels), loss / len(labels), time.time() - start


# --- the model ----------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    """ResNet's CIFAR block (He et al. 2016) with option-A shortcuts, named as qx's plugin names it."""

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
    """The float model in torch.ao's eager form: QuantStub and DeQuantStub around it, fusable."""

    def __init__(self, model):
        from torch.ao.quantization import DeQuantStub, QuantStub
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
        from torch.ao.quantization import fuse_modules
        fuse_modules(self, [["conv1", "bn1", "relu"]], inplace=True)
        for block in self.layers:
            fuse_modules(block, [["conv1", "bn1", "relu1"], ["conv2", "bn2"]], inplace=True)
        return self


def qconfig_for(engine, modifier, variant):
    """torch.ao's default static qconfig of `engine`, or a variant: +per_channel (the onednn
    qconfig, which qx's `pytorch` quantizer reproduces) or +reduce_range (x86's 7-bit activations)."""
    from torch.ao.quantization import HistogramObserver, QConfig, get_default_qconfig
    if not modifier:
        return get_default_qconfig(engine)
    if modifier == "per_channel":
        return get_default_qconfig("onednn")
    if modifier == "reduce_range":
        # Without VNNI, u8 x s8 products are summed pairwise in int16 (VPMADDUBSW) and saturate
        # unless activations leave headroom.
        return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                       weight=get_default_qconfig("onednn").weight)
    sys.exit(f"unknown engine variant '{variant}' (use ENGINE, ENGINE+per_channel or ENGINE+reduce_range)")


# --- the machine and the database ---------------------------------------------------------------

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


def add_common_arguments(parser):
    parser.add_argument("--checkpoint", default=os.path.join(ROOT, "checkpoints", "resnet20.pt"))
    parser.add_argument("--data", help="the CIFAR-10 folder (default: where `qx data where` finds it)")
    parser.add_argument("--db", required=True)
    parser.add_argument("--qx", default=os.path.join(ROOT, "build", "qx"), help="the qx program, for its store")
    parser.add_argument("--calibration-batches", type=int, default=8)
    parser.add_argument("--calibration-batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=0, help="the first N test images (0: all)")
    parser.add_argument("--threads", type=int, default=0)


def find_data(args):
    """args.data, else the folder qx itself uses (--data, QX_DATA_DIR, data/, ../shared/data)."""
    if args.data:
        return args.data
    found = subprocess.run([args.qx, "data", "where"], capture_output=True, text=True, cwd=ROOT)
    if found.returncode != 0:
        sys.exit(found.stderr.strip() or f"{args.qx} data where failed")
    return os.path.join(ROOT, found.stdout.strip())


def qx_import(qx, db, lines):
    """Hands JSON lines to `qx import`: all of them are written, in one transaction, or none."""
    done = subprocess.run([qx, "import", "-", "--db", db], input="".join(json.dumps(line) + "\n" for line in lines),
                          text=True, capture_output=True)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        sys.exit(f"qx import refused the rows (exit {done.returncode})")


class Results:
    """Cells of one experiment, keyed like qx keys its own cells, written by `qx import` at finish()."""

    def __init__(self, args, experiment, tool, test_images, machine_dependent=False):
        # Real int8 kernels depend on the CPU (VNNI or not): their cells are keyed by the machine
        # too, so that a run on another machine adds its own rows (`qx merge`) beside these.
        self.machine_dependent = machine_dependent
        self.qx, self.db, self.tool = args.qx, args.db, tool
        _, checkpoint = load_qx_checkpoint(args.checkpoint)
        self.context = {"calibration": {"batch_size": args.calibration_batch_size,
                                        "batches": args.calibration_batches, "seed": args.seed},
                        "checkpoint": {"epoch": checkpoint["epoch"], "run": checkpoint["run_uid"]},
                        "test_images": test_images}
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
        self.lines = [{"experiment": {
            "name": experiment, "config_path": f"tools/{tool}.py", "config_text": " ".join(sys.argv),
            "git_revision": revision or None, "checkpoint": args.checkpoint, "model": checkpoint["model"],
            "device": "cpu", "threads": torch.get_num_threads(), "torch_version": torch.__version__,
            "machine": machine_description()}}]

    def record(self, variant, label, observer, weight_observer, quantizer, options, top1, loss, images,
               calib_seconds, eval_seconds, bits=8):
        identity = {"context": self.context, "tool": self.tool, "engine": variant}
        if self.machine_dependent:
            identity["machine"] = machine_description()
        key = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        self.lines.append({"cell": {
            "key": key, "label": label, "observer": observer, "weight_observer": weight_observer,
            "quantizer": quantizer, "w_bits": bits, "a_bits": bits, "fold_batch_norm": True, "options": options,
            "top1": top1, "loss": loss, "images": images, "calib_seconds": calib_seconds,
            "eval_seconds": eval_seconds}})

    def finish(self):
        qx_import(self.qx, self.db, self.lines)
