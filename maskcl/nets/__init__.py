"""The networks: a net is a small frozen dataclass that names its weight shapes in an explicit order
(`net.shapes`, `net.names`) and a `forward(x, weights, ...)` function beside it. Weights are plain tensors in
that order, rebuilt from a seed (`maskcl.nets.init`). `apply` calls whichever forward a method's net has."""
from __future__ import annotations

import torch

from . import mlp, resnet


def apply(net, x: torch.Tensor, weights: list[torch.Tensor], stats: list[torch.Tensor] | None = None,
          train: bool = False, head: bool = True) -> torch.Tensor:
    """Logits (with `head=False`, the features before the head) of an MLP or a ResNet under (masked) `weights`;
    `stats` and `train` are the ResNet's batch-norm statistics and mode (an MLP has none)."""
    if isinstance(net, resnet.ResNet):
        return resnet.forward(x, net, weights, stats, train=train, head=head)
    return mlp.forward(x, weights, head=head)


def init_stats(net, device="cpu") -> list[torch.Tensor]:
    """Fresh batch-norm statistics for the ResNet; none for an MLP."""
    return resnet.init_stats(net, device) if isinstance(net, resnet.ResNet) else []
