"""HopSupSup's network (SupSup appendix B, eq. 8): 784-2048-2048-10 with fixed signed-constant weights, masks on
*neurons* (layer outputs) instead of weights, non-affine batch norm on the batch's own statistics and Swish:
    f(x, m) = W3 σ(m2 ⊙ BN(W2 σ(m1 ⊙ BN(W1 x)))),  σ = Swish."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .mlp import MLP


def bn_net(hidden: int = 2048) -> MLP:
    return MLP((784, hidden, hidden, 10))


def forward(x: torch.Tensor, weights: list[torch.Tensor], masks: list[torch.Tensor], eps: float = 1e-5):
    """Eq. 8 with per-hidden-layer neuron masks (d,). BN normalises with the batch's own statistics."""
    h = x
    for layer, w in enumerate(weights):
        h = h @ w.T
        if layer < len(weights) - 1:
            h = F.batch_norm(h, None, None, training=True, eps=eps)
            h = F.silu(masks[layer] * h)
    return h
