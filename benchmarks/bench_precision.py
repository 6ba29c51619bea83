"""bf16 against fp32 for SupSup at the paper protocol (LeNet 300-100, s = 100, PermutedMNIST, 1000 RMSprop steps
of batch 128): seconds per task for the training step and for evaluation, and the accuracy change on the quick
profile's 10 tasks (GG, and GNu H/G from the first image and the full batch among the 10 masks). bf16 is
`StreamExperiment(precision="bfloat16")`: W, the masked weights and the activations in bf16, scores and RMSprop in fp32.
Everything is measured in one run.

    .venv/bin/python benchmarks/bench_precision.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

from maskcl.data import load_dataset, task_stream
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import mlp
from maskcl.runs import StreamExperiment, run
from maskcl.train import CPU_GROUP

sys.path.insert(0, str(Path(__file__).parent))
from bench_supsup import save  # noqa: E402
from bench_task_cost import evaluation_parts, step_seconds  # noqa: E402

PRECISIONS = ("float32", "bfloat16")


def ten_tasks(precision: str) -> dict:
    """Notebook 01's quick LeNet run (10 tasks, the full per-task protocol) at this precision, from scratch."""
    exp = StreamExperiment(n_tasks=10, checkpoints=(10,), chunk=10, precision=precision)
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        result = run(exp, profile="benchmark", device="cpu", results=Path(d) / "r", cache=Path(d) / "c")
        wall = time.perf_counter() - start
    return {"wall_s": round(wall, 2), "accuracy": {r["method"]: round(r["accuracy"], 2) for r in result["rows"]}}


def main():
    start = time.perf_counter()
    net = mlp("lenet", 100)
    stream = task_stream("permuted", CPU_GROUP, load_dataset("mnist", 0), base_seed=0)
    out = {}
    for precision in PRECISIONS:
        weights = [w.to(getattr(torch, precision)) for w in signed_constant(net, 0)]
        ev = evaluation_parts(stream, net, weights)
        out[precision] = {"training_s_per_task": round(step_seconds(stream, net, weights, CPU_GROUP), 3),
                          "evaluation_s_per_task": {k: round(v, 3) for k, v in ev.items()},
                          "ten_tasks": ten_tasks(precision)}
    fp32, bf16 = out["float32"], out["bfloat16"]
    out["bf16_speedup"] = {
        "training": round(fp32["training_s_per_task"] / bf16["training_s_per_task"], 2),
        "GNu Fig. 3 evaluation": round(fp32["evaluation_s_per_task"]["GNu Fig. 3 (H, G × first, full)"]
                                       / bf16["evaluation_s_per_task"]["GNu Fig. 3 (H, G × first, full)"], 2),
        "ten tasks end to end": round(fp32["ten_tasks"]["wall_s"] / bf16["ten_tasks"]["wall_s"], 2)}
    out["bf16_accuracy_change"] = {m: round(bf16["ten_tasks"]["accuracy"][m] - a, 2)
                                   for m, a in fp32["ten_tasks"]["accuracy"].items()}
    save({"setting": "LeNet 300-100, s=100, PermutedMNIST, 1000 RMSprop steps of 128", **out}, "precision",
         torch.device("cpu"), start)


if __name__ == "__main__":
    main()
