#!/usr/bin/env python3
"""Reference fixtures for Morpho's neural-network engine, made once with PyTorch (CPU).

PyTorch's PyPI wheel is a 3 GB CUDA build, so CI never installs it: this script is run by hand and its
small outputs are committed (Tests/NeuralNetworkTests/Fixtures). The ResNet below is written out here
(torchvision v1.5 layout and parameter names, no torchvision needed).

    python -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch h5py numpy   (a CPU wheel will do)
    /tmp/torchvenv/bin/python scripts/make_torch_fixtures.py Tests/NeuralNetworkTests/Fixtures

Writes torch_reference.h5 with, per model (resnet18, resnet50, width 4):
  tensors/<state_dict name>   weights with random batch-norm statistics (so folding is exercised)
  input [4, C, 40, 40], labels [4]
  eval/<tap>                  eval-mode outputs: logits and global-pooled layer2 / layer4
  train/logits                train-mode logits (batch statistics), train/running/<bn buffer> after it
  grad/<param>                gradients of cross-entropy after one train-mode forward
  sgd/<param>, adamw/<param>  parameters after two optimizer steps on cross-entropy (fresh copies)
  f64/...                     the same outputs computed in float64 from the same (float32) weights and
                              input, flattened: the exact values the tests measure both engines against.
                              |float32 - float64| of PyTorch's own results, over the float32 unit roundoff,
                              is how much each quantity amplifies rounding; the tests' tolerances follow
                              from it (Tests/NeuralNetworkTests/TorchReferenceTests.swift)
and resnet18_w4.pt, the same resnet18 traced with torch.jit.trace (its eval logits are eval/logits).

Rerun it to remake the fixtures on any machine: the tests do not depend on the CPU it ran on.
"""
import copy
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, in_channels, width, classes):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(block, width, layers[0], 1)
        self.layer2 = self._make(block, width * 2, layers[1], 2)
        self.layer3 = self._make(block, width * 4, layers[2], 2)
        self.layer4 = self._make(block, width * 8, layers[3], 2)
        self.fc = nn.Linear(width * 8 * block.expansion, classes)

    def _make(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def taps(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        layer2 = x.mean((2, 3))
        x = self.layer4(self.layer3(x))
        pooled = x.mean((2, 3))
        return {"logits": self.fc(pooled), "layer2": layer2, "layer4": pooled}

    def forward(self, x):
        return self.taps(x)["logits"]


def randomize_batch_norm(model, g):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
                m.running_mean.uniform_(-0.3, 0.3, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)


def write_tensor(h5, name, t):
    a = t.detach().cpu().numpy().astype(np.float32)
    h5.create_dataset(name, data=a if a.ndim else a.reshape(1))


def write_exact(h5, name, t):
    """A float64 result, flattened (its shape is that of the float32 dataset of the same name)."""
    h5.create_dataset("f64/" + name, data=t.detach().cpu().numpy().astype(np.float64).reshape(-1))


def gradients(model, x, labels):
    model = copy.deepcopy(model).train()
    F.cross_entropy(model(x), labels).backward()
    return {k: p.grad for k, p in model.named_parameters()}


def two_steps(model, x, labels, make_optimizer):
    model = copy.deepcopy(model).train()
    opt = make_optimizer(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()
    return model


def outputs(model, x, labels):
    """Every reference output of one model and input, by dataset name."""
    out = {}
    model.eval()
    with torch.no_grad():
        for k, v in model.taps(x).items():
            out["eval/" + k] = v
    trained = copy.deepcopy(model).train()
    with torch.no_grad():
        out["train/logits"] = trained(x)
    for k, v in trained.state_dict().items():
        if "running" in k:
            out["train/running/" + k] = v
    for k, v in gradients(model, x, labels).items():
        out["grad/" + k] = v
    sgd = two_steps(model, x, labels, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4))
    adamw = two_steps(model, x, labels, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2))
    for k, v in sgd.named_parameters():
        out["sgd/" + k] = v
    for k, v in adamw.named_parameters():
        out["adamw/" + k] = v
    return out


def fixture(h5, name, block, layers, g):
    torch.manual_seed(7)
    model = ResNet(block, layers, in_channels=3, width=4, classes=5)
    randomize_batch_norm(model, g)
    x = torch.randn(4, 3, 40, 40, generator=g)
    labels = torch.tensor([0, 3, 1, 4])
    grp = h5.create_group(name)
    for k, v in model.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            write_tensor(grp, "tensors/" + k, v)
    write_tensor(grp, "input", x)
    grp.create_dataset("labels", data=labels.numpy().astype(np.int64))
    for k, v in outputs(model, x, labels).items():
        write_tensor(grp, k, v)
    for k, v in outputs(copy.deepcopy(model).double(), x.double(), labels).items():
        write_exact(grp, k, v)
    model.eval()
    return model, x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/NeuralNetworkTests/Fixtures"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(2024)
    with h5py.File(os.path.join(out, "torch_reference.h5"), "w") as h5:
        h5.attrs["torch_version"] = np.bytes_(torch.__version__)
        resnet18, x = fixture(h5, "resnet18", BasicBlock, [2, 2, 2, 2], g)
        fixture(h5, "resnet50", Bottleneck, [3, 4, 6, 3], g)
    traced = torch.jit.trace(resnet18.eval(), x)
    traced.save(os.path.join(out, "resnet18_w4.pt"))
    print("wrote", out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
