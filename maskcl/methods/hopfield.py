"""HopSupSup (SupSup §3.5, appendix B): neuron masks stored as attractors of a fixed-size Hopfield network.

The network (eq. 8) masks layer *outputs* instead of weights:
    f(x, m) = softmax(W3 σ(m2 ⊙ BN(W2 σ(m1 ⊙ BN(W1 x)))))
with fixed signed-constant weights, non-affine batch norm on batch statistics and σ = Swish. A task's mask
m ∈ {0,1}^d per hidden layer is stored as z = 2m − 1 in Ψ (Storkey rule, eq. 6) plus a running mean μ;
at test time the mask is *recovered* by gradient descent from μ on J = (1 − t/T)·H + γ·(t/T)·E_Ψ (eq. 7).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..nets.init import signed_constant
from ..nets.hopnet import bn_net, forward
from ..data import TaskStream, load_dataset, task_stream
from ..infer import entropy
from ..masks import threshold_mask
from ..loop import run_tasks
from ..progress import bar
from ..seeding import generator
from ..registry import register
from ..store import Checkpoint

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


@dataclass(frozen=True)
class HopConfig:
    """Appendix B and the official code: 784-2048-2048-10, 1 epoch per task with SGD (lr 0.1, momentum 0.9,
    weight decay 1e-4, batch 128); recovery with SGD (lr 500, momentum 0.9, weight decay 1e-4) over one pass of
    the task's test set in batches of 64, γ = 1.5e-3."""

    hidden: int = 2048
    epochs: int = 1
    batch: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    max_steps: int | None = None  # cap on training steps per task (smoke profile only)
    test_batch: int = 64
    test_limit: int | None = None  # test images per task (None: all)
    gamma: float = 1.5e-3
    recovery_lr: float = 500.0
    rule: str = "storkey"  # or "hebbian"
    # Extension (not in the paper): recover up to `restarts` (≤ 3) times — the faithful pass, then from the
    # `restart_points` of what it found — and keep the lowest-entropy mask (`recover_with_restarts`).
    restarts: int = field(default=1, metadata={"key": "if_set"})

    def __post_init__(self):
        if not 1 <= self.restarts <= 3:
            raise ValueError(f"restarts must be 1 (the paper's single recovery), 2 or 3, got {self.restarts}")


@dataclass(frozen=True)
class HopExperiment:
    """HopSupSup on SplitMNIST (5 tasks, labels kept 0–9) for one seed (backbone, data order, test order)."""

    method: str = "hopsupsup"
    n_tasks: int = 5
    hop: HopConfig = HopConfig()
    dataset: str = "mnist"  # mnist | synthetic | auto
    seed: int = 0


def store(psi: torch.Tensor, z: torch.Tensor, rule: str = "storkey") -> torch.Tensor:
    """Add pattern z ∈ {−1,1}^d to Ψ. Storkey (eq. 6): Ψ + (zzᵀ − z(Ψz)ᵀ − (Ψz)zᵀ − I)/d;
    Hebbian (§3.5): Ψ + zzᵀ/d."""
    d = z.numel()
    if rule == "hebbian":
        return psi + torch.outer(z, z) / d
    if rule != "storkey":
        raise ValueError(f"unknown Hopfield rule {rule!r}; choose 'storkey' or 'hebbian'")
    h = psi @ z
    return psi + (torch.outer(z, z) - torch.outer(z, h) - torch.outer(h, z) - torch.eye(d, device=z.device)) / d


def memorise(stored: list[torch.Tensor], rule: str = "storkey") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Ψ and μ per layer after storing the bool masks stored[l] (k, d) one task at a time (eq. 6); μ is the
    running mean of the z's after k tasks."""
    psi, mu = [], []
    for st in stored:
        z = 2.0 * st.float() - 1
        p = torch.zeros(z.shape[1], z.shape[1], device=z.device)
        for zk in z:
            p = store(p, zk, rule)
        psi.append(p)
        mu.append(z.mean(0))
    return psi, mu


def energy(psi: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """E_Ψ(z) = −½ zᵀΨz: stored patterns are its minima (the paper writes the sum without the sign)."""
    return -0.5 * z @ psi @ z


def is_fixed_point(psi: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Whether sign(Ψz) = z for each row of z (n, d): an asynchronous Hopfield update leaves it unchanged."""
    return ((z @ psi.T) * z > 0).all(-1)


def capacity(d: int, n_patterns: int, rule: str, seed: int) -> list[float]:
    """Store n random ±1 patterns one by one; after each, the fraction of those stored so far that are
    fixed points of Ψ. (Hebbian capacity ≈ d / (2 ln d); Storkey's is larger, ≈ d / √(2 ln d).)"""
    g = generator("capacity", d, seed)
    pats = torch.randint(0, 2, (n_patterns, d), generator=g).float() * 2 - 1
    psi = torch.zeros(d, d)
    out = []
    for n in range(n_patterns):
        psi = store(psi, pats[n], rule)
        out.append(float(is_fixed_point(psi, pats[: n + 1]).float().mean()))
    return out


def hopfield_descent(psi: torch.Tensor, z0: torch.Tensor, steps: int, lr: float = 1.0) -> torch.Tensor:
    """Recover a pattern from z0 by gradient descent on E_Ψ alone (straight-through sign); returns ±1."""
    score = z0.clone().requires_grad_()
    opt = torch.optim.SGD([score], lr=lr)
    for _ in range(steps):
        z = 2 * threshold_mask(score) - 1
        opt.zero_grad()
        energy(psi, z).backward()
        opt.step()
    return (2.0 * (score >= 0) - 1).detach()


def train_mask(stream: TaskStream, weights, task: int, cfg: HopConfig, seed: int) -> list[torch.Tensor]:
    """Neuron masks for `task`: scores start at 0 (all neurons on), straight-through threshold at 0,
    `cfg.epochs` shuffled epochs of SGD on cross-entropy over the 10 outputs. Returns bool masks (d,)."""
    device = weights[0].device
    scores = [torch.zeros(cfg.hidden, device=device, requires_grad=True) for _ in weights[:-1]]
    opt = torch.optim.SGD(scores, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    idx = stream.indices(task, "train")
    g = generator("hop-train-order", seed, task)
    order = torch.cat([torch.randperm(len(idx), generator=g) for _ in range(cfg.epochs)]).to(idx.device)
    batches = idx[order].split(cfg.batch)[: cfg.max_steps]
    for rows in bar(batches, desc=f"task {task}"):
        x, y = stream.inputs("train", rows, torch.tensor(task))
        loss = F.cross_entropy(forward(x, weights, [threshold_mask(s) for s in scores]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return [(s >= 0).detach() for s in scores]


def test_batches(stream: TaskStream, task: int, cfg: HopConfig, seed: int) -> list[torch.Tensor]:
    """The task's test rows, shuffled (seeded), in batches of cfg.test_batch: T = ⌈n / 64⌉ recovery steps.
    A last batch of one image joins the one before (batch statistics need two)."""
    idx = stream.indices(task, "test")[: cfg.test_limit]
    perm = torch.randperm(len(idx), generator=generator("hop-test-order", seed, task)).to(idx.device)
    batches = list(idx[perm].split(cfg.test_batch))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def accuracy(stream: TaskStream, weights, masks, task: int, batches) -> float:
    with torch.no_grad():
        correct = total = 0
        for rows in batches:
            x, y = stream.inputs("test", rows, torch.tensor(task))
            correct += int((forward(x, weights, [m.float() for m in masks]).argmax(-1) == y).sum())
            total += len(rows)
    return 100.0 * correct / total


def recover(stream: TaskStream, weights, psi: list[torch.Tensor], mu: list[torch.Tensor], task: int,
            batches, cfg: HopConfig, stored: list[torch.Tensor] | None = None):
    """Hopfield recovery (appendix B.2): from z = μ, one SGD step per test batch t = 1..T on
    J(z, t) = (1 − t/T)·H(p) + γ·(t/T)·Σ_layers E_Ψ(z), with z = 2·1[score ≥ 0] − 1 (straight-through).

    Returns the recovered bool masks and, when the stored masks (k, d) per layer are given, the Hamming
    distance (summed over layers) from the current mask to each stored mask before every step and after the
    last: a (T + 1, k) tensor (Fig. 7)."""
    scores = [m.clone().requires_grad_() for m in mu]
    opt = torch.optim.SGD(scores, lr=cfg.recovery_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    T = len(batches)
    dist = []

    def distances():
        return sum(((s >= 0)[None] != st).sum(-1) for s, st in zip(scores, stored)).cpu()

    for t, rows in enumerate(batches, start=1):
        if stored is not None:
            dist.append(distances())
        x, _ = stream.inputs("test", rows, torch.tensor(task))
        masks = [threshold_mask(s) for s in scores]
        h = entropy(forward(x, weights, masks)).mean()
        e = sum(energy(p, 2 * m - 1) for p, m in zip(psi, masks))
        loss = (1 - t / T) * h + cfg.gamma * (t / T) * e
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if stored is not None:
        dist.append(distances())
    return [(s >= 0).detach() for s in scores], (torch.stack(dist) if dist else None)


def mean_entropy(stream: TaskStream, weights, masks, task: int, batches) -> float:
    """Mean output entropy H over the task's test images with fixed masks (batch statistics per batch)."""
    with torch.no_grad():
        total = sum(float(entropy(forward(stream.inputs("test", rows, torch.tensor(task))[0], weights,
                                          [m.float() for m in masks])).sum()) for rows in batches)
    return total / sum(len(rows) for rows in batches)


def restart_points(mu: list[torch.Tensor], first: list[torch.Tensor], n_stored: int) -> list[list[torch.Tensor]]:
    """Where the extension's passes 2 and 3 start, given pass 1's recovered masks `first` (z = 2m − 1):
    pass 2 — the last layer from the mean of the stored patterns other than z, (k·μ − z)/(k − 1), the others
    from μ (pass 1's last layer fell into another task's basin); pass 3 — every layer but the last from pass 1's
    z, the last from μ (pass 1's first layers were right, the last is recovered again given them)."""
    k, z = n_stored, [2.0 * f - 1 for f in first]
    return [[*mu[:-1], (k * mu[-1] - z[-1]) / (k - 1)], [*z[:-1], mu[-1]]]


def recover_with_restarts(stream: TaskStream, weights, psi, mu, task: int, batches, cfg: HopConfig, n_stored: int,
                          stored: list[torch.Tensor] | None = None):
    """Extension: recover up to cfg.restarts (≤ 3) times — from μ (the faithful recovery), then from the
    `restart_points` of pass 1 — and keep the mask whose outputs have the lowest mean entropy on the task's test
    images. A failed recovery usually ends with the last layer on another task's pattern, which only rarely gives
    confident outputs. Ψ and μ are not changed. Returns (masks, distance curve of the kept pass, its index)."""
    best = None
    starts = [mu]
    for r in range(cfg.restarts if n_stored > 1 else 1):
        masks, dist = recover(stream, weights, psi, starts[r], task, batches, cfg, stored)
        if r == 0:
            starts += restart_points(mu, masks, n_stored)
        h = mean_entropy(stream, weights, masks, task, batches) if cfg.restarts > 1 else 0.0
        if best is None or h < best[0]:
            best = (h, masks, dist, r)
    return best[1], best[2], best[3]


def steps_to_nearest(dist: torch.Tensor, task: int) -> int | None:
    """From a (T + 1, k) distance curve: the first step from which stored mask `task` stays the nearest one
    (ties go to the lower index), or None when it is not the nearest at the end."""
    wrong = (dist.argmin(1) != task).nonzero()
    if len(wrong) and int(wrong[-1]) == len(dist) - 1:
        return None
    return int(wrong[-1]) + 1 if len(wrong) else 0


@register("hopsupsup", version=VERSION, config="HopExperiment")
def run(exp: HopExperiment, ckpt: Checkpoint, device) -> dict:
    """Train the n_tasks masks in sequence, storing each in Ψ and μ; then recover every task's mask from
    (Ψ, μ) alone and evaluate it against the correct (stored) mask. Trained masks are checkpointed (`maskcl.loop`)."""
    cfg = exp.hop
    stream = task_stream("split", exp.n_tasks, load_dataset(exp.dataset, exp.seed), device=device)
    weights = signed_constant(bn_net(cfg.hidden), exp.seed, device)

    def learn(tasks, progress):
        return [({}, {"layer": [v.to(torch.uint8) for v in train_mask(stream, weights, tasks[0], cfg, exp.seed)]})]

    masks = [[v.bool() for v in k["layer"]] for k in run_tasks(ckpt, exp.n_tasks, learn, device=device,
                                                                 desc="masks").kept]
    stored = [torch.stack([m[l] for m in masks]) for l in range(len(weights) - 1)]  # per layer (k, d)
    psi, mu = memorise(stored, cfg.rule)

    rows, curves = [], []
    for t in bar(range(exp.n_tasks), desc="recover"):
        batches = test_batches(stream, t, cfg, exp.seed)
        rec, dist, kept = recover_with_restarts(stream, weights, psi, mu, t, batches, cfg, exp.n_tasks, stored)
        final = dist[-1]
        rows.append({
            "task": t, "seed": exp.seed, "steps": len(batches),
            "accuracy_recovered": accuracy(stream, weights, rec, t, batches),
            "accuracy_correct": accuracy(stream, weights, masks[t], t, batches),
            "recovered_task": int(final.argmin()), "hamming_to_correct": int(final[t]),
            "exact": bool(final[t] == 0),
            "steps_to_nearest": steps_to_nearest(dist, t),
            **({"restart_kept": kept} if cfg.restarts > 1 else {}),
        })
        curves += [{"task": t, "step": s, "stored": i, "hamming": int(dist[s, i])}
                   for s in range(dist.shape[0]) for i in range(dist.shape[1])]
    density = [float(st.float().mean()) for st in stored]
    return {"rows": rows, "curves": curves, "mask_density_per_layer": density,
            "hopfield_bytes": sum(p.numel() for p in psi) * 4 + sum(m.numel() for m in mu) * 4,
            "explicit_mask_bits": exp.n_tasks * sum(st.shape[1] for st in stored)}
