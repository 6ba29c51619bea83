"""Reference points around SupSup (§4.1): the Upper Bound and the Lower Bound, with dense trained weights.

Upper Bound: an individual dense network per task (same architecture, Kaiming-normal init, the same
RMSprop protocol), evaluated with task identity. Lower Bound: one shared trunk (all layers but the last)
trained continuously across tasks, with a separate head per task; after t tasks every earlier task is evaluated
with the current trunk and its own head, so forgetting shows.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..nets.init import kaiming_normal
from ..nets.mlp import MLP
from ..data import TaskStream
from ..loop import chunked, run_tasks
from ..scoring import mlp_accuracy
from ..registry import register
from ..store import Checkpoint
from ..kernels.mlp_train import batched_grads
from ..train import TrainConfig, fit, in_groups, task_batches

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


def train_dense(stream: TaskStream, init: list[torch.Tensor], tasks: Sequence[int], cfg: TrainConfig,
                seed: int) -> list[torch.Tensor]:
    """One dense network per task (the Upper Bound) from stacked initial weights init[l]: (B, out, in); on a CPU,
    `train.CPU_GROUP` tasks at a time (exact, as for masks). Gradients by hand (`kernels.mlp_train`; autograd's
    of `train.batched_loss`, bit for bit)."""
    tasks = list(tasks)

    def train_group(part: slice) -> list[torch.Tensor]:
        params = [w[part].clone() for w in init]
        group = tasks[part]
        order = task_batches(stream, group, cfg, seed)
        fit(params, batched_grads(stream, order, group, lambda: params), cfg, desc=f"dense {group[0]}..{group[-1]}",
            by_hand=True)
        return params

    return in_groups(init[0].device, len(tasks), train_group)


@register("upper_bound", version=VERSION, config="StreamExperiment", setup="stream")
def upper_bound(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    def learn(tasks, progress):
        inits = [torch.stack(ws) for ws in zip(*(kaiming_normal(net, (exp.seed, t), device) for t in tasks))]
        trained = train_dense(stream, inits, tasks, exp.train, exp.seed)
        return [({"accuracy": mlp_accuracy([w[b] for w in trained], *stream.task_data(t, "test", exp.test_limit))}, {})
                for b, t in enumerate(tasks)]

    chunks = chunked(exp.n_tasks, exp.chunk)
    per_task = [r["accuracy"] for r in run_tasks(ckpt, exp.n_tasks, learn, chunks=chunks, device=device,
                                                 desc="upper bound").log]
    rows = [{"method": "Upper Bound", "tasks": k, "accuracy": sum(per_task[:k]) / k} for k in exp.checkpoints]
    return {"rows": rows, "per_task": {"Upper Bound": per_task}}


@register("lower_bound", version=VERSION, config="StreamExperiment", setup="stream")
def lower_bound(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    def learn(tasks, progress):
        t, = tasks
        head = kaiming_normal(net, (exp.seed, t), device)[-1]
        params = [*progress.carry["trunk"], head]
        grads = batched_grads(stream, task_batches(stream, [t], exp.train, exp.seed), [t],
                              lambda: [p.unsqueeze(0) for p in params])
        fit(params, lambda step: [g[0] for g in grads(step)], exp.train, desc=f"lower bound task {t}", by_hand=True)
        progress.carry["trunk"] = trunk = params[:-1]
        record = {}
        if t + 1 in exp.checkpoints:
            heads = [k["head"][0] for k in progress.kept] + [params[-1]]
            record = {"accuracy": [mlp_accuracy([*trunk, heads[j]], *stream.task_data(j, "test", exp.test_limit))
                                   for j in range(t + 1)]}
        return [(record, {"head": [params[-1]]})]

    trunk = [w.clone() for w in kaiming_normal(net, exp.seed, device)[:-1]]
    log = run_tasks(ckpt, exp.n_tasks, learn, {"trunk": trunk}, device=device, desc="lower bound").log
    rows = [{"method": "Lower Bound", "tasks": t + 1, "accuracy": sum(r["accuracy"]) / len(r["accuracy"])}
            for t, r in enumerate(log) if r]
    return {"rows": rows, "per_task": {f"Lower Bound|{t + 1}": r["accuracy"] for t, r in enumerate(log) if r}}
