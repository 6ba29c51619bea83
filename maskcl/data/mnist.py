"""Real MNIST from `MASKCL_DATA` (md5-checked, never modified) and a synthetic stand-in with MNIST's shapes."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import torch
from torchvision.datasets import MNIST as TorchvisionMNIST

from ..paths import download_allowed
from ..seeding import generator
from .files import DataError, data_root, md5

MEAN, STD = 0.1307, 0.3081
MNIST_FILES: dict[str, str] = dict(TorchvisionMNIST.resources)  # file name -> md5, torchvision's own list


def mnist_available(root: str | os.PathLike | None = None) -> bool:
    raw = data_root(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for name in MNIST_FILES)


def _check_mnist(raw: Path) -> None:
    missing = [n for n in MNIST_FILES if not (raw / n).is_file()]
    if missing:
        lines = "\n".join(f"  {n}  (md5 {MNIST_FILES[n]})" for n in missing)
        raise DataError(
            f"MNIST is missing from {raw}:\n{lines}\n"
            "Set MASKCL_DATA to the folder holding MNIST/raw/ (torchvision's layout), or fetch it with "
            "load_mnist(download=True) or ./reproduce.sh --download (needs the network)."
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


def verify_mnist(root: str | os.PathLike | None = None, download: bool = False) -> None:
    """Check every MNIST archive's md5 (fetching missing ones first when `download`); DataError otherwise."""
    root = data_root(root)
    if download and not mnist_available(root):
        TorchvisionMNIST(str(root), train=True, download=True)
    _check_mnist(root / "MNIST" / "raw")


def load_mnist(root: str | os.PathLike | None = None, download: bool = False) -> dict[str, tuple]:
    """{'train': (x uint8 (60000, 784), y int64), 'test': (x (10000, 784), y)} from root/MNIST/raw/*.gz.

    The archives are verified against torchvision's md5 list and decoded in memory, so a read-only data folder
    works. Only `download=True` touches the network (through torchvision), and only for missing files.
    """
    root = data_root(root)
    raw = root / "MNIST" / "raw"
    verify_mnist(root, download)
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
        return load_mnist(download=download_allowed())
    if name == "synthetic":
        return synthetic_mnist(seed)
    raise ValueError(f"unknown dataset {name!r}; choose 'mnist', 'synthetic' or 'auto'")
