"""SupSup at scale (issue: Fig. 4 setting, LeNet 300-100 with s = 500): (a) mask-training throughput, tasks per
minute at the paper protocol (1000 steps), one task at a time vs B tasks batched, and the matmul floor that bounds
what batching can gain; (b) one-shot inference time per test batch of 128 (first-image decisions, all of a task's
batches at once) and memory vs the number of masks k; (c) bytes per stored mask.
Writes benchmarks/results/scale_<device>.json.

    .venv/bin/python benchmarks/bench_scale.py [--device cpu|cuda] [--ks 10 100 1000 2500] [--batched 8]
"""
from __future__ import annotations

import argparse
import time

import torch

from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import mlp
from maskcl.data import load_dataset, task_stream
from maskcl.infer import decision_groups, one_shot
from maskcl.masks import mask_bytes
from maskcl.runs import resolve_device
from maskcl.methods.supsup import train_masks
from maskcl.train import TrainConfig

from bench_supsup import save, timed  # noqa: E402  (run from the benchmarks folder or with it on sys.path)


def matmul_floor(net, tasks: int, batch: int, device, repeat: int = 20) -> float:
    """Seconds per task-step spent in the matmuls alone — the forward and the backward GEMMs of one training
    step of `tasks` stacked tasks (weight gradients for every layer, input gradients above the first) — timed
    on random tensors of the training shapes. No training step can take less on this device."""
    g = torch.Generator().manual_seed(0)
    w = [torch.randn(tasks, o, i, generator=g).to(device) for o, i in net.shapes]
    x = torch.randn(tasks, batch, net.sizes[0], generator=g).to(device)

    def step():
        hs = [x]
        for wl in w:
            hs.append(hs[-1] @ wl.mT)
        grad = torch.ones_like(hs[-1])
        for layer in reversed(range(len(w))):
            grad.mT @ hs[layer]
            if layer:
                grad = grad @ w[layer]

    return timed(step, device, repeat=repeat) / tasks


def training(stream, net, w, batched: int, steps: int, device) -> dict:
    """Tasks per minute at 1000 steps, one task at a time vs `batched` at once (the best of 3 alternating
    rounds each, since a shared 2-core machine is noisy), against the matmul floor of each."""
    cfg = TrainConfig(steps=steps)
    train_masks(stream, net, w, [0], TrainConfig(steps=5), 0)  # warm-up
    seq, bat = [], []
    for _ in range(3):
        seq.append(timed(lambda: [train_masks(stream, net, w, [t], cfg, 0) for t in range(batched)], device,
                         warmup=False) / batched / steps)
        bat.append(timed(lambda: train_masks(stream, net, w, list(range(batched)), cfg, 0), device,
                         warmup=False) / batched / steps)
    seq, bat = min(seq), min(bat)
    floor_seq, floor_bat = matmul_floor(net, 1, cfg.batch, device), matmul_floor(net, batched, cfg.batch, device)
    flops = 2 * cfg.batch * (2 * net.n_weights + sum(o * i for o, i in net.shapes[1:]))
    per_min = lambda s: round(60 / (1000 * s), 2)  # noqa: E731 — seconds per task-step → tasks per minute
    return {"tasks": batched, "steps_measured": steps,
            "tasks_per_min_sequential": per_min(seq), "tasks_per_min_batched": per_min(bat),
            "batched_speedup": round(seq / bat, 2),
            "matmul_MFLOP_per_task_step": round(flops / 1e6, 1),
            "matmul_floor_ms_per_task_step": {"sequential": round(1000 * floor_seq, 3),
                                              "batched": round(1000 * floor_bat, 3)},
            "matmul_GFLOPs": {"sequential": round(flops / floor_seq / 1e9, 1),
                              "batched": round(flops / floor_bat / 1e9, 1)},
            "ms_per_task_step": {"sequential": round(1000 * seq, 3), "batched": round(1000 * bat, 3)},
            "max_possible_speedup": round(seq / floor_bat, 2)}


def inference(stream, net, w, k: int, device) -> dict:
    g = torch.Generator().manual_seed(k)
    masks = [(torch.rand(k, o, i, generator=g) < 0.5).to(device) for o, i in net.shapes]
    x, _ = stream.task_data(0, "test")
    groups = decision_groups(x, 128, "first")[0]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    t = timed(lambda: one_shot(w, masks, groups), device, repeat=3)
    out = {"k": k, "ms_per_test_batch": round(1000 * t / len(groups), 3),
           "masks_bool_MB": round(sum(m.numel() for m in masks) / 2 ** 20, 1),
           "masks_packed_MB": round(k * mask_bytes(net) / 2 ** 20, 1)}
    if device.type == "cuda":
        out["peak_extra_GPU_MB"] = round((torch.cuda.max_memory_allocated(device) - base) / 2 ** 20, 1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ks", type=int, nargs="+", default=[10, 100, 1000, 2500])
    ap.add_argument("--batched", type=int, default=8)
    ap.add_argument("--steps", type=int, default=200, help="steps timed per task (scaled to 1000)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    stream = task_stream("permuted", max(args.batched, 1), load_dataset("auto"), device=device)
    net = mlp("lenet", 500)
    w = signed_constant(net, 0, device)
    start = time.perf_counter()
    result = {"arch": "lenet", "out_size": 500,
              "training": training(stream, net, w, args.batched, args.steps, device),
              "inference": [inference(stream, net, w, k, device) for k in args.ks],
              "bytes_per_mask": {"packed": mask_bytes(net), "bool": mask_bytes(net, packed=False),
                                 "fp32_scores": 4 * net.n_weights, "weights": net.n_weights},
              "dataset": "mnist" if stream.x["train"].shape[0] == 60000 else "synthetic"}
    save(result, "scale", device, start)


if __name__ == "__main__":
    main()
