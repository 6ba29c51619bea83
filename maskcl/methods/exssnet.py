"""ExSSNeT (Yadav & Bansal 2023): exclusive supermask subnetwork training, and KNN-based knowledge transfer (KKT).

For task i, with weights W⁽ⁱ⁻¹⁾ left by the earlier tasks (§3.1, Algorithm 1):
1. learn a supermask Mᵢ on W⁽ⁱ⁻¹⁾ (edge-popup, as SupSup);
2. free mask M_freeᵢ = Mᵢ ∧ ¬(M₁ ∨ … ∨ Mᵢ₋₁): the weights of Mᵢ no earlier task uses;
3. train weights through all of Mᵢ in the forward pass, but update only the free ones, so every earlier task's
   subnetwork — and its predictions — stays exactly as it was. SSNeT trains every weight of Mᵢ.
Sparse overlap (eq. 2): SO = (ΣMᵢ − ΣM_freeᵢ) / ΣMᵢ, the share of Mᵢ already used by earlier tasks.
KKT (§3.2): embed a few batches of the new task with each earlier task's subnetwork, fit one KNN classifier per
earlier task on part of them, score it on the rest, and start Mᵢ's scores from the best task's scores when it
beats chance.
"""
from __future__ import annotations

import torch

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


def free_mask(mask: list[torch.Tensor], earlier: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """M_free = M ∧ ¬(∨_j M_j) per layer; with no earlier masks, all of M is free."""
    if not earlier:
        return [m.clone() for m in mask]
    used = [torch.stack([e[l] for e in earlier]).any(0) for l in range(len(mask))]
    return [m & ~u for m, u in zip(mask, used)]


def sparse_overlap(mask: list[torch.Tensor], free: list[torch.Tensor]) -> float:
    """Eq. 2 over all layers: (ΣM − ΣM_free) / ΣM."""
    total = sum(int(m.sum()) for m in mask)
    return (total - sum(int(f.sum()) for f in free)) / total


def exclusive_weight(w: torch.Tensor, mask: torch.Tensor, free: torch.Tensor | None) -> torch.Tensor:
    """W ⊙ M for the forward pass with ∂/∂W reaching only the free entries (free=None: all of M, SSNeT).

    The paper writes the forward mask as M̂ = M_free + ((1 − M_free) ⊙ M).detach(); as written the gradient of
    W ⊙ M̂ with respect to W is M̂ itself, non-zero on shared weights too, so we implement what the text says it
    does: the shared part of W ⊙ M enters detached."""
    if free is None:
        return w * mask
    shared = mask & ~free
    return w * free + (w * shared).detach()


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, k: int,
                n_classes: int) -> torch.Tensor:
    """k-nearest-neighbour labels of test_x by Euclidean distance to train_x; majority vote, ties to the label
    with the smaller summed distance."""
    d = torch.cdist(test_x, train_x)
    k = min(k, len(train_x))
    dist, idx = d.topk(k, largest=False)
    dist = dist.double()
    votes = torch.zeros(len(test_x), n_classes, dtype=torch.float64, device=test_x.device).scatter_add_(
        1, train_y[idx], torch.ones_like(dist))
    closeness = torch.zeros_like(votes).scatter_add_(1, train_y[idx], -dist)  # in [−Σ dist, 0]
    # lexicographic: one vote outweighs any difference in summed distance
    return (votes * (dist.sum(1, keepdim=True) + 1) + closeness).argmax(1)


def kkt_source(features: list[torch.Tensor], y: torch.Tensor, n_train: int, k: int, n_classes: int) -> int | None:
    """KKT (§3.2): features[j] (n, d) are the new task's samples embedded by earlier task j's subnetwork; a KNN on
    the first n_train samples is scored on the rest. Returns the earlier task whose KNN scores best if that beats
    chance (1 / n_classes), else None (start from a fresh initialisation)."""
    scores = []
    for f in features:
        pred = knn_predict(f[:n_train], y[:n_train], f[n_train:], k, n_classes)
        scores.append(float((pred == y[n_train:]).float().mean()))
    if not scores:
        return None
    best = max(range(len(scores)), key=scores.__getitem__)
    return best if scores[best] > 1.0 / n_classes else None
