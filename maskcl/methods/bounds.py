"""Reference points around SupSup (§4.1): the Upper Bound and the Lower Bound, with dense trained weights.

Upper Bound: an individual dense network per task (same architecture, Kaiming-normal init, the same
RMSprop protocol), evaluated with task identity. Lower Bound: one shared trunk (all layers but the last)
trained continuously across tasks, with a separate head per task; after t tasks every earlier task is evaluated
with the current trunk and its own head, so forgetting shows.
"""
from __future__ import annotations

import torch

from ..nets.init import kaiming_normal
from ..nets.mlp import MLP
from ..data import TaskStream
from ..progress import bar
from ..scoring import mlp_accuracy
from ..store import Checkpoint
from ..train import batched_grads, fit, task_batches, train_dense

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


def upper_bound(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    accs = ckpt.load_json("upper.json", {})
    for t0 in bar(range(0, exp.n_tasks, exp.parallel), desc="upper bound"):
        tasks = [t for t in range(t0, min(t0 + exp.parallel, exp.n_tasks)) if str(t) not in accs]
        if not tasks:
            continue
        inits = [torch.stack(ws) for ws in zip(*(kaiming_normal(net, (exp.seed, t), device) for t in tasks))]
        trained = train_dense(stream, inits, tasks, exp.train, exp.seed)
        for b, t in enumerate(tasks):
            accs[str(t)] = mlp_accuracy([w[b] for w in trained], *stream.task_data(t, "test", exp.test_limit))
        ckpt.save_json("upper.json", accs)
    per_task = [accs[str(t)] for t in range(exp.n_tasks)]
    rows = [{"method": "Upper Bound", "tasks": k, "accuracy": sum(per_task[:k]) / k} for k in exp.checkpoints]
    return {"rows": rows, "per_task": {"Upper Bound": per_task}}


def lower_bound(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    state = ckpt.load_json("lower.json", {"done": 0, "rows": []})
    init = kaiming_normal(net, exp.seed, device)
    trunk = [w.clone() for w in init[:-1]]
    heads: list[torch.Tensor] = []
    if state["done"]:
        saved = ckpt.load_tensors("lower.safetensors", device)
        trunk = [saved[f"trunk{l}"] for l in range(len(trunk))]
        heads = list(saved["heads"][:state["done"]])
    for t in bar(range(state["done"], exp.n_tasks), desc="lower bound"):
        head = kaiming_normal(net, (exp.seed, t), device)[-1]
        params = [*trunk, head]
        grads = batched_grads(stream, task_batches(stream, [t], exp.train, exp.seed), [t],
                              lambda: [p.unsqueeze(0) for p in params])
        fit(params, lambda step: [g[0] for g in grads(step)], exp.train, desc=f"lower bound task {t}", by_hand=True)
        trunk, heads = params[:-1], [*heads, params[-1]]
        if t + 1 in exp.checkpoints:
            accs = [mlp_accuracy([*trunk, heads[j]], *stream.task_data(j, "test", exp.test_limit)) for j in range(t + 1)]
            state["rows"].append({"method": "Lower Bound", "tasks": t + 1, "accuracy": sum(accs) / len(accs),
                                  "per_task": accs})
        state["done"] = t + 1
        ckpt.save_tensors("lower.safetensors", {**{f"trunk{l}": w for l, w in enumerate(trunk)},
                                                "heads": torch.stack(heads)})
        ckpt.save_json("lower.json", state)
    return {"rows": [{k: v for k, v in r.items() if k != "per_task"} for r in state["rows"]],
            "per_task": {f"Lower Bound|{r['tasks']}": r["per_task"] for r in state["rows"]}}
