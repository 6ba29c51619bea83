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

from ..nets import apply, init_stats
from ..nets.init import kaiming_normal
from ..progress import bar
from ..scoring import accuracy
from ..store import Checkpoint
from ..train import fit_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1
VARIANTS = ("naive", "individual", "multitask")
EVAL_BATCH = 500


def train_net(exp, stream, net, tasks, key, device) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Fresh Kaiming-normal weights (drawn from (seed, key)) trained on `tasks` jointly for exp.weights epochs."""
    params = [w.requires_grad_() for w in kaiming_normal(net, (exp.seed, key), device)]
    stats = init_stats(net, device)
    fit_epochs(stream, tasks, params, lambda x, y: F.cross_entropy(apply(net, x, params, stats, train=True), y),
               exp.weights, exp.seed, ("dense", key), exp.train_limit, desc=f"{exp.variant} {key}")
    return [p.detach() for p in params], stats


def fine_tune(exp, stream, net, weights, stats, task) -> list[torch.Tensor]:
    params = [w.clone().requires_grad_() for w in weights]
    fit_epochs(stream, task, params, lambda x, y: F.cross_entropy(apply(net, x, params, stats, train=True), y),
               exp.weights, exp.seed, ("dense", task), exp.train_limit, desc=f"naive {task}")
    return [p.detach() for p in params]


def score(stream, net, weights, stats, task: int, limit=None) -> float:
    x, y = stream.task_data(task, "test", limit)
    return accuracy(lambda xb: apply(net, xb, weights, stats, train=False), x, y, EVAL_BATCH)


def run(exp, ckpt: Checkpoint, stream, net, device) -> dict:
    """Rows of the accuracy matrix (tasks learned so far) for exp.variant; Multitask has one row, after all
    tasks. Naive checkpoints its net after every task and resumes at the next."""
    from ..metrics import accuracy_matrix, average_accuracy, forgetting

    n = exp.n_tasks
    state = ckpt.load_json("dense.json", {"accuracy": []})
    if exp.variant == "multitask":
        if not state["accuracy"]:
            w, st = train_net(exp, stream, net, list(range(n)), "multitask", device)
            state["accuracy"] = [[score(stream, net, w, st, j, exp.test_limit) for j in range(n)]]
        rows = [[] for _ in range(n - 1)] + state["accuracy"]  # measured once, after all tasks
    elif exp.variant == "individual":
        for t in bar(range(len(state["accuracy"]), n), desc="individual"):
            w, st = train_net(exp, stream, net, t, t, device)
            own = score(stream, net, w, st, t, exp.test_limit)
            state["accuracy"].append((state["accuracy"][-1] if t else []) + [own])
            ckpt.save_json("dense.json", state)
        rows = state["accuracy"]
    else:
        done = len(state["accuracy"])
        weights = kaiming_normal(net, (exp.seed, "naive"), device)
        stats = init_stats(net, device)
        if done:
            saved = ckpt.load_lists(f"naive_{done - 1:03d}.safetensors", device, layer=len(net.shapes),
                                    stats=len(stats))
            weights, stats = saved["layer"], saved["stats"]
        for t in bar(range(done, n), desc="naive"):
            weights = fine_tune(exp, stream, net, weights, stats, t)
            state["accuracy"].append([score(stream, net, weights, stats, j, exp.test_limit) for j in range(t + 1)])
            ckpt.save_lists(f"naive_{t:03d}.safetensors", layer=weights, stats=stats)
            ckpt.save_json("dense.json", state)
        rows = state["accuracy"]
    a = accuracy_matrix(rows, n)
    name = {"naive": "Naive Sequential", "individual": "Individual", "multitask": "Multitask"}[exp.variant]
    return {"rows": [{"method": name, "tasks": n, "accuracy": average_accuracy(a),
                      "forgetting": forgetting(a) if exp.variant != "multitask" else 0.0}],
            "accuracy_rows": state["accuracy"]}
