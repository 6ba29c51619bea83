"""Training stacked MLP tasks with the gradients taken by hand: the fast path of `methods.supsup.train_masks` (and
of the dense MLPs' training), bit for bit.

What it saves over autograd: the graph, and the copies and strided passes of autograd's transposed weight
gradients. ∂L/∂W_l comes from `mlp.backward`, the masked weights are written into reused buffers
(`masked_weight_`) and the scores' gradient is taken from ∂L/∂(W ⊙ M) in place (`score_grad_`). Tests check every
piece against autograd at the papers' shapes (tests/test_train.py)."""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..data import TaskStream
from ..masks import binary_mask, init_scores, hard_and_soft
from ..nets.mlp import backward, forward
from ..train import fit, task_batches


def cross_entropy_grad(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂L/∂logits of `train.batched_loss`'s L = Σ_b mean_i CE(logits[b, i], y[b, i]), i.e. (softmax − one-hot) / n
    per task, computed as autograd does (log-softmax's own backward of −1/n at each label) and so the same bits."""
    logp = torch.log_softmax(logits.float().flatten(0, 1), 1)  # the loss in fp32, as in batched_loss
    nll = torch.zeros_like(logp).scatter_(1, y.reshape(-1, 1), -1.0 / logits.shape[-2])
    return torch._log_softmax_backward_data(nll, logp, 1, logp.dtype).view(logits.shape).to(logits.dtype)


def batched_grads(stream: TaskStream, order: torch.Tensor, tasks: Sequence[int],
                  weights_of_step: Callable[[], list[torch.Tensor]]) -> Callable[[int], list[torch.Tensor]]:
    """step -> ∂L/∂W_l of `train.batched_loss`'s L at W = weights_of_step(), by hand (`mlp.backward`; no autograd),
    each (B, out, in): the gradients autograd gives, bit for bit, for less time and memory."""
    task_ids = torch.tensor(list(tasks), device=stream.device)[:, None]

    def step_grads(step: int) -> list[torch.Tensor]:
        x, y = stream.inputs("train", order[:, step], task_ids)
        weights, inputs = weights_of_step(), []
        return backward(inputs, weights, cross_entropy_grad(forward(x, weights, inputs=inputs), y))

    return step_grads


def masked_weight_(out: torch.Tensor, w: torch.Tensor, scores: torch.Tensor, kind: str = "threshold",
                   density: float | None = None) -> torch.Tensor:
    """W ⊙ M(scores) written into `out` (W's dtype, the scores' shape), without autograd: `masks.masked_weight`'s
    forward in two passes and no allocation (score_grad_ is its backward)."""
    if kind == "threshold":
        torch.ge(scores, 0, out=out)
    else:
        out.copy_(hard_and_soft(scores, kind, density, w.dim(), out.dtype)[0])
    return out.mul_(w)


def score_grad_(grad: torch.Tensor, w: torch.Tensor, scores: torch.Tensor, kind: str = "threshold") -> torch.Tensor:
    """∂L/∂scores from grad = ∂L/∂(W ⊙ M) (overwritten): grad ⊙ W, straight through the threshold, and for top-k,
    whose gradient reaches |score|, times sgn(score); in the scores' dtype. masked_weight's backward, bit for bit."""
    grad = grad.mul_(w).to(scores.dtype)
    return grad.mul_(scores.sgn()) if kind == "topk" else grad


def train_masks(stream: TaskStream, net, weights: list[torch.Tensor], tasks: Sequence[int], cfg, seed: int,
                keys: Sequence) -> list[torch.Tensor]:
    """`methods.supsup.train_masks` for one group of stacked tasks, by hand: per layer a bool (B, out, in)."""
    device = weights[0].device
    per_task = [init_scores(net, seed, k) for k in keys]
    scores = [torch.stack([s[layer] for s in per_task]).to(device) for layer in range(len(weights))]
    order = task_batches(stream, tasks, cfg, seed, keys)
    buffers = [torch.empty(s.shape, dtype=w.dtype, device=device) for w, s in zip(weights, scores)]
    grads = batched_grads(stream, order, tasks, lambda: [masked_weight_(b, w, s, cfg.mask, cfg.density)
                                                         for b, w, s in zip(buffers, weights, scores)])
    fit(scores, lambda step: [score_grad_(g, w, s, cfg.mask) for g, w, s in zip(grads(step), weights, scores)], cfg,
        desc=f"masks {tasks[0]}..{tasks[-1]}", by_hand=True)
    return [binary_mask(s, cfg.mask, cfg.density, layer_dims=s.dim() - 1) for s in scores]
