"""Scoring a model on a task: accuracy in %, from any logits function, in batches without gradients."""
from __future__ import annotations

from typing import Callable

import torch


def accuracy(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             batch: int = 1000) -> float:
    """100 · mean(argmax logits_fn(x) == y), evaluated `batch` rows at a time under no_grad."""
    with torch.no_grad():
        correct = sum(int((logits_fn(xb).argmax(-1) == yb).sum()) for xb, yb in zip(x.split(batch), y.split(batch)))
    return 100.0 * correct / len(y)
