"""ExSSNeT (Yadav & Bansal 2023): exclusive supermask subnetwork training, and KNN-based knowledge transfer (KKT).

For task i, with weights W⁽ⁱ⁻¹⁾ left by the earlier tasks (§3.1, Algorithm 1):
1. learn a supermask Mᵢ on W⁽ⁱ⁻¹⁾ (edge-popup, as SupSup);
2. free mask M_freeᵢ = Mᵢ ∧ ¬(M₁ ∨ … ∨ Mᵢ₋₁): the weights of Mᵢ no earlier task uses;
3. train weights through all of Mᵢ in the forward pass, but update only the free ones, so every earlier task's
   subnetwork — and its predictions — stays exactly as it was. SSNeT trains every weight of Mᵢ.
Sparse overlap (eq. 2): SO = (ΣMᵢ − ΣM_freeᵢ) / ΣMᵢ, the share of Mᵢ already used by earlier tasks.
KKT (§3.2): embed a few batches of the new task with each earlier task's subnetwork, fit one KNN classifier per
earlier task on part of them, score it on the rest, and start Mᵢ's scores from the best task's scores when it
beats chance.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..masks import binary_mask, init_scores, pack_bits, unpack_bits
from ..nets.init import signed_constant
from ..loop import run_tasks
from ..metrics import accuracy_matrix, average_accuracy, forgetting
from ..scoring import task_accuracy
from ..seeding import generator
from ..registry import register
from ..store import Checkpoint
from ..train import fit_epochs, popup_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


def free_mask(mask: list[torch.Tensor], earlier: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """M_free = M ∧ ¬(∨_j M_j) per layer; with no earlier masks, all of M is free."""
    if not earlier:
        return [m.clone() for m in mask]
    used = [torch.stack([e[l] for e in earlier]).any(0) for l in range(len(mask))]
    return [m & ~u for m, u in zip(mask, used)]


def sparse_overlap(mask: list[torch.Tensor], free: list[torch.Tensor]) -> float:
    """Eq. 2 over all layers: (ΣM − ΣM_free) / ΣM."""
    total = sum(int(m.sum()) for m in mask)
    return (total - sum(int(f.sum()) for f in free)) / total


class _ExclusiveWeight(torch.autograd.Function):
    """W ⊙ M in one pass; ∂L/∂W = ∂L/∂(W ⊙ M) ⊙ G, G the entries allowed to learn."""

    @staticmethod
    def forward(ctx, w, mask, learn):
        ctx.save_for_backward(learn)
        return w * mask.to(w.dtype)

    @staticmethod
    def backward(ctx, grad):
        (learn,) = ctx.saved_tensors
        return grad * learn.to(grad.dtype), None, None


def exclusive_weight(w: torch.Tensor, mask: torch.Tensor, free: torch.Tensor | None) -> torch.Tensor:
    """W ⊙ M for the forward pass with ∂/∂W reaching only the free entries (free=None: all of M, SSNeT).

    The paper writes the forward mask as M̂ = M_free + ((1 − M_free) ⊙ M).detach(); as written the gradient of
    W ⊙ M̂ with respect to W is M̂ itself, non-zero on shared weights too, so we implement what the text says it
    does — the value of W ⊙ M, the gradient of W ⊙ M_free — in one element-wise pass each way (bit for bit
    `w * free + (w * (mask & ~free)).detach()`, tested). Masks may be bool or already in W's dtype (a training
    loop converts them once)."""
    return _ExclusiveWeight.apply(w, mask, mask if free is None else free)


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, k: int,
                n_classes: int) -> torch.Tensor:
    """k-nearest-neighbour labels of test_x by Euclidean distance to train_x; majority vote, ties to the label
    with the smaller summed distance."""
    d = torch.cdist(test_x, train_x)
    k = min(k, len(train_x))
    dist, idx = d.topk(k, largest=False)
    dist = dist.double()
    votes = torch.zeros(len(test_x), n_classes, dtype=torch.float64, device=test_x.device).scatter_add_(
        1, train_y[idx], torch.ones_like(dist))
    closeness = torch.zeros_like(votes).scatter_add_(1, train_y[idx], -dist)  # in [−Σ dist, 0]
    # lexicographic: one vote outweighs any difference in summed distance
    return (votes * (dist.sum(1, keepdim=True) + 1) + closeness).argmax(1)


def kkt_source(features: list[torch.Tensor], y: torch.Tensor, n_train: int, k: int,
               n_classes: int) -> tuple[int | None, list[float]]:
    """KKT (§3.2): features[j] (n, d) are the new task's samples embedded by earlier task j's subnetwork; a KNN on
    the first n_train samples is scored on the rest. Returns the earlier task whose KNN scores best if that beats
    chance (1 / n_classes), else None (start from a fresh initialisation), and every task's KNN accuracy."""
    scores = []
    for f in features:
        pred = knn_predict(f[:n_train], y[:n_train], f[n_train:], k, n_classes)
        scores.append(float((pred == y[n_train:]).float().mean()))
    if not scores:
        return None, scores
    best = max(range(len(scores)), key=scores.__getitem__)
    return (best if scores[best] > 1.0 / n_classes else None), scores


VARIANTS = ("supsup", "ssnet", "exssnet")


def _masked(weights, masks) -> list[torch.Tensor]:
    return [w * m for w, m in zip(weights, masks)]


def _score(stream, net, weights, mask, stats, task: int, split: str, limit=None) -> float:
    return task_accuracy(stream, net, _masked(weights, mask), stats, task, split, limit)


def kkt(exp, stream, net, weights, masks, stats, task: int) -> tuple[int | None, list[float]]:
    """KKT before learning `task`: exp.kkt_batches batches of exp.kkt_batch (64) of its training rows (drawn from
    (seed, task)), embedded by every earlier task's subnetwork (current W ⊙ M_j, its statistics, evaluation mode);
    the first exp.kkt_fit (66 %) fit the KNNs (the ExSSNeT code's split), the rest score them."""
    rows = stream.indices(task, "train")[:exp.train_limit]
    rows = rows[torch.randperm(len(rows), generator=generator("kkt", exp.seed, task)).to(rows.device)]
    x, y = stream.inputs("train", rows[: exp.kkt_batch * exp.kkt_batches])
    with torch.no_grad():
        features = [net.forward(x, _masked(weights, m), s, train=False, head=False).flatten(1)
                    for m, s in zip(masks, stats)]
    return kkt_source(features, y, int(exp.kkt_fit * len(y)), exp.kkt_k, exp.per_task)


def _val_curve(exp, stream, net, weights_of, mask_of, stats, task: int, curve: list):
    """after_epoch(e) for fit_epochs: append the validation accuracy of the current weights and mask (none when
    the stream holds no validation split)."""
    def after_epoch(_):
        if "val" in stream.x:
            curve.append(_score(stream, net, weights_of(), mask_of(), stats, task, "val", exp.test_limit))
    return after_epoch


def learn_mask(exp, stream, net, weights, scores0, stats, task: int, curve: list):
    """The mask phase: edge-popup scores from `scores0` on the fixed `weights`, top exp.density of every layer;
    returns the bool mask and the final scores."""
    scores = [s.clone().to(weights[0].device).requires_grad_() for s in scores0]
    masks_of = lambda: [binary_mask(s, "topk", exp.density) for s in scores]  # noqa: E731
    popup_epochs(stream, net, weights, task, scores, [exp.density] * len(scores), stats, exp.mask, exp.seed,
                 ("exssnet-mask", task), exp.train_limit, f"task {task} mask",
                 _val_curve(exp, stream, net, lambda: weights, masks_of, stats, task, curve))
    return masks_of(), [s.detach() for s in scores]


def train_weights(exp, stream, net, weights, mask, free, stats, task: int, curve: list) -> list[torch.Tensor]:
    """The weight phase: W trained through all of `mask`, with a gradient only on `free` (ExSSNeT; None per layer:
    all of the mask, SSNeT); returns the new W."""
    params = [w.clone().requires_grad_() for w in weights]
    as_float = [(m.to(w.dtype), None if f is None else f.to(w.dtype)) for w, m, f in zip(weights, mask, free)]

    def loss(x, y):
        w = [exclusive_weight(a, m, f) for a, (m, f) in zip(params, as_float)]
        return F.cross_entropy(net.forward(x, w, stats, train=True), y)

    fit_epochs(stream, task, params, loss, exp.weights, exp.seed, ("exssnet-weights", task), exp.train_limit,
               f"task {task} weights", _val_curve(exp, stream, net, lambda: params, lambda: mask, stats, task, curve))
    return [p.detach() for p in params]


@register("exssnet", version=VERSION, config="CLExperiment", setup="classes")
def run(exp, ckpt: Checkpoint, stream, net, device) -> dict:
    """SupSup, SSNeT or ExSSNeT (exp.variant), ± KKT, over the tasks of a class split, in turn.

    Task t: (KKT) → mask phase on the current W → (SSNeT/ExSSNeT) weight phase → the accuracy of every task
    learned so far, each with its own mask (and statistics) and the current W: row t of the accuracy matrix. The
    validation accuracy after every epoch of both phases is kept (ExSSNeT Fig. 4). Each task's mask, statistics and
    final scores, and W after it, are checkpointed as it finishes (`maskcl.loop`), so a killed run resumes at the
    next task."""
    n_layers = len(net.shapes)
    masks, stats, final_scores = [], [], []  # every finished task's, in memory

    def learn(tasks, progress):
        t, = tasks
        for k in progress.kept[len(masks):]:  # tasks finished before a resume
            masks.append([unpack_bits(p, math.prod(s)).view(s) for p, s in zip(k["layer"], net.shapes)])
            stats.append(k["stats"])
            final_scores.append(k["scores"])
        weights = progress.carry["weights"]
        source, knn = kkt(exp, stream, net, weights, masks, stats, t) if exp.kkt and t else (None, [])
        st, curve = net.init_state(device), []
        mask, scores = learn_mask(exp, stream, net, weights, final_scores[source] if source is not None
                                  else init_scores(net, exp.seed, t), st, t, curve)
        free = free_mask(mask, masks)
        if exp.variant != "supsup":  # SSNeT trains all of M_t
            weights = train_weights(exp, stream, net, weights, mask, free if exp.variant == "exssnet"
                                    else [None] * n_layers, st, t, curve)
            progress.carry["weights"] = weights
        masks.append(mask)
        stats.append(st)
        final_scores.append(scores)
        record = {"accuracy": [_score(stream, net, weights, masks[j], stats[j], j, "test", exp.test_limit)
                               for j in range(t + 1)],
                  "curves": curve, "overlap": sparse_overlap(mask, free) if t else 0.0,
                  "kkt": {"source": source, "knn_accuracy": knn}}
        return [(record, {"layer": [pack_bits(m.flatten()) for m in mask], "stats": st, "scores": scores})]

    log = run_tasks(ckpt, exp.n_tasks, learn, {"weights": signed_constant(net, exp.seed, device)}, device=device,
                    desc=exp.variant).log
    return summary({name: [r[name] for r in log] for name in ("accuracy", "curves", "overlap", "kkt")}, exp)


def summary(state: dict, exp) -> dict:
    """Rows of A(T), F(T) and the average sparse overlap (tasks 2..N: the first task overlaps nothing), with the
    accuracy matrix, the curves and the KKT choices."""
    a = accuracy_matrix(state["accuracy"], exp.n_tasks)
    name = {"supsup": "SupSup", "ssnet": "SSNeT", "exssnet": "ExSSNeT"}[exp.variant] + (" + KKT" if exp.kkt else "")
    so = state["overlap"][1:]
    return {"rows": [{"method": name, "density": exp.density, "tasks": exp.n_tasks, "accuracy": average_accuracy(a),
                      "forgetting": forgetting(a), "sparse_overlap": 100 * sum(so) / len(so) if so else 0.0}],
            "accuracy_rows": state["accuracy"], "curves": state["curves"], "sparse_overlap": state["overlap"], "kkt": state["kkt"]}
