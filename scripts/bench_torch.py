#!/usr/bin/env python3
"""PyTorch's side of `morpho bench embed` / `train` / `deepnoise`: ResNet18 (torchvision layout, defined in
make_torch_fixtures.py) or, for deepnoise, the Xception-style network of Morpho's Classification module
with a cosine head, ArcFace loss and AdamW, on random images, CPU, eager, in NCHW and in channels_last;
prints the better "<images/s> <layout> <peak RSS MiB>".
Usage: bench_torch.py embed|train|deepnoise --batch-size 64 --size 96 --channels 3 --batches 10 --threads 2 [--repeats 3] [--width 16] [--backbone xception]
"""
import math
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_fixtures import BasicBlock, Bottleneck, ResNet  # noqa: E402


class SeparableConv(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = torch.nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = torch.nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = torch.nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.pointwise(self.depthwise(x)))


class Block(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.sep1, self.sep2 = SeparableConv(cin, cout), SeparableConv(cout, cout)
        self.shortcut = torch.nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.shortcut_bn = torch.nn.BatchNorm2d(cout)

    def forward(self, x):
        h = F.max_pool2d(self.sep2(F.relu(self.sep1(x))), 3, 2, 1)
        return F.relu(h + self.shortcut_bn(self.shortcut(x)))


class Xception(torch.nn.Module):
    """Morpho's XceptionNet: strided stem, blocks doubling the width, global mean, cosine head."""

    def __init__(self, channels, width, classes, blocks=3):
        super().__init__()
        self.stem = torch.nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False)
        self.stem_bn = torch.nn.BatchNorm2d(width)
        self.blocks = torch.nn.Sequential(*[Block(width << i, width << (i + 1)) for i in range(blocks)])
        self.head = torch.nn.Parameter(torch.randn(classes, width << blocks) * 0.01)

    def forward(self, x):
        h = self.blocks(F.relu(self.stem_bn(self.stem(x)))).mean((2, 3))
        return F.linear(F.normalize(h, dim=1), F.normalize(self.head, dim=1))


class CosineResNet(torch.nn.Module):
    """DeepNoiseNetwork with a ResNet backbone: the ResNet's pooled features, cosine head."""

    def __init__(self, depth, channels, width, classes):
        super().__init__()
        block, layers = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3])}[depth]
        self.body = ResNet(block, layers, in_channels=channels, width=width, classes=1)
        self.head = torch.nn.Parameter(torch.randn(classes, width * 8 * block.expansion) * 0.01)

    def forward(self, x):
        b = self.body
        x = b.maxpool(F.relu(b.bn1(b.conv1(x))))
        h = b.layer4(b.layer3(b.layer2(b.layer1(x)))).mean((2, 3))
        return F.linear(F.normalize(h, dim=1), F.normalize(self.head, dim=1))


def arcface_loss(cosines, labels, s=30.0, m=0.1):
    c = cosines.clamp(-1 + 1e-7, 1 - 1e-7)
    target = torch.where(c > math.cos(math.pi - m), c * math.cos(m) - (1 - c * c).sqrt() * math.sin(m), c - m * math.sin(m))
    onehot = F.one_hot(labels, cosines.shape[1]).bool()
    return F.cross_entropy(torch.where(onehot, target, c) * s, labels)


def images_per_second(mode, layout, args):
    torch.manual_seed(0)
    if mode == "deepnoise" and args.backbone == "xception":
        model = Xception(args.channels, args.width or 16, args.classes)
    elif mode == "deepnoise":
        model = CosineResNet(int(args.backbone[len("resnet"):]), args.channels, args.width or 16, args.classes)
    else:
        model = ResNet(BasicBlock, [2, 2, 2, 2], in_channels=args.channels, width=args.width or 64, classes=args.classes)
    x = torch.randn(args.batch_size, args.channels, args.size, args.size)
    labels = torch.randint(0, args.classes, (args.batch_size,))
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if mode == "embed":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    elif mode == "deepnoise":
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=0.002, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            arcface_loss(model(x), labels).backward()
            opt.step()
    else:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            opt.step()
    for _ in range(2):
        step()
    best = 0.0
    for _ in range(max(1, args.repeats)):
        start = time.perf_counter()
        for _ in range(args.batches):
            step()
        best = max(best, args.batches * args.batch_size / (time.perf_counter() - start))
    if args.trace and layout == "channels_last":
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(args.batches):
                step()
        prof.export_chrome_trace(args.trace)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["embed", "train", "deepnoise"])
    p.add_argument("--width", type=int, default=None, help="stem width (default 16 for deepnoise, 64 for embed and train)")
    p.add_argument("--backbone", default="xception", choices=["xception", "resnet18", "resnet34", "resnet50"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=12)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--trace", help="write a Chrome trace of --batches more steps (channels_last) here")
    p.add_argument("--repeats", type=int, default=1, help="timed runs of --batches; the best counts")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = [(images_per_second(args.mode, layout, args), layout) for layout in ["nchw", "channels_last"]]
    best = max(results)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{best[0]:.2f} {best[1]} {peak:.0f}")


if __name__ == "__main__":
    main()
