"""The networks. A net is a small frozen dataclass implementing the `Net` protocol: its weight shapes in an
explicit order, and a forward pass with explicit weights and an explicit per-task state. Weights are plain tensors
in that order, rebuilt from a seed (`maskcl.nets.init`); masks are tensors of the same shapes (`maskcl.masks`)."""
from __future__ import annotations

from typing import Protocol

import torch


class Net(Protocol):
    """What the library needs of a network (`mlp.MLP`, `resnet.ResNet`).

    forward(x, weights, state, train, head): logits (or with `head=False` the features before the head) of x under
    `weights` (net.shapes order, already masked) and the task's `state` (the ResNet's batch-norm statistics, updated
    in place when `train`; an MLP has none). Stacked nets: weights with a leading group dimension G and x (G, n, …)
    run G nets at once → (G, n, outputs); task inference (`maskcl.infer`) relies on it.
    init_state(device): a fresh per-task state."""

    @property
    def shapes(self) -> list[tuple[int, ...]]: ...

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor], state: list[torch.Tensor] | None = None,
                train: bool = False, head: bool = True) -> torch.Tensor: ...

    def init_state(self, device="cpu") -> list[torch.Tensor]: ...
