"""Continual-learning metrics over an accuracy matrix A (Chaudhry et al. 2018, as ExSSNeT §4.1 uses them).

A[i, j] is the accuracy (%) on task j after learning task i (rows and columns in task order); entries for tasks
not learned yet (j > i) are NaN when they were not measured.
"""
from __future__ import annotations

import math
from typing import Sequence

Matrix = Sequence[Sequence[float]]


def accuracy_matrix(rows: Sequence[Sequence[float]], n_tasks: int) -> list[list[float]]:
    """Square A from rows of accuracies after each task (row i may stop at task i); missing entries are NaN."""
    if len(rows) != n_tasks:
        raise ValueError(f"{len(rows)} rows for {n_tasks} tasks")
    return [[float(r[j]) if j < len(r) else math.nan for j in range(n_tasks)] for r in rows]


def average_accuracy(a: Matrix) -> float:
    """A(T) = (1/N) Σ_k a_{N,k}: the mean of the last row (Chaudhry et al. 2018)."""
    last = a[-1]
    return sum(last) / len(last)


def forgetting(a: Matrix) -> float:
    """F(T) = 1/(N−1) Σ_{t<N} (max_{k∈{1..N−1}} a_{k,t} − a_{N,t}) (Lopez-Paz & Ranzato 2017; Chaudhry et al.
    2018): how far each earlier task fell from its best accuracy before the last task. Unmeasured (NaN) entries
    are skipped, so with tasks only scored once learned the max runs over k ∈ {t..N−1}."""
    n = len(a)
    if n < 2:
        return 0.0
    drops = []
    for t in range(n - 1):
        seen = [a[k][t] for k in range(n - 1) if not math.isnan(a[k][t])]
        drops.append(max(seen) - a[-1][t])
    return sum(drops) / len(drops)
