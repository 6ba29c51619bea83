"""ImpressLearn on a conv net: SplitCIFAR with the reduced ResNet-18 (ImpressLearn §3–4, Fig. 4, 9, 10; A.1, A.4,
A.5). The algorithm is `impress`'s; what the conv net adds is per-task batch-norm statistics and epochs of images.

Task s uses W_l ⊙ Σ_t α_{s,t,l} M_{t,l} (eq. 1) in every one of the net's weight layers (21 for the reduced
ResNet-18: 20 convolutions and the 1×1-conv head), α ∈ R^{|M|×21} learned from 1/|M| on the cross-entropy plus
λ Σ_l (‖α_l‖₁ − 1)² (eq. 2). Every task — a basis mask, a SupSup mask, an α — has its own batch-norm statistics:
a mask's are the running averages (momentum 0.1) over its training batches (SupSup D.1); a new task's are
estimated afresh once its α is learned, over its own training images (`batch_stats`). Running averages would be
stale: a non-affine batch norm follows every convolution but the head, so a layer's output does not depend on the
overall scale of its α, the loss gives that scale no gradient, and weight decay shrinks it all the while — the
averages remember a larger scale than the final α has. Only the ratios between basis masks in a layer, and the
head's overall scale, reach the output.

Hybrid (A.5): α in every layer but the last, and a new edge-popup mask on the last layer, learned together.
Basis-GN (Fig. 4-right): α learned on a basis task from the uniform start, without being told which mask is its own.
Incorrect mask (X): a basis task's stored model (its mask and statistics) on a new task.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..masks import binary_mask, init_scores, masked_weight, pack_bits, unpack_bits
from ..nets.init import kaiming_normal
from ..nets.resnet import ResNet, batch_stats
from ..loop import run_jobs, run_tasks
from ..scoring import task_accuracy
from ..registry import register
from ..store import Checkpoint
from ..train import EpochConfig, fit_epochs, popup_epochs
from .impress import KINDS, combine, correct_share, l1_penalty, random_basis

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


@dataclass(frozen=True)
class ImpressSplitExperiment:
    """One ImpressLearn study on a class split (SplitCIFAR) for one density and seed (= one backbone).

    Basis tasks are 0..H−1 (H = the largest heterogeneous basis), new tasks the last `n_new`; a heterogeneous basis
    of size n is the masks of tasks 0..n−1, a homogeneous one n masks of task 0 that differ only in score
    initialisation and data order, a random one n untrained uniform masks; every basis of size n is the first n
    masks of its kind. Each new task also gets its own SupSup mask (the SupSup line).

    α (Table 3, SplitCIFAR-100 row): Adam lr 0.02, λ = 0.005, batch 64, weight decay 0.1 (A.1's Adam note), with
    cosine decay per epoch and augmented images. Masks: edge-popup at `density` in every layer, SupSup's GG
    training (D.1: Adam lr 1e-3, weight decay 1e-4, batch 128, cosine, augmented) — the paper makes its basis
    masks "with the SupSup algorithm"."""

    method: str = "impress_split"
    data: str = "cifar100"  # cifar100 | cifar10 (the stand-in) | synthetic
    n_tasks: int = 20
    per_task: int = 5
    width: int = 20  # nf of the reduced ResNet-18
    density: float = 0.10
    heterogeneous: tuple[int, ...] = (2, 5, 10, 15)
    homogeneous: tuple[int, ...] = (5, 10, 25, 50, 75)
    random: tuple[int, ...] = (5, 10, 25, 50, 75)
    hybrid: tuple[str, ...] = ("heterogeneous", "homogeneous")  # kinds also learned as hybrids (Fig. 10)
    n_new: int = 5
    basis_gn: int = 25  # basis-GN on the first min(|M|, basis_gn) basis tasks
    n_incorrect: int = 5  # basis masks tried alone on every new task
    mask: EpochConfig = EpochConfig(epochs=100, batch=128, lr=1e-3, weight_decay=1e-4, augment=True)
    alpha: EpochConfig = EpochConfig(epochs=25, batch=64, lr=0.02, weight_decay=0.1, augment=True)
    lam: float = 0.005
    train_limit: int | None = None  # training images per task (None: all)
    test_limit: int | None = None  # test images per task (None: all)
    channels_last: bool = field(default=False, metadata={"key": "if_set"})  # faster on CPU, not bit-identical
    seed: int = 0

    def __post_init__(self):
        if self.data not in ("cifar100", "cifar10", "synthetic"):
            raise ValueError(f"unknown data {self.data!r}; choose 'cifar100', 'cifar10' or 'synthetic'")
        if not 0.0 < self.density <= 1.0:
            raise ValueError(f"density must lie in (0, 1], got {self.density}")
        if self.n_basis_tasks + self.n_new > self.n_tasks:
            raise ValueError(f"{self.n_basis_tasks} basis tasks and {self.n_new} new tasks need "
                             f"{self.n_basis_tasks + self.n_new} tasks; the split has {self.n_tasks}")
        if unknown := set(self.hybrid) - {"heterogeneous", "homogeneous", "random"}:
            raise ValueError(f"unknown hybrid kinds {sorted(unknown)}; choose among {KINDS}")

    @property
    def n_basis_tasks(self) -> int:
        return max(self.heterogeneous, default=0)

    @property
    def new_tasks(self) -> list[int]:
        return list(range(self.n_tasks - self.n_new, self.n_tasks))


def as_weights(weights: list[torch.Tensor], flat: list[torch.Tensor], alpha: torch.Tensor,
               head_scores: torch.Tensor | None = None, density: float | None = None) -> list[torch.Tensor]:
    """Eq. 1 for one task: W_l ⊙ Σ_t α_{t,l} M_{t,l} with α (|M|, d) and flat[l] the basis as (|M|, n_l) floats.
    Hybrid (A.5): α covers the first d = L − 1 layers and the head is W_L ⊙ M(head_scores), edge-popup at `density`."""
    d = alpha.shape[1]
    out = [w[0] for w in combine(weights[:d], flat[:d], alpha[None])]
    if head_scores is not None:
        out.append(masked_weight(weights[-1], head_scores, "topk", density))
    return out


def learn_alpha(exp, stream, net, weights, flat, task: int, key: object, hybrid: bool = False):
    """α (and, hybrid, the head's scores) for `task` from α = 1/|M| (eq. 1-2); everything else — W, the basis —
    is frozen. Returns (α, statistics, head scores, running statistics): the statistics are estimated afresh with
    the final α over the task's (unaugmented) training images; the running ones are the averages kept while α was
    learned, as SupSup keeps a mask's — stale once weight decay has shrunk α's scale (kept for comparison)."""
    device, n, n_layers = weights[0].device, flat[0].shape[0], len(weights)
    alpha = torch.full((n, n_layers - 1 if hybrid else n_layers), 1.0 / n, device=device, requires_grad=True)
    head = init_scores(net, exp.seed, key)[-1].to(device).requires_grad_() if hybrid else None
    running = net.init_state(device)

    def loss(x, y):
        logits = net.forward(x, as_weights(weights, flat, alpha, head, exp.density), running, train=True)
        return F.cross_entropy(logits, y) + exp.lam * l1_penalty(alpha[None]).sum()

    fit_epochs(stream, task, [alpha] + ([head] if hybrid else []), loss, exp.alpha, exp.seed, key, exp.train_limit,
               f"alpha {key}")
    alpha, head = alpha.detach(), None if head is None else head.detach()
    rows = stream.indices(task, "train")[:exp.train_limit]
    stats = batch_stats(net, as_weights(weights, flat, alpha, head, exp.density),
                        (stream.inputs("train", r)[0] for r in rows.split(exp.alpha.batch)))
    return alpha, stats, head, running


def _masks(exp, ckpt: Checkpoint, stream, net, weights, jobs: list[tuple[int, object]], desc: str):
    """Edge-popup masks (bool) with their statistics for jobs [(task, key)] — task's data, scores and batch order
    drawn from key — through the task loop (`maskcl.loop`; kept bit-packed)."""
    def learn(idx, progress):
        task, key = jobs[idx[0]]
        scores = [s.to(weights[0].device).requires_grad_() for s in init_scores(net, exp.seed, key)]
        stats = net.init_state(weights[0].device)
        popup_epochs(stream, net, weights, task, scores, [exp.density] * len(scores), stats, exp.mask, exp.seed,
                     ("impress-mask", key), exp.train_limit, f"mask {key}")
        return [({}, {"layer": [pack_bits(binary_mask(s, "topk", exp.density).flatten()) for s in scores],
                      "stats": stats})]

    kept = run_tasks(ckpt, len(jobs), learn, device=weights[0].device, desc=desc).kept
    return [([unpack_bits(p, math.prod(s)).view(s) for p, s in zip(k["layer"], net.shapes)], k["stats"]) for k in kept]


@register("impress_split", version=VERSION, config="ImpressSplitExperiment", setup="images")
def run(exp: ImpressSplitExperiment, ckpt: Checkpoint, stream, net: ResNet, device) -> dict:
    """Masks (every task's own, the homogeneous ones), then α for each kind and basis size (new tasks, and
    basis-GN), plain and hybrid; every mask and every α's rows are checkpointed as they finish."""
    weights = kaiming_normal(net, exp.seed, device)  # ImpressLearn's backbone (footnote 2)
    new = exp.new_tasks
    own_tasks = [*range(exp.n_basis_tasks), *new]
    own = dict(zip(own_tasks, _masks(exp, ckpt.sub("own"), stream, net, weights, [(t, t) for t in own_tasks],
                                     "SupSup masks")))
    hom = _masks(exp, ckpt.sub("homogeneous"), stream, net, weights,
                 [(0, ("homogeneous", j)) for j in range(max(exp.homogeneous, default=0))], "homogeneous masks")
    stack = lambda ms: [torch.stack([m[l] for m in ms]) for l in range(len(net.shapes))]  # noqa: E731
    bases = {"heterogeneous": stack([own[t][0] for t in range(exp.n_basis_tasks)]) if exp.n_basis_tasks else None,
             "homogeneous": stack([m for m, _ in hom]) if hom else None,
             "random": random_basis(net, max(exp.random, default=0), exp.density, exp.seed, device)
             if exp.random else None}
    score = lambda w, stats, t: task_accuracy(stream, net, w, stats, t, "test", exp.test_limit)  # noqa: E731
    masked = lambda m: [w * x for w, x in zip(weights, m)]  # noqa: E731

    rows = [{"kind": "SupSup", "size": None, "hybrid": False, "role": "new" if t in new else "basis", "task": t,
             "accuracy": score(masked(m), st, t)} for t, (m, st) in own.items()]
    rows += [{"kind": "incorrect", "size": 1, "hybrid": False, "role": "new", "task": t, "basis_mask": j,
              "accuracy": score(masked(own[j][0]), own[j][1], t)}
             for t in new for j in range(min(exp.n_incorrect, exp.n_basis_tasks))]

    jobs = {f"{kind}|{n}|{'hybrid' if hybrid else 'plain'}|{t}": (kind, n, hybrid, t) for kind in KINDS
            for n in getattr(exp, kind) for hybrid in ((False, True) if kind in exp.hybrid else (False,))
            for t in _tasks(exp, kind, n, hybrid)}
    flat = {}  # the basis as floats, converted once per (kind, size) — the last one only

    def alpha_row(label):
        kind, n, hybrid, t = jobs[label]
        if (kind, n) not in flat:
            flat.clear()
            flat[kind, n] = [m[:n].flatten(1).float() for m in bases[kind]]
        basis = flat[kind, n]
        alpha, stats, head, running = learn_alpha(exp, stream, net, weights, basis, t, ("alpha", kind, n, hybrid, t),
                                                  hybrid)
        w = as_weights(weights, basis, alpha, head, exp.density)
        row = {"kind": kind, "size": n, "hybrid": hybrid, "role": "new" if t in new else "basis", "task": t,
               "accuracy": score(w, stats, t), "accuracy_running_stats": score(w, running, t)}
        if row["role"] == "basis":  # basis task t made mask t (heterogeneous) or every mask (homogeneous)
            row["alpha_on_own_mask"] = correct_share(alpha, t) if kind == "heterogeneous" else None
        return row

    rows += list(run_jobs(ckpt, "alpha", list(jobs), alpha_row).values())
    own_masks = [m for m, _ in own.values()]
    return {"rows": rows, "n_weights": net.n_weights, "layers": len(net.shapes),
            "mask_density_per_layer": [float(torch.stack([m[l] for m in own_masks]).float().mean())
                                       for l in range(len(net.shapes))]}


def _tasks(exp, kind: str, n: int, hybrid: bool) -> list[int]:
    """The tasks α is learned for: every new task; plain heterogeneous and homogeneous bases also learn α on the
    basis tasks they were made from (basis-GN: the first min(n, basis_gn) tasks, or task 0)."""
    if hybrid or kind == "random":
        return exp.new_tasks
    return exp.new_tasks + (list(range(min(n, exp.basis_gn))) if kind == "heterogeneous" else [0])
