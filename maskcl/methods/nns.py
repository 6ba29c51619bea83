"""SupSup in scenario NNs (§3.4, §4.3): no task identity in training *or* test.

The model sees one long stream of batches (n_tasks × steps per task) and never the task boundaries. Every
`decide_every` batches it runs one-shot H on the current batch among the K = max(k, 5) candidate masks
(k allocated so far; the official code always offers at least 5, unallocated ones at their initial scores):
ν = softmax(−∇_α H) at α = 1/K. It allocates a new mask when K · max ν < 1 + ε — the gradient is nearly
uniform, so no mask recognises the data — and otherwise keeps training mask argmax ν. At test time the mask is
again inferred by one-shot H among the k allocated masks, and accuracy is simply whether the labels are right.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..nets.init import signed_constant
from ..nets.mlp import MLP, forward
from ..data import TaskStream
from ..infer import alpha_grads, batch_correct, decision_groups, one_shot
from ..masks import init_scores, masked_weight
from ..loop import run_tasks
from ..registry import register
from ..store import Checkpoint
from ..train import task_batches

# Bump when a change alters this method's results: the cache key includes it, so old results miss.
VERSION = 1


@dataclass(frozen=True)
class NNsConfig:
    """SupSup §3.4 / official code: decide every 100 batches, ε = 2⁻³, at least 5 candidates, 2500 masks."""

    decide_every: int = 100
    eps: float = 2 ** -3
    min_candidates: int = 5
    budget: int = 2500


NNS = NNsConfig()


def decide(weights, masks: list[torch.Tensor], k: int, x: torch.Tensor, cfg: NNsConfig = NNS) -> tuple[int, bool, float]:
    """(mask index, whether it is newly allocated, K · max ν) for the batch x (n, in); masks[l] holds at least
    K = max(k, min_candidates) rows (allocated masks first, then fresh candidates). Once the budget is spent
    the best allocated mask is used."""
    if k == 0:
        return 0, True, float("nan")
    K = k if k >= cfg.budget else max(k, cfg.min_candidates)
    alpha = torch.full((1, K), 1.0 / K, device=x.device)
    nu = F.softmax(-alpha_grads(weights, [m[:K] for m in masks], alpha, x[None], "H")[0], dim=0)
    confidence = float(K * nu.max())
    best = int(nu.argmax())
    if k < cfg.budget and (confidence < 1 + cfg.eps or best >= k):  # nothing recognises the data: a new mask
        return k, True, confidence
    return best, False, confidence


class MaskBank:
    """Scores and RMSprop state of every allocated mask, and all binary masks stacked for one-shot inference:
    rows < k are the allocated masks, rows ≥ k fresh candidates at their initial scores."""

    def __init__(self, net: MLP, weights, seed: int, lr: float):
        self.net, self.seed, self.lr, self.device = net, seed, lr, weights[0].device
        self.scores: list[list[torch.Tensor]] = []
        self.opts: list[torch.optim.Optimizer] = []
        self.masks = [torch.zeros(0, *shape, dtype=torch.bool, device=self.device) for shape in net.shapes]

    @property
    def k(self) -> int:
        return len(self.scores)

    def ensure(self, rows: int) -> list[torch.Tensor]:
        """The stacked masks with at least `rows` rows (grown by doubling)."""
        have = self.masks[0].shape[0]
        if have < rows:
            size = max(rows, 2 * have)
            self.masks = [torch.cat([m, torch.zeros(size - have, *m.shape[1:], dtype=torch.bool, device=self.device)])
                          for m in self.masks]
            for r in range(have, size):
                self._write(r, init_scores(self.net, self.seed, r))
        return self.masks

    def _write(self, j: int, scores) -> None:
        for m, s in zip(self.masks, scores):
            m[j] = s.detach().to(self.device) >= 0

    def sync(self, j: int) -> None:
        self._write(j, self.scores[j])

    def allocate(self) -> int:
        j = self.k
        self.ensure(j + 1)
        s = [t.to(self.device).requires_grad_() for t in init_scores(self.net, self.seed, j)]
        self.scores.append(s)
        self.opts.append(torch.optim.RMSprop(s, lr=self.lr, alpha=0.99, eps=1e-8))
        return j

    def save(self, ckpt: Checkpoint, j: int, task: int) -> None:
        """Mask j's scores and RMSprop state as they are after `task` (one file per version, so a run killed
        before `task` is logged still finds the version its log names)."""
        state = self.opts[j].state
        tensors = {f"scores{l}": s.detach() for l, s in enumerate(self.scores[j])}
        for l, s in enumerate(self.scores[j]):
            if s in state:
                tensors[f"sq{l}"] = state[s]["square_avg"]
                tensors[f"step{l}"] = torch.as_tensor(float(state[s]["step"]))
        ckpt.save_tensors(f"mask_{j:05d}_{task:05d}.safetensors", tensors)

    def load(self, ckpt: Checkpoint, versions: dict[int, int]) -> None:
        """Masks 0..k−1, mask j as it was after task versions[j]."""
        for j in range(len(versions)):
            t = ckpt.load_tensors(f"mask_{j:05d}_{versions[j]:05d}.safetensors", self.device)
            self.allocate()
            with torch.no_grad():
                for l, s in enumerate(self.scores[j]):
                    s.copy_(t[f"scores{l}"])
                    if f"sq{l}" in t:
                        self.opts[j].state[s] = {"step": t[f"step{l}"].cpu(), "square_avg": t[f"sq{l}"].clone()}
            self.sync(j)


def evaluate(stream: TaskStream, weights, masks, k: int, tasks: int, exp) -> tuple[float, list[float]]:
    """Mean accuracy over the first `tasks` true tasks, each test batch using the mask one-shot H infers from
    its first image among the k allocated masks."""
    sub = [m[:k] for m in masks]
    accs = []
    for t in range(tasks):
        x, y = stream.task_data(t, "test", exp.test_limit)
        guess = one_shot(weights, sub, decision_groups(x, exp.test_batch, "first")[0], "H")
        correct = torch.zeros_like(guess, dtype=torch.float)
        for j in guess.unique().tolist():
            hit = guess == j
            correct[hit] = batch_correct(weights, [m[j] for m in sub], x, y, exp.test_batch)[hit]
        accs.append(100.0 * float(correct.sum()) / len(y))
    return sum(accs) / len(accs), accs


@register("nns", version=VERSION, config="StreamExperiment", setup="stream")
def run(exp, ckpt: Checkpoint, stream: TaskStream, net: MLP, device) -> dict:
    """Train through the unlabelled stream, allocating masks as needed (at most exp.nns.budget), and evaluate at
    exp.checkpoints (numbers of true tasks seen). Through the task loop: the masks a task trained are saved (the
    bank's own files, since a mask keeps training across tasks) before the task is logged, so a run resumes at
    the last finished task."""
    cfg = exp.nns
    weights = signed_constant(net, exp.seed, device)
    bank = MaskBank(net, weights, exp.seed, exp.train.lr)

    def learn(tasks, progress):
        t, = tasks
        last = progress.log[-1] if progress.log else {"masks": 0, "current": None}
        versions = {j: e["task"] for e in progress.log for j in e["touched"]}  # mask j's file after the log
        for old in ckpt.folder.glob("mask_*_*.safetensors"):  # versions no log entry will ask for again
            j, v = map(int, old.stem.split("_")[1:])
            if v < versions.get(j, -1):
                old.unlink()
        if bank.k < last["masks"]:  # resumed: the bank as it was after the last finished task
            bank.load(ckpt, versions)
        current = last["current"]
        order = task_batches(stream, [t], exp.train, exp.seed)[0]
        touched, decisions = set(), []
        for step in range(exp.train.steps):
            x, y = stream.inputs("train", order[step], torch.tensor(t))
            if step % cfg.decide_every == 0:
                if current is not None:
                    bank.sync(current)
                j, new, conf = decide(weights, bank.ensure(max(bank.k, cfg.min_candidates)), bank.k, x, cfg)
                if new:
                    j = bank.allocate()
                current = j
                decisions.append([j, int(new), None if conf != conf else round(conf, 4)])  # NaN: no candidates yet
            touched.add(current)
            s = bank.scores[current]
            loss = F.cross_entropy(forward(x, [masked_weight(w, sc) for w, sc in zip(weights, s)]), y)
            bank.opts[current].zero_grad(set_to_none=True)
            loss.backward()
            bank.opts[current].step()
        bank.sync(current)
        for j in touched:
            bank.save(ckpt, j, t)
        record = {"task": t, "masks": bank.k, "current": current, "touched": sorted(touched), "decisions": decisions}
        if t + 1 in exp.checkpoints:
            acc, per_task = evaluate(stream, weights, bank.masks, bank.k, t + 1, exp)
            record["row"] = {"method": "SupSup (NNs H)", "tasks": t + 1, "accuracy": acc, "masks_allocated": bank.k}
            record["per_task"] = per_task
        return [(record, {})]

    log = run_tasks(ckpt, exp.n_tasks, learn, device=device, desc="NNs tasks").log
    return {"rows": [e["row"] for e in log if "row" in e],
            "per_task": {f"NNs|{e['task'] + 1}": e["per_task"] for e in log if "row" in e},
            "allocation": [{"tasks": e["task"] + 1, "masks": e["masks"]} for e in log],
            "decisions": {str(e["task"]): e["decisions"] for e in log}}
