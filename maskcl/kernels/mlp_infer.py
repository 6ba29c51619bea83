"""∂J/∂α of task inference on an MLP, by hand: the fast path of `maskcl.infer.alpha_grads`, bit for bit.

What it saves over the readable path: autograd's graph and its per-group copies of the superposed weights. When
every group has the same α (one-shot) they all share one network, expanded rather than copied, and ∂J/∂W_eff comes
from `mlp.backward` (autograd only from J to the logits)."""
from __future__ import annotations

import torch

from ..nets.mlp import backward, forward


def alpha_grads(weights: list[torch.Tensor], masks: list[torch.Tensor], alpha: torch.Tensor, x: torch.Tensor,
                objective: str = "H", n_real: int = 10, chunk: int = 2 ** 26,
                superposed: list[torch.Tensor] | None = None) -> torch.Tensor:
    """`maskcl.infer.alpha_grads` for an MLP without per-task state: x (G, n, in), alpha (G, k), masks[l] bool
    (k, out, in) → (G, k). `superposed`: `infer.superpose(weights, masks)` when the caller has it (one-shot)."""
    from ..infer import objective_fn, superpose

    fn = objective_fn(objective)
    masks = [m.flatten(1).to(alpha.dtype) for m in masks]  # (k, out·in) floats, converted once per call
    step = max(1, chunk // sum(w.numel() for w in weights))
    if superposed is None and bool((alpha == alpha[:1]).all()):  # every group the same α
        superposed = superpose(weights, masks, alpha[:1])
    out = []
    for g0 in range(0, x.shape[0], step):
        a = alpha[g0:g0 + step]
        if superposed is not None:  # one network for every group: expanded, not copied
            w_eff = [s.expand(len(a), *s.shape[1:]) for s in superposed]
        else:
            w_eff = [w * (a @ m).view(-1, *w.shape) for w, m in zip(weights, masks)]
        inputs = []
        logits = forward(x[g0:g0 + step], w_eff, inputs=inputs).requires_grad_()
        (grad,) = torch.autograd.grad(fn(logits, n_real).mean(-1).sum(), logits)
        grads = backward(inputs, w_eff, grad)
        out.append(sum(torch.einsum("gp,kp->gk", (gr * w).flatten(1), m)
                       for gr, w, m in zip(grads, weights, masks)))
    return torch.cat(out)
