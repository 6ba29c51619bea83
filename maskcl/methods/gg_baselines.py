"""The dense baselines of SupSup's SplitCIFAR figure (Fig. 2-right, Table 2), as the official configs run them.

All train with Adam, batch 128, cosine decay per task and augmented images (`train.EpochConfig`), on the
reduced ResNet-18 with torch's default (Kaiming-uniform) weights; the task is given at test time (GG).
- Upper Bound: one dense net with standard affine batch norm, trained on tasks 1, 2, … in turn (lr 1e-3); task i
  is scored right after its own training, i.e. by its own model whose trunk has seen tasks 1..i (§4.1).
- Separate Heads: the trunk and the first head trained on task 1 (lr 1e-3); every later task trains only its own
  head (lr 1e-2), all heads starting as copies of one initial head. Rand W: the trunk is never trained.
  Batch-norm statistics are per task (non-affine), as in SupSup.
- BatchE (GG): every conv weight is W ⊙ s rᵀ with a task's fast weights s ∈ R^out, r ∈ R^in (±1 at the start);
  W trained with the first task's fast weights (lr 1e-3), later tasks train only theirs (lr 0.1, appendix D.1's
  Rand W rate; the paper's BatchE (GG) number is Wen et al.'s). Rand W: W never trained, every task lr 0.1.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..nets.init import torch_default
from ..nets.resnet import EVAL_BATCH, ResNet, forward, init_stats
from ..loop import run_tasks
from ..scoring import accuracy
from ..seeding import generator
from ..registry import register
from ..store import Checkpoint
from ..train import fit_epochs, task_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1



@dataclass(frozen=True)
class BaselineLRs:
    """Adam learning rates of the GG baselines, in place of the schedule's lr: `first` for what task 0 trains
    (Upper Bound: every task's whole net; Separate Heads: trunk and head; BatchE: W and its fast weights),
    `head` for a later task's head (Separate Heads) and `fast` for a later task's fast weights (BatchE)."""

    first: float = 1e-3
    head: float = 1e-2
    fast: float = 0.1


def _leaves(tensors):
    return [t.detach().clone().requires_grad_() for t in tensors]


def _sequence(exp, ckpt: Checkpoint, stream, net: ResNet, name: str, state: dict[str, list[torch.Tensor]],
              train_task) -> dict:
    """Tasks in turn through the task loop: train_task(t, state) trains task t in place and returns its logits
    function; the task is scored right after. `state` (named lists of tensors) is the loop's carry."""
    def learn(tasks, progress):
        t, = tasks
        logits = train_task(t, progress.carry)
        return [({"accuracy": accuracy(logits, *stream.task_data(t, "test", exp.test_limit), EVAL_BATCH)}, {})]

    acc = [r["accuracy"] for r in run_tasks(ckpt, exp.n_tasks, learn, state, device=stream.device, desc=name).log]
    label = {"upper_bound_gg": "Upper Bound", "separate_heads": "Separate Heads", "batche_gg": "BatchE (GG)"}[name]
    label += " - Rand W" if exp.rand_w else ""
    return {"rows": [{"method": label, "tasks": exp.n_tasks, "accuracy": sum(acc) / len(acc)}],
            "per_task": {label: acc}}


@register("upper_bound_gg", version=VERSION, config="GGExperiment", setup="images")
def upper_bound(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    state = {"w": torch_default(net, exp.seed, device),
             "affine": [torch.stack([torch.ones(c), torch.zeros(c)]).to(device) for c in net.bn_channels],
             "stats": init_stats(net, device)}

    def train_task(t, st):
        w, aff = _leaves(st["w"]), _leaves(st["affine"])
        fit_epochs(stream, t, [*w, *aff], lambda x, y: F.cross_entropy(forward(x, net, w, st["stats"], affine=aff), y),
                   replace(task_epochs(exp.train, t, exp.first_epochs), lr=exp.baseline_lrs.first), exp.seed, ("upper-bound", t), exp.train_limit,
                   desc=f"upper bound {t}")
        st["w"], st["affine"] = [p.detach() for p in w], [p.detach() for p in aff]
        return lambda xb: forward(xb, net, st["w"], st["stats"], train=False, affine=st["affine"])

    return _sequence(exp, ckpt, stream, net, "upper_bound_gg", state, train_task)


@register("separate_heads", version=VERSION, config="GGExperiment", setup="images")
def separate_heads(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    init = torch_default(net, exp.seed, device)
    state = {"trunk": init[:-1], "heads": [init[-1].clone() for _ in range(exp.n_tasks)],
             "stats": [s for _ in range(exp.n_tasks) for s in init_stats(net, device)]}
    n_bn = len(net.bn_channels)

    def train_task(t, st):
        stats = st["stats"][t * n_bn:(t + 1) * n_bn]
        with_trunk = t == 0 and not exp.rand_w
        trunk = _leaves(st["trunk"]) if with_trunk else st["trunk"]
        head = _leaves([st["heads"][t]])
        params, lr = (head + trunk, exp.baseline_lrs.first) if with_trunk else (head, exp.baseline_lrs.head)
        fit_epochs(stream, t, params, lambda x, y: F.cross_entropy(forward(x, net, [*trunk, head[0]], stats), y),
                   replace(task_epochs(exp.train, t, exp.first_epochs), lr=lr), exp.seed, ("separate-heads", t), exp.train_limit,
                   desc=f"separate heads {t}")
        st["trunk"] = [p.detach() for p in trunk]
        st["heads"] = [*st["heads"][:t], head[0].detach(), *st["heads"][t + 1:]]
        w = [*st["trunk"], st["heads"][t]]
        return lambda xb: forward(xb, net, w, stats, train=False)

    return _sequence(exp, ckpt, stream, net, "separate_heads", state, train_task)


def init_fast(net: ResNet, seed: int, task: int, device) -> list[torch.Tensor]:
    """Per conv: s ∈ {±1}^out then r ∈ {±1}^in, drawn from (seed, task)."""
    g = generator("batche-fast", seed, task)
    return [(torch.randint(0, 2, (n,), generator=g) * 2.0 - 1.0).to(device)
            for shape in net.shapes for n in (shape[0], shape[1])]


def fast_weights(weights, fast) -> list[torch.Tensor]:
    """W ⊙ s rᵀ per conv (s scales output channels, r input channels)."""
    return [w * s[:, None, None, None] * r[None, :, None, None] for w, s, r in zip(weights, fast[::2], fast[1::2])]


@register("batche_gg", version=VERSION, config="GGExperiment", setup="images")
def batche(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    n_fast, n_bn = 2 * len(net.shapes), len(net.bn_channels)
    state = {"w": torch_default(net, exp.seed, device),
             "fast": [f for t in range(exp.n_tasks) for f in init_fast(net, exp.seed, t, device)],
             "stats": [s for _ in range(exp.n_tasks) for s in init_stats(net, device)]}

    def train_task(t, st):
        stats = st["stats"][t * n_bn:(t + 1) * n_bn]
        fast = _leaves(st["fast"][t * n_fast:(t + 1) * n_fast])
        with_w = t == 0 and not exp.rand_w
        w = _leaves(st["w"]) if with_w else st["w"]
        params, lr = (fast + w, exp.baseline_lrs.first) if with_w else (fast, exp.baseline_lrs.fast)
        fit_epochs(stream, t, params, lambda x, y: F.cross_entropy(forward(x, net, fast_weights(w, fast), stats), y),
                   replace(task_epochs(exp.train, t, exp.first_epochs), lr=lr), exp.seed, ("batche", t), exp.train_limit, desc=f"batche {t}")
        st["w"] = [p.detach() for p in w]
        st["fast"][t * n_fast:(t + 1) * n_fast] = [f.detach() for f in fast]
        eff = fast_weights(st["w"], st["fast"][t * n_fast:(t + 1) * n_fast])
        return lambda xb: forward(xb, net, eff, stats, train=False)

    return _sequence(exp, ckpt, stream, net, "batche_gg", state, train_task)
