"""Computing a notebook's runs without executing the notebook: spread over local processes, or submitted to a
SLURM cluster through submitit — one job per run. Every run is already keyed, cached and resumable
(`maskcl.runs.run`, which also claims each key, `maskcl.claims`); a worker here leaves a run claimed by another
worker to it and reports it as busy instead of waiting for it."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .claims import claim
from .paths import cache_dir, results_dir
from .profiles import notebook_experiments, select
from .runs import key, result_path, run


@dataclass(frozen=True)
class RunJob:
    """One run as a picklable job: computes `exp` unless its result exists or another worker holds its claim.
    Returns 'done' (already there), 'ran' or 'busy' (claimed elsewhere). `checkpoint` lets submitit requeue a
    preempted or timed-out job, which then resumes from the run's checkpoints."""

    profile: str
    device: str
    results: str
    cache: str
    threads: int = 0  # torch threads per worker (0: torch's default)

    def __call__(self, exp) -> str:
        if result_path(exp, Path(self.results)).exists():
            return "done"
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        lock = Path(self.cache) / "claims" / key(exp)
        if not claim(lock):
            return "busy"
        try:
            run(exp, profile=self.profile, device=self.device, results=Path(self.results), cache=Path(self.cache))
        finally:
            lock.unlink(missing_ok=True)
        return "ran"

    def checkpoint(self, exp):
        import submitit

        return submitit.helpers.DelayedSubmission(self, exp)


def _end_with(launcher: int) -> None:
    """In a worker: exit as soon as the launcher is gone (even after kill -9), instead of living on orphaned. Its
    run resumes from its checkpoints next time."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def unique_runs(notebook: str, profile: str, where: dict[str, str] | None = None) -> list:
    """The notebook's runs under `profile` (those matching `where`), each key once (notebooks may list a run
    twice)."""
    seen, out = set(), []
    for exp in select(notebook_experiments(notebook, profile), where or {}):
        if key(exp) not in seen:
            seen.add(key(exp))
            out.append(exp)
    return out


def launch(notebook: str, profile: str, device: str = "auto", jobs: int = 1, executor: str = "local",
           results: Path | None = None, cache: Path | None = None, folder: Path | None = None,
           slurm: dict | None = None, where: dict[str, str] | None = None) -> dict[str, int]:
    """Compute every run `notebook` needs under `profile`. local: `jobs` processes (each with an equal share of
    the CPU's threads); slurm: one submitit job per run (`slurm`: submitit parameters such as timeout_min,
    slurm_partition, gpus_per_node), or submitit's local executor when `executor` is 'submitit-local' (tests).
    `where` keeps the runs whose config fields match (see `select`). Returns how many runs were already done, ran,
    or were busy elsewhere."""
    exps = unique_runs(notebook, profile, where)
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
    job = RunJob(profile, device, str(results or results_dir()), str(cache or cache_dir()), threads)
    if executor == "local":
        if jobs == 1:
            states = [job(e) for e in exps]
        else:
            import multiprocessing

            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_end_with, initargs=(os.getpid(),)) as pool:
                states = list(pool.map(job, exps))
    elif executor in ("slurm", "submitit-local"):
        import submitit

        folder = Path(folder or Path(job.cache) / "submitit")
        ex = (submitit.LocalExecutor(folder) if executor == "submitit-local"
              else submitit.AutoExecutor(folder, cluster="slurm"))
        ex.update_parameters(**(slurm or {}))
        pending = [e for e in exps if not result_path(e, Path(job.results)).exists()]
        submitted = ex.map_array(job, pending) if pending else []
        states = ["done"] * (len(exps) - len(pending)) + [j.result() for j in submitted]
    else:
        raise ValueError(f"unknown executor {executor!r}; choose 'local' or 'slurm'")
    return {s: states.count(s) for s in ("done", "ran", "busy")}
