"""SupSup speed on this machine: mask training (seconds per task at the paper protocol, sequential vs batched)
and one-shot task inference among k masks (time per test batch of 128). Writes benchmarks/results/<device>.json.

    .venv/bin/python benchmarks/bench_supsup.py [--device cpu|cuda] [--k 250] [--quick]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import mlp
from maskcl.data import load_dataset, task_stream
from maskcl.infer import decision_groups, one_shot
from maskcl.masks import mask_bytes
from maskcl.runs import provenance, resolve_device
from maskcl.methods.supsup import train_masks
from maskcl.train import TrainConfig


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeat=1, warmup=True):
    if warmup:
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeat


def save(result: dict, name: str, device, start: float) -> None:
    """Add provenance (device, versions, date, wall time since `start`) and write results/<name>_<device>.json."""
    sync(device)
    result["provenance"] = provenance("benchmark", device, time.perf_counter() - start)
    out = Path(__file__).parent / "results" / f"{name}_{device.type}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def bench_training(stream, arch, out_size, tasks, steps, device):
    net = mlp(arch, out_size)
    w = signed_constant(net, 0, device)
    cfg = TrainConfig(steps=steps)
    train_masks(stream, net, w, [0], TrainConfig(steps=5), 0)  # warm-up
    seq = timed(lambda: [train_masks(stream, net, w, [t], cfg, 0) for t in range(tasks)], device, warmup=False)
    bat = timed(lambda: train_masks(stream, net, w, list(range(tasks)), cfg, 0), device, warmup=False)
    scale = 1000 / steps
    return {"arch": arch, "out_size": out_size, "tasks": tasks, "steps_measured": steps,
            "s_per_task_sequential": round(seq / tasks * scale, 3), "s_per_task_batched": round(bat / tasks * scale, 3),
            "batched_speedup": round(seq / bat, 2)}


def bench_inference(stream, arch, out_size, k, device):
    net = mlp(arch, out_size)
    w = signed_constant(net, 0, device)
    g = torch.Generator().manual_seed(0)
    masks = [(torch.rand(k, o, i, generator=g) < 0.5).to(device) for o, i in net.shapes]
    x, _ = stream.task_data(0, "test")
    out = {"arch": arch, "out_size": out_size, "k": k, "mask_bytes_packed": mask_bytes(net),
           "mask_bytes_bool": mask_bytes(net, packed=False)}
    for decide in ("first", "full"):
        groups = decision_groups(x, 128, decide)
        n_batches = sum(len(gr) for gr in groups)
        all_at_once = timed(lambda: [one_shot(w, masks, gr) for gr in groups], device)
        one_by_one = timed(lambda: [one_shot(w, masks, gr[b:b + 1]) for gr in groups[:1] for b in range(8)], device)
        out[f"ms_per_batch_{decide}_batched"] = round(1000 * all_at_once / n_batches, 3)
        out[f"ms_per_batch_{decide}_one_at_a_time"] = round(1000 * one_by_one / 8, 3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--k", type=int, default=250)
    ap.add_argument("--quick", action="store_true", help="fewer steps (timings extrapolated to 1000)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    stream = task_stream("permuted", 10, load_dataset("auto"), device=device)
    start = time.perf_counter()
    steps = 200 if args.quick else 1000
    result = {
        "training": [bench_training(stream, "lenet", 100, 4, steps, device),
                     bench_training(stream, "fc", 500, 2, max(50, steps // 5), device)],
        "inference": [bench_inference(stream, "lenet", 100, args.k, device),
                      bench_inference(stream, "fc", 500, min(args.k, 100), device)],
        "dataset": "mnist" if stream.x["train"].shape[0] == 60000 else "synthetic",
    }
    save(result, "supsup", device, start)


if __name__ == "__main__":
    main()
