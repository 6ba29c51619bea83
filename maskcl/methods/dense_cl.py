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
from ..loop import run_tasks
from ..scoring import task_accuracy
from ..registry import register
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


@register("dense_cl", version=VERSION, config="CLExperiment", setup="classes")
def run(exp, ckpt: Checkpoint, stream, net, device) -> dict:
    """Rows of the accuracy matrix (tasks learned so far) for exp.variant, through the task loop (`maskcl.loop`);
    Multitask is one step, over all tasks at once, measured once after it."""
    n = exp.n_tasks
    score = lambda w, st, j: task_accuracy(stream, net, w, st, j, "test", exp.test_limit)  # noqa: E731

    def multitask(tasks, progress):
        w, st = fresh(exp, net, "multitask", device)
        w = train(exp, stream, net, w, st, list(range(n)), "multitask")
        return [({"accuracy": [score(w, st, j) for j in range(n)]}, {})]

    def individual(tasks, progress):
        t, = tasks
        w, st = fresh(exp, net, t, device)
        own = score(train(exp, stream, net, w, st, t, t), st, t)
        return [({"accuracy": (progress.log[-1]["accuracy"] if t else []) + [own]}, {})]

    def naive(tasks, progress):
        t, = tasks
        stats = progress.carry["stats"]  # updated in place by training
        progress.carry["layer"] = weights = train(exp, stream, net, progress.carry["layer"], stats, t, t)
        return [({"accuracy": [score(weights, stats, j) for j in range(t + 1)]}, {})]

    if exp.variant == "multitask":
        measured = [r["accuracy"] for r in run_tasks(ckpt, 1, multitask, device=device, desc="multitask").log]
        rows = [[] for _ in range(n - 1)] + measured
    else:
        naive_start = dict(zip(("layer", "stats"), fresh(exp, net, "naive", device))) if exp.variant == "naive" else None
        learn = naive if exp.variant == "naive" else individual
        rows = measured = [r["accuracy"] for r in run_tasks(ckpt, n, learn, naive_start, device=device,
                                                            desc=exp.variant).log]
    a = accuracy_matrix(rows, n)
    name = {"naive": "Naive Sequential", "individual": "Individual", "multitask": "Multitask"}[exp.variant]
    return {"rows": [{"method": name, "tasks": n, "accuracy": average_accuracy(a),
                      "forgetting": forgetting(a) if exp.variant != "multitask" else 0.0}],
            "accuracy_rows": measured}
