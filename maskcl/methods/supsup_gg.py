"""SupSup in scenario GG on a conv net (§4.1, Fig. 2-right, Table 2, appendix D.1, D.5, Fig. 11-right).

Every task gets its own edge-popup supermask over one frozen signed-constant reduced ResNet-18, and its own
batch-norm statistics; the task is given at test time. Layer l keeps the top density_l of |score| with the
Erdős–Rényi budget of the official code, density_l = min(0.5, k·(out + in)/(out·in·kh·kw)) for k ∈ {1, …, 32}.
Training (D.1): Adam lr 1e-3, batch 128, cosine decay, augmented images.

Transfer (D.5): task i's scores start from the running mean of the earlier tasks' *binary* masks,
S_i = (1/i) Σ_{j<i} M_j (what the released code stacks: `get_subnet` masks), instead of a fresh Kaiming-uniform
draw. The paper also "normalises by the Kaiming fan-in constant"; the released line divides the stacked masks by
`scores[:i].norm()`, a scalar, which leaves the top-k — the starting mask — unchanged (and as written it cannot
run: a ParameterList slice has no `norm`), so we start from the plain mean and say so in notebook 08.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..masks import binary_mask, init_scores, masked_weight, pack_bits, unpack_bits
from ..nets.init import signed_constant
from ..nets.resnet import ResNet, forward, init_stats
from ..progress import bar
from ..scoring import accuracy
from ..store import Checkpoint
from ..train import fit_epochs

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1

EVAL_BATCH = 500  # test images per forward pass (memory only; results do not depend on it)


def er_densities(net, k: float) -> list[float]:
    """Erdős–Rényi layer budget of the SupSup code: min(0.5, k·(out + in)/(out·in·kh·kw)) per layer."""
    return [min(0.5, k * (s[0] + s[1]) / math.prod(s)) for s in net.shapes]


def transfer_init(masks: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Scores of the next task: the per-weight mean of the earlier tasks' bool masks (masks[task][layer])."""
    return [torch.stack([m[l] for m in masks]).float().mean(0) for l in range(len(masks[0]))]


def masked(weights, masks) -> list[torch.Tensor]:
    return [w * m for w, m in zip(weights, masks)]


def train_task(stream, net: ResNet, weights, task: int, scores0, densities, cfg, seed: int, limit=None,
               curve_limit: int | None = 0) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float]]:
    """Edge-popup for one task from scores0: returns its bool masks, its batch-norm statistics and (unless
    curve_limit == 0) the test accuracy after every epoch on its first `curve_limit` test images."""
    scores = [s.clone().to(weights[0].device).requires_grad_() for s in scores0]
    stats = init_stats(net, weights[0].device)
    current = lambda: [masked_weight(w, s, "topk", d) for w, s, d in zip(weights, scores, densities)]  # noqa: E731
    curve = []

    def after_epoch(epoch: int) -> None:
        if curve_limit != 0:
            m = [binary_mask(s, "topk", d) for s, d in zip(scores, densities)]
            x, y = stream.task_data(task, "test", curve_limit)
            curve.append(accuracy(lambda xb: forward(xb, net, masked(weights, m), stats, train=False), x, y, EVAL_BATCH))

    fit_epochs(stream, task, scores, lambda x, y: F.cross_entropy(forward(x, net, current(), stats), y), cfg, seed,
               ("supsup-gg", task), limit, desc=f"task {task}", after_epoch=after_epoch)
    return [binary_mask(s, "topk", d) for s, d in zip(scores, densities)], stats, curve


def run(exp, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    """Tasks 0..n−1 in turn (task 0 for exp.first_epochs when set); each task's mask and statistics are
    checkpointed bit-packed as it finishes, so a killed run resumes at the next task."""
    weights = signed_constant(net, exp.seed, device)
    densities = er_densities(net, exp.sparsity)
    state = ckpt.load_json("gg.json", {"accuracy": [], "curves": []})
    masks = []
    for t in range(len(state["accuracy"])):
        packed, stats = ckpt.load_layers(f"task_{t:03d}.safetensors", len(net.shapes), device,
                                         stats=len(net.bn_channels))
        masks.append([unpack_bits(p, math.prod(s)).view(s) for p, s in zip(packed, net.shapes)])
    for t in bar(range(len(state["accuracy"]), exp.n_tasks), desc="SupSup GG"):
        scores0 = transfer_init(masks) if exp.transfer and masks else init_scores(net, exp.seed, t)
        cfg = exp.train if t > 0 or exp.first_epochs is None else type(exp.train)(
            **{**exp.train.__dict__, "epochs": exp.first_epochs})
        m, stats, curve = train_task(stream, net, weights, t, scores0, densities, cfg, exp.seed, exp.train_limit,
                                     exp.test_limit if exp.curves else 0)
        x, y = stream.task_data(t, "test", exp.test_limit)
        state["accuracy"].append(accuracy(lambda xb: forward(xb, net, masked(weights, m), stats, train=False), x, y,
                                          EVAL_BATCH))
        state["curves"].append(curve)
        ckpt.save_layers(f"task_{t:03d}.safetensors", [pack_bits(v.flatten()) for v in m], stats=stats)
        ckpt.save_json("gg.json", state)
        masks.append(m)
    name = "SupSup (GG)" + (" Transfer" if exp.transfer else "")
    acc = state["accuracy"]
    return {"rows": [{"method": name, "sparsity": exp.sparsity, "tasks": exp.n_tasks, "accuracy": sum(acc) / len(acc)}],
            "per_task": {name: acc}, "curves": state["curves"],
            "mask_density_per_layer": [float(torch.stack([m[l] for m in masks]).float().mean())
                                       for l in range(len(net.shapes))]}
