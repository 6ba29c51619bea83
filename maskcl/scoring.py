"""Accuracy of a model on a task, one implementation for every method and net. (SupSup's GNu scoring, a task
decision per test batch, lives with SupSup: `methods.supsup.evaluate`.)"""
from __future__ import annotations

from typing import Callable

import torch

from .nets.mlp import forward
from .nets.resnet import EVAL_BATCH


def accuracy(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             batch: int | None = None) -> float:
    """100 · mean(argmax logits_fn(x) == y) under no_grad; with `batch`, the logits of `batch` rows at a time."""
    with torch.no_grad():
        pred = (logits_fn(x) if batch is None else torch.cat([logits_fn(xb) for xb in x.split(batch)])).argmax(-1)
    return 100.0 * float((pred == y).float().mean())


def task_accuracy(stream, net, weights: list[torch.Tensor], stats, task: int, split: str = "test",
                  limit: int | None = None) -> float:
    """`accuracy` of either net (MLP or ResNet, with `stats` in evaluation mode) on `task`'s first `limit` rows of
    `split`, EVAL_BATCH rows per forward pass."""
    x, y = stream.task_data(task, split, limit)
    return accuracy(lambda xb: net.forward(xb, weights, stats, train=False), x, y, EVAL_BATCH)


def mlp_accuracy(weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """`accuracy` of the MLP with these (masked) weights."""
    return accuracy(lambda xb: forward(xb, weights), x, y)
