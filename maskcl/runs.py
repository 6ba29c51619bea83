"""Experiments as small frozen dataclasses, and the cached, resumable runner of any registered method
(`maskcl.registry`).

A run is (experiment config, seed). Its key is a hash of the config (fields that do not change the result,
like `chunk`, are left out). The result is written atomically to <results>/<method>/<key>.json; a rerun
with the same key reads it back. While running, pieces are checkpointed under <cache>/ckpt/<key>/ so a killed
run resumes where it stopped. Every result records profile, seed, device, versions and wall time.
"""
from __future__ import annotations

import datetime
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import fingerprint, registry
from .claims import claim, holder
from .paths import cache_dir, data_dir, results_dir
from .setups import SETUPS
from .store import (Checkpoint, CorruptFile, config_dict, key_of, move_aside, read_json, remove_orphans,
                    write_json)
from .methods.batche import BatchEConfig
from .methods.gg_baselines import BaselineLRs
from .methods.nns import NNsConfig
from .train import EpochConfig, TrainConfig

PROFILES = ("smoke", "quick", "paper")


@dataclass(frozen=True)
class StreamExperiment:
    """One run on one task stream. Defaults are the SupSup paper's PermutedMNIST protocol (Fig. 3)."""

    method: str = "supsup"  # supsup | nns | upper_bound | lower_bound | psp | batche
    arch: str = "lenet"
    out_size: int = 100
    stream: str = "permuted"
    n_tasks: int = 250
    checkpoints: tuple[int, ...] = (10, 50, 100, 150, 200, 250)
    train: TrainConfig = TrainConfig()
    objectives: tuple[str, ...] = ("H", "G")
    inference: str = "one_shot"
    gammas: tuple[float, ...] = field(default=(), metadata={"key": "if_set"})  # binary: also top-γ (Fig. 11)
    abatche: tuple[int, ...] = field(default=(), metadata={"key": "if_set"})  # batche: ABatchE group sizes b
    # supsup: "bfloat16" trains and evaluates with W, the masked weights and the activations in bf16 (scores and
    # the optimiser stay fp32); an option for speed, never the default (benchmarks/bench_precision.py)
    precision: str = field(default="float32", metadata={"key": "if_set"})
    decide: tuple[str, ...] = ("first", "full")
    test_batch: int = 128
    test_limit: int | None = None  # test images per task (None: all 10000)
    dataset: str = "mnist"  # mnist | synthetic
    seed: int = 0
    batche: BatchEConfig = field(default=BatchEConfig(), metadata={"key": "if_set"})  # batche: lrs, weight decay
    nns: NNsConfig = field(default=NNsConfig(), metadata={"key": "if_set"})  # nns: when and how masks are allocated
    chunk: int = field(default=1, metadata={"key": False})  # tasks trained at once (a checkpoint chunk); same result

    def __post_init__(self):
        registry.get(self.method, "StreamExperiment")
        if self.precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision is 'float32' or 'bfloat16', not {self.precision!r}")
        if self.precision != "float32" and self.method != "supsup":
            raise ValueError(f"precision={self.precision!r} is offered for SupSup runs only")
        if not self.checkpoints or max(self.checkpoints) > self.n_tasks or min(self.checkpoints) < 1:
            raise ValueError(f"checkpoints {self.checkpoints} must lie in 1..n_tasks={self.n_tasks}")


@dataclass(frozen=True)
class GGExperiment:
    """One run on SplitCIFAR in scenario GG (SupSup §4.1, appendix D.1): `data` is cifar100 (the paper's: 20 tasks
    of 5 classes, class order RandomState(seed).permutation(100)), cifar10 (the real-image stand-in: 5 tasks of 2)
    or synthetic (tests)."""

    method: str = "supsup_gg"  # supsup_gg | upper_bound_gg | separate_heads | batche_gg
    data: str = "cifar100"
    n_tasks: int = 20
    per_task: int = 5
    width: int = 20  # nf of the reduced ResNet-18
    sparsity: float = 1  # SupSup: k, the multiplier of the Erdős–Rényi budget (not a fraction; a key field)
    transfer: bool = False  # SupSup: scores start from the running mean of earlier tasks' scores (D.5)
    transfer_rescale: bool = True  # … rescaled per layer to a fresh draw's norm (the paper's normalisation)
    rand_w: bool = False  # baselines: the trunk / W is never trained
    train: EpochConfig = EpochConfig()
    first_epochs: int | None = None  # task 0's epochs when they differ (Fig. 11-right: 250)
    train_limit: int | None = None  # training images per task (None: all)
    test_limit: int | None = None  # test images per task (None: all)
    curves: bool = False  # SupSup: test accuracy after every epoch (Fig. 11-right)
    channels_last: bool = field(default=False, metadata={"key": "if_set"})  # faster on CPU, not bit-identical
    baseline_lrs: BaselineLRs = field(default=BaselineLRs(), metadata={"key": "if_set"})  # the GG baselines' lrs
    seed: int = 0
    # SupSup in scenario GNu (no task identity at test): the head's s outputs (None: per_task, no superfluous
    # ones), the objectives of task inference (none: GG only), when and how it decides (as StreamExperiment's)
    out_size: int | None = field(default=None, metadata={"key": "if_set"})
    objectives: tuple[str, ...] = field(default=(), metadata={"key": "if_set"})
    inference: str = field(default="one_shot", metadata={"key": "if_set"})
    decide: tuple[str, ...] = field(default=("first", "full"), metadata={"key": "if_set"})
    gammas: tuple[float, ...] = field(default=(), metadata={"key": "if_set"})
    checkpoints: tuple[int, ...] = field(default=(), metadata={"key": "if_set"})  # task counts (GNu)
    test_batch: int = field(default=128, metadata={"key": "if_set"})

    def __post_init__(self):
        registry.get(self.method, "GGExperiment")
        if self.data not in ("cifar100", "cifar10", "synthetic"):
            raise ValueError(f"unknown data {self.data!r}; choose 'cifar100', 'cifar10' or 'synthetic'")
        if self.objectives and self.method != "supsup_gg":
            raise ValueError("task inference (objectives) is SupSup's; the GG baselines are given the task")
        if self.objectives and (not self.checkpoints or max(self.checkpoints) > self.n_tasks
                                or min(self.checkpoints) < 1):
            raise ValueError(f"GNu checkpoints {self.checkpoints} must lie in 1..n_tasks={self.n_tasks}")
        if "G" in self.objectives and (self.out_size or self.per_task) <= self.per_task:
            raise ValueError("objective G needs superfluous outputs: out_size > per_task")


@dataclass(frozen=True)
class CLExperiment:
    """One run of ExSSNeT's task-incremental protocol (§4.1, A.3): `n_tasks` tasks of `per_task` disjoint classes
    (class order RandomState(seed).permutation, task-local labels), `val_fraction` of each class's training rows
    held out for validation curves; LeNet 300-100 on MNIST, the reduced ResNet-18 (non-affine batch norm, one set
    of statistics per task) on CIFAR.

    method exssnet: variant supsup (mask phase only), ssnet or exssnet (mask phase, then a weight phase), ± KKT.
    method dense_cl: variant naive | individual | multitask (the dense rows of Table 2; `weights` epochs).
    Both phases: Adam, cosine decay per epoch, a fresh optimiser per phase, no weight decay (the ExSSNeT code's
    masked runs), batch 64, no checkpoint selection (the last epoch's model is kept)."""

    method: str = "exssnet"  # exssnet | dense_cl
    variant: str = "exssnet"  # exssnet: supsup | ssnet | exssnet; dense_cl: naive | individual | multitask
    data: str = "mnist"  # mnist | synthetic_mnist (LeNet); cifar100 | cifar10 | synthetic (ResNet)
    n_tasks: int = 5
    per_task: int = 2
    width: int = 20  # nf of the reduced ResNet-18
    density: float = 0.1  # mask density per layer
    kkt: bool = False
    kkt_batches: int = 10  # batches of 64 of the new task (Tables 9-10)
    kkt_k: int = 10  # neighbours (Table 10's fixed k)
    kkt_batch: int = field(default=64, metadata={"key": "if_set"})  # rows per KKT batch (the ExSSNeT code's)
    kkt_fit: float = field(default=0.66, metadata={"key": "if_set"})  # of the KKT rows, the share that fits the KNNs
    mask: EpochConfig = EpochConfig(epochs=15, batch=64, lr=0.01, weight_decay=0.0, augment=False)
    weights: EpochConfig = EpochConfig(epochs=15, batch=64, lr=1e-3, weight_decay=0.0, augment=False)
    val_fraction: float = 0.2
    train_limit: int | None = None  # training rows per task (None: all)
    test_limit: int | None = None  # test (and validation) rows per task (None: all)
    seed: int = 0

    def __post_init__(self):
        variants = sys.modules[registry.get(self.method, "CLExperiment").run.__module__].VARIANTS  # its module's
        if self.variant not in variants:
            raise ValueError(f"unknown {self.method} variant {self.variant!r}; choose one of {variants}")
        if self.data not in ("mnist", "synthetic_mnist", "cifar100", "cifar10", "synthetic"):
            raise ValueError(f"unknown data {self.data!r}; choose mnist, synthetic_mnist, cifar100, cifar10 or synthetic")
        if self.method == "exssnet" and (self.variant == "supsup") != (self.weights.epochs == 0):
            raise ValueError("SupSup trains no weights (weights.epochs = 0); SSNeT and ExSSNeT need weight epochs")
        if self.kkt and self.method != "exssnet":
            raise ValueError("KKT starts a mask from an earlier task's scores; dense baselines have none")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return profile


def resolve_device(device: str = "auto") -> torch.device:
    """'cpu', 'cuda' (an error if no GPU is visible) or 'auto'."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA GPU; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; choose 'cpu', 'cuda' or 'auto'")
    return torch.device(device)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except OSError:
        return None


def provenance(profile: str, device: torch.device, wall_s: float) -> dict:
    import torchvision

    return {
        "profile": profile,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 2),
    }


def _key(name: str, config: dict, version: int) -> str:
    """The store key of a result. A PermutedMNIST run with seed ≠ 0 also names the seed → permutation rule:
    before, task i of seed s was permutation s + i (so seeds shared tasks); results made under that rule miss.
    Seed 0's tasks never changed and keep their keys."""
    if config.get("seed", 0) != 0 and (config.get("stream") == "permuted" or name == "impress_gn"):
        config = {**config, "permutations": "stride-seed"}
    return key_of(name, config, version)


def version(name: str) -> int:
    """The current version of method `name` (its module's VERSION)."""
    return registry.get(name).version


def config_of(exp) -> dict:
    """The config a result records and is keyed by: `config_dict`, with dataset 'auto' replaced by the data set
    it resolves to on this machine (so a run on synthetic data never passes for one on real MNIST)."""
    config = config_dict(exp)
    if config.get("dataset") == "auto":
        from .data import mnist_available

        config["dataset"] = "mnist" if mnist_available() else "synthetic"
        if config["dataset"] == "synthetic" and not _told.get("auto"):
            _told["auto"] = True
            _warn(f"MNIST is not in {data_dir()}: runs with dataset='auto' use synthetic data (and say so in their key)")
    return config


_told: dict[str, bool] = {}


def key(exp) -> str:
    return _key(exp.method, config_of(exp), version(exp.method))


def result_path(exp, results: Path | None = None) -> Path:
    return Path(results or results_dir()) / exp.method / f"{key(exp)}.json"


def stale(results: Path) -> list[str]:
    """Every result under `results` that the current code would not produce: its method is unknown, its method
    version is not the current one, its file name is not the key of its own config and version, the code it
    records (`maskcl.fingerprint`) has changed since, or it cannot be read."""
    out = []
    if not Path(results).is_dir():
        raise FileNotFoundError(f"no results folder {results}")
    for path in sorted(Path(results).glob("*/*.json")):
        try:
            res = read_json(path)
        except CorruptFile as err:
            out.append(str(err))
            continue
        name, made_by = res.get("experiment"), res.get("method_version")
        if name not in registry.names():
            out.append(f"{path}: unknown method {name!r}")
        elif made_by != version(name):
            out.append(f"{path}: made by {name} version {made_by}, the code is at version {version(name)}")
        elif path.stem != _key(name, res["config"], made_by):
            out.append(f"{path}: file name is not the key of its config")
        elif changed := fingerprint.changed(res.get("code", {})):  # results from before fingerprints have none
            out.append(f"{path}: made by code that has since changed: {', '.join(changed)}")
    return out


def stored(exp, results: Path | None = None) -> dict | None:
    """The result of `exp` if the results store holds it, else None (nothing is computed)."""
    path = result_path(exp, results)
    return read_json(path) if path.exists() else None


def run(exp, profile: str = "custom", device: str = "auto", results: Path | None = None,
        cache: Path | None = None) -> dict:
    """The result of `exp`: read from the results store when present, else computed (resuming any
    checkpointed progress) and written atomically."""
    dev = resolve_device(device)  # a device this machine lacks is an error, cached result or not
    path = result_path(exp, results)
    if path.exists():
        try:
            return read_json(path)
        except CorruptFile as err:
            _warn(f"{err}; moved to {move_aside(path, 'corrupt').name}, computing it again")
    _check_writable(path.parent)  # before the training, not after it
    lock = Path(cache or cache_dir()) / "claims" / key(exp)
    held_already = holder(lock) == (socket.gethostname(), os.getpid())  # e.g. by a launcher's worker: it releases
    while not claim(lock):  # another process computes this run (a notebook and the CLI at once): wait for it
        if not _told.get(str(lock)):
            _told[str(lock)] = True
            _warn(f"run {key(exp)} is being computed by {' pid '.join(map(str, holder(lock) or ('?', '?')))}; waiting")
        time.sleep(WAIT_S)
        if path.exists():
            return read_json(path)
    try:
        return _compute(exp, profile, dev, path, cache)
    finally:
        if not held_already:
            lock.unlink(missing_ok=True)


WAIT_S = 2.0  # how often a run waits for another process's claim


def _compute(exp, profile: str, dev: torch.device, path: Path, cache: Path | None) -> dict:
    method = registry.get(exp.method)
    code = code_of(exp.method)
    folder = Path(cache or cache_dir()) / "ckpt" / key(exp)
    remove_orphans(folder)  # this run's claim is held: nobody else writes here
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)
    made_by = Checkpoint(folder).load_json("code.json") if (folder / "code.json").exists() else None
    if folder.exists() and made_by != code:
        _warn(f"{folder}: checkpoints of other code; moved to {move_aside(folder, 'other-code').name}, starting afresh")
    ckpt = Checkpoint(folder)
    ckpt.save_json("code.json", code)
    go = SETUPS[method.setup](method.run) if method.setup else method.run
    start = time.perf_counter()
    try:
        out = go(exp, ckpt, dev)
    except CorruptFile as err:
        _warn(f"{err}; its checkpoints moved to {move_aside(folder, 'corrupt').name}, starting afresh")
        ckpt.save_json("code.json", code)
        start = time.perf_counter()
        out = go(exp, ckpt, dev)
    result = {"key": key(exp), "experiment": exp.method, "method_version": method.version,
              "config": config_of(exp), **out, "code": code,
              "provenance": provenance(profile, dev, time.perf_counter() - start)}
    write_json(path, result)
    return read_json(path)  # exactly what a later, cached call returns (key order included)


def code_of(name: str) -> dict[str, str]:
    """The fingerprint of the code a run of method `name` runs through (`maskcl.fingerprint`)."""
    method = registry.get(name)
    return fingerprint.of(method.run.__module__, *(["maskcl.setups"] if method.setup else []))


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise PermissionError(f"the results folder {folder} is not writable ({err.strerror}); nothing was computed") from None


def _warn(message: str) -> None:
    print(f"maskcl: {message}", file=sys.stderr)


def rows(results: list[dict]):
    """All rows of several results as one pandas DataFrame, with arch, output size, seed and profile."""
    import pandas as pd

    return pd.DataFrame([
        {**r, "arch": res["config"].get("arch"), "out_size": res["config"].get("out_size"),
         "seed": res["config"]["seed"], "profile": res["provenance"]["profile"],
         "device": res["provenance"]["device"]}
        for res in results for r in res["rows"]
    ])
