"""SupSup in scenario GNu: one supermask per task over a fixed random backbone, task inferred at test time.

Training (§4.2): per task, scores trained with RMSprop through a straight-through threshold (or top-k) mask.
Evaluation (§4.2): the test set of each task is cut into batches of 128; one task decision is made per batch
(from its first image, or the full batch); a wrong decision makes the whole batch wrong. Accuracy after t
tasks is the mean over tasks 1..t with inference among the first t masks.
"""
from __future__ import annotations

import torch

from ..nets.init import signed_constant
from ..nets.mlp import MLP
from ..data import TaskStream
from ..masks import mask_bytes
from ..scoring import evaluate, result_rows
from ..registry import register
from ..store import Checkpoint
from ..train import learn_masks

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


@register("supsup", version=VERSION, config="Experiment", setup="stream")
def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    weights = [w.to(getattr(torch, exp.precision)) for w in signed_constant(net, exp.seed, device)]
    masks = learn_masks(stream, net, weights, range(exp.n_tasks), exp.train, exp.seed, ckpt, exp.parallel)
    per_task = evaluate(stream, weights, masks, exp, ckpt)
    density = [float(m.float().mean()) for m in masks]
    return {"rows": result_rows(per_task, exp.checkpoints), "per_task": per_task, "mask_density_per_layer": density,
            "mask_bytes_packed": mask_bytes(net, packed=True), "mask_bytes_bool": mask_bytes(net, packed=False)}
