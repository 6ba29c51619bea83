"""SupSup in scenario GG on a conv net (§4.1, Fig. 2-right, Table 2, appendix D.1, D.5, Fig. 11-right).

Every task gets its own edge-popup supermask over one frozen signed-constant reduced ResNet-18, and its own
batch-norm statistics; the task is given at test time. Layer l keeps the top density_l of |score| with the
Erdős–Rényi budget of the official code, density_l = min(0.5, k·(out + in)/(out·in·kh·kw)) for k ∈ {1, …, 32}.
Training (D.1): Adam lr 1e-3, batch 128, cosine decay, augmented images.

Transfer (D.5): task i's scores start from the running mean of the earlier tasks' scores, S_i = (1/i) Σ_{j<i} S_j,
instead of a fresh Kaiming-uniform draw, rescaled per layer to the norm of a fresh draw — the paper's "normalise
… so that the norm of our supermask matrix is reasonable" (`transfer_rescale`, on by default; off: the plain
mean — the released line divides by a scalar norm, which leaves the starting mask unchanged, and cannot run as
written). A mean of the
earlier *binary* masks is not usable: every weight no earlier task kept gets score exactly 0, where the
straight-through gradient through |s| is 0, so those scores never move and the new mask is frozen among ties.
"""
from __future__ import annotations

import math

import torch

from ..masks import binary_mask, init_scores, pack_bits, unpack_bits
from ..nets.init import signed_constant
from ..nets.resnet import EVAL_BATCH, ResNet, forward, init_stats
from ..loop import run_tasks
from ..scoring import accuracy, evaluate, result_rows
from ..registry import register
from ..store import Checkpoint
from ..train import popup_epochs, task_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1

def er_densities(net, k: float) -> list[float]:
    """Erdős–Rényi layer budget of the SupSup code: min(0.5, k·(out + in)/(out·in·kh·kw)) per layer."""
    return [min(0.5, k * (s[0] + s[1]) / math.prod(s)) for s in net.shapes]


def transfer_init(score_sum: list[torch.Tensor], n_earlier: int, fresh: list[torch.Tensor] | None = None):
    """Scores of the next task: the running mean of the earlier tasks' final scores, Σ_j S_j / i; with `fresh`
    (a Kaiming-uniform draw), rescaled per layer to its norm (the paper's "normalise … so that the norm is
    reasonable": a mean of i tasks' scores is ~√i times smaller than one draw)."""
    mean = [s / n_earlier for s in score_sum]
    if fresh is None:
        return mean
    return [m * (f.norm() / m.norm()) for m, f in zip(mean, fresh)]


def masked(weights, masks) -> list[torch.Tensor]:
    return [w * m for w, m in zip(weights, masks)]


def train_task(stream, net: ResNet, weights, task: int, scores0, densities, cfg, seed: int, limit=None,
               curve_limit: int | None = 0) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float], list]:
    """Edge-popup for one task from scores0: returns its bool masks, its batch-norm statistics, (unless
    curve_limit == 0) the test accuracy after every epoch on its first `curve_limit` test images, and its final
    scores."""
    scores = [s.clone().to(weights[0].device).requires_grad_() for s in scores0]
    stats = init_stats(net, weights[0].device)
    curve = []

    def after_epoch(epoch: int) -> None:
        if curve_limit != 0:
            m = [binary_mask(s, "topk", d) for s, d in zip(scores, densities)]
            x, y = stream.task_data(task, "test", curve_limit)
            curve.append(accuracy(lambda xb: forward(xb, net, masked(weights, m), stats, train=False), x, y, EVAL_BATCH))

    popup_epochs(stream, net, weights, task, scores, densities, stats, cfg, seed, ("supsup-gg", task), limit,
                 f"task {task}", after_epoch)
    return ([binary_mask(s, "topk", d) for s, d in zip(scores, densities)], stats, curve,
            [s.detach() for s in scores])


@register("supsup_gg", version=VERSION, config="GGExperiment", setup="images")
def run(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    """Tasks 0..n−1 in turn (task 0 for exp.first_epochs when set); each task's mask and statistics (and, with
    Transfer, the running sum of the tasks' scores) are checkpointed as it finishes, so a killed run resumes at the
    next task. With exp.objectives, then scenario GNu: the task inferred at test time among the first k masks,
    each with its own statistics (`scoring.evaluate`, `maskcl.infer`). Resumable through `maskcl.loop`."""
    weights = signed_constant(net, exp.seed, device)
    densities = er_densities(net, exp.sparsity)

    def learn(tasks, progress):
        t, = tasks
        fresh = init_scores(net, exp.seed, t)
        score_sum = progress.carry.get("score_sum")
        scores0 = transfer_init(score_sum, t, fresh if exp.transfer_rescale else None) if score_sum else fresh
        m, stats, curve, scores = train_task(stream, net, weights, t, scores0, densities,
                                             task_epochs(exp.train, t, exp.first_epochs), exp.seed,
                                             exp.train_limit, exp.test_limit if exp.curves else 0)
        x, y = stream.task_data(t, "test", exp.test_limit)
        acc = accuracy(lambda xb: forward(xb, net, masked(weights, m), stats, train=False), x, y, EVAL_BATCH)
        if exp.transfer:  # Σ of the final scores over tasks 0..t
            progress.carry["score_sum"] = scores if score_sum is None else [a + b for a, b in zip(score_sum, scores)]
        return [({"accuracy": acc, "curve": curve}, {"layer": [pack_bits(v.flatten()) for v in m], "stats": stats})]

    log = run_tasks(ckpt, exp.n_tasks, learn, device=device, desc="SupSup GG")
    masks = [[unpack_bits(p, math.prod(s)).view(s) for p, s in zip(k["layer"], net.shapes)] for k in log.kept]
    task_stats = [k["stats"] for k in log.kept]
    acc = [r["accuracy"] for r in log.log]
    gnu = gnu_rows(exp, ckpt, stream, net, weights, masks, task_stats) if exp.objectives else {}
    name = "SupSup (GG)" + (" Transfer" if exp.transfer else "") + ("" if exp.transfer_rescale or not exp.transfer
                                                                   else ", unnormalised")
    return {"rows": [{"method": name, "sparsity": exp.sparsity, "tasks": exp.n_tasks, "accuracy": sum(acc) / len(acc)},
                     *gnu.get("rows", [])],
            "per_task": {name: acc, **gnu.get("per_task", {})}, "curves": [r["curve"] for r in log.log],
            "mask_density_per_layer": [float(torch.stack([m[l] for m in masks]).float().mean())
                                       for l in range(len(net.shapes))]}


def gnu_rows(exp, ckpt: Checkpoint, stream, net: ResNet, weights, masks, task_stats) -> dict:
    """Scenario GNu on the trained tasks: rows 'SupSup (GG)' and 'SupSup (GNu …)' per checkpoint (as on MNIST:
    accuracy with the task inferred per test batch, and the fraction inferred right). Each candidate task brings its
    own mask *and* batch-norm statistics; the superposed net mixes both with α (`maskcl.infer`)."""
    stacked = [torch.stack([m[l] for m in masks]) for l in range(len(net.shapes))]
    per_task = evaluate(stream, weights, stacked, exp, ckpt, net, task_stats, n_real=exp.per_task)
    rows = [r for r in result_rows(per_task, exp.checkpoints) if r["method"] != "SupSup (GG)"]
    return {"rows": [{**r, "sparsity": exp.sparsity} for r in rows],
            "per_task": {k: v for k, v in per_task.items() if k != "GG"}}
