"""What a notebook runs first — the values of its parameters cell (or of papermill's `-p NAME VALUE`) checked
before any run starts, so `-p TOLERANCE abc` fails at once with one line, not in the last cell after all the runs —
and what its exercises run: the notebook's run next to the same run with one setting changed."""
from __future__ import annotations

from numbers import Real

from .runs import PROFILES, resolve_device


def check_parameters(names: dict) -> None:
    """PROFILE one of smoke | quick | paper; DEVICE cpu | cuda | auto (cuda only where torch sees a GPU);
    TOLERANCE a number ≥ 0; SEEDS and PAPER_SEEDS lists of integers or None (the profile's); EXERCISE_* None, a
    number or a name — each checked when the notebook has it."""
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
    for name, value in names.items():  # an exercise's parameter: None (skip the exercise), a number or a name
        if name.startswith("EXERCISE_") and not (value is None or isinstance(value, (Real, str)) and not isinstance(value, bool)):
            problems.append(f"{name}={value!r}: None, a number or a name")
    if problems:
        raise ValueError("bad notebook parameter: " + "; ".join(problems))


def changed(cfg, change: dict):
    """`cfg` with the fields in `change` replaced; a dotted name reaches into a nested config, e.g.
    {"train.steps": 100} or {"hop.restarts": 3}."""
    from dataclasses import replace

    top: dict = {}
    for name, value in change.items():
        head, _, rest = name.partition(".")
        top[head] = changed(getattr(cfg, head), {rest: value}) if rest else value
    return replace(cfg, **top)


def exercise(exp, change: dict, profile: str, device: str = "auto"):
    """An exercise's comparison: the notebook's run `exp` and the same run with `change` (see `changed`), side by
    side as one DataFrame of their rows, column `run` naming which is which. Both go through the store: the
    notebook's own run is read back, only the changed one is trained."""
    import pandas as pd

    from . import runs

    label = "changed: " + ", ".join(f"{k}={v}" for k, v in change.items())
    both = [("as in the notebook", exp), (label, changed(exp, change))]
    table = pd.concat([runs.rows([runs.run(e, profile=profile, device=device)]).assign(run=name) for name, e in both],
                      ignore_index=True)
    scalar = [c for c in table.columns if table[c].map(lambda v: v is None or isinstance(v, (int, float, str))).all()]
    return table[["run"] + [c for c in scalar if c != "run"]]
