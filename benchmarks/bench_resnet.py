"""Masked reduced ResNet-18 vs the same network trained dense in plain PyTorch, on this machine: training and
evaluation throughput (images/s, batch 128), the masking overhead ratio, and the effect of channels_last and of
bf16 autocast — with the accuracy change bf16 causes on one quick SplitCIFAR10 task. Writes
benchmarks/results/resnet_<device>.json.

    .venv/bin/python benchmarks/bench_resnet.py [--device cpu|cuda] [--steps 5]
"""
from __future__ import annotations

import argparse
import contextlib
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_supsup import save, timed

from maskcl.data import class_split, load_cifar
from maskcl.masks import binary_mask, init_scores, masked_weight
from maskcl.methods.supsup import er_densities, train_conv_task as train_task
from maskcl.nets.init import signed_constant
from maskcl.nets.resnet import ResNet, forward, init_stats
from maskcl.runs import resolve_device
from maskcl.scoring import accuracy
from maskcl.train import EpochConfig


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, affine=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, affine=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, affine=False))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class PlainResNet(nn.Module):
    """The reference: the same reduced ResNet-18 as an ordinary nn.Module, every weight trained."""

    def __init__(self, n_classes=5, nf=20):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, nf, 3, 1, 1, bias=False), nn.BatchNorm2d(nf, affine=False)
        layers, cin = [], nf
        for stage in range(4):
            cout = nf * 2 ** stage
            layers += [Block(cin, cout, 1 if stage == 0 else 2), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Conv2d(cin, n_classes, 1, bias=False)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(F.avg_pool2d(h, 4)).flatten(1)


def throughput(step, batch, device, steps) -> float:
    """Images/s of `step` over `steps` calls, after two warm-up calls."""
    step()
    return round(batch / timed(step, device, repeat=steps), 1)


def variants(device):
    bf16 = lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)  # noqa: E731
    return {"fp32": (False, contextlib.nullcontext), "channels_last": (True, contextlib.nullcontext),
            "bf16 autocast": (False, bf16)}


def measure(device, steps: int, batch: int = 128) -> dict:
    net = ResNet()
    out = {}
    for name, (cl, ctx) in variants(device).items():
        fmt = torch.channels_last if cl else torch.contiguous_format
        x = torch.randn(batch, 3, 32, 32, device=device).to(memory_format=fmt)
        y = torch.randint(0, 5, (batch,), device=device)
        plain = PlainResNet().to(device).to(memory_format=fmt)
        opt_p = torch.optim.Adam(plain.parameters(), lr=1e-3)
        w = [t.to(memory_format=fmt) if t.dim() == 4 else t for t in signed_constant(net, 0, device)]
        dens = er_densities(net, 8)
        scores = [s.to(device).to(memory_format=fmt).requires_grad_() for s in init_scores(net, 0, 0)]
        opt_m = torch.optim.Adam(scores, lr=1e-3)
        stats = init_stats(net, device)

        def dense_step():
            with ctx():
                loss = F.cross_entropy(plain(x), y)
            opt_p.zero_grad(set_to_none=True)
            loss.backward()
            opt_p.step()

        def masked_step():
            with ctx():
                loss = F.cross_entropy(forward(x, net, [masked_weight(a, s, "topk", d)
                                                        for a, s, d in zip(w, scores, dens)], stats), y)
            opt_m.zero_grad(set_to_none=True)
            loss.backward()
            opt_m.step()

        fixed = [a * binary_mask(s, "topk", d) for a, s, d in zip(w, scores, dens)]  # eval: masks already applied

        def dense_eval():
            with torch.no_grad(), ctx():
                plain.eval()(x)

        def masked_eval():
            with torch.no_grad(), ctx():
                forward(x, net, fixed, stats, train=False)

        r = {"train dense (plain PyTorch)": throughput(dense_step, batch, device, steps),
             "train masked (maskcl)": throughput(masked_step, batch, device, steps),
             "eval dense (plain PyTorch)": throughput(dense_eval, batch, device, steps),
             "eval masked (maskcl)": throughput(masked_eval, batch, device, steps)}
        r["masking overhead, train"] = round(r["train dense (plain PyTorch)"] / r["train masked (maskcl)"], 3)
        r["masking overhead, eval"] = round(r["eval dense (plain PyTorch)"] / r["eval masked (maskcl)"], 3)
        out[name] = r
    return out


def variant_accuracy(device) -> dict:
    """One SupSup GG task (SplitCIFAR10 task 0, k = 8, the first 1000 training images, 4 epochs, 1000 test images)
    trained and evaluated from the same seed in fp32, in channels_last (every convolution in that layout:
    `ResNet(channels_last=True)`) and under bf16 autocast; the accuracy change of each against fp32. (Early
    training is unstable at this budget: a different summation order alone can move the result by points.)"""
    stream = class_split("cifar10", load_cifar("cifar10"), 5, 2, 0, device)
    out = {}
    for name, (cl, ctx) in variants(device).items():
        net = ResNet(2, channels_last=cl)
        w = signed_constant(net, 0, device)
        start = time.perf_counter()
        with ctx():
            m, stats, _, _ = train_task(stream, net, w, 0, init_scores(net, 0, 0),
                                        er_densities(net, 8), EpochConfig(epochs=4), 0, limit=1000)
            x, y = stream.task_data(0, "test", 1000)
            acc = accuracy(lambda xb: forward(xb, net, [a * b for a, b in zip(w, m)], stats, train=False), x, y, 500)
        out[name] = {"test accuracy": round(acc, 2), "wall s": round(time.perf_counter() - start, 1)}
        out[name]["accuracy change vs fp32"] = round(acc - out["fp32"]["test accuracy"], 2)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device(args.device)
    start = time.perf_counter()
    torch.manual_seed(0)  # the plain reference modules' own init (not used by any result)
    result = {"net": "reduced ResNet-18, nf = 20, 5 outputs; SupSup masks with ER k = 8", "batch": 128,
              "images_per_s": measure(device, args.steps), "accuracy_on_one_task": variant_accuracy(device)}
    save(result, "resnet", device, start)


if __name__ == "__main__":
    main()
