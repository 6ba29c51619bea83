"""Real MNIST from `MASKCL_DATA` (md5-checked, never modified), synthetic fixtures, and task streams.

A task stream keeps the base images once, as device-resident tensors in [0, 1]; a task is a transform applied
to whole batches (a pixel gather for PermutedMNIST, one tensor rotation per task for RotatedMNIST, a class
subset for SplitMNIST) followed by the MNIST normalisation. No per-sample PIL work anywhere.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.datasets import MNIST as TorchvisionMNIST
from torchvision.transforms import InterpolationMode
from torchvision.transforms.functional import rotate

from .paths import data_dir
from .seeding import generator

MEAN, STD = 0.1307, 0.3081
MNIST_FILES: dict[str, str] = dict(TorchvisionMNIST.resources)  # file name -> md5, torchvision's own list
STREAMS = ("permuted", "rotated", "split")


class DataError(RuntimeError):
    """A data set is missing or does not match its checksum."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """`root`, else $MASKCL_DATA, else <project root>/data."""
    return Path(root) if root is not None else data_dir()


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mnist_available(root: str | os.PathLike | None = None) -> bool:
    raw = data_root(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for name in MNIST_FILES)


def _check_mnist(raw: Path) -> None:
    missing = [n for n in MNIST_FILES if not (raw / n).is_file()]
    if missing:
        lines = "\n".join(f"  {n}  (md5 {MNIST_FILES[n]})" for n in missing)
        raise DataError(
            f"MNIST is missing from {raw}:\n{lines}\n"
            "Set MASKCL_DATA to the folder holding MNIST/raw/ (torchvision's layout), "
            "or call load_mnist(download=True) to fetch it (needs the network)."
        )
    for name, expected in MNIST_FILES.items():
        got = md5(raw / name)
        if got != expected:
            raise DataError(
                f"{raw / name} is corrupt: md5 {got}, expected {expected}. "
                "Nothing was changed or deleted; replace the file with a verified copy."
            )


def _read_idx(path: Path, magic: int) -> torch.Tensor:
    """Decode a gzipped IDX file (LeCun's format) straight from the archive, without extracting it."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX file of the expected kind (magic {magic})")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * d: 8 + 4 * d], "big") for d in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).view(*dims)


def load_mnist(root: str | os.PathLike | None = None, download: bool = False) -> dict[str, tuple]:
    """{'train': (x uint8 (60000, 784), y int64), 'test': (x (10000, 784), y)} from root/MNIST/raw/*.gz.

    The archives are verified against torchvision's md5 list and decoded in memory, so a read-only data folder
    works. Only `download=True` touches the network (through torchvision), and only for missing files.
    """
    root = data_root(root)
    raw = root / "MNIST" / "raw"
    if download and not mnist_available(root):
        TorchvisionMNIST(str(root), train=True, download=True)
    _check_mnist(raw)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = _read_idx(raw / f"{prefix}-images-idx3-ubyte.gz", 2051).reshape(-1, 784)
        y = _read_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", 2049).long()
        out[split] = (x, y)
    return out


def synthetic_mnist(seed: int = 0, n_train: int = 2000, n_test: int = 500) -> dict[str, tuple]:
    """A learnable stand-in with MNIST's shapes and roughly its pixel statistics (mean ≈ 0.13): each class is
    a fixed sparse random stroke pattern; an example keeps ~80% of its class's pixels at random intensities
    and gains ~4% random background pixels."""
    g = generator("synthetic-mnist", seed)
    protos = (torch.rand(10, 784, generator=g) < 0.15).float()
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        y = torch.randint(0, 10, (n,), generator=g)
        keep = (torch.rand(n, 784, generator=g) > 0.2).float()
        ink = 0.6 + 0.4 * torch.rand(n, 784, generator=g)
        speckle = (torch.rand(n, 784, generator=g) < 0.04) * torch.rand(n, 784, generator=g)
        x = (protos[y] * keep * ink + speckle).clamp(0, 1)
        out[split] = ((x * 255).round().to(torch.uint8), y)
    return out


def load_dataset(name: str, seed: int = 0) -> dict[str, tuple]:
    """'mnist' (real, from MASKCL_DATA), 'synthetic', or 'auto' (real when present, else synthetic)."""
    if name == "auto":
        name = "mnist" if mnist_available() else "synthetic"
    if name == "mnist":
        return load_mnist()
    if name == "synthetic":
        return synthetic_mnist(seed)
    raise ValueError(f"unknown dataset {name!r}; choose 'mnist', 'synthetic' or 'auto'")


@dataclass
class TaskStream:
    """k tasks built from one base data set; images held once on `device`, tasks applied per batch."""

    kind: str
    n_tasks: int
    x: dict[str, torch.Tensor]  # split -> (N, 784) float in [0, 1]
    y: dict[str, torch.Tensor]  # split -> (N,) int64
    perms: torch.Tensor | None = None  # permuted: (n_tasks, 784)

    @property
    def device(self) -> torch.device:
        return self.x["train"].device

    def indices(self, task: int, split: str) -> torch.Tensor:
        """The rows of the base split that belong to `task` (all of them except for SplitMNIST)."""
        self._check_task(task)
        if self.kind == "split":
            y = self.y[split]
            return torch.nonzero((y == 2 * task) | (y == 2 * task + 1)).squeeze(1)
        return torch.arange(len(self.y[split]), device=self.device)

    def inputs(self, split: str, idx: torch.Tensor, tasks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised task inputs and labels for base rows `idx` (any shape) seen as tasks `tasks` (same shape)."""
        x, y = self.x[split][idx], self.y[split][idx]
        tasks = tasks.to(self.device).expand(idx.shape)
        if self.kind == "permuted":
            x = torch.gather(x, -1, self.perms[tasks])
        elif self.kind == "rotated":
            x = x.clone()
            for t in tasks.unique().tolist():
                sel = tasks == t
                img = x[sel].view(-1, 1, 28, 28)
                x[sel] = rotate(img, 10.0 * t, InterpolationMode.NEAREST, fill=0.0).view(-1, 784)
        return (x - MEAN) / STD, y

    def task_data(self, task: int, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`task`'s examples of `split` in the base order (the first `limit` of them, when given)."""
        idx = self.indices(task, split)[:limit]
        return self.inputs(split, idx, torch.tensor(task))

    def _check_task(self, task: int) -> None:
        if not 0 <= task < self.n_tasks:
            raise IndexError(f"task {task} outside 0..{self.n_tasks - 1}")


def task_stream(kind: str, n_tasks: int, data: dict[str, tuple], base_seed: int = 0,
                device: str | torch.device = "cpu") -> TaskStream:
    """PermutedMNIST (task i: pixel permutation drawn from seed base_seed + i; every task permuted),
    RotatedMNIST (task i: rotated 10·i degrees, nearest, fill 0; 36 tasks) or SplitMNIST (task i: classes
    2i, 2i+1; 5 tasks; labels kept 0–9)."""
    limits = {"permuted": None, "rotated": 36, "split": 5}
    if kind not in limits:
        raise ValueError(f"unknown task stream {kind!r}; choose one of {STREAMS}")
    if limits[kind] is not None and n_tasks > limits[kind]:
        raise ValueError(f"{kind} MNIST has at most {limits[kind]} tasks, asked for {n_tasks}")
    x = {s: (data[s][0].float() / 255.0).to(device) for s in ("train", "test")}
    y = {s: data[s][1].to(device) for s in ("train", "test")}
    perms = None
    if kind == "permuted":
        perms = torch.stack([
            torch.randperm(784, generator=torch.Generator().manual_seed(base_seed + i)) for i in range(n_tasks)
        ]).to(device)
    return TaskStream(kind, n_tasks, x, y, perms)


def batch_order(n: int, steps: int, batch: int, *keys: object) -> torch.Tensor:
    """(steps, batch) row indices into n examples: consecutive shuffled epochs (a DataLoader with
    shuffle=True, drop_last=False across epoch ends), drawn from a generator seeded by `keys`."""
    g = generator("batch-order", *keys)
    need = steps * batch
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-need // n))])
    return order[:need].view(steps, batch)
