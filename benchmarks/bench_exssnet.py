"""ExSSNeT's cost on this machine: a weight-training step through an exclusive mask (ExSSNeT's weight phase) vs the
same step of the net trained dense in plain PyTorch, and the mask phase (edge-popup) beside them — LeNet 300-100 on
SplitMNIST-sized batches and the reduced ResNet-18 on CIFAR-sized ones, batch 64 (the paper's), Adam. The paper
(A.2) claims < 5 % overhead for the masked weight training. Also one real epoch of a SplitMNIST task through
`fit_epochs` (data gathering included), dense vs exclusive. Writes benchmarks/results/exssnet_<device>.json.

    .venv/bin/python benchmarks/bench_exssnet.py [--device cpu|cuda] [--steps 50]
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from bench_resnet import PlainResNet
from bench_supsup import save, timed

from maskcl.data import class_split, load_mnist
from maskcl.data.mnist import MEAN, STD
from maskcl.masks import binary_mask, init_scores, masked_weight
from maskcl.methods.exssnet import exclusive_weight, free_mask

from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import MLP
from maskcl.nets.resnet import ResNet
from maskcl.runs import resolve_device
from maskcl.train import EpochConfig, fit_epochs

BATCH = 64


def plain_lenet(n_out: int = 2) -> nn.Module:
    return nn.Sequential(nn.Linear(784, 300, bias=False), nn.ReLU(), nn.Linear(300, 100, bias=False), nn.ReLU(),
                         nn.Linear(100, n_out, bias=False))


def masks_with_overlap(net, device):
    """Task 2's mask (density 0.1) and its free part after one earlier mask (≈ 10 % of it shared), as floats
    (converted once, as ExSSNeT's weight phase does)."""
    m1, m2 = ([binary_mask(s, "topk", 0.1).to(device) for s in init_scores(net, 0, t)] for t in (0, 1))
    return [m.float() for m in m2], [f.float() for f in free_mask(m2, [m1])]


def steps(net, plain: nn.Module, x, y, device) -> dict:
    w = signed_constant(net, 0, device)
    stats = net.init_state(device)
    mask, free = masks_with_overlap(net, device)
    params = [a.clone().requires_grad_() for a in w]
    scores = [s.to(device).requires_grad_() for s in init_scores(net, 0, 1)]
    opt_w, opt_s, opt_p = (torch.optim.Adam(p, lr=1e-3) for p in (params, scores, list(plain.parameters())))

    def step(opt, loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return {
        "dense weights (plain PyTorch)": lambda: step(opt_p, F.cross_entropy(plain(x), y)),
        "dense weights (maskcl forward)": lambda: step(opt_w, F.cross_entropy(net.forward(x, params, stats, True), y)),
        "exclusive weights (ExSSNeT)": lambda: step(opt_w, F.cross_entropy(net.forward(x, [
            exclusive_weight(a, m, f) for a, m, f in zip(params, mask, free)], stats, True), y)),
        "mask scores (edge-popup)": lambda: step(opt_s, F.cross_entropy(net.forward(x, [
            masked_weight(a, s, "topk", 0.1) for a, s in zip(w, scores)], stats, True), y)),
    }


def measure(device, n_steps: int) -> dict:
    out = {}
    for name, net, plain, shape in (("LeNet 300-100", MLP((784, 300, 100, 2)), plain_lenet(), (BATCH, 784)),
                                    ("reduced ResNet-18", ResNet(2), PlainResNet(2), (BATCH, 3, 32, 32))):
        x, y = torch.randn(*shape, device=device), torch.randint(0, 2, (BATCH,), device=device)
        fns = steps(net, plain.to(device), x, y, device)
        r = {k: round(BATCH / timed(fn, device, repeat=n_steps), 1) for k, fn in fns.items()}  # images/s
        r["overhead of exclusive weights vs plain dense"] = round(
            r["dense weights (plain PyTorch)"] / r["exclusive weights (ExSSNeT)"], 3)
        r["overhead of exclusive weights vs maskcl dense"] = round(
            r["dense weights (maskcl forward)"] / r["exclusive weights (ExSSNeT)"], 3)
        out[name] = {"images_per_s": r}
    return out


def real_epoch(device) -> dict:
    """One epoch over SplitMNIST task 0's training rows (80 % of its images, batch 64), dense vs exclusive."""
    stream = class_split("mnist", load_mnist(), 5, 2, 0, device, 0.2, (MEAN,), (STD,))
    net = MLP((784, 300, 100, 2))
    mask, free = masks_with_overlap(net, device)
    cfg = EpochConfig(epochs=1, batch=BATCH, lr=1e-3, weight_decay=0.0, augment=False)
    out = {}
    for name, weights_of in (("dense", lambda p: p),
                             ("exclusive (ExSSNeT)", lambda p: [exclusive_weight(a, m, f) for a, m, f in zip(p, mask, free)])):
        params = [a.requires_grad_() for a in signed_constant(net, 0, device)]
        loss = lambda x, y: F.cross_entropy(net.forward(x, weights_of(params)), y)  # noqa: E731
        fit_epochs(stream, 0, params, loss, cfg, 0, "warm-up", limit=256)
        start = time.perf_counter()
        fit_epochs(stream, 0, params, loss, cfg, 0, "epoch")
        out[f"{name} epoch s"] = round(time.perf_counter() - start, 3)
    out["rows"] = len(stream.indices(0, "train"))
    out["overhead"] = round(out["exclusive (ExSSNeT) epoch s"] / out["dense epoch s"], 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    device = resolve_device(args.device)
    start = time.perf_counter()
    result = {"batch": BATCH, "optimizer": "Adam", "steps": args.steps, "step_throughput": measure(device, args.steps),
              "splitmnist_epoch": real_epoch(device)}
    save(result, "exssnet", device, start)


if __name__ == "__main__":
    main()
