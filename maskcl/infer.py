"""Task inference over k supermasks (SupSup §3.3, appendix A), written once for any `Net`.

The superposed network uses W_eff = W ⊙ Σ_i α_i M_i (eq. 2). Instead of differentiating through α, autograd takes
∂J/∂W_eff and we contract: ∂J/∂α_i = Σ_l ⟨W_l ⊙ M_{i,l}, ∂J/∂W_eff,l⟩, a single matrix product against the
stacked masks — for every task i and for many independent groups of test images at once (a group is the set of
images one decision is made from: one image, or a whole batch).

A net with per-task state (the ResNet's batch-norm statistics, one set per task) superposes its state too:
s_eff = Σ_i α_i s_i, so at α = e_i the superposed net is task i's own net, mask and statistics; the state's part of
the gradient, Σ_b ⟨s_{i,b}, ∂J/∂s_eff,b⟩, is added. On an MLP (no state) `kernels.mlp_infer` computes the same
numbers by hand, faster; `one_shot` and `binary` choose it unless told `fast=False`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .kernels import mlp_infer
from .nets.mlp import MLP, forward

OBJECTIVES = ("H", "G")


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(p) = −Σ_v p_v log p_v of p = softmax(logits), per row (SupSup eq. 3's objective)."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def superfluous_logsumexp(logits: torch.Tensor, n_real: int) -> torch.Tensor:
    """G = logsumexp(y) with the gradient flowing only through the superfluous outputs v ≥ n_real
    (SupSup §3.6, Lemma I.1, eq. 25); per row."""
    s_neuron = torch.arange(logits.shape[-1], device=logits.device) >= n_real
    return torch.logsumexp(torch.where(s_neuron, logits, logits.detach()), dim=-1)


def objective_fn(name: str):
    """J(logits, n_real) per row for the objective `name`: H (the entropy; n_real unused) or G."""
    if name == "H":
        return lambda logits, n_real: entropy(logits)
    if name == "G":
        return superfluous_logsumexp
    raise ValueError(f"unknown objective {name!r}; choose one of {OBJECTIVES}")


def superpose(weights: list[torch.Tensor], masks: list[torch.Tensor],
              alpha: torch.Tensor | None = None) -> list[torch.Tensor]:
    """W_l ⊙ Σ_i α_i M_{i,l} (eq. 2) for one α (1, k), by default one-shot's α_i = 1/k; (1, *shape) per layer. At
    1/k it is the same for every group and every task decided among these k masks, so a caller deciding many may
    compute it once."""
    if alpha is None:
        k = masks[0].shape[0]
        alpha = torch.full((1, k), 1.0 / k, device=weights[0].device, dtype=weights[0].dtype)
    return [w * (alpha @ m.flatten(1).to(alpha.dtype)).view(1, *w.shape) for w, m in zip(weights, masks)]


def superpose_state(states: list[list[torch.Tensor]], alpha: torch.Tensor) -> list[torch.Tensor]:
    """Σ_i α_i s_i for every tensor of the per-task states (states[i] is task i's list): (G, *shape) per tensor
    for α (G, k)."""
    return [(alpha @ torch.stack(per_task).flatten(1).to(alpha.dtype)).view(-1, *per_task[0].shape)
            for per_task in zip(*states)]


def alpha_grads(weights: list[torch.Tensor], masks: list[torch.Tensor], alpha: torch.Tensor, x: torch.Tensor,
                objective: str = "H", n_real: int = 10, chunk: int = 2 ** 26,
                superposed: list[torch.Tensor] | None = None, net=None,
                states: list[list[torch.Tensor]] | None = None) -> torch.Tensor:
    """∂J_g/∂α_{g,i} for groups g: x (G, n, *input), alpha (G, k), masks[l] bool (k, *shape_l) → (G, k).

    J_g is the objective averaged over the n images of group g under the superposed net (eq. 2; with `states`,
    task i's state states[i] superposed too). `net` is any `Net` (default: the bias-free MLP of these weights).
    Every group gets its own copy of the superposed weights as autograd leaves; `chunk` bounds the elements of
    one such (groups × weights) tensor. `superposed`: `superpose(weights, masks)` when the caller has it."""
    net = net or MLP((weights[0].shape[1], *(w.shape[0] for w in weights)))
    fn = objective_fn(objective)
    masks = [m.flatten(1).to(alpha.dtype) for m in masks]  # (k, weights of layer l) floats
    stacked = [torch.stack(t).flatten(1).to(alpha.dtype) for t in zip(*states)] if states else []
    shared = bool((alpha == alpha[:1]).all())  # one-shot: every group the same α, so the same network
    if shared and superposed is None:
        superposed = superpose(weights, masks, alpha[:1])
    step = max(1, chunk // sum(w.numel() for w in weights))
    out = []
    for g0 in range(0, x.shape[0], step):
        a = alpha[g0:g0 + step]
        if shared:
            w_eff = [s.expand(len(a), *s.shape[1:]).clone() for s in superposed]
            s_eff = [s.expand(len(a), *s.shape[1:]).clone() for s in superpose_state(states, a[:1])] if states else []
        else:
            w_eff = [w * (a @ m).view(-1, *w.shape) for w, m in zip(weights, masks)]
            s_eff = superpose_state(states, a) if states else []
        leaves = [t.requires_grad_() for t in w_eff + s_eff]
        logits = net.forward(x[g0:g0 + step], w_eff, s_eff or None, train=False)
        grads = torch.autograd.grad(fn(logits, n_real).mean(-1).sum(), leaves)
        by_weights = sum(torch.einsum("gp,kp->gk", (gr * w).flatten(1), m)
                         for gr, w, m in zip(grads, weights, masks))
        out.append(by_weights + sum(torch.einsum("gp,kp->gk", gr.flatten(1), s)
                                    for gr, s in zip(grads[len(w_eff):], stacked)))
    return torch.cat(out)


def _alpha_grads(fast: bool, net, states):
    """The ∂J/∂α function: `kernels.mlp_infer`'s (by hand, the same bits) on an MLP without state when `fast`,
    else `alpha_grads` for `net` and `states`."""
    if fast and (net is None or isinstance(net, MLP)) and not states:
        return mlp_infer.alpha_grads
    return lambda *args, **kw: alpha_grads(*args, **kw, net=net, states=states)


def one_shot(weights, masks, x: torch.Tensor, objective: str = "H", n_real: int = 10,
             superposed: list[torch.Tensor] | None = None, net=None, states=None, fast: bool = True) -> torch.Tensor:
    """Eq. 4: from α = 1/k, the inferred task of each group is argmax_i −∂J/∂α_i. x: (G, n, *input) → (G,).
    `superposed`: `superpose(weights, masks)`, when the caller has it."""
    k = masks[0].shape[0]
    alpha = torch.full((x.shape[0], k), 1.0 / k, device=x.device, dtype=weights[0].dtype)
    grads = _alpha_grads(fast, net, states)
    return grads(weights, masks, alpha, x, objective, n_real, superposed=superposed).argmin(-1)


def binary(weights, masks, x: torch.Tensor, objective: str = "H", n_real: int = 10,
           keep: float = 0.5, net=None, states=None, fast: bool = True) -> torch.Tensor:
    """Algorithm 2: repeatedly keep the tasks whose ∂J/∂α is at most the lower median of the survivors,
    re-normalising α over them, until one is left. `keep` = γ generalises the median to the ⌈γ·k⌉-th
    smallest (γ = 1/2 binary; γ → 1/k one-shot; SupSup Fig. 11). x: (G, n, *input) → (G,)."""
    k = masks[0].shape[0]
    grads_of = _alpha_grads(fast, net, states)
    alive = torch.ones(x.shape[0], k, dtype=torch.bool, device=x.device)
    while True:
        count = alive.sum(1)
        if bool((count == 1).all()):
            return alive.float().argmax(1)
        alpha = alive.float() / count[:, None]
        grad = grads_of(weights, masks, alpha, x, objective, n_real).masked_fill(~alive, float("inf"))
        rank = (torch.ceil(keep * count) - 1).clamp(min=0).long()
        thresh = grad.sort(1).values.gather(1, rank[:, None])
        nxt = alive & (grad <= thresh)
        stuck = (nxt.sum(1) == count) & (count > 1)  # ties: fall back to the single best
        if bool(stuck.any()):
            best = F.one_hot(grad.argmin(1), k).bool()
            nxt = torch.where(stuck[:, None], best, nxt)
        alive = nxt


def infer(weights, masks, x: torch.Tensor, method: str = "one_shot", objective: str = "H",
          n_real: int = 10, keep: float = 0.5, superposed: list[torch.Tensor] | None = None, net=None,
          states=None) -> torch.Tensor:
    if method == "one_shot":
        return one_shot(weights, masks, x, objective, n_real, superposed, net, states)
    if method == "binary":
        return binary(weights, masks, x, objective, n_real, keep, net, states)
    raise ValueError(f"unknown inference method {method!r}; choose 'one_shot' or 'binary'")


def decision_groups(x: torch.Tensor, batch: int = 128, decide: str = "first") -> list[torch.Tensor]:
    """Split a task's test set (N, *input) into test batches of `batch` and return the groups that decide each
    batch's task, as a list of (G, n, *input) tensors of equal n: 'first' → the first image of every batch
    (the paper's main setting), 'full' → every image of the batch (the last, shorter batch on its own)."""
    if decide == "first":
        return [x[::batch].unsqueeze(1)]
    if decide == "full":
        n_full = (len(x) // batch) * batch
        groups = [x[:n_full].view(-1, batch, *x.shape[1:])] if n_full else []
        if n_full < len(x):
            groups.append(x[n_full:].unsqueeze(0))
        return groups
    raise ValueError(f"unknown decision rule {decide!r}; choose 'first' or 'full'")


def batch_correct(weights, mask: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  batch: int = 128, net=None, state: list[torch.Tensor] | None = None,
                  rows: int | None = None) -> torch.Tensor:
    """Correct predictions per test batch using one mask (argmax over all s outputs; a superfluous output
    counts as wrong) and, on a net with per-task state, its task's state. mask[l]: bool of W_l's shape. Returns
    (n_batches,) counts. `rows`: images per forward pass (None: all at once; memory only)."""
    masked = [w * m for w, m in zip(weights, mask)]
    logits_of = (lambda xb: forward(xb, masked)) if net is None else (lambda xb: net.forward(xb, masked, state))
    with torch.no_grad():
        pred = (logits_of(x) if rows is None else torch.cat([logits_of(xb) for xb in x.split(rows)])).argmax(-1)
    hits = (pred == y).float()
    pad = (-len(hits)) % batch
    return F.pad(hits, (0, pad)).view(-1, batch).sum(1)
