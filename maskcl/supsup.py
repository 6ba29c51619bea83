"""SupSup in scenario GNu: one supermask per task over a fixed random backbone, task inferred at test time.

Training (§4.2): per task, scores trained with RMSprop through a straight-through threshold (or top-k) mask.
Evaluation (§4.2): the test set of each task is cut into batches of 128; one task decision is made per batch
(from its first image, or the full batch); a wrong decision makes the whole batch wrong. Accuracy after t
tasks is the mean over tasks 1..t with inference among the first t masks.
"""
from __future__ import annotations

import itertools
import math

import torch

from .nets.init import signed_constant
from .nets.mlp import MLP
from .data import TaskStream
from .infer import batch_correct, decision_groups, infer
from .masks import mask_bytes, pack_bits, unpack_bits
from .progress import bar
from .store import Checkpoint
from .train import train_masks

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


def cached_masks(stream: TaskStream, net: MLP, weights, tasks, cfg, seed: int, ckpt: Checkpoint,
                 parallel: int, name: str = "masks", keys=None) -> list[torch.Tensor]:
    """Masks for `tasks` (per layer bool (n, out, in)), trained `parallel` at a time (see train_masks for
    `keys`); every trained chunk is checkpointed bit-packed, so an interrupted run resumes at the first
    missing chunk."""
    device = weights[0].device
    tasks, keys = list(tasks), list(keys or tasks)
    done = ckpt.load_json(f"{name}.json", {"chunks": []})
    for i0 in bar(range(0, len(tasks), parallel), desc=name):
        i1 = min(i0 + parallel, len(tasks))
        chunk = f"{name}_{i0:05d}_{i1 - 1:05d}.safetensors"
        if chunk in done["chunks"]:
            continue
        masks = train_masks(stream, net, weights, tasks[i0:i1], cfg, seed, keys[i0:i1])
        ckpt.save_layers(chunk, [pack_bits(m.flatten(1)) for m in masks])
        done["chunks"].append(chunk)
        ckpt.save_json(f"{name}.json", done)
    per_chunk = [ckpt.load_layers(n, len(net.shapes), device) for n in done["chunks"]]
    return [torch.cat([unpack_bits(c[l], math.prod(shape)).view(-1, *shape) for c in per_chunk])
            for l, shape in enumerate(net.shapes)]


def scored(correct: torch.Tensor, guess: torch.Tensor, task: int, n: int) -> tuple[float, float]:
    """(accuracy %, task inferred correctly %) of one task's n test images in batches: `correct` counts the
    right predictions per batch with the task's own mask, and a batch only counts when its guessed task is right."""
    right = guess == task
    return 100.0 * float((correct * right).sum()) / n, 100.0 * float(right.float().mean())


def decided(stream: TaskStream, k: int, limit, choose, correct) -> tuple[list[float], list[float]]:
    """`scored` for each task t < k: choose(x) guesses one task per test batch of x, correct(t, x, y) counts each
    batch's right predictions with task t's own weights."""
    acc, hit = [], []
    for t in range(k):
        x, y = stream.task_data(t, "test", limit)
        a, h = scored(correct(t, x, y), choose(x), t, len(y))
        acc.append(a)
        hit.append(h)
    return acc, hit


def evaluate(stream: TaskStream, weights, masks, exp, ckpt: Checkpoint) -> dict:
    """Per-task accuracies (%) for GG and for every (checkpoint, objective, decision rule[, γ]) in GNu,
    plus the fraction of test batches whose task was inferred correctly. Resumes per checkpoint."""
    n_real = 10
    correct, sizes = [], []
    for t in range(exp.n_tasks):
        x, y = stream.task_data(t, "test", exp.test_limit)
        correct.append(batch_correct(weights, [m[t] for m in masks], x, y, exp.test_batch))
        sizes.append(len(y))
    per_task = {"GG": [100.0 * float(c.sum()) / n for c, n in zip(correct, sizes)]}
    per_task.update(ckpt.load_json("eval.json", {}))
    for k in bar(exp.checkpoints, desc="evaluate"):
        sub = [m[:k] for m in masks]
        # binary inference may also run with the top-γ element in place of the median (Fig. 11-left)
        variants = [("", 0.5)] + [(f"|{g:g}", g) for g in exp.gammas if exp.inference == "binary"]
        for objective, decide, (tag, keep) in itertools.product(exp.objectives, exp.decide, variants):
            label = f"{objective}|{decide}|{k}{tag}"
            if label in per_task:
                continue
            acc, hit = decided(stream, k, exp.test_limit,
                               lambda x: torch.cat([infer(weights, sub, g, exp.inference, objective, n_real, keep)
                                                    for g in decision_groups(x, exp.test_batch, decide)]),
                               lambda t, x, y: correct[t])
            per_task[label] = acc
            per_task[f"task-inference {label}"] = hit
            ckpt.save_json("eval.json", {k_: v for k_, v in per_task.items() if k_ != "GG"})
    return per_task


def result_rows(per_task: dict, checkpoints, name: str = "SupSup") -> list[dict]:
    """Mean accuracy rows of `evaluate`'s per-task dict: '<name> (GG)' per checkpoint and one row per
    (objective, decision rule, checkpoint) with its task-inference rate."""
    rows = [{"method": f"{name} (GG)", "tasks": k, "accuracy": sum(per_task["GG"][:k]) / k} for k in checkpoints]
    labels = [label.split("|") for label in per_task if "|" in label and not label.startswith("task-inference")]
    for parts in sorted(labels, key=lambda p: (p[0], p[1], int(p[2]), p[3:])):  # resume-independent order
        objective, decide, k = parts[:3]
        label = "|".join(parts)
        suffix = ("" if decide == "first" else ", full batch") + (f", γ={parts[3]}" if len(parts) > 3 else "")
        rows.append({"method": f"{name} (GNu {objective}{suffix})", "tasks": int(k),
                     "accuracy": sum(per_task[label]) / len(per_task[label]),
                     "task_inference": sum(per_task[f"task-inference {label}"]) / len(per_task[label])})
    return rows


def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    weights = signed_constant(net, exp.seed, device)
    masks = cached_masks(stream, net, weights, range(exp.n_tasks), exp.train, exp.seed, ckpt, exp.parallel)
    per_task = evaluate(stream, weights, masks, exp, ckpt)
    density = [float(m.float().mean()) for m in masks]
    return {"rows": result_rows(per_task, exp.checkpoints), "per_task": per_task, "mask_density_per_layer": density,
            "mask_bytes_packed": mask_bytes(net, packed=True), "mask_bytes_bool": mask_bytes(net, packed=False)}
