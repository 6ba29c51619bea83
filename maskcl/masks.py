"""Supermasks: straight-through mask functions, score initialisation, and compact storage.

A mask is just a tensor with the shape of its weight — (out, in) for a linear layer, (out, in, kh, kw) for a
convolution — optionally stacked over tasks along leading dimensions. While training it is computed from
real-valued scores; once trained it is a bool tensor (1 byte per weight) or bit-packed (1 bit per weight) at rest.
A "layer" is always all of one weight tensor's elements: fan-in and top-k budgets are counted over it.
"""
from __future__ import annotations

import math

import torch

from .nets.init import fan_in
from .seeding import generator


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Forward value `hard`, gradient d/d soft = identity (soft − soft.detach() is exactly 0 in the forward)."""
    return hard + (soft - soft.detach())


def _topk_hard(scores: torch.Tensor, density: float, layer_dims: int | None,
               dtype: torch.dtype = torch.bool) -> torch.Tensor:
    """Mask (bool, or 0/1 in `dtype`) of the top ⌈density·n⌉ entries of |score| over each layer's n elements: the
    last `layer_dims` dims are one layer (None: the whole tensor), any leading dims stack tasks."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    layer_dims = scores.dim() if layer_dims is None else layer_dims
    if not 1 <= layer_dims <= scores.dim():
        raise ValueError(f"layer_dims must lie in 1..{scores.dim()}, got {layer_dims}")
    flat = scores.detach().abs().flatten(start_dim=scores.dim() - layer_dims)
    n = flat.shape[-1]
    k = max(1, math.ceil(density * n))
    # |s| ≥ the k-th largest |s| is the top-k set whenever that value is not tied (3× faster than topk on CPU);
    # with a tie at the threshold, topk breaks it as before
    hard = _ge(flat, flat.kthvalue(n - k + 1, dim=-1, keepdim=True).values, dtype)
    if not bool((hard.sum(-1) == k).all()):  # (a float count of ≤ 2²⁴ ones is exact)
        hard = torch.zeros_like(flat, dtype=dtype).scatter_(-1, flat.topk(k, dim=-1).indices, 1)
    return hard.view_as(scores)


def _ge(a: torch.Tensor, b: torch.Tensor | float, dtype: torch.dtype) -> torch.Tensor:
    """1[a ≥ b] as bool, or as 0/1 written straight into `dtype` — on a CPU 3-4× faster than a bool comparison
    followed by a cast, and the same numbers."""
    if dtype == torch.bool:
        return a >= b
    return torch.ge(a, b, out=torch.empty(a.shape, dtype=dtype, device=a.device))


def hard_and_soft(scores: torch.Tensor, kind: str, density: float | None, layer_dims: int | None = None,
                   dtype: torch.dtype = torch.bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The mask a config names ('threshold', or 'topk' with a density) — bool, or 0/1 in `dtype` — and the tensor
    its gradient reaches."""
    if kind == "threshold":
        return _ge(scores.detach(), 0, dtype), scores
    if kind == "topk":
        if density is None:
            raise ValueError("topk masks need a density")
        return _topk_hard(scores, density, layer_dims, dtype), scores.abs()
    raise ValueError(f"unknown mask kind {kind!r}; choose 'threshold' or 'topk'")


def _float_mask(scores: torch.Tensor, kind: str, density: float | None = None,
                layer_dims: int | None = None) -> torch.Tensor:
    hard, soft = hard_and_soft(scores, kind, density, layer_dims, scores.dtype)
    return straight_through(hard, soft)


def threshold_mask(scores: torch.Tensor) -> torch.Tensor:
    """M = 1[score ≥ 0] with a straight-through gradient (SupSup §4.2, Mallya et al. with threshold 0)."""
    return _float_mask(scores, "threshold")


def topk_mask(scores: torch.Tensor, density: float, layer_dims: int | None = None) -> torch.Tensor:
    """Edge-popup: keep the top ⌈density·n⌉ entries of |score| over each layer's n elements (the last
    `layer_dims` dims; None: the whole tensor is one layer); gradient flows straight through to |score|."""
    return _float_mask(scores, "topk", density, layer_dims)


def binary_mask(scores: torch.Tensor, kind: str = "threshold", density: float | None = None,
                layer_dims: int | None = None) -> torch.Tensor:
    """The trained mask at rest: bool, the shape of `scores` (see `topk_mask` for `layer_dims`)."""
    return hard_and_soft(scores, kind, density, layer_dims)[0]


class _MaskedWeight(torch.autograd.Function):
    """W ⊙ M from a 0/1 M in W's dtype in one pass; the gradient reaching `soft` is ∂L/∂(W ⊙ M) ⊙ W
    (straight-through) and, when W requires it, the gradient reaching W is ∂L/∂(W ⊙ M) ⊙ M (summed over stacked
    tasks)."""

    @staticmethod
    def forward(ctx, w, hard, soft):
        ctx.save_for_backward(w, hard if ctx.needs_input_grad[0] else None)
        return hard * w  # (torch.where on a bool mask is several times slower on CPU)

    @staticmethod
    def backward(ctx, grad):
        w, hard = ctx.saved_tensors
        grad_w = None
        if ctx.needs_input_grad[0]:
            grad_w = grad * hard.to(grad.dtype)
            if grad_w.shape != w.shape:  # W broadcast over stacked tasks: sum their gradients
                grad_w = grad_w.sum_to_size(w.shape)
        grad_soft = None
        if ctx.needs_input_grad[2]:  # written contiguous: a matmul's weight gradient arrives transposed, and
            # autograd would otherwise copy the product once more to give the scores a contiguous gradient
            grad_soft = torch.mul(grad, w, out=torch.empty(torch.broadcast_shapes(grad.shape, w.shape),
                                                           dtype=grad.dtype, device=grad.device))
        return grad_w, None, grad_soft


def masked_weight(w: torch.Tensor, scores: torch.Tensor, kind: str = "threshold",
                  density: float | None = None) -> torch.Tensor:
    """W ⊙ M(scores), M the mask `kind` names, for scores of W's shape or stacked over tasks along leading dims
    (a top-k layer is all of W's elements): the forward and gradients of `w * threshold_mask(scores)` (or
    `topk_mask`) bit for bit, in two element-wise passes (the threshold written as 0/1 in W's dtype, the
    product) instead of five. W receives a gradient (∂L/∂(W ⊙ M) ⊙ M) only when it requires one."""
    hard, soft = hard_and_soft(scores, kind, density, w.dim(), w.dtype)
    return _MaskedWeight.apply(w, hard, soft)


def init_scores(net, seed: int, task: object) -> list[torch.Tensor]:
    """Scores ~ U(±1/√fan_in) for every weight in net.shapes (in order): PyTorch's Kaiming-uniform (a=√5), as
    in the SupSup code; one draw per task (or per any key naming a mask)."""
    out = []
    for layer, shape in enumerate(net.shapes):
        bound = 1.0 / math.sqrt(fan_in(shape))
        u = torch.rand(*shape, generator=generator("scores", seed, task, layer))
        out.append(u * (2 * bound) - bound)
    return out


_BITS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """bool (..., n) → uint8 (..., ⌈n/8⌉), big-endian bit order (as numpy.packbits). For a mask of any shape,
    pack mask.flatten(k) and restore with unpack_bits(...).view(shape)."""
    n = mask.shape[-1]
    pad = (-n) % 8
    m = torch.nn.functional.pad(mask.to(torch.uint8), (0, pad)).view(*mask.shape[:-1], -1, 8)
    return (m * _BITS.to(m.device)).sum(-1, dtype=torch.uint8)


def unpack_bits(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of `pack_bits`: uint8 (..., ⌈n/8⌉) → bool (..., n)."""
    bits = (packed.unsqueeze(-1) & _BITS.to(packed.device)) != 0
    return bits.flatten(start_dim=-2)[..., :n]


def mask_bytes(net, packed: bool = True) -> int:
    """Bytes to store one task's mask for `net`: 1 bit per weight packed (each layer padded to a byte), 1 byte
    as bool."""
    return sum(math.ceil(math.prod(s) / 8) if packed else math.prod(s) for s in net.shapes)
