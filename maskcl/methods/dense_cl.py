"""The dense reference rows of ExSSNeT's Table 2, on the same net, stream and epochs as the masked methods.

Naive (sequential fine-tuning): one net trained on task 1, then task 2, … — nothing protects earlier tasks.
Individual: a fresh net per task (no transfer, no forgetting, N times the weights).
Multitask: one net trained on all tasks' data at once (no sequence at all).
Every net shares one output head of `per_task` units read with task-local labels (task-incremental), as the
masked methods; weights start from Kaiming-normal, and the ResNet's non-affine batch norm keeps one set of
statistics per net.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..metrics import accuracy_matrix, average_accuracy, forgetting
from ..nets.init import kaiming_normal
from ..progress import bar
from ..scoring import task_accuracy
from ..store import Checkpoint
from ..train import fit_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1
VARIANTS = ("naive", "individual", "multitask")


def train(exp, stream, net, weights, stats, tasks, key) -> list[torch.Tensor]:
    """`weights` trained (a copy; `stats` updated in place) on `tasks` jointly for exp.weights epochs, in the
    batch order drawn from (seed, "dense", key)."""
    params = [w.clone().requires_grad_() for w in weights]
    fit_epochs(stream, tasks, params, lambda x, y: F.cross_entropy(net.forward(x, params, stats, train=True), y),
               exp.weights, exp.seed, ("dense", key), exp.train_limit, desc=f"{exp.variant} {key}")
    return [p.detach() for p in params]


def fresh(exp, net, key, device) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Kaiming-normal weights drawn from (seed, key) and fresh batch-norm statistics."""
    return kaiming_normal(net, (exp.seed, key), device), net.init_state(device)


def run(exp, ckpt: Checkpoint, stream, net, device) -> dict:
    """Rows of the accuracy matrix (tasks learned so far) for exp.variant; Multitask has one row, after all
    tasks. Naive checkpoints its net after every task and resumes at the next."""
    n = exp.n_tasks
    state = ckpt.load_json("dense.json", {"accuracy": []})
    if exp.variant == "multitask":
        if not state["accuracy"]:
            w, st = fresh(exp, net, "multitask", device)
            w = train(exp, stream, net, w, st, list(range(n)), "multitask")
            state["accuracy"] = [[task_accuracy(stream, net, w, st, j, "test", exp.test_limit) for j in range(n)]]
        rows = [[] for _ in range(n - 1)] + state["accuracy"]  # measured once, after all tasks
    elif exp.variant == "individual":
        for t in bar(range(len(state["accuracy"]), n), desc="individual"):
            w, st = fresh(exp, net, t, device)
            own = task_accuracy(stream, net, train(exp, stream, net, w, st, t, t), st, t, "test", exp.test_limit)
            state["accuracy"].append((state["accuracy"][-1] if t else []) + [own])
            ckpt.save_json("dense.json", state)
        rows = state["accuracy"]
    else:
        done = len(state["accuracy"])
        weights, stats = fresh(exp, net, "naive", device)
        if done:
            saved = ckpt.load_lists(f"naive_{done - 1:03d}.safetensors", device, layer=len(net.shapes),
                                    stats=len(stats))
            weights, stats = saved["layer"], saved["stats"]
        for t in bar(range(done, n), desc="naive"):
            weights = train(exp, stream, net, weights, stats, t, t)
            state["accuracy"].append([task_accuracy(stream, net, weights, stats, j, "test", exp.test_limit)
                                      for j in range(t + 1)])
            ckpt.save_lists(f"naive_{t:03d}.safetensors", layer=weights, stats=stats)
            ckpt.save_json("dense.json", state)
        rows = state["accuracy"]
    a = accuracy_matrix(rows, n)
    name = {"naive": "Naive Sequential", "individual": "Individual", "multitask": "Multitask"}[exp.variant]
    return {"rows": [{"method": name, "tasks": n, "accuracy": average_accuracy(a),
                      "forgetting": forgetting(a) if exp.variant != "multitask" else 0.0}],
            "accuracy_rows": state["accuracy"]}
