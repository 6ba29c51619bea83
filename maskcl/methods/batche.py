"""BatchE — BatchEnsemble (Wen et al. 2020) as SupSup's baseline (§4.2, appendix C and D.3; Fig. 5, 10;
Tables 3, 4, 6, 7).

Task i uses, in every layer including the last, W_l ⊙ s_{i,l} r_{i,l}ᵀ (eq. 10): a rank-one "fast weight" per task
and layer. W is trained together with the first task's fast weights and then frozen; each later task trains
only its own r ∈ R^in and s ∈ R^out (random ±1 at the start). The SupSup repository's settings: Kaiming-normal
W, Adam (weight decay 1e-4, the official `--wd` default), lr 1e-4 on the first task and 1e-2 for later fast weights,
1000 steps of batch 128 per task.

Task inference: attach α_i to every rank-one matrix and run SupSup's one-shot on W ⊙ Σ_i α_i s_i r_iᵀ — the
rank-one matrices play the role of real-valued masks (Fig. 5-right). ABatchE (appendix C) instead repeats a
batch of b images once per task and picks the task whose outputs have the lowest summed entropy H (or
confidence M = −max p), with no backward pass (Fig. 10).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nets.init import kaiming_normal
from ..nets.mlp import MLP, forward
from ..data import TaskStream
from ..infer import batch_correct, decision_groups, entropy
from ..loop import chunked, run_jobs, run_tasks
from ..seeding import generator
from ..registry import register
from ..store import Checkpoint
from ..kernels.mlp_train import batched_grads
from .supsup import decided, evaluate, result_rows
from ..train import TrainConfig, fit, in_groups, task_batches

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 2  # 2: Adam weight decay 1e-4, as the official code


@dataclass(frozen=True)
class BatchEConfig:
    """Learning rates of the first task (W and its fast weights) and of later tasks' fast weights, and Adam's L2
    weight decay on every trained tensor (the official `main.py` passes `--wd`, default 1e-4, to Adam)."""

    first_lr: float = 1e-4
    lr: float = 1e-2
    weight_decay: float = 1e-4


def init_fast(net: MLP, seed: int, task: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(r_l, s_l) per layer, entries ±1 drawn from (seed, task)."""
    g = generator("batche-fast", seed, task)
    sign = lambda n: torch.randint(0, 2, (n,), generator=g) * 2.0 - 1.0  # noqa: E731
    rs = [(sign(i), sign(o)) for o, i in net.shapes]
    return [r for r, _ in rs], [s for _, s in rs]


def rank_one(r: list[torch.Tensor], s: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer the fast-weight matrices s rᵀ: r[l] (B, in), s[l] (B, out) → (B, out, in)."""
    return [sl[:, :, None] * rl[:, None, :] for rl, sl in zip(r, s)]


def train_fast(stream: TaskStream, exp, tasks: list[int], ws: list[torch.Tensor], r: list[torch.Tensor],
               s: list[torch.Tensor], lr: float, cfg: BatchEConfig, train_w: bool = False):
    """Adam on the stacked fast weights r, s of `tasks` (and on W with `train_w`), trained in place and returned
    as (W, r, s). Gradients by hand, as autograd takes them through W ⊙ s rᵀ: with G = ∂L/∂(W ⊙ s rᵀ) from
    `batched_grads`, ∂L/∂(s rᵀ) = G ⊙ W, ∂L/∂r = Σ_out (G ⊙ W ⊙ s), ∂L/∂s = Σ_in (G ⊙ W ⊙ r),
    ∂L/∂W = Σ_tasks G ⊙ s rᵀ."""
    order = task_batches(stream, tasks, exp.train, exp.seed)
    fast: list[torch.Tensor] = []  # this step's s rᵀ, formed once for the forward and reused for W's gradient

    def weights_of_step() -> list[torch.Tensor]:
        fast[:] = rank_one(r, s)
        return [w * m for w, m in zip(ws, fast)]

    grads = batched_grads(stream, order, tasks, weights_of_step)

    def step_grads(step: int) -> list[torch.Tensor]:
        gw, gr, gs = [], [], []
        for g, w, m, rl, sl in zip(grads(step), ws, fast, r, s):
            g = g.mT.contiguous().mT  # autograd's layout (out, in transposed), so the sums reduce in its order
            gm = g * w
            gr.append((gm * sl[:, :, None]).sum(1))
            gs.append((gm * rl[:, None, :]).sum(2))
            if train_w:
                gw.append((g * m).sum(0))
        return [*gw, *gr, *gs]

    fit([*ws, *r, *s] if train_w else [*r, *s], step_grads,
        TrainConfig(steps=exp.train.steps, batch=exp.train.batch, lr=lr), desc=f"batche {tasks[0]}",
        optimizer="adam", weight_decay=cfg.weight_decay, by_hand=True)
    return ws, r, s


def train(stream: TaskStream, net: MLP, exp, cfg: BatchEConfig, ckpt: Checkpoint, device):
    """W and every task's fast weights (r, s stacked over tasks), trained as BatchE does, through the task loop:
    task 0 trains W with its fast weights, then chunks of `exp.chunk` later tasks (independent given W) train
    theirs together."""
    n_layers = len(net.shapes)

    def learn(tasks, progress):
        fast = [init_fast(net, exp.seed, t) for t in tasks]
        r0 = [torch.stack([f[0][l] for f in fast]).to(device) for l in range(n_layers)]
        s0 = [torch.stack([f[1][l] for f in fast]).to(device) for l in range(n_layers)]
        if tasks == [0]:  # the first task also trains W
            progress.carry["weights"], rt, st = train_fast(stream, exp, tasks, [w.clone() for w in progress.carry["weights"]],
                                                           r0, s0, cfg.first_lr, cfg, True)
        else:  # later tasks are independent given W: on a CPU, CPU_GROUP at a time
            def group(part: slice) -> list[torch.Tensor]:
                _, r_part, s_part = train_fast(stream, exp, tasks[part], progress.carry["weights"],
                                               [x[part] for x in r0], [x[part] for x in s0], cfg.lr, cfg)
                return r_part + s_part

            trained = in_groups(device, len(tasks), group)
            rt, st = trained[:n_layers], trained[n_layers:]
        return [({}, {"r": [x[b] for x in rt], "s": [x[b] for x in st]}) for b in range(len(tasks))]

    chunks = [[0]] + chunked(exp.n_tasks, exp.chunk, start=1)
    progress = run_tasks(ckpt, exp.n_tasks, learn, {"weights": kaiming_normal(net, exp.seed, device)}, chunks,
                         device, desc="batche")
    r, s = ([torch.stack([k[name][l] for k in progress.kept]) for l in range(n_layers)] for name in ("r", "s"))
    return progress.carry["weights"], r, s


def abatche(weights, r, s, x: torch.Tensor, objective: str = "H", chunk: int = 2 ** 25) -> torch.Tensor:
    """Appendix C: x (G, b, in) groups of b images; each group is run once per task (all k at once) and the
    task with the lowest Σ_images H (or M = −max p) is returned, (G,). No backward pass. `chunk` bounds the
    elements of one (groups × tasks × images × width) activation."""
    if objective not in ("H", "M"):
        raise ValueError(f"unknown ABatchE objective {objective!r}; choose 'H' or 'M'")
    fast = [w * m for w, m in zip(weights, rank_one(r, s))]
    k, width = fast[0].shape[0], max(max(w.shape[-2:]) for w in weights)
    step = max(1, chunk // (k * x.shape[1] * width))
    out = []
    with torch.no_grad():
        for g0 in range(0, x.shape[0], step):
            xs = x[g0:g0 + step]
            # every image of the chunk, once per task: (1, g·b, in) against (k, out, in) weights → (k, g·b, out)
            h = forward(xs.reshape(1, -1, xs.shape[-1]), fast)
            h = h.view(k, *xs.shape[:2], -1).transpose(0, 1)  # (g, k, b, out)
            score = entropy(h) if objective == "H" else -F.softmax(h, -1).max(-1).values
            out.append(score.sum(-1).argmin(-1))
    return torch.cat(out)


def evaluate_abatche(stream: TaskStream, weights, r, s, exp, ckpt: Checkpoint) -> dict:
    """Fig. 10: for every checkpoint k, objective (H, M) and group size b in `exp.abatche`, each task's test set is
    cut into groups of b images and ABatchE picks each group's task among the first k; a wrong pick makes the
    whole group wrong. Per-task accuracies and task-inference rates, resumable."""
    own = rank_one(r, s)
    jobs = {f"ABatchE {objective}|{b}|{k}": (k, objective, b)
            for k, objective, b in itertools.product(exp.checkpoints, ("H", "M"), exp.abatche)}

    def score(label):
        k, objective, b = jobs[label]
        return decided(stream, k, exp.test_limit,
                       lambda x: torch.cat([abatche(weights, [v[:k] for v in r], [v[:k] for v in s], g, objective)
                                            for g in decision_groups(x, b, "full")]),
                       lambda t, x, y: batch_correct(weights, [m[t] for m in own], x, y, b))

    out = {}
    for label, (acc, hit) in run_jobs(ckpt, "abatche", list(jobs), score).items():
        out[label], out[f"task-inference {label}"] = acc, hit
    return out


@register("batche", version=VERSION, config="StreamExperiment", setup="stream")
def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    """BatchE with task identity (GG), with SupSup's one-shot task inference over the rank-one matrices
    (GNu; `exp.objectives` × `exp.decide`) and, for the group sizes in `exp.abatche`, ABatchE — at every
    checkpoint."""
    weights, r, s = train(stream, net, exp, exp.batche, ckpt, device)
    per_task = evaluate(stream, weights, rank_one(r, s), exp, ckpt)
    rows = result_rows(per_task, exp.checkpoints, "BatchE")
    if exp.abatche:
        extra = evaluate_abatche(stream, weights, r, s, exp, ckpt)
        for label in sorted((l for l in extra if not l.startswith("task-inference")),
                            key=lambda l: (l.split("|")[0], int(l.split("|")[1]), int(l.split("|")[2]))):
            objective, b, k = label.split("|")
            rows.append({"method": f"{objective} (b={b})", "tasks": int(k),
                         "accuracy": sum(extra[label]) / len(extra[label]),
                         "task_inference": sum(extra[f"task-inference {label}"]) / len(extra[label])})
        per_task.update(extra)
    return {"rows": rows, "per_task": per_task}
