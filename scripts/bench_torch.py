#!/usr/bin/env python3
"""PyTorch's side of `morpho bench embed` / `morpho bench train`: ResNet18 (torchvision layout, defined in
make_torch_fixtures.py) on random crops, CPU, eager, in NCHW and in channels_last; prints the better
"<images/s> <layout> <peak RSS MiB>".
Usage: bench_torch.py embed|train --batch-size 64 --size 96 --channels 3 --batches 10 --threads 2
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_fixtures import BasicBlock, ResNet  # noqa: E402


def images_per_second(mode, layout, args):
    torch.manual_seed(0)
    model = ResNet(BasicBlock, [2, 2, 2, 2], in_channels=args.channels, width=64, classes=args.classes)
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
    else:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            opt.step()
    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(args.batches):
        step()
    return args.batches * args.batch_size / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["embed", "train"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=12)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = [(images_per_second(args.mode, layout, args), layout) for layout in ["nchw", "channels_last"]]
    best = max(results)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{best[0]:.2f} {best[1]} {peak:.0f}")


if __name__ == "__main__":
    main()
