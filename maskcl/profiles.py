"""What each notebook runs under each profile — smoke (CI, seconds), quick (this CPU, minutes, real data),
paper (the papers' protocol, meant for a GPU). Reductions are stated here, in one place."""
from __future__ import annotations

from dataclasses import replace

from .hopfield import HopConfig, HopExperiment
from .paper import HOPSUPSUP, TASKS_250, TASKS_2500
from .runs import Experiment, check_profile
from .train import TrainConfig

# Dense baselines need no superfluous outputs: they use 10 outputs (the paper's Table 8 prints one
# Upper/Lower Bound row for every output size).
BOUND_OUT = 10


def supsup_fig3(profile: str, seed: int = 0) -> list[Experiment]:
    """SupSup Fig. 3 / Tables 3–4: GNu one-shot (H and G; first image and full batch) on PermutedMNIST for
    LeNet 300-100 (s = 100) and FC 1024-1024 (s = 200 and s = 500), with Upper and Lower Bounds."""
    check_profile(profile)
    if profile == "paper":
        lenet = fc = dict(n_tasks=250, checkpoints=TASKS_250, parallel=50)
    elif profile == "quick":
        # LeNet: the full per-task protocol for the first 10 tasks; FC: 3 tasks at 500 steps (CPU budget).
        lenet = dict(n_tasks=10, checkpoints=(2, 5, 10), parallel=5)
        fc = dict(n_tasks=3, checkpoints=(1, 2, 3), parallel=3, train=TrainConfig(steps=500))
    else:  # smoke: proves the code path only
        lenet = fc = dict(n_tasks=3, checkpoints=(2, 3), parallel=3, train=TrainConfig(steps=30),
                          test_limit=512, dataset="auto")
    out = []
    for arch, sizes, common in (("lenet", (100,), lenet), ("fc", (200, 500), fc)):
        base = replace(Experiment(arch=arch, seed=seed), **common)
        out += [replace(base, out_size=s) for s in sizes]
        out += [replace(base, method=m, out_size=BOUND_OUT) for m in ("upper_bound", "lower_bound")]
    return out


def supsup_fig4(profile: str, seed: int = 0) -> list[Experiment]:
    """SupSup Fig. 4 / Table 5: LeNet 300-100, s = 500, PermutedMNIST — GNu one-shot (H and G, first image),
    NNs (H; no task identity at all) and the Upper Bound, after 500 … 2500 tasks."""
    check_profile(profile)
    if profile == "paper":
        common = dict(n_tasks=2500, checkpoints=TASKS_2500, parallel=250)
    elif profile == "quick":  # the full per-task protocol, 20 tasks
        common = dict(n_tasks=20, checkpoints=(5, 10, 15, 20), parallel=10)
    else:
        common = dict(n_tasks=3, checkpoints=(2, 3), parallel=3, train=TrainConfig(steps=30), test_limit=512,
                      dataset="auto")
    base = replace(Experiment(arch="lenet", out_size=500, decide=("first",), seed=seed), **common)
    return [base, replace(base, method="nns", objectives=("H",)),
            replace(base, method="upper_bound", out_size=BOUND_OUT)]


def hopsupsup(profile: str) -> list[HopExperiment]:
    """SupSup Fig. 7–8: HopSupSup on SplitMNIST, one run per seed (paper: 20 seeds; quick: the first 10)."""
    check_profile(profile)
    if profile == "smoke":
        return [HopExperiment(seed=s, dataset="auto", hop=HopConfig(hidden=64, max_steps=10, test_limit=256))
                for s in range(2)]
    return [HopExperiment(seed=s) for s in range(HOPSUPSUP["seeds"] if profile == "paper" else 10)]
