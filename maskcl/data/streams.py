"""Task streams: the base images held once as device-resident tensors; a task is a transform applied to whole
batches (a pixel gather for PermutedMNIST, one tensor rotation per task for RotatedMNIST, a class subset for
SplitMNIST and SplitCIFAR) followed by the normalisation. No per-sample PIL work anywhere: CIFAR's augmentation
(random crop with padding, horizontal flip) is one seeded gather per batch.

Every stream answers the same three questions: `indices(task, split)` (its rows of the base split),
`inputs(split, rows, tasks)` (normalised inputs and labels) and `task_data(task, split, limit)`."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.functional import rotate

from ..seeding import generator
from .cifar import MEAN as CIFAR_MEAN, STD as CIFAR_STD
from .mnist import MEAN, STD

STREAMS = ("permuted", "rotated", "split")


@dataclass
class TaskStream:
    """k tasks built from one base data set; images held once on `device`, tasks applied per batch."""

    kind: str
    n_tasks: int
    x: dict[str, torch.Tensor]  # split -> (N, 784) float: normalised; rotated: in [0, 1], normalised per batch
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
        # index_select on the flat rows: on a CPU 2× faster than indexing with a 2-d idx, the same values
        x, y = self.x[split].index_select(0, idx.flatten()).view(*idx.shape, -1), self.y[split][idx]
        tasks = tasks.to(self.device)
        if self.kind == "permuted":  # one permutation per task, broadcast over its rows (not copied per row)
            return torch.gather(x, -1, self.perms[tasks].expand(*idx.shape, x.shape[-1])), y
        if self.kind == "rotated":
            tasks = tasks.expand(idx.shape)
            x = x.clone()
            for t in tasks.unique().tolist():
                sel = tasks == t
                img = x[sel].view(-1, 1, 28, 28)
                x[sel] = rotate(img, 10.0 * t, InterpolationMode.NEAREST, fill=0.0).view(-1, 784)
            return (x - MEAN) / STD, y
        return x, y

    def task_data(self, task: int, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`task`'s examples of `split` in the base order (the first `limit` of them, when given)."""
        idx = self.indices(task, split)[:limit]
        return self.inputs(split, idx, torch.tensor(task))

    def _check_task(self, task: int) -> None:
        if not 0 <= task < self.n_tasks:
            raise IndexError(f"task {task} outside 0..{self.n_tasks - 1}")


# Task i of seed s permutes pixels with torch.randperm seeded by PERMUTATION_STRIDE·s + i: seed 0 gives the official
# code's permutations (seed i for task i), and no two (seed, task) pairs share one while a stream has fewer tasks
# than the stride (2,500 at most in the papers).
PERMUTATION_STRIDE = 100_000


def permutation_seed(seed: int, task: int) -> int:
    return PERMUTATION_STRIDE * seed + task


def task_stream(kind: str, n_tasks: int, data: dict[str, tuple], base_seed: int = 0,
                device: str | torch.device = "cpu") -> TaskStream:
    """PermutedMNIST (task i of seed base_seed: pixel permutation drawn from `permutation_seed`; every task permuted),
    RotatedMNIST (task i: rotated 10·i degrees, nearest, fill 0; 36 tasks) or SplitMNIST (task i: classes
    2i, 2i+1; 5 tasks; labels kept 0–9)."""
    limits = {"permuted": PERMUTATION_STRIDE, "rotated": 36, "split": 5}
    if kind not in limits:
        raise ValueError(f"unknown task stream {kind!r}; choose one of {STREAMS}")
    if n_tasks > limits[kind]:
        raise ValueError(f"{kind} MNIST has at most {limits[kind]} tasks, asked for {n_tasks}")
    x = {s: (data[s][0].float() / 255.0).to(device) for s in ("train", "test")}
    if kind != "rotated":  # normalised once: a gather commutes with the element-wise normalisation
        x = {s: (v - MEAN) / STD for s, v in x.items()}
    y = {s: data[s][1].to(device) for s in ("train", "test")}
    perms = None
    if kind == "permuted":
        perms = torch.stack([
            torch.randperm(784, generator=torch.Generator().manual_seed(permutation_seed(base_seed, i)))
            for i in range(n_tasks)
        ]).to(device)
    return TaskStream(kind, n_tasks, x, y, perms)


def batch_order(n: int, steps: int, batch: int, *keys: object) -> torch.Tensor:
    """(steps, batch) row indices into n examples: consecutive shuffled epochs (a DataLoader with
    shuffle=True, drop_last=False across epoch ends), drawn from a generator seeded by `keys`."""
    g = generator("batch-order", *keys)
    need = steps * batch
    order = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-need // n))])
    return order[:need].view(steps, batch)


def crop_flip(x: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """torchvision's RandomCrop(32, padding=pad) then RandomHorizontalFlip() on a whole batch (n, c, h, w) at
    once: zero padding, one offset pair and one coin per image, drawn from `g` (a CPU generator)."""
    n, _, h, w = x.shape
    off = torch.randint(0, 2 * pad + 1, (2, n), generator=g).to(x.device)
    flip = (torch.rand(n, generator=g) < 0.5).to(x.device)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = off[0][:, None] + torch.arange(h, device=x.device)
    cols = off[1][:, None] + torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    n_idx = torch.arange(n, device=x.device)[:, None, None, None]
    c_idx = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]


@dataclass
class ClassSplit:
    """Tasks that are disjoint class subsets of a labelled data set (SplitCIFAR, and SplitMNIST as ExSSNeT builds
    it). Images stay uint8 on `device` — (N, 3, 32, 32) for CIFAR, (N, 784) for MNIST — and are normalised with
    `mean`/`std` (one value per channel) per batch; a task's labels are 0..c−1, the position of the class in the
    task's class list (as the SupSup and ExSSNeT code). Splits: "train", "test" and, when held out, "val"."""

    name: str  # the base data set, e.g. "cifar100" (recorded with every result)
    x: dict[str, torch.Tensor]  # split -> uint8 images
    y: dict[str, torch.Tensor]  # split -> int64 (N,) in the base data set's classes
    classes: torch.Tensor  # (n_tasks, classes per task)
    mean: tuple[float, ...] = CIFAR_MEAN
    std: tuple[float, ...] = CIFAR_STD

    def __post_init__(self):
        self.local = torch.full((int(self.y["train"].max()) + 1,), -1, dtype=torch.long, device=self.device)
        for row in self.classes:
            self.local[row.to(self.device)] = torch.arange(len(row), device=self.device)
        shape = (1, -1, 1, 1) if self.x["train"].dim() == 4 else (1, -1)
        self._mean = torch.tensor(self.mean, device=self.device).view(shape)
        self._std = torch.tensor(self.std, device=self.device).view(shape)

    @property
    def device(self) -> torch.device:
        return self.x["train"].device

    @property
    def n_tasks(self) -> int:
        return self.classes.shape[0]

    def indices(self, task: int, split: str) -> torch.Tensor:
        if not 0 <= task < self.n_tasks:
            raise IndexError(f"task {task} outside 0..{self.n_tasks - 1}")
        if split not in self.x:
            raise KeyError(f"no {split!r} split; this stream has {sorted(self.x)}")
        return torch.nonzero(torch.isin(self.y[split], self.classes[task].to(self.device))).squeeze(1)

    def inputs(self, split: str, idx: torch.Tensor, tasks: torch.Tensor | None = None,
               augment: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs (float) and task-local labels of base rows `idx`; with a generator, images are
        augmented by `crop_flip` first (the training transform). `tasks` is accepted for the common stream
        protocol; a class split's rows already say which task they belong to."""
        x = self.x[split][idx].float().div_(255)
        if augment is not None:
            if x.dim() != 4:
                raise ValueError(f"augmentation (crop and flip) needs images (n, c, h, w); {self.name} rows are flat")
            x = crop_flip(x, augment)
        return (x - self._mean) / self._std, self.local[self.y[split][idx]]

    def task_data(self, task: int, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs(split, self.indices(task, split)[:limit])


def hold_out(data: dict[str, tuple], fraction: float, seed: int) -> dict[str, tuple]:
    """`data` with a "val" split: from every class of "train", a random `fraction` of its rows (drawn from seed;
    ⌊fraction·n⌋ of them), the rest kept as "train" in their original order. ExSSNeT's SplitMNIST holds out 20%
    of each task's training data (Avalanche's validation stream)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must lie in [0, 1), got {fraction}")
    x, y = data["train"]
    g = generator("validation-split", seed)
    val = torch.zeros(len(y), dtype=torch.bool)
    for c in range(int(y.max()) + 1):
        rows = torch.nonzero(y == c).squeeze(1)
        val[rows[torch.randperm(len(rows), generator=g)[: int(fraction * len(rows))]]] = True
    return {**data, "train": (x[~val], y[~val]), "val": (x[val], y[val])}


def class_split(name: str, data: dict[str, tuple], n_tasks: int, per_task: int, seed: int | None = 0,
                device: str | torch.device = "cpu", val_fraction: float = 0.0,
                mean: tuple[float, ...] = CIFAR_MEAN, std: tuple[float, ...] = CIFAR_STD) -> ClassSplit:
    """Task i gets classes order[per_task·i : per_task·(i+1)], where order is
    numpy.random.RandomState(seed).permutation(n_classes) as in the SupSup and ExSSNeT code (seed=None: 0, 1, 2, …).
    SupSup: CIFAR-100, 20 tasks × 5 classes; ExSSNeT: CIFAR-100, 5 × 20, and MNIST, 5 × 2 (with `val_fraction`
    0.2 held out by `hold_out`); the stand-in: CIFAR-10, 5 × 2."""
    import numpy as np

    n_classes = int(data["train"][1].max()) + 1
    if n_tasks * per_task > n_classes:
        raise ValueError(f"{n_tasks} tasks × {per_task} classes need {n_tasks * per_task} classes; "
                         f"{name} has {n_classes}")
    if val_fraction:
        data = hold_out(data, val_fraction, 0 if seed is None else seed)
    order = np.arange(n_classes) if seed is None else np.random.RandomState(seed).permutation(n_classes)
    classes = torch.from_numpy(order[: n_tasks * per_task].reshape(n_tasks, per_task).astype(np.int64))
    splits = [s for s in ("train", "val", "test") if s in data]
    return ClassSplit(name, {s: data[s][0].to(device) for s in splits}, {s: data[s][1].to(device) for s in splits},
                      classes, tuple(mean), tuple(std))
