"""PSP — Parameter Superposition (Cheung et al. 2019) with rotational contexts: SupSup's GG baseline (§4.2,
appendix D.3, Fig. 3 and 5-left, Tables 3, 4, 6).

One set of dense weights is trained on every task in turn; task t rotates the input of layer l by a fixed
random orthogonal context C_{t,l}:   h_l = σ(W_l C_{t,l} h_{l−1}).
Contexts of different tasks are nearly orthogonal to each other, so the tasks superposed in W interfere
little — but not nothing: accuracy on early tasks decays as tasks accumulate. Training follows the SupSup
repository's PSP experiment: Xavier-normal W (no biases, 10 outputs), RMSprop lr 1e-4, 1000 steps of batch 128
per task, Haar-random orthogonal contexts. The experiment sets momentum 0.5, but its main.py builds
`RMSprop(params, lr)` and never passes it on, so there is no momentum (version 2; version 1 used 0.5).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..nets.mlp import MLP
from ..data import TaskStream
from ..loop import run_tasks
from ..scoring import accuracy
from ..seeding import generator
from ..registry import register
from ..store import Checkpoint
from ..train import fit, task_batches

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 2


def xavier_normal(net: MLP, seed: int, device="cpu") -> list[torch.Tensor]:
    """W_l ~ N(0, 2 / (fan_in + fan_out))."""
    return [(torch.randn(o, i, generator=generator("psp-weights", seed, l)) * math.sqrt(2.0 / (i + o))).to(device)
            for l, (o, i) in enumerate(net.shapes)]


def context(n: int, seed: int, task: int, layer: int) -> torch.Tensor:
    """A Haar-random orthogonal n×n matrix (QR of a Gaussian, signs fixed by diag R), from (seed, task, layer)."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator("psp-context", seed, task, layer)))
    return q * torch.sign(torch.diagonal(r))


def contexts(net: MLP, seed: int, task: int, device="cpu") -> list[torch.Tensor]:
    return [context(i, seed, task, l).to(device) for l, (_, i) in enumerate(net.shapes)]


def forward(x: torch.Tensor, weights: list[torch.Tensor], ctx: list[torch.Tensor]) -> torch.Tensor:
    """y = W_L C_L relu(… relu(W_1 C_1 x)), rotating activations (cheaper than forming W C)."""
    h = x
    for layer, (w, c) in enumerate(zip(weights, ctx)):
        h = (h @ c.T) @ w.T
        if layer < len(weights) - 1:
            h = torch.relu(h)
    return h


@register("psp", version=VERSION, config="StreamExperiment", setup="stream")
def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    """Train W on tasks 0..n−1 in turn; at every checkpoint k evaluate tasks 0..k−1 with their own contexts
    and the current W. Resumes after the last finished task (`maskcl.loop`)."""
    def learn(tasks, progress):
        t, = tasks
        ctx = contexts(net, exp.seed, t, device)
        params = [w.clone().requires_grad_() for w in progress.carry["weights"]]
        order = task_batches(stream, [t], exp.train, exp.seed)[0]
        task = torch.tensor(t)

        def step_loss(step: int) -> torch.Tensor:
            x, y = stream.inputs("train", order[step], task)
            return F.cross_entropy(forward(x, params, ctx), y)

        fit(params, step_loss, exp.train, desc=f"psp task {t}")
        progress.carry["weights"] = weights = [p.detach() for p in params]
        if t + 1 not in exp.checkpoints:
            return [({}, {})]
        return [({"accuracy": [accuracy(lambda x, c=contexts(net, exp.seed, j, device): forward(x, weights, c),
                                        *stream.task_data(j, "test", exp.test_limit)) for j in range(t + 1)]}, {})]

    log = run_tasks(ckpt, exp.n_tasks, learn, {"weights": xavier_normal(net, exp.seed, device)}, device=device,
                    desc="psp").log
    return {"rows": [{"method": "PSP (GG)", "tasks": t + 1, "accuracy": sum(r["accuracy"]) / len(r["accuracy"])}
                     for t, r in enumerate(log) if r],
            "per_task": {f"PSP (GG)|{t + 1}": r["accuracy"] for t, r in enumerate(log) if r}}
