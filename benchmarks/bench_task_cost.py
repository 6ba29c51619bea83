"""Where one added SupSup task's seconds go, at the paper protocol: LeNet 300-100, s = 100, PermutedMNIST, 1000
RMSprop steps of batch 128, then GG and GNu one-shot evaluation. Everything below is measured in one run (the
machine is shared and its speed drifts; compare numbers within one JSON).

training, per task (1000 steps; `--chunk` tasks stacked, as `supsup.learn_masks` trains a chunk):
  step       the whole training step (`methods.supsup.train_masks`, by default `kernels.mlp_train`)
  step_by_autograd  the same step with autograd taking the gradients (`train_masks(fast=False)`, the readable path)
  matmul     its matrix products alone on tensors of the same shapes (the floor no step can beat)
  mask       `kernels.mlp_train.masked_weight_` and `score_grad_` (threshold into W's dtype, product; gradient ⊙ W)
  optimiser  the RMSprop update
  data       gathering the batch: rows, the task's permutation, normalisation
  rest       step − the four above: loss and its gradient, ReLUs and theirs, Python
evaluation, per task:
  GG         its 10,000 test images under its own mask (`infer.batch_correct`)
  one-shot   its 79 test batches decided among k masks (H; first image, full batch), at k = 250; and the same
             by autograd (the library before `infer.alpha_grads` took its gradients by hand)
  GNu, Fig. 3  what `methods.supsup.evaluate` spends per task over the paper's checkpoints (10 … 250 tasks),
             objectives H and G, first image and full batch: Σ_k (4k · t(k) + s(k)) / 250 from one-shot timed at every
             k (t per rule; G costs what H costs) and s(k), its superposed network, built once per checkpoint
checkpoint I/O: packing, writing and reading back one task's mask
end to end: whole processes that train N tasks and evaluate GG and one-shot (H, first image) among all N masks;
  per added task = (T(N₂) − T(N₁)) / (N₂ − N₁), so start-up and data loading cancel. With --official CHECKOUT,
  the released code does the same work (tools/released_code/task_cost.sh) for --official-n N₁ N₂ tasks, timed the
  same way in the same run. With --against OTHER_CHECKOUT (maskcl at another commit), its end-to-end runs
  alternate with ours for --rounds rounds; each side's best round is compared (`ours_over_against`).

    .venv/bin/python benchmarks/bench_task_cost.py [--label before] [--chunk 50] [--n 10 30]
                                                   [--against OTHER_CHECKOUT --rounds 3]
                                                   [--official CHECKOUT [--official-n 3 6]]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from maskcl.data import load_dataset, task_stream
from maskcl.infer import batch_correct, decision_groups, entropy, one_shot, superpose
from maskcl.kernels.mlp_train import masked_weight_, score_grad_
from maskcl.masks import init_scores, pack_bits
from maskcl.methods.supsup import train_masks
from maskcl.nets.init import signed_constant
from maskcl.nets.mlp import forward, mlp
from maskcl.paper import TASKS_250
from maskcl.store import Checkpoint
from maskcl import train as train_module
from maskcl.train import TrainConfig, task_batches

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import matmul_floor  # noqa: E402
from bench_supsup import save  # noqa: E402

STEPS = 1000


def best_of(fn, rounds: int = 3, repeat: int = 20) -> float:
    """Seconds per call: the best of `rounds` rounds of `repeat` calls, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def step_seconds(stream, net, weights, chunk: int, measure: int = 60) -> float:
    """Seconds per task of 1000 training steps (`methods.supsup.train_masks`) for a chunk of `chunk` tasks."""
    tasks, cfg = list(range(chunk)), TrainConfig(steps=measure)
    return STEPS * best_of(lambda: train_masks(stream, net, weights, tasks, cfg, 0), rounds=3, repeat=1) \
        / measure / chunk


def autograd_step_seconds(stream, net, weights, chunk: int, measure: int = 60) -> float:
    """The same, with the gradients taken by autograd through `masks.masked_weight` (`train_masks(fast=False)`,
    the readable path; same masks, bit for bit)."""
    tasks, cfg = list(range(chunk)), TrainConfig(steps=measure)
    return STEPS * best_of(lambda: train_masks(stream, net, weights, tasks, cfg, 0, fast=False), rounds=3,
                           repeat=1) / measure / chunk


def training_parts(stream, net, weights, chunk: int) -> dict:
    """Seconds per task for 1000 steps: the whole step for a chunk of `chunk` tasks, and its parts for as many
    tasks as one step stacks (on a CPU, `train.CPU_GROUP` where the library has it)."""
    step = step_seconds(stream, net, weights, chunk)
    step_autograd = autograd_step_seconds(stream, net, weights, chunk)
    stacked = min(chunk, getattr(train_module, "CPU_GROUP", chunk))
    tasks = list(range(stacked))
    scores = [torch.stack([init_scores(net, 0, t)[l] for t in tasks]) for l in range(3)]
    grads = [torch.randn_like(s) for s in scores]
    work = [torch.empty_like(s) for s in scores]
    order = task_batches(stream, tasks, TrainConfig(steps=STEPS), 0)
    task_ids = torch.tensor(tasks)[:, None]

    def copies():  # a fresh gradient for score_grad_ to overwrite (timed apart and taken off)
        for g, src in zip(work, grads):
            g.copy_(src)

    def mask():
        copies()
        for b, w, s in zip(buffers, weights, scores):
            masked_weight_(b, w, s)
        for g, w, s in zip(work, weights, scores):
            score_grad_(g, w, s)

    buffers = [torch.empty_like(s) for s in scores]
    for s, g in zip(scores, grads):
        s.grad = g
    opt = torch.optim.RMSprop(scores, lr=1e-4, alpha=0.99, eps=1e-8)
    counter = iter(range(10 ** 9))
    parts = {"matmul": matmul_floor(net, stacked, 128, weights[0].device),
             "mask": best_of(mask) - best_of(copies),
             "optimiser": best_of(opt.step),
             "data": best_of(lambda: stream.inputs("train", order[:, next(counter) % STEPS], task_ids))}
    out = {"step": step, "step_by_autograd": step_autograd, "tasks_per_step": stacked}
    out.update({k: STEPS * v / stacked for k, v in parts.items() if k != "matmul"})
    out["matmul"] = STEPS * parts["matmul"]  # matmul_floor is already per task
    out["rest"] = out["step"] - sum(out[k] for k in ("matmul", "mask", "optimiser", "data"))
    out["by_hand_faster"] = step_autograd / step
    return out


def one_shot_by_autograd(weights, masks, x, objective="H"):
    """One-shot as the library did it before `infer.alpha_grads` took ∂J/∂W_eff by hand (same decisions, bit for
    bit): the superposed network built per call and copied per group, autograd to the copies."""
    masks = [m.flatten(1).to(weights[0].dtype) for m in masks]
    k = masks[0].shape[0]
    row = torch.full((1, k), 1.0 / k, dtype=weights[0].dtype)
    w_eff = [(w * (row @ m).view(1, *w.shape)).expand(len(x), *w.shape).clone().requires_grad_()
             for w, m in zip(weights, masks)]
    grads = torch.autograd.grad(entropy(forward(x, w_eff)).mean(-1).sum(), w_eff)
    return sum(torch.einsum("gp,kp->gk", (g * w).flatten(1), m) for g, w, m in zip(grads, weights, masks)).argmin(-1)


def evaluation_parts(stream, net, weights, k_max: int = 250) -> dict:
    """Seconds per task: GG, one-shot at k = k_max (and, for comparison, one-shot by autograd), and Fig. 3's GNu
    evaluation amortised per task, as `methods.supsup.evaluate` does it (masks as floats and one-shot's superposed
    network computed once per checkpoint, shared by its k tasks, 2 objectives and 2 rules)."""
    g = torch.Generator().manual_seed(0)
    masks = [torch.rand(k_max, *s, generator=g) < 0.5 for s in net.shapes]
    x, y = stream.task_data(0, "test")
    own = [m[0] for m in masks]
    out = {"GG": best_of(lambda: batch_correct(weights, own, x, y, 128), repeat=5)}
    per_k = {}
    for k in TASKS_250:
        sub = [m[:k].to(weights[0].dtype) for m in masks]
        shared = superpose(weights, sub)
        per_k[k] = {rule: best_of(lambda: torch.cat([one_shot(weights, sub, grp, "H", superposed=shared)
                                                     for grp in decision_groups(x, 128, rule)]), rounds=2, repeat=1)
                    for rule in ("first", "full")}
        per_k[k]["superpose"] = best_of(lambda: superpose(weights, sub), rounds=2, repeat=1)
    for rule in ("first", "full"):
        out[f"one-shot H {rule}, k=250"] = per_k[k_max][rule]
        out[f"one-shot H {rule}, k=250, by autograd"] = best_of(
            lambda: torch.cat([one_shot_by_autograd(weights, [m.to(weights[0].dtype) for m in masks], grp)
                               for grp in decision_groups(x, 128, rule)]), rounds=2, repeat=1)
    # every task t < k is decided at checkpoint k, for 2 objectives (G costs what H costs) and 2 rules; one
    # superposition per checkpoint
    out["GNu Fig. 3 (H, G × first, full)"] = sum(2 * k * (t["first"] + t["full"]) + t["superpose"]
                                                for k, t in per_k.items()) / k_max
    return out


def checkpoint_io(net) -> float:
    g = torch.Generator().manual_seed(1)
    masks = [torch.rand(1, *s, generator=g) < 0.5 for s in net.shapes]
    with tempfile.TemporaryDirectory() as d:
        ckpt = Checkpoint(d)
        return best_of(lambda: (ckpt.save_layers("m.safetensors", [pack_bits(m.flatten(1)) for m in masks]),
                                ckpt.load_layers("m.safetensors", len(masks))), repeat=10)


END_TO_END = """
import dataclasses, sys, tempfile
from pathlib import Path
from maskcl import runs
n, chunk = int(sys.argv[1]), int(sys.argv[2])
Exp = getattr(runs, "StreamExperiment", None) or runs.Experiment  # older checkouts: Experiment, parallel
named = "chunk" if "chunk" in {f.name for f in dataclasses.fields(Exp)} else "parallel"
with tempfile.TemporaryDirectory() as d:
    runs.run(Exp(n_tasks=n, checkpoints=(n,), objectives=("H",), decide=("first",), **{named: chunk}),
        profile="benchmark", device="cpu", results=Path(d) / "r", cache=Path(d) / "c")
"""


def end_to_end(ns: list[int], command, cwd=None) -> dict:
    """Whole-process wall time of command(N) for each N (run in `cwd`), and the marginal seconds per added task."""
    wall = {}
    for n in ns:
        start = time.perf_counter()
        subprocess.run(command(n), check=True, cwd=cwd,
                       env={**os.environ, "MASKCL_PROGRESS": "0", "PYTHON": sys.executable})
        wall[n] = time.perf_counter() - start
    lo, hi = min(ns), max(ns)
    return {"wall_s": {str(n): round(v, 2) for n, v in wall.items()},
            "s_per_added_task": round((wall[hi] - wall[lo]) / (hi - lo), 3)}


def _commit(checkout: str) -> str:
    return subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="now")
    parser.add_argument("--chunk", type=int, default=50, help="tasks per training chunk (the paper profile's)")
    parser.add_argument("--n", type=int, nargs=2, default=(10, 30), help="task counts for the end-to-end runs")
    parser.add_argument("--arch", default="lenet", choices=("lenet", "fc"))
    parser.add_argument("--out-size", type=int, default=100, help="s, the head's outputs")
    parser.add_argument("--training-only", action="store_true", help="only the training step and its parts")
    parser.add_argument("--against", default=None,
                        help="a checkout of maskcl at another commit: its end-to-end runs alternate with ours")
    parser.add_argument("--rounds", type=int, default=1, help="end-to-end rounds (alternating with --against)")
    parser.add_argument("--official", default=None, help="a checkout of RAIVNLab/supsup: time it too")
    parser.add_argument("--official-n", type=int, nargs=2, default=(3, 6), help="its task counts")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.manual_seed(0)
    device = torch.device("cpu")
    net = mlp(args.arch, args.out_size)
    stream = task_stream("permuted", max(args.chunk, 1), load_dataset("mnist", 0), base_seed=0)
    weights = signed_constant(net, 0)
    train = training_parts(stream, net, weights, args.chunk)
    if args.training_only:
        result = {"label": args.label, "setting": f"{args.arch}, s={args.out_size}, PermutedMNIST, 1000 RMSprop "
                  "steps of 128", "chunk": args.chunk, "training_s_per_task": train,
                  "training_over_matmul_floor": round(train["step"] / train["matmul"], 2)}
        return save(result, f"task_cost_{args.label}", device, start)
    evaluation = evaluation_parts(stream, net, weights)
    io = checkpoint_io(net)
    command = lambda n: [sys.executable, "-c", END_TO_END, str(n), str(args.chunk)]  # noqa: E731
    here = Path(__file__).resolve().parent.parent
    rounds = []
    for _ in range(args.rounds):  # ours and the other checkout's in turn, so drift hits both alike
        rounds.append({"ours": end_to_end(list(args.n), command, cwd=here)})
        if args.against:
            rounds[-1]["against"] = end_to_end(list(args.n), command, cwd=args.against)
    e2e = {**min((r["ours"] for r in rounds), key=lambda r: r["s_per_added_task"]), "rounds": rounds}
    if args.against:
        best = min(r["against"]["s_per_added_task"] for r in rounds)
        e2e["against"] = {"checkout": args.against, "commit": _commit(args.against), "s_per_added_task": best,
                          "ours_over_against": round(e2e["s_per_added_task"] / best, 3)}
    if args.official:
        script = Path(__file__).resolve().parent.parent / "tools" / "released_code" / "task_cost.sh"
        official = end_to_end(list(args.official_n), lambda n: ["bash", str(script), args.official, str(n)])
        e2e["official_code"] = {**official, "ours_faster": round(official["s_per_added_task"]
                                                                 / e2e["s_per_added_task"], 2)}
    rnd = lambda d: {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}  # noqa: E731
    result = {"label": args.label, "setting": "LeNet 300-100, s=100, PermutedMNIST, 1000 RMSprop steps of 128",
              "chunk": args.chunk, "training_s_per_task": rnd(train),
              "training_over_matmul_floor": round(train["step"] / train["matmul"], 2),
              "training_by_autograd_over_matmul_floor": round(train["step_by_autograd"] / train["matmul"], 2),
              "evaluation_s_per_task": rnd(evaluation), "checkpoint_io_s_per_task": round(io, 4),
              "end_to_end": e2e}
    save(result, f"task_cost_{args.label}", device, start)


if __name__ == "__main__":
    main()
