"""Fixed random backbones, rebuilt bit-for-bit from a seed.

SupSup §3.1: weights are frozen at a *signed Kaiming constant* initialisation — every entry is ±c with equal
probability, c = √(2 / fan_in) (the std of Kaiming-normal with ReLU gain) — and there are no biases.
A backbone is just a tuple of weight tensors (out, in); only its seed needs storing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .seeding import generator


@dataclass(frozen=True)
class MLP:
    """A bias-free ReLU MLP given by its layer widths, e.g. (784, 300, 100, s) for LeNet 300-100."""

    sizes: tuple[int, ...]

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [(o, i) for i, o in zip(self.sizes[:-1], self.sizes[1:])]

    @property
    def n_weights(self) -> int:
        return sum(o * i for o, i in self.shapes)


ARCHITECTURES = {"lenet": (300, 100), "fc": (1024, 1024)}


def mlp(arch: str, out_size: int, in_size: int = 784) -> MLP:
    """LeNet 300-100 (`lenet`) or FC 1024-1024 (`fc`) with `out_size` outputs (s in the paper)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return MLP((in_size, *ARCHITECTURES[arch], out_size))


def signed_constant(net: MLP, seed: int, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """Frozen weights W_l ∈ {−c_l, +c_l}^{out×in}, c_l = √(2/fan_in), signs drawn from `seed`."""
    weights = []
    for layer, (out_f, in_f) in enumerate(net.shapes):
        signs = torch.randint(0, 2, (out_f, in_f), generator=generator("signed-constant", seed, layer))
        weights.append(((2.0 * signs - 1.0) * math.sqrt(2.0 / in_f)).to(device))
    return weights


def kaiming_normal(net: MLP, seed: object, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """Trainable dense weights ~ N(0, 2/fan_in) for the dense baselines (upper/lower bound)."""
    return [
        (torch.randn(o, i, generator=generator("kaiming-normal", seed, layer)) * math.sqrt(2.0 / i)).to(device)
        for layer, (o, i) in enumerate(net.shapes)
    ]


def forward(x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """y = W_L relu(… relu(W_1 x)): x is (n, in) with (out, in) weights, or (B, n, in) with (B, out, in)."""
    h = x
    for layer, w in enumerate(weights):
        h = h @ w.transpose(-1, -2)
        if layer < len(weights) - 1:
            h = torch.relu(h)
    return h
