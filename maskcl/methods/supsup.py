"""SupSup — Supermasks in Superposition (Wortsman et al., 2020), top to bottom.

A fixed, randomly initialised network W (signed constants, `nets.init.signed_constant`) and one supermask M_i per
task: task i's network is W ⊙ M_i (eq. 1). Only a mask is learned, a mask is a bool tensor of W's shape, and it
is stored bit-packed (1 bit per weight).

1. **Training** (§4.2). Each mask comes from real-valued scores: M = 1[score ≥ 0] (or edge-popup's top-k of |score|),
   trained through a straight-through estimator (`masks.masked_weight`) with RMSprop, lr 1e-4, batch 128, 1000
   steps per task on the MLPs. `train_masks` below is the readable autograd version; by default the same bits come
   from `kernels.mlp_train` (gradients by hand, several times faster).
2. **GG** (task given at test time): task t is scored under its own mask.
3. **GNu** (task inferred at test time, §3.3): superpose the first k masks, W ⊙ Σ_i α_i M_i (eq. 2), and pick the
   task whose α most decreases the output entropy H (one-shot, eq. 4; or binary, Algorithm 2) — or the
   superfluous-neuron objective G (§3.6). `maskcl.infer` holds that, once for any net. Scoring (§4.2): each task's
   test set is cut into batches of 128, one task decision per batch (from its first image, or the full batch); a
   wrong decision makes the whole batch wrong. Accuracy after k tasks is the mean over tasks 1..k (`evaluate`).
4. **The runs**: `run` on the MLP streams (PermutedMNIST, RotatedMNIST, SplitMNIST; Fig. 3–6, Tables 3–8), and
   `run_gg` on the reduced ResNet-18 of SplitCIFAR (§4.1, Fig. 2-right, Table 2, appendix D.1, D.5, Fig. 11-right),
   where every task also gets its own batch-norm statistics, and GNu superposes them with the masks.
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import torch

from ..data import TaskStream
from ..infer import batch_correct, decision_groups, infer, superpose
from ..kernels import mlp_train
from ..loop import chunked, run_jobs, run_tasks
from ..masks import binary_mask, init_scores, mask_bytes, masked_weight, pack_bits, unpack_bits
from ..nets.init import signed_constant
from ..nets.mlp import MLP
from ..nets.resnet import EVAL_BATCH, ResNet, forward, init_stats
from ..registry import register
from ..scoring import accuracy
from ..store import Checkpoint
from ..train import TrainConfig, batched_loss, fit, in_groups, popup_epochs, task_batches, task_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1  # of `run` (the MLP streams)
VERSION_GG = 1  # of `run_gg` (SplitCIFAR)


# 1. Training: one supermask per task

def train_masks(stream: TaskStream, net: MLP, weights: list[torch.Tensor], tasks: Sequence[int], cfg: TrainConfig,
                seed: int, keys: Sequence | None = None, fast: bool = True) -> list[torch.Tensor]:
    """Supermasks for `tasks`, trained together (on a CPU, `train.CPU_GROUP` at a time); per layer a bool tensor
    (B, out, in). Task b's scores start from init_scores(net, seed, key_b) and see batches in the order
    batch_order(seed, key_b), key_b = keys[b] or tasks[b], so a mask does not depend on which others share its
    step; distinct keys on one task give distinct masks of it (ImpressLearn's homogeneous impressions).

    The loss is Σ_b of task b's mean cross-entropy under W ⊙ M(scores_b), so every task's scores get the gradient
    they would get alone. `fast` (default): the same bits by `kernels.mlp_train`, gradients by hand."""
    tasks, keys = list(tasks), list(keys or tasks)

    def group(part: slice) -> list[torch.Tensor]:
        if fast:
            return mlp_train.train_masks(stream, net, weights, tasks[part], cfg, seed, keys[part])
        device = weights[0].device
        per_task = [init_scores(net, seed, k) for k in keys[part]]
        scores = [torch.stack([s[l] for s in per_task]).to(device).requires_grad_() for l in range(len(weights))]
        order = task_batches(stream, tasks[part], cfg, seed, keys[part])
        loss = batched_loss(stream, order, tasks[part],
                            lambda: [masked_weight(w, s, cfg.mask, cfg.density) for w, s in zip(weights, scores)])
        fit(scores, loss, cfg, desc=f"masks {tasks[part][0]}..{tasks[part][-1]}")
        return [binary_mask(s, cfg.mask, cfg.density, layer_dims=s.dim() - 1) for s in scores]

    return in_groups(weights[0].device, len(tasks), group)


def learn_masks(stream: TaskStream, net: MLP, weights, tasks, cfg: TrainConfig, seed: int, ckpt: Checkpoint,
                chunk: int, name: str = "masks", keys=None) -> list[torch.Tensor]:
    """`train_masks` through the task loop (`maskcl.loop`, in the sub-checkpoint `name`), `chunk` masks at a
    time, each kept bit-packed, so an interrupted run resumes at the first missing chunk. Per layer bool
    (n, out, in)."""
    tasks, keys = list(tasks), list(keys or tasks)

    def learn(idx, progress):
        masks = train_masks(stream, net, weights, [tasks[i] for i in idx], cfg, seed, [keys[i] for i in idx])
        return [({}, {"layer": [pack_bits(m[b].flatten()) for m in masks]}) for b in range(len(idx))]

    chunks = chunked(len(tasks), chunk)
    kept = run_tasks(ckpt.sub(name), len(tasks), learn, chunks=chunks, device=weights[0].device, desc=name).kept
    return [torch.stack([unpack_bits(k["layer"][l], math.prod(shape)).view(shape) for k in kept])
            for l, shape in enumerate(net.shapes)]


# 2.–3. Scoring: GG, and GNu with the task inferred per test batch

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


# 4. The runs

@register("supsup", version=VERSION, config="StreamExperiment", setup="stream")
def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    """SupSup on an MLP stream: exp.n_tasks masks (`learn_masks`), then GG and every GNu variant of exp at each of
    exp.checkpoints (`evaluate`)."""
    weights = [w.to(getattr(torch, exp.precision)) for w in signed_constant(net, exp.seed, device)]
    masks = learn_masks(stream, net, weights, range(exp.n_tasks), exp.train, exp.seed, ckpt, exp.chunk)
    per_task = evaluate(stream, weights, masks, exp, ckpt)
    density = [float(m.float().mean()) for m in masks]
    return {"rows": result_rows(per_task, exp.checkpoints), "per_task": per_task, "mask_density_per_layer": density,
            "mask_bytes_packed": mask_bytes(net, packed=True), "mask_bytes_bool": mask_bytes(net, packed=False)}


# On SplitCIFAR (a conv net with per-task batch-norm statistics). Layer l keeps the top density_l of |score| with
# the Erdős–Rényi budget of the official code, density_l = min(0.5, k·(out + in)/(out·in·kh·kw)), k ∈ {1, …, 32}.
# Training (D.1): Adam lr 1e-3, batch 128, cosine decay, augmented images.
#
# Transfer (D.5): task i's scores start from the running mean of the earlier tasks' scores, S_i = (1/i) Σ_{j<i} S_j,
# instead of a fresh Kaiming-uniform draw, rescaled per layer to the norm of a fresh draw — the paper's "normalise
# … so that the norm of our supermask matrix is reasonable" (`transfer_rescale`, on by default; off: the plain
# mean — the released line divides by a scalar norm, which leaves the starting mask unchanged, and cannot run as
# written). A mean of the earlier *binary* masks is not usable: every weight no earlier task kept gets score
# exactly 0, where the straight-through gradient through |s| is 0, so those scores never move and the new mask is
# frozen among ties.

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


def train_conv_task(stream, net: ResNet, weights, task: int, scores0, densities, cfg, seed: int, limit=None,
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


@register("supsup_gg", version=VERSION_GG, config="GGExperiment", setup="images")
def run_gg(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    """Tasks 0..n−1 in turn (task 0 for exp.first_epochs when set); each task's mask and statistics (and, with
    Transfer, the running sum of the tasks' scores) are checkpointed as it finishes, so a killed run resumes at the
    next task. With exp.objectives, then scenario GNu: the task inferred at test time among the first k masks,
    each with its own statistics (`evaluate`, `maskcl.infer`). Resumable through `maskcl.loop`."""
    weights = signed_constant(net, exp.seed, device)
    densities = er_densities(net, exp.sparsity)

    def learn(tasks, progress):
        t, = tasks
        fresh = init_scores(net, exp.seed, t)
        score_sum = progress.carry.get("score_sum")
        scores0 = transfer_init(score_sum, t, fresh if exp.transfer_rescale else None) if score_sum else fresh
        m, stats, curve, scores = train_conv_task(stream, net, weights, t, scores0, densities,
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
