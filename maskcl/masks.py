"""Supermasks: straight-through mask functions, score initialisation, and compact storage.

A mask is just a tensor with the shape of its weight. While training it is computed from real-valued scores;
once trained it is a bool tensor (1 byte per weight) or bit-packed (1 bit per weight) at rest.
"""
from __future__ import annotations

import math

import torch

from .backbones import MLP
from .seeding import generator


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Forward value `hard`, gradient d/d soft = identity (soft − soft.detach() is exactly 0 in the forward)."""
    return hard + (soft - soft.detach())


def _topk_hard(scores: torch.Tensor, density: float) -> torch.Tensor:
    """Bool mask of the top ⌈density·n⌉ entries of |score| per layer (and per task along a leading batch dim)."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    flat = scores.detach().abs().flatten(start_dim=scores.dim() - 2)
    k = max(1, math.ceil(density * flat.shape[-1]))
    hard = torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, flat.topk(k, dim=-1).indices, True)
    return hard.view_as(scores)


def _hard_and_soft(scores: torch.Tensor, kind: str, density: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The bool mask a config names ('threshold', or 'topk' with a density) and the tensor its gradient reaches."""
    if kind == "threshold":
        return scores.detach() >= 0, scores
    if kind == "topk":
        if density is None:
            raise ValueError("topk masks need a density")
        return _topk_hard(scores, density), scores.abs()
    raise ValueError(f"unknown mask kind {kind!r}; choose 'threshold' or 'topk'")


def _float_mask(scores: torch.Tensor, kind: str, density: float | None = None) -> torch.Tensor:
    hard, soft = _hard_and_soft(scores, kind, density)
    return straight_through(hard.to(scores.dtype), soft)


def threshold_mask(scores: torch.Tensor) -> torch.Tensor:
    """M = 1[score ≥ 0] with a straight-through gradient (SupSup §4.2, Mallya et al. with threshold 0)."""
    return _float_mask(scores, "threshold")


def topk_mask(scores: torch.Tensor, density: float) -> torch.Tensor:
    """Edge-popup: keep the top ⌈density·n⌉ entries of |score| per layer (and per task along a leading batch
    dim); gradient flows straight through to |score|."""
    return _float_mask(scores, "topk", density)


def binary_mask(scores: torch.Tensor, kind: str = "threshold", density: float | None = None) -> torch.Tensor:
    """The trained mask at rest: bool, the shape of `scores`."""
    return _hard_and_soft(scores, kind, density)[0]


class _MaskedWeight(torch.autograd.Function):
    """W ⊙ M from a bool M in one pass; the gradient reaching `soft` is ∂L/∂(W ⊙ M) ⊙ W (straight-through)."""

    @staticmethod
    def forward(ctx, w, hard, soft):
        ctx.save_for_backward(w)
        m = hard.to(w.dtype)  # (torch.where on a bool mask is several times slower on CPU)
        return m.mul_(w) if m.shape == torch.broadcast_shapes(m.shape, w.shape) else m * w

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return None, None, grad * w


def masked_weight(w: torch.Tensor, scores: torch.Tensor, kind: str = "threshold",
                  density: float | None = None) -> torch.Tensor:
    """W ⊙ M(scores), M the mask `kind` names: the forward and gradient of `w * threshold_mask(scores)` (or
    `topk_mask`) bit for bit, in three element-wise passes (threshold, cast, in-place product) instead of five."""
    hard, soft = _hard_and_soft(scores, kind, density)
    return _MaskedWeight.apply(w, hard, soft)


def init_scores(net: MLP, seed: int, task: object) -> list[torch.Tensor]:
    """Scores ~ U(±1/√fan_in): PyTorch's Kaiming-uniform (a=√5), as in the SupSup code; one draw per task
    (or per any key naming a mask)."""
    out = []
    for layer, (o, i) in enumerate(net.shapes):
        bound = 1.0 / math.sqrt(i)
        u = torch.rand(o, i, generator=generator("scores", seed, task, layer))
        out.append(u * (2 * bound) - bound)
    return out


_BITS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """bool (..., n) → uint8 (..., ⌈n/8⌉), big-endian bit order (as numpy.packbits)."""
    n = mask.shape[-1]
    pad = (-n) % 8
    m = torch.nn.functional.pad(mask.to(torch.uint8), (0, pad)).view(*mask.shape[:-1], -1, 8)
    return (m * _BITS.to(m.device)).sum(-1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of `pack_bits`: uint8 (..., ⌈n/8⌉) → bool (..., n)."""
    bits = (packed.unsqueeze(-1) & _BITS.to(packed.device)) != 0
    return bits.flatten(start_dim=-2)[..., :n]


def mask_bytes(net: MLP, packed: bool = True) -> int:
    """Bytes to store one task's mask for `net`: 1 bit per weight packed, 1 byte as bool."""
    return sum(math.ceil(o * i / 8) if packed else o * i for o, i in net.shapes)
