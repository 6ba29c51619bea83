"""Scoring, one implementation each: accuracy of a model on a task, and GNu scoring — a task decision per test
batch, where a wrong decision makes the whole batch wrong (SupSup §4.2)."""
from __future__ import annotations

import itertools
from typing import Callable

import torch

from .data import TaskStream
from .infer import batch_correct, decision_groups, infer, superpose
from .nets.mlp import forward
from .nets.resnet import EVAL_BATCH
from .loop import run_jobs
from .store import Checkpoint


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


def scored(correct: torch.Tensor, guess: torch.Tensor, task: int, n: int) -> tuple[float, float]:
    """(accuracy %, task inferred correctly %) of one task's n test images in batches: `correct` counts the
    right predictions per batch with the task's own mask, and a batch only counts when its guessed task is right."""
    right = guess == task
    return 100.0 * float((correct * right).sum()) / n, 100.0 * float(right.float().mean())


def decided(stream: TaskStream, k: int, limit, choose, correct) -> tuple[list[float], list[float]]:
    """`scored` for each task t < k: choose(x) guesses one task per test batch of x, correct(t, x, y) counts each
    batch's right predictions with task t's own weights."""
    acc, hit = [], []
    for t in range(k):
        x, y = stream.task_data(t, "test", limit)
        a, h = scored(correct(t, x, y), choose(x), t, len(y))
        acc.append(a)
        hit.append(h)
    return acc, hit


def evaluate(stream: TaskStream, weights, masks, exp, ckpt: Checkpoint, net=None, states=None,
             n_real: int = 10) -> dict:
    """Per-task accuracies (%) for GG and for every (checkpoint, objective, decision rule[, γ]) in GNu,
    plus the fraction of test batches whose task was inferred correctly. Resumes per checkpoint.

    Any `Net` (default: the MLP of these weights); `states[t]` is task t's per-task state (a ResNet's batch-norm
    statistics), superposed with the masks during inference (`maskcl.infer`). `n_real`: the real classes of a
    task (the outputs beyond them are G's superfluous ones)."""
    correct, sizes = [], []
    for t in range(exp.n_tasks):
        x, y = stream.task_data(t, "test", exp.test_limit)
        correct.append(batch_correct(weights, [m[t] for m in masks], x, y, exp.test_batch, net,
                                     states[t] if states else None, None if net is None else EVAL_BATCH))
        sizes.append(len(y))
    per_task = {"GG": [100.0 * float(c.sum()) / n for c, n in zip(correct, sizes)]}
    # binary inference may also keep the top-γ in place of the median (Fig. 11-left)
    variants = [("", 0.5)] + [(f"|{g:g}", g) for g in exp.gammas if exp.inference == "binary"]
    for k in exp.checkpoints:
        sub = shared = None  # the first k masks as weights, and one-shot's superposed net: once per checkpoint

        def infer_at(label: str, k=k):
            nonlocal sub, shared
            if sub is None:
                sub = [m[:k].to(weights[0].dtype) for m in masks]
                shared = superpose(weights, sub) if exp.inference == "one_shot" else None
            objective, decide, keep = jobs[label]

            def choose(x):
                return torch.cat([infer(weights, sub, g, exp.inference, objective, n_real, keep, shared, net,
                                        states[:k] if states else None)
                                  for g in decision_groups(x, exp.test_batch, decide)])

            return decided(stream, k, exp.test_limit, choose, lambda t, x, y: correct[t])

        jobs = {f"{objective}|{decide}|{k}{tag}": (objective, decide, keep)
                for objective, decide, (tag, keep) in itertools.product(exp.objectives, exp.decide, variants)}
        for label, (acc, hit) in run_jobs(ckpt, "eval", list(jobs), infer_at, desc=f"evaluate {k}").items():
            per_task[label], per_task[f"task-inference {label}"] = acc, hit
    return per_task


def result_rows(per_task: dict, checkpoints, name: str = "SupSup") -> list[dict]:
    """Mean accuracy rows of `evaluate`'s per-task dict: '<name> (GG)' per checkpoint and one row per
    (objective, decision rule, checkpoint) with its task-inference rate."""
    rows = [{"method": f"{name} (GG)", "tasks": k, "accuracy": sum(per_task["GG"][:k]) / k} for k in checkpoints]
    labels = [label.split("|") for label in per_task if "|" in label and not label.startswith("task-inference")]
    for parts in sorted(labels, key=lambda p: (p[0], p[1], int(p[2]), p[3:])):  # resume-independent order
        objective, decide, k = parts[:3]
        label = "|".join(parts)
        suffix = ("" if decide == "first" else ", full batch") + (f", γ={parts[3]}" if len(parts) > 3 else "")
        rows.append({"method": f"{name} (GNu {objective}{suffix})", "tasks": int(k),
                     "accuracy": sum(per_task[label]) / len(per_task[label]),
                     "task_inference": sum(per_task[f"task-inference {label}"]) / len(per_task[label])})
    return rows
