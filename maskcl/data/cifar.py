"""CIFAR-10 and CIFAR-100 from `MASKCL_DATA`, md5-checked against the canonical sums, never modified.

Two layouts are read:
- the canonical *binary version* (`cifar-10-batches-bin/`, `cifar-100-binary/`): fixed-size records of label
  byte(s) then 3,072 pixel bytes (red plane, green, blue; 32×32 row-major), read with numpy — no unpickling;
- torchvision's *python version* (`cifar-10-batches-py/`, `cifar-100-python/`): pickles. They are unpickled only
  after their md5 equals the canonical sum, and then by an unpickler that can build nothing but numpy arrays.
Only `download=True` touches the network (the canonical binary archive, md5-checked by torchvision).
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass

import numpy as np
import torch

from ..seeding import generator
from .files import DataError, data_root, md5


@dataclass(frozen=True)
class Layout:
    folder: str
    train: tuple[str, ...]
    test: str
    md5s: dict[str, str]  # file -> canonical md5


@dataclass(frozen=True)
class Cifar:
    """One CIFAR data set: its two layouts, the canonical binary archive, and how its labels are stored."""

    name: str
    classes: int
    binary: Layout
    python: Layout
    archive: str
    archive_md5: str
    label_bytes: int  # binary records: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, then fine)
    label_key: bytes  # python batches: b"labels" or b"fine_labels"

    @property
    def url(self) -> str:
        return f"https://www.cs.toronto.edu/~kriz/{self.archive}"


_C10_BIN = {"data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25", "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
            "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421", "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
            "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d", "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d"}
_C10_PY = {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
           "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
           "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e"}
DATASETS = {
    "cifar10": Cifar("cifar10", 10,
                     Layout("cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin",
                            _C10_BIN),
                     Layout("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", _C10_PY),
                     "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 1, b"labels"),
    # The binary files' sums are those published with the canonical archive's contents in independent download
    # code; the python files' are torchvision's.
    "cifar100": Cifar("cifar100", 100,
                      Layout("cifar-100-binary", ("train.bin",), "test.bin",
                             {"train.bin": "6172c7755cfe09b2fe270c85cebc1b15", "test.bin": "4499cfba6c016c1be1438163640a0898"}),
                      Layout("cifar-100-python", ("train",), "test",
                             {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"}),
                      "cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", 2, b"fine_labels"),
}
# Channel mean / std used for *both* data sets, as the SupSup code does (CIFAR-10's, rounded to 3 digits).
MEAN, STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.262)


def _present(root, layout: Layout) -> bool:
    return all((root / layout.folder / f).is_file() for f in layout.md5s)


def cifar_available(name: str, root: str | os.PathLike | None = None) -> bool:
    ds = _dataset(name)
    root = data_root(root)
    return _present(root, ds.binary) or _present(root, ds.python)


def _dataset(name: str) -> Cifar:
    if name not in DATASETS:
        raise ValueError(f"unknown CIFAR data set {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def _verify(root, layout: Layout) -> None:
    for f, expected in layout.md5s.items():
        got = md5(root / layout.folder / f)
        if got != expected:
            raise DataError(f"{root / layout.folder / f} is corrupt: md5 {got}, expected {expected}. "
                            "Nothing was changed or deleted; replace the file with a verified copy.")


def _missing(ds: Cifar, root) -> DataError:
    lines = [f"{ds.name} is missing from {root}. Either layout works:"]
    for layout, what in ((ds.binary, "binary version"), (ds.python, "python version (torchvision's)")):
        lines.append(f"  {layout.folder}/  ({what})")
        lines += [f"    {f}  md5 {m}" + ("" if (root / layout.folder / f).is_file() else "  [missing]")
                  for f, m in layout.md5s.items()]
    lines.append(f"Set MASKCL_DATA to the folder holding it, or download the canonical archive {ds.archive} "
                 f"(md5 {ds.archive_md5}, {ds.url}) with maskcl.data.load_cifar({ds.name!r}, download=True) "
                 "or ./reproduce.sh --download (needs the network).")
    return DataError("\n".join(lines))


def _read_binary(path, label_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    rec = np.fromfile(path, dtype=np.uint8)
    width = label_bytes + 3072
    if rec.size % width:
        raise DataError(f"{path} is not a CIFAR binary file: {rec.size} bytes is not a multiple of {width}")
    rec = rec.reshape(-1, width)
    return rec[:, label_bytes:].reshape(-1, 3, 32, 32), rec[:, label_bytes - 1]  # CIFAR-100: the fine label


class _ArraysOnly(pickle.Unpickler):
    """Builds numpy arrays, dicts, lists, bytes and numbers — nothing else (no arbitrary callables)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # (bytes in protocol-2 pickles)

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise DataError(f"refusing to unpickle {module}.{name}: a CIFAR batch holds only numpy arrays")
        return super().find_class(module, name)


def _read_python(path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        batch = _ArraysOnly(io.BytesIO(f.read()), encoding="bytes").load()
    return np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(batch[label_key])


def verify_cifar(name: str, root: str | os.PathLike | None = None, download: bool = False) -> Layout:
    """The layout of `name` found under root after checking every file's md5 (fetching the canonical archive
    first when missing and `download`); DataError when missing or corrupt."""
    ds = _dataset(name)
    root = data_root(root)
    if download and not cifar_available(name, root):
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(ds.url, str(root), md5=ds.archive_md5)
    for layout in (ds.binary, ds.python):
        if _present(root, layout):
            _verify(root, layout)
            return layout
    raise _missing(ds, root)


def load_cifar(name: str = "cifar10", root: str | os.PathLike | None = None,
               download: bool = False) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{'train': (x uint8 (N, 3, 32, 32), y int64 (N,)), 'test': (...)} of CIFAR-10 or CIFAR-100 (fine labels).

    Reads the binary version when present, else torchvision's python version, after checking every file's md5.
    Missing → with `download=True` the canonical binary archive is fetched and verified; otherwise one DataError
    naming the files, their md5s, MASKCL_DATA and how to download. Corrupt → DataError; nothing is overwritten.
    """
    ds = _dataset(name)
    root = data_root(root)
    layout = verify_cifar(name, root, download)
    read, label = (_read_binary, ds.label_bytes) if layout is ds.binary else (_read_python, ds.label_key)
    out = {}
    for split, files in (("train", layout.train), ("test", (layout.test,))):
        parts = [read(root / layout.folder / f, label) for f in files]
        x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        y = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.int64))
        if int(y.max()) >= ds.classes or int(y.min()) < 0:
            raise DataError(f"{root / layout.folder} holds labels outside 0..{ds.classes - 1}")
        out[split] = (x, y)
    return out


def synthetic_cifar(classes: int = 10, seed: int = 0, n_train: int = 100, n_test: int = 20) -> dict[str, tuple]:
    """A learnable stand-in with CIFAR's shapes (per class: a fixed colour pattern plus noise), for tests and
    the smoke profile."""
    g = generator("synthetic-cifar", classes, seed)
    protos = torch.rand(classes, 3, 8, 8, generator=g)
    out = {}
    for split, n in (("train", n_train * classes), ("test", n_test * classes)):
        y = torch.arange(n) % classes
        y = y[torch.randperm(n, generator=g)]
        base = torch.nn.functional.interpolate(protos[y], size=32, mode="nearest")
        x = (0.7 * base + 0.3 * torch.rand(n, 3, 32, 32, generator=g)).clamp(0, 1)
        out[split] = ((x * 255).round().to(torch.uint8), y)
    return out
