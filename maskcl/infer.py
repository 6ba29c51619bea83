"""Task inference over k supermasks (SupSup §3.3, appendix A).

The superposed network uses W_eff = W ⊙ Σ_i α_i M_i (eq. 2). Instead of differentiating through α, we take one
backward pass to the effective weights and contract: ∂J/∂α_i = Σ_l ⟨W_l ⊙ M_{i,l}, ∂J/∂W_eff,l⟩, a single
matrix product against the stacked masks — for every task i and for many independent groups of test images
at once (a group is the set of images one decision is made from: one image, or a whole batch).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .nets.mlp import backward, forward

OBJECTIVES = ("H", "G")


def entropy(logits: torch.Tensor, n_real: int | None = None) -> torch.Tensor:
    """H(p) = −Σ_v p_v log p_v of p = softmax(logits), per row."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def superfluous_logsumexp(logits: torch.Tensor, n_real: int) -> torch.Tensor:
    """G = logsumexp(y) with the gradient flowing only through the superfluous outputs v ≥ n_real
    (SupSup §3.6, Lemma I.1, eq. 25); per row."""
    s_neuron = torch.arange(logits.shape[-1], device=logits.device) >= n_real
    return torch.logsumexp(torch.where(s_neuron, logits, logits.detach()), dim=-1)


def objective_fn(name: str):
    if name == "H":
        return entropy
    if name == "G":
        return superfluous_logsumexp
    raise ValueError(f"unknown objective {name!r}; choose one of {OBJECTIVES}")


def superpose(weights: list[torch.Tensor], masks: list[torch.Tensor],
              alpha: torch.Tensor | None = None) -> list[torch.Tensor]:
    """W_l ⊙ Σ_i α_i M_{i,l} (eq. 2) for one α (1, k), by default one-shot's α_i = 1/k; (1, out, in) per layer. At
    1/k it is the same for every group and every task decided among these k masks, so a caller deciding many may
    compute it once."""
    if alpha is None:
        k = masks[0].shape[0]
        alpha = torch.full((1, k), 1.0 / k, device=weights[0].device, dtype=weights[0].dtype)
    return [w * (alpha @ m.flatten(1).to(alpha.dtype)).view(1, *w.shape) for w, m in zip(weights, masks)]


def alpha_grads(weights: list[torch.Tensor], masks: list[torch.Tensor], alpha: torch.Tensor, x: torch.Tensor,
                objective: str = "H", n_real: int = 10, chunk: int = 2 ** 26,
                superposed: list[torch.Tensor] | None = None) -> torch.Tensor:
    """∂J_g/∂α_{g,i} for groups g: x is (G, n, in), alpha (G, k), masks[l] bool (k, out, in); returns (G, k).

    J_g is the objective averaged over the n images of group g under W ⊙ Σ_i α_{g,i} M_i. Each group's
    ∂J_g/∂W_eff is taken by hand (`mlp.backward`, autograd only from J to the logits). When every group has
    the same α, all share one network (for one-shot pass `superpose(weights, masks)` as `superposed` if the
    caller has it).
    `chunk` bounds the elements of a (groups × weights) working tensor.
    """
    fn = objective_fn(objective)
    masks = [m.flatten(1).to(alpha.dtype) for m in masks]  # (k, out·in) floats, converted once per call
    n_weights = sum(w.numel() for w in weights)
    step = max(1, chunk // n_weights)
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


def one_shot(weights, masks, x: torch.Tensor, objective: str = "H", n_real: int = 10,
             superposed: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Eq. 4: from α = 1/k, the inferred task of each group is argmax_i −∂J/∂α_i. x: (G, n, in) → (G,).
    `superposed`: `superpose(weights, masks)`, when the caller has it."""
    k = masks[0].shape[0]
    alpha = torch.full((x.shape[0], k), 1.0 / k, device=x.device, dtype=weights[0].dtype)
    return alpha_grads(weights, masks, alpha, x, objective, n_real, superposed=superposed).argmin(-1)


def binary(weights, masks, x: torch.Tensor, objective: str = "H", n_real: int = 10,
           keep: float = 0.5) -> torch.Tensor:
    """Algorithm 2: repeatedly keep the tasks whose ∂J/∂α is at most the lower median of the survivors,
    re-normalising α over them, until one is left. `keep` = γ generalises the median to the ⌈γ·k⌉-th
    smallest (γ = 1/2 binary; γ → 1/k one-shot; SupSup Fig. 11). x: (G, n, in) → (G,)."""
    k = masks[0].shape[0]
    alive = torch.ones(x.shape[0], k, dtype=torch.bool, device=x.device)
    while True:
        count = alive.sum(1)
        if bool((count == 1).all()):
            return alive.float().argmax(1)
        alpha = alive.float() / count[:, None]
        grad = alpha_grads(weights, masks, alpha, x, objective, n_real).masked_fill(~alive, float("inf"))
        rank = (torch.ceil(keep * count) - 1).clamp(min=0).long()
        thresh = grad.sort(1).values.gather(1, rank[:, None])
        nxt = alive & (grad <= thresh)
        stuck = (nxt.sum(1) == count) & (count > 1)  # ties: fall back to the single best
        if bool(stuck.any()):
            best = F.one_hot(grad.argmin(1), k).bool()
            nxt = torch.where(stuck[:, None], best, nxt)
        alive = nxt


def infer(weights, masks, x: torch.Tensor, method: str = "one_shot", objective: str = "H",
          n_real: int = 10, keep: float = 0.5, superposed: list[torch.Tensor] | None = None) -> torch.Tensor:
    if method == "one_shot":
        return one_shot(weights, masks, x, objective, n_real, superposed)
    if method == "binary":
        return binary(weights, masks, x, objective, n_real, keep)
    raise ValueError(f"unknown inference method {method!r}; choose 'one_shot' or 'binary'")


def decision_groups(x: torch.Tensor, batch: int = 128, decide: str = "first") -> list[torch.Tensor]:
    """Split a task's test set (N, in) into test batches of `batch` and return the groups that decide each
    batch's task, as a list of (G, n, in) tensors of equal n: 'first' → the first image of every batch
    (the paper's main setting), 'full' → every image of the batch (the last, shorter batch on its own)."""
    if decide == "first":
        return [x[::batch].unsqueeze(1)]
    if decide == "full":
        n_full = (len(x) // batch) * batch
        groups = [x[:n_full].view(-1, batch, x.shape[-1])] if n_full else []
        if n_full < len(x):
            groups.append(x[n_full:].unsqueeze(0))
        return groups
    raise ValueError(f"unknown decision rule {decide!r}; choose 'first' or 'full'")


def batch_correct(weights, mask: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  batch: int = 128) -> torch.Tensor:
    """Correct predictions per test batch using one mask (argmax over all s outputs; a superfluous output
    counts as wrong). mask[l]: (out, in) bool. Returns (n_batches,) counts."""
    with torch.no_grad():
        pred = forward(x, [w * m for w, m in zip(weights, mask)]).argmax(-1)
    hits = (pred == y).float()
    pad = (-len(hits)) % batch
    return F.pad(hits, (0, pad)).view(-1, batch).sum(1)
