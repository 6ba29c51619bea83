"""Seeded weight initialisations for any net (anything with an ordered `shapes` list), rebuilt bit-for-bit.

SupSup §3.1: weights are frozen at a *signed Kaiming constant* initialisation — every entry is ±c with equal
probability, c = √(2 / fan_in) (the std of Kaiming-normal with ReLU gain) — and there are no biases.
fan_in = in for a linear weight (out, in) and in·kh·kw for a convolution (out, in, kh, kw).
"""
from __future__ import annotations

import math

import torch

from ..seeding import generator


def fan_in(shape: tuple[int, ...]) -> int:
    """Inputs feeding one output unit: in for (out, in), in·kh·kw for (out, in, kh, kw)."""
    return math.prod(shape[1:])


def signed_constant(net, seed: int, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """Frozen weights W_l ∈ {−c_l, +c_l}^shape_l, c_l = √(2/fan_in), signs drawn from (seed, layer)."""
    weights = []
    for layer, shape in enumerate(net.shapes):
        signs = torch.randint(0, 2, shape, generator=generator("signed-constant", seed, layer))
        weights.append(((2.0 * signs - 1.0) * math.sqrt(2.0 / fan_in(shape))).to(device))
    return weights


def torch_default(net, seed: object, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """torch's default Conv2d/Linear init, Kaiming-uniform with a = √5: U(±1/√fan_in) (the SupSup code's
    `conv_init: default` for its dense GG baselines)."""
    out = []
    for layer, shape in enumerate(net.shapes):
        bound = 1.0 / math.sqrt(fan_in(shape))
        out.append((torch.rand(*shape, generator=generator("torch-default", seed, layer)) * 2 * bound - bound).to(device))
    return out


def kaiming_normal(net, seed: object, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """Trainable dense weights ~ N(0, 2/fan_in) (the dense baselines: upper/lower bound, separate heads)."""
    return [(torch.randn(*shape, generator=generator("kaiming-normal", seed, layer))
             * math.sqrt(2.0 / fan_in(shape))).to(device)
            for layer, shape in enumerate(net.shapes)]
