"""One SupSup training step against another checkout of maskcl, in alternating processes: LeNet 300-100, s = 100,
16 stacked PermutedMNIST tasks (one CPU group), 100 steps of batch 128, best of 3 per process; ms per task-step.
What a refactor must not slow down (issue 25: within 5 %); the rounds alternate so the machine's drift hits both.

    .venv/bin/python benchmarks/bench_step_against.py OTHER_CHECKOUT [--rounds 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_supsup import save  # noqa: E402

STEP = """
import time
try:
    from maskcl.methods.supsup import train_masks
except ImportError:  # before the redesign
    from maskcl.train import train_masks
from maskcl.data import load_dataset, task_stream
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import mlp
from maskcl.train import TrainConfig
net, tasks = mlp("lenet", 100), list(range(16))
w, stream = signed_constant(net, 0), task_stream("permuted", 16, load_dataset("mnist", 0), base_seed=0)
train_masks(stream, net, w, tasks, TrainConfig(steps=5), 0)
best = float("inf")
for _ in range(3):
    t = time.perf_counter()
    train_masks(stream, net, w, tasks, TrainConfig(steps=100), 0)
    best = min(best, time.perf_counter() - t)
print(best * 1000 / 100 / 16)
"""


def step_ms(checkout: Path) -> float:
    env = {**os.environ, "MASKCL_PROGRESS": "0", "PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, "-c", STEP], cwd=checkout, env=env, check=True, capture_output=True,
                         text=True).stdout
    return float(out.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("against", help="another checkout of maskcl")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    start = time.perf_counter()
    here, there = Path(__file__).resolve().parent.parent, Path(args.against).resolve()
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(step_ms(here))
        theirs.append(step_ms(there))
    commit = subprocess.run(["git", "-C", str(there), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {"setting": "LeNet 300-100, s=100, 16 stacked tasks, 100 steps of 128, best of 3 per process",
              "ms_per_task_step": {"ours": [round(v, 4) for v in ours], "against": [round(v, 4) for v in theirs]},
              "against_commit": commit,
              "ours_over_against_best": round(min(ours) / min(theirs), 3),
              "ours_over_against_mean": round(statistics.mean(ours) / statistics.mean(theirs), 3)}
    save(result, "step_against", torch.device("cpu"), start)


if __name__ == "__main__":
    main()
