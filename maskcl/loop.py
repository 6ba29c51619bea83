"""The one task loop every method runs through: for each task not yet done, learn it, score it, checkpoint.

A method hands the loop its `learn(tasks, progress)` function — its math — and the loop owns the order, the
resumption and the checkpoint layout, the same for every method:

    <ckpt>/progress.json           the log: one JSON record per finished task, in task order
    <ckpt>/task_<t>.safetensors    what task t leaves behind (its mask, its batch-norm statistics, …), written once
    <ckpt>/carry_<n>.safetensors   what the next task starts from (shared weights, a running sum), after n tasks

Each piece is written whole (atomically) before the log that names it, so a run killed at any moment — SIGKILL
included — resumes after its last logged task and computes exactly what an uninterrupted run computes.
Tasks a method can learn together (independent given the state) come as `chunks`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .progress import bar
from .store import Checkpoint

Tensors = dict[str, list[torch.Tensor]]


@dataclass
class Progress:
    """Where a run stands: the finished tasks' records and kept tensors, and the state the next task starts from."""

    log: list[dict] = field(default_factory=list)
    kept: list[Tensors] = field(default_factory=list)
    carry: Tensors = field(default_factory=dict)

    @property
    def done(self) -> int:
        return len(self.log)


# learn(tasks, progress) -> [(record, kept)] for each task of the chunk, in order; it may replace progress.carry's
# lists (the state after the chunk). record is JSON; kept is a dict of tensor lists (or {} when a task keeps none).
Learn = Callable[[list[int], Progress], list[tuple[dict, Tensors]]]


def chunked(stop: int, size: int, start: int = 0) -> list[range]:
    """Tasks start..stop−1 in consecutive chunks of `size` (the last shorter): `run_tasks`'s `chunks`."""
    return [range(t, min(t + size, stop)) for t in range(start, stop, size)]


def run_tasks(ckpt: Checkpoint, n_tasks: int, learn: Learn, carry: Tensors | None = None,
              chunks: Sequence[Sequence[int]] | None = None, device="cpu", desc: str = "tasks") -> Progress:
    """Tasks 0..n_tasks−1 through `learn`, resuming from `ckpt`; `carry` is the state before task 0 and `chunks`
    (default: one task at a time) the groups learned together. Returns the progress after every task."""
    progress = load_progress(ckpt, device, dict(carry or {}))
    chunks = [list(c) for c in (chunks or [[t] for t in range(n_tasks)])]
    if sorted(t for c in chunks for t in c) != list(range(n_tasks)):
        raise ValueError(f"chunks must cover tasks 0..{n_tasks - 1} once each")
    todo = [c for c in ([t for t in c if t >= progress.done] for c in chunks) if c]
    for tasks in bar(todo, desc=desc):
        out = learn(tasks, progress)
        if len(out) != len(tasks):
            raise ValueError(f"learn returned {len(out)} results for {len(tasks)} tasks")
        for t, (record, kept) in zip(tasks, out):
            if kept:
                ckpt.save_lists(f"task_{t:05d}.safetensors", **kept)
            progress.log.append(record)
            progress.kept.append(kept)
        _save(ckpt, progress)
    return progress


def _save(ckpt: Checkpoint, progress: Progress) -> None:
    n = progress.done
    if progress.carry:
        ckpt.save_lists(f"carry_{n:05d}.safetensors", **progress.carry)
    ckpt.save_json("progress.json", {"log": progress.log, "kept": [_lengths(k) for k in progress.kept],
                                     "carry": _lengths(progress.carry)})
    for old in ckpt.folder.glob("carry_*.safetensors"):  # only the newest carry is ever read
        if old.name != f"carry_{n:05d}.safetensors":
            old.unlink()


def load_progress(ckpt: Checkpoint, device="cpu", carry: Tensors | None = None) -> Progress:
    """The progress a checkpoint holds (nothing done: `carry` as the state), e.g. to inspect a run's masks."""
    carry = dict(carry or {})
    saved = ckpt.load_json("progress.json")
    if not saved or not saved["log"]:
        return Progress(carry=carry)
    n = len(saved["log"])
    kept = [ckpt.load_lists(f"task_{t:05d}.safetensors", device, **lengths) if lengths else {}
            for t, lengths in enumerate(saved["kept"])]
    if saved["carry"]:
        carry = ckpt.load_lists(f"carry_{n:05d}.safetensors", device, **saved["carry"])
    return Progress(log=saved["log"], kept=kept, carry=carry)


def _lengths(tensors: Tensors) -> dict[str, int]:
    return {k: len(v) for k, v in tensors.items()}


def run_jobs(ckpt: Checkpoint, name: str, labels: Sequence[str], compute: Callable[[str], object],
             desc: str | None = None) -> dict:
    """Independent pieces of work named by label (an evaluation per checkpoint and objective, α per basis size):
    compute(label) → a JSON value for every label not yet in <ckpt>/<name>.json, saved after each one, so a killed
    run recomputes at most the piece it was in. Returns {label: value} in the order of `labels`."""
    done = ckpt.load_json(f"{name}.json", {})
    for label in bar([label for label in labels if label not in done], desc=desc or name):
        done[label] = compute(label)
        ckpt.save_json(f"{name}.json", done)
    return {label: done[label] for label in labels}
