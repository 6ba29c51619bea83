"""Training B independent tasks at once.

Everything task-specific is stacked along a leading dimension B (scores or weights, data order, labels), the
forward pass is a batched matmul, and the loss is the *sum* of the B per-task mean losses, so each task's
parameters receive exactly the gradient they would get alone. RMSprop is element-wise, so one optimiser over
the stacked tensors is B independent optimisers. Hence batched training equals sequential training
(tests/test_train.py checks it mask for mask).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .nets.mlp import forward
from .data import TaskStream, batch_order
from .masks import masked_weight
from .progress import bar
from .seeding import generator


@dataclass(frozen=True)
class TrainConfig:
    """SupSup §4.2: RMSprop lr 1e-4 (α 0.99, ε 1e-8, no momentum or weight decay), batch 128, 1000 steps."""

    steps: int = 1000
    batch: int = 128
    lr: float = 1e-4
    mask: str = "threshold"  # or "topk"
    density: float | None = None  # topk only


def task_batches(stream: TaskStream, tasks: Sequence[int], cfg: TrainConfig, seed: int,
                 keys: Sequence | None = None) -> torch.Tensor:
    """(B, steps, batch) base-row indices: each task's own shuffled epochs over its own examples, in the order
    drawn from (seed, key); the key defaults to the task (two runs on one task differ only by their keys)."""
    rows = []
    for t, key in zip(tasks, keys or tasks):
        idx = stream.indices(t, "train")
        rows.append(idx[batch_order(len(idx), cfg.steps, cfg.batch, seed, key).to(idx.device)])
    return torch.stack(rows)


def fit(params: list[torch.Tensor], step_loss: Callable[[int], torch.Tensor], cfg: TrainConfig,
        desc: str = "train", snapshot_at: Sequence[int] = (), momentum: float = 0.0,
        optimizer: str = "rmsprop", weight_decay: float = 0.0, lr_at: Callable[[int], float] | None = None,
        after_step: Callable[[int], None] | None = None, by_hand: bool = False) -> list[list[torch.Tensor]]:
    """cfg.steps of RMSprop (or Adam) on `params`, minimising step_loss(step) (with `by_hand`, step_loss(step)
    returns the params' gradients itself, and autograd is not used); returns copies of the params after each
    step count in `snapshot_at` (one optimiser throughout, so a snapshot equals a shorter run).
    Both optimisers are element-wise, so stacked tasks are independent optimisers. Options: L2 `weight_decay`
    (as torch's), a learning rate per step `lr_at(step)`, and `after_step(step)` called after each update."""
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=weight_decay)
    elif optimizer == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.99, eps=1e-8, momentum=momentum,
                                  weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose 'rmsprop' or 'adam'")
    snapshots = []
    for step in bar(range(cfg.steps), desc=desc):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
        if by_hand:
            for p, grad in zip(params, step_loss(step)):
                p.grad = grad
        else:
            loss = step_loss(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        if after_step is not None:
            after_step(step)
        if step + 1 in snapshot_at:
            snapshots.append([p.detach().clone() for p in params])
    return snapshots


def batched_loss(stream: TaskStream, order: torch.Tensor, tasks: Sequence[int],
                 weights_of_step: Callable[[], list[torch.Tensor]]) -> Callable[[int], torch.Tensor]:
    """step -> Σ_b mean cross-entropy of task b's batch under weights_of_step()[l][b]."""
    task_ids = torch.tensor(list(tasks), device=stream.device)[:, None]

    def step_loss(step: int) -> torch.Tensor:
        x, y = stream.inputs("train", order[:, step], task_ids)
        logits = forward(x, weights_of_step()).float()  # the loss in fp32 whatever the weights' precision
        ce = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
        return ce.view(len(tasks), -1).mean(1).sum()

    return step_loss


# Tasks stacked in one training step on a CPU: beyond about 16 LeNet tasks the stacked scores, masks and gradients
# spill out of the caches and each task's step gets slower (benchmarks/bench_task_cost.py). Grouping is exact:
# each task's gradient and update do not depend on which tasks share its step.
CPU_GROUP = 16


def in_groups(device: torch.device, n_tasks: int,
              train_group: Callable[[slice], list[torch.Tensor]]) -> list[torch.Tensor]:
    """train_group(tasks) for all `n_tasks` stacked tasks at once, or on a CPU for CPU_GROUP of them at a time,
    with each layer's stacks concatenated."""
    size = CPU_GROUP if torch.device(device).type == "cpu" else max(1, n_tasks)
    groups = [train_group(slice(i, i + size)) for i in range(0, n_tasks, size)]
    return groups[0] if len(groups) == 1 else [torch.cat(layer) for layer in zip(*groups)]


@dataclass(frozen=True)
class EpochConfig:
    """SupSup appendix D.1 (SplitCIFAR, GG): Adam lr 1e-3 with the official code's weight decay 1e-4, batch 128,
    cosine decay per epoch (torch's CosineAnnealingLR, T_max = epochs) and no warmup; a fresh optimiser per
    task; training images augmented by random crop (padding 4) and horizontal flip."""

    epochs: int = 100
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    augment: bool = True


def task_epochs(cfg: EpochConfig, task: int, first_epochs: int | None) -> EpochConfig:
    """`cfg`, with `first_epochs` for task 0 when set (SupSup Fig. 11-right trains task 0 longer)."""
    return cfg if task > 0 or first_epochs is None else replace(cfg, epochs=first_epochs)


def fit_epochs(stream, task: int | Sequence[int], params: list[torch.Tensor], loss_fn: Callable, cfg: EpochConfig,
               seed: int, key: object, limit: int | None = None, desc: str = "train",
               after_epoch: Callable[[int], None] | None = None) -> None:
    """cfg.epochs passes over the first `limit` training rows of `task` (several tasks: all their rows, jointly;
    each epoch in the order drawn from (seed, key, epoch), the last batch smaller), minimising loss_fn(x, y) with
    Adam; augmentation of batch b of epoch e drawn from (seed, key, e, b). `after_epoch(e)` runs after epoch e
    (0-based)."""
    tasks = [task] if isinstance(task, int) else list(task)
    idx = torch.cat([stream.indices(t, "train")[:limit] for t in tasks])
    per_epoch = -(-len(idx) // cfg.batch)
    batches = [idx[torch.randperm(len(idx), generator=generator("epoch-order", seed, key, e)).to(idx.device)]
               .split(cfg.batch) for e in range(cfg.epochs)]

    def step_loss(step: int) -> torch.Tensor:
        e, b = divmod(step, per_epoch)
        g = generator("augment", seed, key, e, b) if cfg.augment else None
        return loss_fn(*stream.inputs("train", batches[e][b], augment=g))

    def lr_at(step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * (step // per_epoch) / cfg.epochs)) * cfg.lr

    def after_step(step: int) -> None:
        if after_epoch is not None and (step + 1) % per_epoch == 0:
            after_epoch(step // per_epoch)

    fit(params, step_loss, TrainConfig(steps=cfg.epochs * per_epoch, batch=cfg.batch, lr=cfg.lr), desc=desc,
        optimizer="adam", weight_decay=cfg.weight_decay, lr_at=lr_at, after_step=after_step)


def popup_epochs(stream, net, weights: list[torch.Tensor], task: int, scores: list[torch.Tensor],
                 densities: Sequence[float], stats: list[torch.Tensor], cfg: EpochConfig, seed: int, key: object,
                 limit: int | None = None, desc: str = "mask",
                 after_epoch: Callable[[int], None] | None = None) -> None:
    """Edge-popup over epochs (`fit_epochs`) on fixed `weights`: the leaf `scores` (requires_grad) are trained in
    place, layer l keeping the top densities[l] of |score| (straight-through); batch-norm `stats` (a ResNet's; an
    MLP has none) are updated in place from the training batches."""
    def loss(x, y):
        w = [masked_weight(a, s, "topk", d) for a, s, d in zip(weights, scores, densities)]
        return F.cross_entropy(net.forward(x, w, stats, train=True), y)

    fit_epochs(stream, task, scores, loss, cfg, seed, key, limit, desc, after_epoch)
