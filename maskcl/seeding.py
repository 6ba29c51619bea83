"""Explicit seeds: every random draw in maskcl comes from a generator built here, never the global RNG."""
from __future__ import annotations

import hashlib

import torch


def derive_seed(*keys: object) -> int:
    """A 63-bit seed derived from any tuple of keys (stable across runs, platforms and Python versions)."""
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(*keys: object) -> torch.Generator:
    """A CPU generator seeded from `keys`. Draw on the CPU, then move: the same numbers on every device."""
    return torch.Generator().manual_seed(derive_seed(*keys))
