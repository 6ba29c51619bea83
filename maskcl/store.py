"""Atomic, resumable storage: JSON results keyed by a config hash, and per-run checkpoints (safetensors).

Nothing here unpickles: results are JSON, tensors are safetensors.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def config_dict(cfg) -> dict:
    """The fields of a (nested) config dataclass that define its result; fields marked
    metadata={'key': False} (e.g. how many tasks train in parallel) are left out, and fields marked
    {'key': 'if_set'} (options added later) only count when they differ from their default, so results
    stored before the option existed keep their keys."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if not f.metadata.get("key", True) or (f.metadata.get("key") == "if_set" and v == f.default):
            continue
        out[f.name] = config_dict(v) if dataclasses.is_dataclass(v) else (list(v) if isinstance(v, tuple) else v)
    return out


def config_key(name: str, cfg, version: int) -> str:
    """The results-store key of a run: a hash of the experiment name, its config and the method's version, so a
    method change that bumps the version misses every cached result of the old code."""
    return key_of(name, config_dict(cfg), version)


def key_of(name: str, config: dict, version: int) -> str:
    blob = json.dumps({"experiment": name, "config": config, "version": version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are ordinary files
        _fsync(tmp)  # the bytes are on disk before the name points at them ...
        os.replace(tmp, path)
        _fsync(path.parent)  # ... and the new name is too: after a power loss a piece is old or new, never torn
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphans(folder: Path, pattern: str = ".*.tmp") -> int:
    """Delete the half-written temporary files a killed write left in `folder` (and below); only call it where no
    other process writes (a run's own checkpoint folder, held by its claim). Returns how many were removed."""
    found = list(Path(folder).rglob(pattern)) if Path(folder).is_dir() else []
    for tmp in found:
        tmp.unlink(missing_ok=True)
    return len(found)


def write_json(path: Path, obj) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.write("\n")
    _atomic_write(Path(path), write)


class CorruptFile(ValueError):
    """A stored file that cannot be read back (truncated, not JSON, not safetensors); the message names it."""


def read_json(path: Path):
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: not readable JSON ({err})") from None


def move_aside(path: Path, why: str) -> Path:
    """Rename a file or folder to <name>.<why>-<n> next to it (nothing is deleted); returns the new path."""
    path = Path(path)
    n = 1
    while (aside := path.with_name(f"{path.name}.{why}-{n}")).exists():
        n += 1
    os.replace(path, aside)
    return aside


class Checkpoint:
    """A folder of named pieces of one run; a piece exists whole or not at all."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def sub(self, name: str) -> "Checkpoint":
        """The checkpoint of one part of a run (e.g. each of several mask sets), in its own sub-folder."""
        return Checkpoint(self.folder / name)

    def has(self, name: str) -> bool:
        return (self.folder / name).exists()

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        _atomic_write(self.folder / name, lambda tmp: save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, tmp))

    def load_tensors(self, name: str, device="cpu") -> dict[str, torch.Tensor]:
        try:
            saved = load_file(str(self.folder / name))
        except FileNotFoundError:
            raise CorruptFile(f"{self.folder / name}: missing, though the run's log names it") from None
        except Exception as err:  # safetensors raises its own error types for a truncated or foreign file
            raise CorruptFile(f"{self.folder / name}: not a readable safetensors file ({err})") from None
        return {k: v.to(device) for k, v in saved.items()}

    def save_lists(self, name: str, **lists: list[torch.Tensor]) -> None:
        """Ordered lists of tensors by name, e.g. layer=[...], stats=[...] (the order is explicit, never a sorted
        dict's: 'layer10' sorts before 'layer2')."""
        self.save_tensors(name, {f"{k}{i}": t for k, ts in lists.items() for i, t in enumerate(ts)})

    def load_lists(self, name: str, device="cpu", **lengths: int) -> dict[str, list[torch.Tensor]]:
        """The lists saved by `save_lists`, given each one's length (an error when the file holds another count)."""
        saved = self.load_tensors(name, device)
        if len(saved) != sum(lengths.values()):
            raise ValueError(f"{self.folder / name} holds {len(saved)} tensors, expected "
                             + ", ".join(f"{n} {k}" for k, n in lengths.items()))
        return {k: [saved[f"{k}{i}"] for i in range(n)] for k, n in lengths.items()}

    def save_layers(self, name: str, layers: list[torch.Tensor]) -> None:
        """Per-layer tensors in the net's order."""
        self.save_lists(name, layer=layers)

    def load_layers(self, name: str, n_layers: int, device="cpu") -> list[torch.Tensor]:
        return self.load_lists(name, device, layer=n_layers)["layer"]

    def save_json(self, name: str, obj) -> None:
        write_json(self.folder / name, obj)

    def load_json(self, name: str, default=None):
        return read_json(self.folder / name) if self.has(name) else default
