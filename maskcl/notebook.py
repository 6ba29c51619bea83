"""Checks a notebook runs first: the values of its parameters cell (or of papermill's `-p NAME VALUE`), before
any run starts — so `-p TOLERANCE abc` fails at once with one line, not in the last cell after all the runs."""
from __future__ import annotations

from numbers import Real

from .runs import PROFILES, resolve_device


def check_parameters(names: dict) -> None:
    """PROFILE one of smoke | quick | paper; DEVICE cpu | cuda | auto (cuda only where torch sees a GPU);
    TOLERANCE a number ≥ 0; SEEDS and PAPER_SEEDS lists of integers or None (the profile's) — each checked when the notebook has it."""
    problems = []
    if "PROFILE" in names and names["PROFILE"] not in PROFILES:
        problems.append(f"PROFILE={names['PROFILE']!r}: choose one of {', '.join(PROFILES)}")
    if "DEVICE" in names:
        try:
            resolve_device(str(names["DEVICE"]))
        except (RuntimeError, ValueError) as err:
            problems.append(f"DEVICE={names['DEVICE']!r}: {err}")
    tol = names.get("TOLERANCE", 0)
    if isinstance(tol, bool) or not isinstance(tol, Real) or tol < 0:
        problems.append(f"TOLERANCE={tol!r}: a number of accuracy points ≥ 0")
    for name in ("SEEDS", "PAPER_SEEDS"):
        seeds = names.get(name) or []  # None: the profile's seeds
        if not isinstance(seeds, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            problems.append(f"{name}={seeds!r}: a list of integers, e.g. [0, 1, 2]")
    if problems:
        raise ValueError("bad notebook parameter: " + "; ".join(problems))
